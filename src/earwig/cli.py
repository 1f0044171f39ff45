"""The `earwig` command. Wiring only: parse arguments, call the client or the daemon, print.

Imports stay light at module level (click, config, client): `earwig status` must answer fast
and never load the ML stack. The daemon and rich are imported inside the commands using them.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import sys
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal, TypeVar

import click
import msgspec

from earwig import __version__, formatting, languages
from earwig import config as config_mod
from earwig import protocol as p
from earwig.client import DaemonClient, RemoteError
from earwig.errors import ConfigError, DaemonNotRunning, EarwigError, UsageError
from earwig.model import JobState

# 2 is click's usage error (a wrong option or argument); a bad config file is 78, sysexits'
# EX_CONFIG, which the systemd unit also treats as "do not restart, fix the file first".
EXIT_ERROR, EXIT_USAGE, EXIT_NOT_RUNNING, EXIT_CONFIG = 1, 2, 3, 78

R = TypeVar("R")
CLIENT_TIMEOUT = 30.0  # seconds a command waits for the daemon before saying it is not answering


def _fail(exc: EarwigError) -> None:
    click.secho(f"error: {exc.message}", fg="red", err=True)
    if exc.hint:
        click.echo(f"  hint: {exc.hint}", err=True)
    code = EXIT_ERROR
    if isinstance(exc, UsageError):
        code = EXIT_USAGE
    elif isinstance(exc, ConfigError):
        code = EXIT_CONFIG
    elif isinstance(exc, DaemonNotRunning):
        code = EXIT_NOT_RUNNING
    code = getattr(exc, "exit_code", None) or code  # an error that names its own (78)
    sys.exit(code)


def friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn earwig's errors into two readable lines and an exit code, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except EarwigError as exc:
            _fail(exc)
        except KeyboardInterrupt:
            sys.exit(130)

    return wrapper


class Ctx:
    def __init__(self, config_path: Path | None) -> None:
        self.config_path = config_path
        self._config: config_mod.Config | None = None

    @property
    def editable_config_path(self) -> Path:
        """The file that edits go to: --config, $EARWIG_CONFIG, or the default location."""
        from earwig import paths

        return self.config_path or paths.default_config_path()

    @property
    def config(self) -> config_mod.Config:
        if self._config is None:
            self._config = config_mod.load(self.config_path)
        return self._config

    @functools.cached_property
    def socket_path(self) -> Path:
        """The daemon's socket, found once (so a warning about the config is said once).
        A broken config does not lock the user out of a running daemon (which keeps its last
        good config): warn, and use the socket it names."""
        try:
            return self.config.socket_path
        except ConfigError as exc:
            click.secho(f"warning: {exc.message}", fg="yellow", err=True)
            click.echo(
                "  (a running daemon keeps its last good config; `earwig logs` says why a "
                "reload was refused)",
                err=True,
            )
            return config_mod.socket_path_despite_errors(self.config_path)

    def client(self) -> DaemonClient:
        client = DaemonClient(self.socket_path, timeout=CLIENT_TIMEOUT)
        client.connect()
        return client

    def call(self, request: p.Request[R]) -> R:
        """One request on its own connection."""
        with self.client() as client:
            return client.call(request)


pass_ctx = click.make_pass_decorator(Ctx)


def _set_config(ctx: click.Context, param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.ensure_object(Ctx).config_path = value


def _config_option() -> click.Option:
    return click.Option(
        ["--config", "config_path"],
        type=click.Path(path_type=Path),
        expose_value=False,
        callback=_set_config,
        help="Config file (also accepted before the command name).",
    )


class EarwigGroup(click.Group):
    """A group whose every command, at any depth, takes --config after its name too, as the
    README promises (`earwig status --config X` and `earwig --config X status` alike)."""

    group_class = type  # sub-groups (service, models) are EarwigGroups as well

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        if not any(p.name == "config_path" for p in cmd.params):
            cmd.params.append(_config_option())
        super().add_command(cmd, name)


@click.group(cls=EarwigGroup, invoke_without_command=True)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Config file (default: $EARWIG_CONFIG, then ~/.config/earwig/config.toml).",
)
@click.version_option(__version__, prog_name="earwig")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None) -> None:
    """earwig: turns audio and video into searchable transcripts.

    Start the daemon with `earwig run`, drop files into the watched folder, and watch it
    with `earwig` (the dashboard), `earwig status` or `earwig jobs`.
    """
    ctx.obj = Ctx(config_path)
    if ctx.invoked_subcommand is None:
        ctx.invoke(tui)


@main.command()
@pass_ctx
@friendly
def tui(ctx: Ctx) -> None:
    """The dashboard (also what plain `earwig` opens): watch and steer the daemon."""
    try:
        from earwig.tui.app import make_app
    except ImportError as exc:
        raise EarwigError(f"the dashboard needs textual: {exc}", "pip install textual") from exc
    make_app(ctx.config_path).run()


# ---------------------------------------------------------------- daemon


@main.command()
@click.option(
    "--http",
    "http_listen",
    metavar="ADDR:PORT",
    default=None,
    help='Serve HTTP here instead of [http] listen ("" for none; port 0: any free one).',
)
@pass_ctx
@friendly
def run(ctx: Ctx, http_listen: str | None) -> None:
    """Run the daemon in the foreground (what systemd or launchd start)."""
    import asyncio

    from earwig.daemon.app import Daemon, overridden
    from earwig.daemon.logs import setup_logging

    if http_listen:
        try:
            config_mod.split_listen(http_listen)
        except ValueError as exc:
            raise UsageError(f"--http {http_listen!r}: expected {exc}") from None
    setup_logging(overridden(ctx.config, http_listen))
    asyncio.run(Daemon(ctx.config, ctx.config_path, http_listen=http_listen).run())


@main.command()
@pass_ctx
@friendly
def token(ctx: Ctx) -> None:
    """Print the HTTP API's token (made now if the daemon has not made it yet).

    Clients send it as `Authorization: Bearer TOKEN`: the OpenAI SDK's api_key, Open WebUI's
    API key. Keep it secret: it reads and steers everything earwig has."""
    from earwig.web.token import load_or_create

    click.echo(load_or_create(ctx.config.daemon.state_dir))


@main.command()
@click.option("--print", "just_print", is_flag=True, help="Print the link instead of opening it.")
@pass_ctx
@friendly
def web(ctx: Ctx, just_print: bool) -> None:
    """Open the web page in a browser, logged in (its link carries the token once)."""
    import webbrowser

    from earwig.web.token import load_or_create, login_page

    http = ctx.call(p.GetStatus())["http"]
    if http.get("state") != "listening":
        raise EarwigError(
            "the daemon's HTTP server is not listening"
            + (f": {http['error']}" if http.get("error") else ""),
            'set [http] listen (the default is "127.0.0.1:8327") and restart the daemon; '
            "`earwig status` shows it",
        )
    state_dir = ctx.config.daemon.state_dir
    link = f"{http['url']}?token={load_or_create(state_dir)}"
    click.echo(link)  # also where no browser can be opened (a server over ssh)
    if not just_print:
        # the browser gets a 0600 file that leads on to the link, not the link: its
        # command line, and the token on it, is readable by every local user in `ps`
        webbrowser.open(login_page(state_dir, link).as_uri())


# ---------------------------------------------------------------- looking


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
@friendly
def status(ctx: Ctx, as_json: bool) -> None:
    """Is the daemon running, and what is it doing? (exit 3 when it is not running)"""
    try:
        st = ctx.call(p.GetStatus())
    except DaemonNotRunning as exc:
        if not as_json:
            raise
        down = {"running": False, "socket": str(ctx.socket_path), "error": exc.message}
        click.echo(json.dumps(down, indent=2))
        sys.exit(EXIT_NOT_RUNNING)
    if as_json:
        click.echo(json.dumps({"running": True, **st}, indent=2))
        return
    for text, colour in formatting.status_lines(st):
        click.secho(text, fg=colour)


@main.command(name="jobs")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice([str(s) for s in JobState]),
    help="Only jobs in this state (repeatable).",
)
@click.option(
    "--limit",
    default=50,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="How many jobs (newest first).",
)
@click.option(
    "--offset", default=0, type=click.IntRange(0), help="Skip this many of the newest first."
)
@click.option("--warnings", "warned", is_flag=True, help="Only jobs done with warnings.")
@pass_ctx
@friendly
def jobs_cmd(
    ctx: Ctx, as_json: bool, states: tuple[str, ...], limit: int, offset: int, warned: bool
) -> None:
    """List jobs, newest first.

    \b
    States: queued (waiting its turn), downloading (a URL's media), fetching (its file is
    checked before work: the same word for a local file and a download), transcribing,
    done, failed, cancelled, paused. "done!" is done with warnings: `earwig show ID` says
    what looks wrong, `--warnings` lists only those.
    """
    chosen = [JobState(s) for s in states] or None
    result = ctx.call(p.ListJobs(states=chosen, limit=limit, offset=offset, warnings=warned))
    jobs = result["jobs"]
    if as_json:
        click.echo(json.dumps(jobs, indent=2))
        return
    if not jobs:
        if result.get("total"):
            which = " or ".join(states) if states else ("with warnings" if warned else "")
            click.echo(
                f"no jobs {which}{' here' if offset else ''} ({result['total']} job(s) in all)"
            )
        else:
            click.echo("no jobs yet: drop a file into a watched folder or `earwig add FILE`")
        return
    from rich.table import Table
    from rich.text import Text

    console = _console()
    # One line per job: a long title or error is cut here, to the room the terminal has
    # (`earwig show ID` has it all); rich would otherwise wrap it, or drop whole columns.
    title_room = min(48, max(12, console.width // 4))
    note_room = max(16, console.width - title_room - 44)
    table = Table(box=None, pad_edge=False)
    for col in ("id", "state", "title", "progress", "audio", "lang", "age", "note"):
        table.add_column(col, no_wrap=True)
    for j in jobs:
        audio = f"{j['duration']:.0f}s" if j.get("duration") else ""
        if error := j.get("error"):
            note = Text(error, style="red")
        elif j.get("warnings"):
            note = Text("warning: " + j["warnings"][0], style="yellow")
        else:
            note = Text(j.get("waiting") or formatting.kept(j) or formatting.why_cancelled(j))
        title = Text(j["title"])  # Text, not markup: titles from the internet have [brackets]
        title.truncate(title_room, overflow="ellipsis")
        note.truncate(note_room, overflow="ellipsis")
        stage = f" ({j['stage']})" if j.get("stage") else ""  # the [llm] stage of a done job
        table.add_row(
            str(j["id"]),
            j["state"] + ("!" if j.get("warnings") else "") + stage,
            title,
            formatting.percent(j),
            audio,
            "+".join(j["languages"]) or j["language"] or "",
            formatting.age(j["created_at"]),
            note,
        )
    console.print(table)
    if any(j.get("warnings") for j in jobs):
        click.echo("done! = done with warnings: `earwig show ID` says what looks wrong")


@main.command()
@click.argument("job_id", type=int)
@click.option("--transcript/--no-transcript", default=True, help="Print the transcript text.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
@friendly
def show(ctx: Ctx, job_id: int, transcript: bool, as_json: bool) -> None:
    """Everything about one job: states with times, error, outputs, transcript."""
    result = ctx.call(p.GetJob(id=job_id, transcript=transcript))
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    j = result["job"]
    stage = f" · {j['stage']}" if j.get("stage") else ""
    click.echo(f"#{j['id']} {j['title']}  [{j['state']}{stage}]")
    origin = j["source"] + (f" {j['subscription']}" if j.get("subscription") else "")
    if j.get("url"):
        click.echo(f"  url      {j['url']} (from {origin})")
        if j.get("path"):
            click.echo(f"  media    {j['path']}")
    else:
        click.echo(f"  source   {j.get('path')} (from {origin})")
    for state, ts in sorted(j["times"].items(), key=lambda kv: kv[1]):
        click.echo(f"  {state:<12} {dt.datetime.fromtimestamp(ts):%Y-%m-%d %H:%M:%S}")
    if j.get("text_from"):
        click.echo(f"  text     the {j['text_from']} transcript, not transcribed here")
    elif j.get("backend"):
        slot = j.get("slot")  # "local" is this machine; anything else a server's name
        where = "" if not slot else " · on this machine" if slot == "local" else f" · on {slot}"
        click.echo(f"  backend  {j['backend']} · {j.get('model')}{where}")
    if j.get("chapters"):
        click.echo(f"  chapters {len(j['chapters'])} (in the .json)")
    if j.get("duration"):
        click.echo(f"  audio    {j['duration']:.1f}s")
    spoken: list[str] = j["languages"] or ([j["language"]] if j["language"] else [])
    if spoken:
        named = ", ".join(f"{languages.name(code)} ({code})" for code in spoken)
        click.echo(f"  {'language' if len(spoken) == 1 else 'languages'} {named}")
    if j["attempts"]:
        click.echo(f"  attempts {j['attempts']}")
    for warning in j.get("warnings") or ():
        click.secho(f"  warning  {warning}", fg="yellow")
    if j.get("waiting"):
        click.echo(f"  waiting  {j['waiting']}")
    if kept := formatting.kept(j):
        click.echo(f"  kept     {kept}: it goes on from there")
    if j.get("error"):
        click.secho(f"  error    {j['error']}", fg="red")
    if j.get("hint"):
        click.echo(f"  hint     {j['hint']}")
    for stem, kinds in formatting.output_groups(j.get("outputs") or ()):
        click.echo(f"  output   {stem}.{{{', '.join(kinds)}}}")
    for f in result.get("followups") or ():
        if f["state"] != "done":
            what = f"translation into {f['language']}" if f["language"] else f["kind"]
            trouble = f": {f['error']}" if f.get("error") else ""
            click.echo(f"  llm      {what} {f['state']}{trouble}")
    if summary := result.get("summary"):
        click.echo("")
        if summary["title"]:
            click.secho(f"  {summary['title']}", bold=True)
        for paragraph in summary["summary"].splitlines():
            click.echo(f"  {paragraph}" if paragraph.strip() else "")
        if summary["chapters"] and not j.get("chapters"):  # a publisher's own win
            click.echo("")
            for c in summary["chapters"]:
                click.echo(f"  {formatting.clock(c['start']):>8}  {c['title']}")
        click.echo(f"  ({summary['model']})")
    if transcript and result.get("transcript"):
        click.echo("")
        for seg in result["transcript"]["segments"]:
            m, s = divmod(int(seg["start"]), 60)
            who = f"{seg['speaker']}: " if seg.get("speaker") else ""
            click.echo(f"  [{m:02d}:{s:02d}] {who}{seg['text'].strip()}")


@main.command()
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines as they come.")
@click.option(
    "-n",
    "--lines",
    default=50,
    show_default=True,
    type=click.IntRange(1, 10000),
    help="How many past lines.",
)
@pass_ctx
@friendly
def logs(ctx: Ctx, follow: bool, lines: int) -> None:
    """The daemon's log (job history, errors), optionally followed live."""

    def line(entry: p.LogEntry) -> None:
        when = dt.datetime.fromtimestamp(entry["ts"]).strftime("%Y-%m-%d %H:%M:%S")
        job = f" #{entry['job_id']}" if entry.get("job_id") else ""
        color = {"error": "red", "warning": "yellow"}.get(entry["level"])
        click.secho(f"{when} {entry['level']:<7}{job} {entry['message']}", fg=color)

    with ctx.client() as client:
        if not follow:
            for entry in client.call(p.TailLogs(limit=lines))["log"]:
                line(entry)
            return
        snapshot = client.call(p.Subscribe(topics=["log"], log_limit=lines))
        for entry in snapshot.get("log", []):
            line(entry)
        for ev in client.events():
            if (logged := p.LOG.data_of(ev)) is not None:
                line(logged)


@main.command()
@click.argument("query")
@click.option("--source", help="Only recordings whose title, path or subscription contains this.")
@click.option("--since", help="Only recordings added since a date (2026-11-01) or an age (7d).")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--open", "open_it", is_flag=True, help="Open the best hit's transcript.")
@pass_ctx
@friendly
def search(
    ctx: Ctx,
    query: str,
    source: str | None,
    since: str | None,
    limit: int,
    as_json: bool,
    open_it: bool,
) -> None:
    """Full-text search over every transcript (works with or without the daemon).

    Plain words match anywhere; "an exact phrase"; transcri* for prefixes; AND, OR, NOT;
    NEAR(a b, 10).
    """
    from earwig import search as search_mod
    from earwig.store import Store

    database = ctx.config.daemon.database
    if not database.exists():
        click.echo(f"no transcripts yet (no database at {database})")
        return
    store = Store.for_reading(database)
    try:
        hits = search_mod.search(
            store,
            query,
            source=source,
            since=search_mod.parse_since(since) if since else None,
            limit=limit,
        )
    finally:
        store.close()
    if as_json:
        for hit in hits:
            hit["snippet"] = hit["snippet"].replace(search_mod.HIGHLIGHT_START, "**")
            hit["snippet"] = hit["snippet"].replace(search_mod.HIGHLIGHT_END, "**")
        click.echo(json.dumps(hits, indent=2, ensure_ascii=False))
    elif not hits:
        click.echo(f"no matches for {query!r}")
    else:
        from rich.console import Console
        from rich.markup import escape

        console = Console(highlight=False)
        for hit in hits:
            snippet = escape(hit["snippet"]).replace(search_mod.HIGHLIGHT_START, "[bold yellow]")
            snippet = snippet.replace(search_mod.HIGHLIGHT_END, "[/bold yellow]")
            speaker = hit.get("speaker")
            who = f"[magenta]{escape(speaker)}:[/magenta] " if speaker else ""
            where = "summary" if hit.get("summary") else hit["clock"]
            console.print(
                f"[bold]{escape(hit['title'])}[/bold] [cyan]{where}[/cyan]  "
                f"#{hit['job_id']}  {who}{snippet}"
            )
            if hit["transcript"]:
                console.print(f"    {escape(hit['transcript'])}", style="dim")
    if open_it and hits and hits[0]["transcript"]:
        _open_path(Path(hits[0]["transcript"]))


def _console() -> Any:
    """A rich console; piped or redirected, one wide enough that tables are never cut, whose
    lines end where their text does (rich pads every row to the widest: hundreds of columns
    of spaces in a file or a pipe to grep)."""
    from rich.console import Console

    console = Console(highlight=False)
    if console.is_terminal:
        return console

    class Unpadded(Console):
        def print(self, *objects: Any, **kw: Any) -> None:
            with self.capture() as captured:
                super().print(*objects, **kw)
            for line in captured.get().splitlines():
                click.echo(line.rstrip())

    return Unpadded(highlight=False, width=400)


@main.command()
@click.argument("job_ids", type=int, nargs=-1, required=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(config_mod.FORMATS),
    default="md",
    show_default=True,
    help="md: notes with front matter and clickable times; or any transcript format.",
)
@click.option(
    "--output-dir",
    type=click.Path(path_type=Path),
    help="Where to write (default: beside the job's other transcripts).",
)
@click.option("--stdout", "to_stdout", is_flag=True, help="Print instead of writing files.")
@pass_ctx
@friendly
def export(
    ctx: Ctx, job_ids: tuple[int, ...], fmt: str, output_dir: Path | None, to_stdout: bool
) -> None:
    """Write finished jobs' transcripts in a format such as Markdown notes (works without
    the daemon: it reads the database)."""
    from earwig import outputs
    from earwig.errors import NotFound
    from earwig.media import safe_stem
    from earwig.store import Store

    database = ctx.config.daemon.database
    if not database.exists():
        raise NotFound(f"no transcripts yet (no database at {database})")
    store = Store.for_reading(database)
    try:
        for job_id in job_ids:
            job = store.get_job(job_id)
            transcript = store.get_transcript(job_id)
            if transcript is None:
                raise NotFound(
                    f"job {job_id} ({job.title}) has no transcript ({job.state})",
                    "`earwig jobs` lists the finished ones",
                )
            meta = outputs.transcript_meta(job)
            meta.update(outputs.summary_meta(job, store.job_summary(job_id)))
            text = outputs.WRITERS[fmt](transcript, meta)
            if to_stdout:
                click.echo(text, nl=False)
                continue
            folder = output_dir or Path(job.output_dir or ctx.config.output.dir)
            base = job.output_base or safe_stem(Path(job.title).stem)
            outputs.check_writable(folder)
            path = folder / f"{base}.{fmt}"
            outputs.write_atomic(path, text, ctx.config.output.mode)
            click.echo(str(path))
    finally:
        store.close()


def _table(title: str, table: formatting.Table, right: tuple[int, ...] = ()) -> Any:
    """A rich Table of plain cells (never read as markup: "earwig[openai]" stays itself)."""
    from rich.table import Table
    from rich.text import Text

    columns, rows = table
    out = Table(title=Text(title))
    for i, column in enumerate(columns):
        out.add_column(column, justify="right" if i in right else "left")
    for cells, colour in rows:
        out.add_row(*(Text(cell, style=colour or "") for cell in cells))
    return out


def _open_path(path: Path) -> None:
    """Open a file with the desktop's default application (no shell involved)."""
    from earwig.launch import open_with_system

    if problem := open_with_system(path):
        raise EarwigError(f"cannot open {path}", problem)


# ---------------------------------------------------------------- subscriptions


def _reload_daemon(ctx: Ctx) -> None:
    try:
        result = ctx.call(p.ReloadConfig())
    except DaemonNotRunning:
        click.echo("the daemon is not running: it will pick this up when it starts")
        return
    click.echo(
        "the daemon reloaded its config"
        + (f" ({', '.join(result['changed'])})" if result["changed"] else "")
        + (
            f"; these take effect after a restart: {', '.join(result['needs_restart'])}"
            if result.get("needs_restart")
            else ""
        )
    )


@main.command()
@click.argument("url")
@click.option("--name", help="What to call it (default: from the URL).")
@click.option("--every", help="Check interval: 30m, 6h, 1d (default 6h).")
@click.option("--cron", help='Check on a crontab schedule instead, e.g. "0 7 * * *".')
@click.option(
    "--backfill",
    type=click.IntRange(0),
    default=3,
    show_default=True,
    help="On the first check, take only this many newest items.",
)
@click.option("--since", help="On the first check, take the items published since this date.")
@click.option(
    "--kind",
    type=click.Choice(["auto", "feed", "ytdlp"]),
    default="auto",
    show_default=True,
    help="A podcast feed, or anything yt-dlp can list.",
)
@click.option(
    "--transcripts",
    type=click.Choice(config_mod.TRANSCRIPT_MODES),
    default="publisher-first",
    show_default=True,
    help="A feed's own transcripts (<podcast:transcript>): take them instead of "
    "transcribing, never use them, or save them beside earwig's.",
)
@click.option(
    "--check/--no-check",
    default=True,
    show_default=True,
    help="Fetch the URL first and refuse what is neither a feed nor a page yt-dlp can list.",
)
@pass_ctx
@friendly
def subscribe(
    ctx: Ctx,
    url: str,
    name: str | None,
    every: str | None,
    cron: str | None,
    backfill: int,
    since: str | None,
    kind: str,
    transcripts: str,
    check: bool,
) -> None:
    """Follow a podcast feed, a YouTube channel or playlist: new items get transcribed.

    The URL is checked first (by the daemon when it runs): what is neither a feed nor a page
    yt-dlp can list is refused with the reason, unless --no-check."""
    from earwig import config_edit

    if every and cron:
        raise UsageError("give --every or --cron, not both")
    request = p.AddSubscription(
        name=name,  # none: the feed's title (the daemon, or here below, finds it)
        url=url,
        every=every,
        cron=cron,
        backfill=backfill,
        since=since,
        kind=None if kind == "auto" else typing.cast(Literal["feed", "ytdlp"], kind),
        transcripts=(
            None
            if transcripts == "publisher-first"
            else typing.cast(Literal["always-transcribe", "both"], transcripts)
        ),
        check=check,
    )
    entry: dict[str, Any] = msgspec.structs.asdict(request)
    entry.pop("check")
    given = {k: v for k, v in entry.items() if v is not None}
    try:  # the values are checked first: a bad one costs no request
        config_mod.parse({"subscription": [{**given, "name": "check"}]}, None)
    except ConfigError as exc:
        raise UsageError(exc.message, exc.hint) from None
    # A running daemon adds it (to the file it was started with) and checks it at once, the
    # same request the dashboard sends; without one, the config file is edited here.
    try:
        result = ctx.call(request)
    except DaemonNotRunning:
        result = None
    except RemoteError as exc:
        if exc.code != "config":
            raise
        raise UsageError(exc.message, exc.hint) from None  # a taken name, --every 0s
    if result is not None:
        shown = result.get("name") or entry["name"]
        first = f"; {result['first_check']}" if result.get("first_check") else ""
        click.echo(f"subscribed {shown!r}; the daemon reloaded its config{first}")
        return
    path = ctx.editable_config_path
    if check:  # no daemon: the same check, here
        from earwig.sources.probe import probe

        try:
            probe(url, kind, ctx.config.downloads.timeout)
        except EarwigError as exc:
            raise UsageError(exc.message, exc.hint) from None
    if not entry["name"]:
        from earwig.sources.feeds import suggest_name

        entry["name"] = suggest_name(url, {s.name for s in ctx.config.subscriptions})
    try:
        config_edit.add_subscription(path, entry)
    except ConfigError as exc:  # about the arguments given (a taken name, --every 0s)
        raise UsageError(exc.message, exc.hint) from None
    click.echo(f"subscribed {entry['name']!r} in {path}")
    click.echo("the daemon is not running: it will pick this up when it starts")


@main.command()
@click.argument("name")
@pass_ctx
@friendly
def unsubscribe(ctx: Ctx, name: str) -> None:
    """Stop following a subscription (its transcripts and history stay)."""
    from earwig import config_edit

    config_edit.remove_subscription(ctx.editable_config_path, name)
    click.echo(f"unsubscribed {name!r}")
    _reload_daemon(ctx)


@main.command()
@click.argument("name", required=False)
@pass_ctx
@friendly
def check(ctx: Ctx, name: str | None) -> None:
    """Check one subscription (or all) now, and say what was found."""
    results = ctx.call(p.CheckSubscription(name=name))["results"]
    if not results:
        click.echo("no subscriptions: add one with `earwig subscribe URL`")
    failed = False
    for r in results:
        if "error" in r:
            failed = True
            click.secho(f"{r['name']}: {r['error']}", fg="red", err=True)
        elif r.get("unchanged"):
            click.echo(f"{r['name']}: unchanged")
        elif "skipped" in r and isinstance(r["skipped"], str):
            click.echo(f"{r['name']}: {r['skipped']}")
        else:
            click.echo(f"{r['name']}: {r['new']} new item(s) queued")
    if failed:
        sys.exit(EXIT_ERROR)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
@friendly
def subscriptions(ctx: Ctx, as_json: bool) -> None:
    """List subscriptions: schedule, next check, last result."""
    subs = ctx.call(p.ListSubscriptions())["subscriptions"]
    if as_json:
        click.echo(json.dumps(subs, indent=2))
        return
    if not subs:
        click.echo("no subscriptions: add one with `earwig subscribe URL`")
        return
    for s in subs:
        nxt = (
            dt.datetime.fromtimestamp(s["next_check"]).strftime("%H:%M") if s["next_check"] else "-"
        )
        last = (
            f"error: {s['last_error']}"
            if s["last_error"]
            else (f"ok {formatting.age(s['last_ok'])} ago" if s["last_ok"] else "never checked")
        )
        click.echo(f"{s['name']}  {s['schedule']}  next {nxt}  {s['items_found']} item(s)  {last}")
        click.echo(f"    {s['url']}")


# ---------------------------------------------------------------- the pool


@main.group(name="servers", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
@friendly
def servers(click_ctx: click.Context, as_json: bool) -> None:
    """Where transcriptions run: this machine's workers and the speech servers ([[transcribe.
    servers]]): up or down, busy or idle, how fast; drain one to stop giving it jobs."""
    if click_ctx.invoked_subcommand is not None:
        return
    ctx: Ctx = click_ctx.obj
    result = ctx.call(p.ListSlots())
    if as_json:
        click.echo(json.dumps(result["slots"], indent=2))
        return
    for s in result["slots"]:
        click.secho(formatting.slot_line(s), fg=None if s["up"] else "red")
    if result["paused"]:
        click.echo("(the queue is paused: no slot starts a new job; `earwig resume`)")


@servers.command()
@click.argument("name")
@pass_ctx
@friendly
def drain(ctx: Ctx, name: str) -> None:
    """Give NAME no new jobs (running ones finish); `earwig servers` lists names."""
    slot = ctx.call(p.DrainSlot(name=name, drain=True))["slot"]
    running = f"; its {len(slot['busy'])} running job(s) finish" if slot["busy"] else ""
    click.echo(f"{slot['name']} drained: no new jobs{running}")


@servers.command()
@click.argument("name")
@pass_ctx
@friendly
def undrain(ctx: Ctx, name: str) -> None:
    """Give NAME jobs again after `earwig servers drain`."""
    slot = ctx.call(p.DrainSlot(name=name, drain=False))["slot"]
    click.echo(f"{slot['name']} takes jobs again")


# ---------------------------------------------------------------- config


@main.group(name="media-servers", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
@friendly
def media_servers(click_ctx: click.Context, as_json: bool) -> None:
    """Media servers and the apps that send webhooks ([[media_server]]): reachable, the last
    event and the last refresh; `earwig media-servers test` asks each now."""
    if click_ctx.invoked_subcommand is not None:
        return
    ctx: Ctx = click_ctx.obj
    from earwig.mediaservers.lines import test_lines

    views = ctx.call(p.GetStatus())["media_servers"]
    if as_json:
        click.echo(json.dumps(views, indent=2))
        return
    for text, colour in test_lines(views):
        click.secho(text, fg=colour)


@media_servers.command(name="test")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
@friendly
def media_servers_test(ctx: Ctx, as_json: bool) -> None:
    """Ask every media server now: reachable, key accepted, its library folders and where each
    lies here (exit 1 when something is wrong)."""
    from earwig.mediaservers.lines import failed, test_lines

    views = ctx.call(p.TestMediaServers())["servers"]
    if as_json:
        click.echo(json.dumps(views, indent=2))
    else:
        for text, colour in test_lines(views):
            click.secho(text, fg=colour)
    if failed(views):
        sys.exit(1)


@main.group(name="config")
def config_group() -> None:
    """The config file: where it is, every option with its default, edit and check it."""


def _example_config() -> str:
    from importlib import resources

    return resources.files("earwig").joinpath("config.example.toml").read_text(encoding="utf-8")


@config_group.command(name="example")
@pass_ctx
def config_example(ctx: Ctx) -> None:
    """Print every option with its default and what it does (a config to start from)."""
    click.echo(_example_config(), nl=False)


@config_group.command(name="path")
@pass_ctx
def config_path_cmd(ctx: Ctx) -> None:
    """Print the config file earwig reads (--config, $EARWIG_CONFIG, or the default)."""
    path = ctx.editable_config_path
    click.echo(str(path))
    if not path.exists():
        click.echo(
            "(it does not exist: earwig runs on its defaults; `earwig config edit`)", err=True
        )


@config_group.command(name="check")
@pass_ctx
@friendly
def config_check(ctx: Ctx) -> None:
    """Validate the config file: every mistake at once, each with its key and what was
    expected (exit 78 if there is one)."""
    found = config_mod.problems(ctx.config_path)
    if not found:
        cfg = ctx.config
        click.echo(f"{cfg.path or 'no config file: the defaults'} is valid")
        return
    for exc in found[:-1]:
        click.secho(f"error: {exc.message}", fg="red", err=True)
        if exc.hint:
            click.echo(f"  hint: {exc.hint}", err=True)
    raise found[-1]  # the last one as every command says one: its exit code (78)


@config_group.command(name="edit")
@pass_ctx
@friendly
def config_edit_cmd(ctx: Ctx) -> None:
    """Open the config in $VISUAL or $EDITOR (created from the example if there is none),
    check it when the editor closes, and have a running daemon reload it."""
    import os
    import shlex
    import subprocess

    path = ctx.editable_config_path
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        from earwig.outputs import PRIVATE, write_atomic

        write_atomic(path, _example_config(), PRIVATE)
        click.echo(f"created {path} from the example (every option at its default)")
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    try:
        subprocess.run([*shlex.split(editor), str(path)], check=False)
    except FileNotFoundError:
        raise EarwigError(
            f"cannot run the editor {editor!r}", f"set $EDITOR, or edit {path} yourself"
        ) from None
    config_mod.load(path)  # a mistake is reported here (exit 78), not at the next start
    click.echo(f"{path} is valid")
    _reload_daemon(ctx)


# ---------------------------------------------------------------- service


@main.group()
def service() -> None:
    """Run earwig as a systemd user service (Linux) or a launchd agent (macOS)."""


_kind_option = click.option(
    "--kind",
    type=click.Choice(["systemd", "launchd"]),
    default=None,
    help="Which service manager (default: this platform's).",
)


@service.command(name="install")
@click.option("--dry-run", is_flag=True, help="Print what would be written and run.")
@_kind_option
@pass_ctx
@friendly
def service_install(ctx: Ctx, dry_run: bool, kind: str | None) -> None:
    """Write the service file with this earwig's paths, enable it and start it."""
    import shlex

    from earwig import service as svc

    unit = svc.render(ctx.config, kind)
    commands = svc.control_commands(unit, "install")
    if dry_run:
        click.echo(f"# would write {unit.path}")
        click.echo(unit.text)
        for argv in commands:
            click.echo(f"# would run: {shlex.join(argv)}")
        return
    unit.path.parent.mkdir(parents=True, exist_ok=True)
    from earwig.outputs import write_atomic

    write_atomic(unit.path, unit.text)
    click.echo(f"wrote {unit.path}")
    for argv in commands:
        svc.run(argv)
    click.echo(
        "earwig is running as a service; logs: "
        + (
            "`journalctl --user -u earwig -f`"
            if unit.kind == "systemd"
            else f"{ctx.config.daemon.state_dir}/launchd.err.log"
        )
        + " or `earwig logs -f`"
    )


@service.command(name="uninstall")
@click.option("--dry-run", is_flag=True, help="Print what would be removed and run.")
@_kind_option
@pass_ctx
@friendly
def service_uninstall(ctx: Ctx, dry_run: bool, kind: str | None) -> None:
    """Stop and disable the service and remove its file."""
    import shlex

    from earwig import service as svc

    unit = svc.render(ctx.config, kind)
    if dry_run:
        for argv in svc.control_commands(unit, "uninstall"):
            click.echo(f"# would run: {shlex.join(argv)}")
        click.echo(f"# would remove {unit.path}")
        return
    for argv in svc.control_commands(unit, "uninstall"):
        svc.run(argv, check=False)  # already stopped is fine
    unit.path.unlink(missing_ok=True)
    for argv in svc.control_commands(unit, "after_uninstall"):
        svc.run(argv, check=False)
    click.echo(f"removed {unit.path}")


@service.command(name="status")
@_kind_option
@pass_ctx
@friendly
def service_status(ctx: Ctx, kind: str | None) -> None:
    """What the service manager says about earwig."""
    from earwig import service as svc

    unit = svc.render(ctx.config, kind)
    if not unit.path.exists():
        click.echo(f"not installed ({unit.path} does not exist): `earwig service install`")
        sys.exit(EXIT_ERROR)
    for argv in svc.control_commands(unit, "status"):
        result = svc.run(argv, check=False)
        click.echo((result.stdout or result.stderr).rstrip())
        if result.returncode:
            sys.exit(EXIT_ERROR)


# ---------------------------------------------------------------- steering


@main.command()
@click.argument("items", nargs=-1, required=True)
@click.option("--force", is_flag=True, help="Transcribe even if the same content was done before.")
@pass_ctx
@friendly
def add(ctx: Ctx, items: tuple[str, ...], force: bool) -> None:
    """Queue files or URLs (PATH-or-URL...) for transcription now."""
    from earwig.media import shown, utf8_name
    from earwig.urls import meant_as_url

    inputs, failed = [], False
    for item in items:
        if not meant_as_url(item) and not utf8_name(Path(item)):
            failed = True
            click.secho(
                f"error: {shown(Path(item))}: the name is not valid UTF-8", fg="red", err=True
            )
            click.echo("  hint: rename the file (e.g. with `convmv`), then add it again", err=True)
            continue
        inputs.append(item if meant_as_url(item) else str(Path(item).expanduser().resolve()))
    results = ctx.call(p.AddJobs(paths=inputs, force=force))["results"] if inputs else []
    for r in results:
        kind, line, hint = formatting.add_outcome(r)
        if kind == "queued":
            click.echo(line)
        elif kind == "duplicate":
            click.echo(f"{line}; {hint}")
        else:
            failed = True
            click.secho(f"error: {line}", fg="red", err=True)
            if hint:
                click.echo(f"  hint: {hint}", err=True)
    if failed:
        sys.exit(EXIT_ERROR)


@main.command()
@click.argument("job_ids", nargs=-1, type=int)
@click.option("--model", help="Transcribe again with this model (a name, or a path).")
@click.option("--done-with", "done_with", metavar="MODEL", help="Every job done with this model.")
@click.option(
    "--since", type=click.DateTime(), help="With --done-with: only jobs finished since then."
)
@click.option(
    "--only",
    type=click.Choice(["summary", "translation"]),
    help="Keep the transcript; ask the [llm] model again for this alone.",
)
@pass_ctx
@friendly
def retry(
    ctx: Ctx,
    job_ids: tuple[int, ...],
    model: str | None,
    done_with: str | None,
    since: dt.datetime | None,
    only: str | None,
) -> None:
    """Queue finished jobs again, even if they were done; --model upgrades their transcripts.

    \b
    earwig retry 12                       the same model again
    earwig retry 12 13 --model small      re-transcribe with another model
    earwig retry --done-with tiny.en --model base --since 2026-01-01
    earwig retry 12 --only summary        a new summary from the same transcript
    """
    if only and model:
        from earwig.errors import UsageError

        raise UsageError(
            "--only keeps the transcript, --model makes a new one", "give one of the two"
        )
    ids = list(job_ids)
    if done_with:
        found = ctx.call(p.ListJobs(states=[JobState.DONE], limit=1000))["jobs"]
        cutoff = since.timestamp() if since else 0.0
        ids += [
            j["id"]
            for j in found
            if done_with in (j.get("model") or "") and j["times"].get("done", 0) >= cutoff
        ]
    if not ids:
        raise EarwigError(
            "no jobs to retry", "give job ids, or --done-with MODEL (see `earwig jobs`)"
        )
    if model:
        import dataclasses

        from earwig.standalone import ensure_model

        ensure_model(dataclasses.replace(ctx.config.transcribe, model=model))
    for job_id in dict.fromkeys(ids):
        request = p.RetryJob(
            id=job_id,
            model=model or None,
            only=typing.cast(Literal["summary", "translation"] | None, only),
        )
        job = ctx.call(request)["job"]
        if only:
            click.echo(f"#{job['id']} {job['title']}: its {only} is asked again ({job['stage']})")
            continue
        using = f" with {model}" if model else ""
        now = "" if job["state"] == "queued" else f" (now {job['state']})"
        click.echo(f"#{job['id']} {job['title']}: queued again{using}{now}")


# what each steering verb leaves the job as: said once, not "queued again (now queued)"
_LEAVES = {
    "cancelled": "cancelled",
    "paused": "paused",
    "resumed": "queued",
    "moved to the top": "queued",
}


@main.command()
@click.argument("job_id", type=int)
@click.argument("language")
@pass_ctx
@friendly
def translate(ctx: Ctx, job_id: int, language: str) -> None:
    """Subtitles of a done job in another language, by the [llm] model (NAME.de.srt).

    \b
    earwig translate 12 de
    """
    job = ctx.call(p.TranslateJob(id=job_id, language=language))["job"]
    click.echo(f"#{job['id']} {job['title']}: translation into {language} queued ({job['stage']})")


def _steer(ctx: Ctx, request: p.Request[p.JobResult], verb: str) -> None:
    """Send one steering request and say where the job went (and what a pause kept)."""
    job = ctx.call(request)["job"]
    state, name = job["state"], f"#{job['id']} {job['title']}"
    if JobState(state).running and isinstance(request, p.CancelJob | p.PauseJob):
        # a download stops at yt-dlp's next progress report, a moment later
        click.echo(f"{name}: stopping (it is {state}; `earwig show {job['id']}` says when)")
        return
    said = verb if _LEAVES.get(verb) == state else f"{verb} (now {state})"
    if isinstance(request, p.CancelJob) and state == "done":  # jobs.retried_after_done
        said = "the retry is called off; it is done as before (its transcript and files stay)"
    if state == "paused":
        kept = formatting.kept(job)
        said += (
            f": {kept}; `earwig resume {job['id']}` goes on from there"
            if kept
            else f"; `earwig resume {job['id']}` queues it again"
        )
    click.echo(f"{name}: {said}")


@main.command()
@click.argument("job_id", type=int)
@pass_ctx
@friendly
def cancel(ctx: Ctx, job_id: int) -> None:
    """Cancel a job (a running one stops at once)."""
    _steer(ctx, p.CancelJob(id=job_id), "cancelled")


@main.command()
@click.argument("job_id", type=int)
@pass_ctx
@friendly
def prioritize(ctx: Ctx, job_id: int) -> None:
    """Make a waiting job the next to run."""
    _steer(ctx, p.PrioritizeJob(id=job_id), "moved to the top")


@main.command()
@click.argument("job_ids", type=int, nargs=-1, required=True)
@pass_ctx
@friendly
def delete(ctx: Ctx, job_ids: tuple[int, ...]) -> None:
    """Forget finished jobs: history, transcript in the database, search hits.

    The transcript files in the output folder are left alone.
    """
    with ctx.client() as client:
        for job_id in job_ids:
            deleted = client.call(p.DeleteJob(id=job_id))
            if "kept_out" in deleted:
                click.echo(
                    f"#{job_id} deleted; its file stays out of the queue (scans skip it): "
                    f"`earwig add --force {deleted['kept_out']}` queues it again"
                )
            else:
                click.echo(f"#{job_id} deleted")


@main.command()
@click.argument("job_id", type=int, required=False)
@pass_ctx
@friendly
def pause(ctx: Ctx, job_id: int | None) -> None:
    """Pause one job, or (without ID) stop starting new jobs.

    A running job stops at once and keeps every finished window of its file (up to ten
    minutes of audio each): `earwig resume ID` goes on from there.
    """
    if job_id is None:
        ctx.call(p.PauseQueue())
        click.echo("queue paused: the running job finishes, no new job starts (`earwig resume`)")
    else:
        _steer(ctx, p.PauseJob(id=job_id), "paused")


@main.command()
@click.argument("job_id", type=int, required=False)
@pass_ctx
@friendly
def resume(ctx: Ctx, job_id: int | None) -> None:
    """Resume one paused job, or (without ID) the whole queue."""
    if job_id is None:
        ctx.call(p.ResumeQueue())
        click.echo("queue resumed")
    else:
        _steer(ctx, p.ResumeJob(id=job_id), "resumed")


__all__ = ["RemoteError", "main"]


# ---------------------------------------------------------------- backends and models


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--bench", is_flag=True, help="Transcribe a built-in clip with each usable backend.")
@click.option("--pin", is_flag=True, help="With --bench: write the fastest into the config.")
@pass_ctx
@friendly
def backends(ctx: Ctx, as_json: bool, bench: bool, pin: bool) -> None:
    """Which transcription backends can run here, which one is used, and why."""
    if pin and not bench:
        raise click.UsageError("--pin needs --bench: earwig backends --bench --pin")
    from earwig.transcribe import registry

    cfg = ctx.config.transcribe
    table = registry.survey(cfg)
    try:
        chain = registry.chosen(cfg, table)
    except EarwigError as exc:
        chain, problem = [], exc.message
    else:
        problem = ""
    rows: list[formatting.BackendRow] = [
        {
            "name": a.name,
            "installed": a.installed,
            "usable": a.usable,
            "detail": a.detail,
            "role": "used"
            if chain and a.name == chain[0]
            else "fallback"
            if a.name in chain
            else "",
        }
        for a in table
    ]
    if bench:
        from earwig.transcribe import bench as bench_mod

        for row in rows:
            if row["usable"]:
                if not as_json:
                    click.echo(f"benchmarking {row['name']}…", err=True)
                row["bench"] = typing.cast(
                    formatting.BenchResult, bench_mod.measure(row["name"], ctx.config_path)
                )
    if as_json:
        click.echo(json.dumps({"backend": cfg.backend, "chain": chain, "backends": rows}))
    else:
        from rich.console import Console

        title = f"backend = {cfg.backend!r}, model = {cfg.model!r}"
        out = _table(title, formatting.backend_table(rows))
        if bench:
            Console().print(out)
            clip = "the built-in 11 s clip, each backend in a fresh process"
            out = _table(clip, formatting.bench_table(rows), right=(1, 2, 3))
        Console().print(out)
        if problem:
            click.secho(problem, fg="red")
    if pin:
        from earwig import config_edit

        timed = [r for r in rows if "rtf" in (r.get("bench") or {})]
        if not timed:
            raise EarwigError("no backend finished the benchmark, so none was pinned")
        best = min(timed, key=lambda r: r["bench"]["rtf"])
        config_edit.set_value(ctx.editable_config_path, "transcribe", "backend", best["name"])
        click.echo(
            f"pinned backend = {best['name']!r} in {ctx.editable_config_path} "
            "(restart the daemon to use it)",
            err=as_json,  # keep stdout parseable
        )


@main.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--languages", is_flag=True, help="List the language codes Whisper knows.")
@click.pass_context
@friendly
def models(click_ctx: click.Context, as_json: bool, languages: bool) -> None:
    """Models: what is installed, what can be pulled, and which one is in use."""
    if click_ctx.invoked_subcommand is not None:
        return
    if languages:
        from earwig.languages import LANGUAGES

        if as_json:
            click.echo(json.dumps(LANGUAGES))
        else:
            for code, name in LANGUAGES.items():
                click.echo(f"{code:<4} {name.title()}")
        return
    from earwig.transcribe import catalog
    from earwig.transcribe.models import display_name, local_models

    ctx: Ctx = click_ctx.obj
    cfg = ctx.config.transcribe
    found = local_models(cfg.models_dir, cfg.model)
    in_use = display_name(cfg.model)
    installed = {m["name"] for m in found}
    pullable: list[dict[str, Any]] = [
        {"name": e.name, "repo": e.repo, "size": e.size, "languages": e.languages}
        for e in catalog.CATALOG.values()
        if e.name not in installed
    ]
    if as_json:
        click.echo(json.dumps({"configured": cfg.model, "installed": found, "available": pullable}))
        return
    from rich.markup import escape
    from rich.table import Table

    # One table, so installed and pullable models line up; names and paths are never cut.
    table = Table(box=None, pad_edge=False)
    for col in ("", "name", "languages", "size", "format", "where"):
        table.add_column(col, justify="right" if col == "size" else "left", no_wrap=True)
    for m in found:
        used = m["name"] == cfg.model or m["path"] == cfg.model or m["name"] == in_use
        table.add_row(
            "in use" if used else "installed",
            escape(str(m["name"])),
            str(m.get("languages", "")),
            formatting.size(float(str(m["size"]))),
            escape(str(m["format"])),
            escape(str(m["path"])),
        )
    for e in pullable:
        table.add_row("pull", e["name"], e["languages"], formatting.size(e["size"]), "", e["repo"])
    _console().print(table)
    click.echo(
        f"in use: [transcribe] model = {cfg.model!r}; `earwig models pull NAME` downloads "
        f"to {catalog.hub_cache()}; ggml conversions go to {cfg.models_dir}"
    )


@models.command(name="pull")
@click.argument("names", nargs=-1, required=True)
@pass_ctx
@friendly
def models_pull(ctx: Ctx, names: tuple[str, ...]) -> None:
    """Download models by name (faster-whisper's names, or org/repo), resuming and verified."""
    from earwig.transcribe import catalog

    for entry in _catalog_entries(names):
        path = catalog.cached(entry)
        if path is None:
            from earwig.standalone import pull_with_progress

            path = pull_with_progress(entry)
        else:
            click.echo(f"{entry.name} is already here: {path}")
    click.echo('use it with: [transcribe] model = "NAME" in the config, or --model NAME')


def _catalog_entries(names: tuple[str, ...]) -> Iterator[Any]:
    """The catalog entry of each model name in turn; an unknown name stops there."""
    from earwig.transcribe import catalog
    from earwig.transcribe.models import unknown_model

    for name in names:
        entry = catalog.lookup(name)
        if entry is None:
            raise unknown_model(name)
        yield entry


@models.command(name="rm")
@click.argument("names", nargs=-1, required=True)
@pass_ctx
@friendly
def models_rm(ctx: Ctx, names: tuple[str, ...]) -> None:
    """Delete downloaded models from the Hugging Face cache."""
    from earwig.transcribe import hub

    for name, entry in zip(names, _catalog_entries(names), strict=True):
        freed = hub.remove(entry)
        if freed:
            click.echo(f"removed {entry.name} ({formatting.size(freed)} freed)")
        else:
            click.echo(f"{entry.name} was not downloaded")
        if name == ctx.config.transcribe.model:
            click.echo(
                f"note: [transcribe] model is still {name!r}; the daemon downloads it again "
                "on its next start unless download = false",
                err=True,
            )


@models.command(name="convert")
@click.argument("source", required=False)
@click.option("--output", type=click.Path(path_type=Path), help="ggml file to write.")
@click.option(
    "--quantize",
    type=click.Choice(["f16", "q8_0"]),
    default="f16",
    show_default=True,
    help="q8_0: 8-bit weights, a smaller file.",
)
@pass_ctx
@friendly
def models_convert(ctx: Ctx, source: str | None, output: Path | None, quantize: str) -> None:
    """Convert a CTranslate2 Whisper model (default: the bundled one) to ggml for whisper.cpp."""
    import time

    from earwig.transcribe import ggml
    from earwig.transcribe.models import BUNDLED, resolve_ctranslate2

    src, name = resolve_ctranslate2(source or BUNDLED)
    suffix = "" if quantize == "f16" else f"-{quantize}"
    target = output or ctx.config.transcribe.models_dir / (
        f"ggml-tiny.en-bundled{suffix}.bin" if not source else f"ggml-{name}-converted{suffix}.bin"
    )
    t0 = time.perf_counter()
    ggml.convert(src, target, quantize)
    written = formatting.size(target.stat().st_size)
    click.echo(f"wrote {target} ({written}) in {time.perf_counter() - t0:.1f}s")


@main.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
@friendly
@click.pass_context
def speakers(click_ctx: click.Context, ctx: Ctx, as_json: bool) -> None:
    """The voices you named; `earwig speakers name JOB SPEAKER NAME` names one."""
    if click_ctx.invoked_subcommand is not None:
        return
    voices = _speakers_call(ctx, p.ListSpeakers())["voices"]
    if as_json:
        click.echo(json.dumps(voices, indent=2))
        return
    if not voices:
        click.echo(
            "no named voices yet: `earwig speakers name JOB SPEAKER NAME` names one "
            '(with [transcribe] speakers = "auto", transcripts have SPEAKER 1, SPEAKER 2...)'
        )
        return
    for v in voices:
        where = "everywhere" if v["scope"] == "*" else v["scope"].split(":", 1)[-1]
        click.echo(f"{v['name']:<24} {where}  (from job {v['job_id']})")


@speakers.command("name")
@click.argument("job_id", type=int)
@click.argument("speaker")
@click.argument("name")
@click.option(
    "--everywhere", is_flag=True, help="Look for this voice in every file, not only its source's."
)
@pass_ctx
@friendly
def speakers_name(ctx: Ctx, job_id: int, speaker: str, name: str, everywhere: bool) -> None:
    """Call SPEAKER ("SPEAKER 2", say) of job JOB_ID NAME, and recognise that voice later."""
    result = _speakers_call(
        ctx, p.NameSpeaker(id=job_id, speaker=speaker, name=name, everywhere=everywhere)
    )
    where = "every file" if everywhere else "later files from the same source"
    click.echo(f"#{job_id}: {speaker} is now {result['name']}; {where} will know the voice")


@speakers.command("forget")
@click.argument("name")
@pass_ctx
@friendly
def speakers_forget(ctx: Ctx, name: str) -> None:
    """Stop recognising a named voice (transcripts keep the name)."""
    _speakers_call(ctx, p.ForgetSpeaker(name=name))
    click.echo(f"forgot the voice of {name}")


def _speakers_call(ctx: Ctx, request: p.Request[R]) -> R:
    """Through the daemon when it runs, else on the database directly."""
    try:
        return ctx.call(request)
    except DaemonNotRunning:
        pass
    from earwig.speakers.naming import forget_voice, list_voices, name_speaker
    from earwig.store import Store

    store = Store(ctx.config.daemon.database)
    try:
        result: object
        if isinstance(request, p.ForgetSpeaker):
            result = forget_voice(store, request.name)
        elif isinstance(request, p.NameSpeaker):
            r = request
            result = name_speaker(store, r.id, r.speaker, r.name, r.everywhere)
        else:
            result = list_voices(store)
        return typing.cast(R, result)  # the same function the daemon's handler calls
    finally:
        store.close()


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--backend", help="auto, whisper.cpp, faster-whisper, openai, mlx-whisper.")
@click.option("--model", help='"bundled", a model directory, a ggml file, or a model name.')
@click.option(
    "--language",
    help='A language code such as "en", or "auto". With --multilingual (the default) a hint '
    "the audio can overrule, with a warning; with --no-multilingual, the one language used.",
)
@click.option(
    "--multilingual/--no-multilingual",
    default=None,
    help="Find every language spoken and transcribe each stretch in its own (the default; "
    "an English-only model flags what is not English), or one language for the whole file.",
)
@click.option("--translate/--no-translate", default=None, help="Translate into English (or not).")
@click.option("--prompt", "initial_prompt", help="Vocabulary hints: names, jargon.")
@click.option(
    "--word-timestamps", is_flag=True, default=None, help="Per-word times in the .json output."
)
@click.option(
    "--format",
    "formats",
    multiple=True,
    type=click.Choice(config_mod.FORMATS),
    help="Output format (repeatable; default: the config's).",
)
@click.option(
    "--output-dir", type=click.Path(path_type=Path), help="Default: the config's output dir."
)
@click.option(
    "--speakers",
    metavar="auto|off|N",
    help="Label who speaks: auto (find how many), off, or how many there are.",
)
@pass_ctx
@friendly
def transcribe(
    ctx: Ctx,
    files: tuple[Path, ...],
    backend: str | None,
    model: str | None,
    language: str | None,
    multilingual: bool | None,
    translate: bool | None,
    initial_prompt: str | None,
    word_timestamps: bool | None,
    formats: tuple[str, ...],
    output_dir: Path | None,
    speakers: str | None,
) -> None:
    """Transcribe files here and now, without the daemon (exit 1 if any file failed)."""
    from earwig.standalone import run_files

    failed = run_files(
        ctx.config,
        files,
        backend=backend,
        model=model,
        language=language,
        multilingual=multilingual,
        translate=translate,
        initial_prompt=initial_prompt,
        word_timestamps=word_timestamps,
        formats=formats,
        output_dir=output_dir,
        speakers=speakers,
    )
    if failed:
        sys.exit(EXIT_ERROR)
