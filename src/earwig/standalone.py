"""`earwig transcribe FILE...`: the daemon's pipeline for a few files, in this process.

Same decoding, backends (with fallback), and output writers as the daemon; a rich progress
bar per file; one line per file that failed, saying why, and the rest still done.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from pathlib import Path
from typing import Any

import click

from earwig import languages, media, outputs
from earwig.config import Config, TranscribeConfig
from earwig.errors import EarwigError
from earwig.transcribe import catalog


def _speakers_option(value: str) -> str | int:
    from earwig.errors import UsageError

    if value in ("off", "auto"):
        return value
    if value.isdigit() and 1 <= int(value) <= 20:
        return int(value)
    raise UsageError(
        f"--speakers {value} is not valid", 'give "auto", "off", or how many speakers (1 to 20)'
    )


def run_files(
    config: Config,
    files: tuple[Path, ...],
    *,
    backend: str | None = None,
    model: str | None = None,
    language: str | None = None,
    multilingual: bool | None = None,
    translate: bool | None = None,
    initial_prompt: str | None = None,
    word_timestamps: bool | None = None,
    formats: tuple[str, ...] = (),
    output_dir: Path | None = None,
    speakers: str | None = None,
) -> list[Path]:
    """Transcribe each file; return the ones that failed."""
    from rich.markup import escape
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from earwig.config import BACKENDS
    from earwig.errors import ConfigError, UsageError
    from earwig.transcribe import pipeline, registry

    if backend and backend not in BACKENDS:
        raise UsageError(f"unknown backend {backend!r}", "choose one of: " + ", ".join(BACKENDS))
    changes: dict[str, Any] = {}
    if backend:
        changes["backend"] = backend
    if model:
        changes["model"] = model
    if language:
        from earwig.languages import check_language

        try:
            changes["language"] = check_language(language)
        except ValueError as exc:
            raise UsageError(f"--language {language} is not valid", f"expected {exc}") from None
    if multilingual is not None:
        changes["multilingual"] = multilingual
    if translate is not None:
        changes["translate"] = translate
    if initial_prompt:
        changes["initial_prompt"] = initial_prompt
    if word_timestamps is not None:
        changes["word_timestamps"] = word_timestamps
    if speakers is not None:
        changes["speakers"] = _speakers_option(speakers)
    tcfg = dataclasses.replace(config.transcribe, **changes)
    try:
        transcriber = registry.create(tcfg)
    except ConfigError as exc:
        if not changes:
            raise  # the config file alone is wrong
        raise UsageError(exc.message, exc.hint) from None  # the options given do not fit
    ensure_model(tcfg)  # like the daemon: fetch it now, with a progress bar
    options = registry.options(tcfg)
    out_dir = output_dir or config.output.dir
    formats = formats or config.output.formats
    rules = config.output.cue_rules()
    failed: list[Path] = []
    outputs.check_writable(out_dir)
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
        transient=False,
        console=console,
        # piped or redirected: no bars (cut to 80 columns there), one whole line per file
        disable=not console.is_terminal,
    ) as progress:
        for path in files:
            name = escape(path.name)
            task = progress.add_task(name, total=1.0)
            started = time.monotonic()
            try:
                transcript = pipeline.transcribe_file(
                    transcriber,
                    path,
                    options,
                    functools.partial(_advance, progress, task),
                    lambda: False,
                    model=tcfg.model,
                    cue_words=bool({"srt", "vtt"} & set(formats)),
                )
                source = str(path.resolve())
                base = outputs.choose_base(out_dir, media.safe_stem(path.stem), formats, source)
                meta = {"source": source, "title": path.name}
                outputs.write_all(
                    transcript, out_dir, base, formats, meta, rules, mode=config.output.mode
                )
            except EarwigError as exc:
                failed.append(path)
                progress.update(task, description=f"[red]{name}: failed")
                # the file named once: most messages name it already ("cannot read x.mp3")
                said = exc.message if path.name in exc.message else f"{path.name}: {exc.message}"
                console.print(f"[red]error:[/] {escape(said)}")
                if exc.hint:
                    console.print(f"  hint: {escape(exc.hint)}")
                continue
            done = (
                f"{name} -> {escape(str(out_dir / base))}.* "
                f"({transcript.backend}, "
                f"{' + '.join(languages.name(c) for c in transcript.languages) or 'no speech'}, "
                f"{time.monotonic() - started:.1f}s)"
            )
            progress.update(task, completed=1.0, description=done)
            if progress.disable:
                console.print(done)
            for warning in transcript.warnings:
                console.print(f"[yellow]warning:[/] {escape(warning)}")
    if failed:
        click.echo(f"{len(failed)} of {len(files)} failed", err=True)
    return failed


def _advance(progress: Any, task: Any, fraction: float) -> None:
    progress.update(task, completed=fraction)


def ensure_model(tcfg: TranscribeConfig) -> None:
    """Pull the model `tcfg` needs, here with a progress bar, if it is not on disk yet (the
    daemon shares the Hugging Face cache, so a model pulled here is the daemon's too)."""
    from earwig.transcribe import registry

    missing = registry.missing_model(tcfg)
    if missing is None:
        return
    if not tcfg.download:
        raise EarwigError(
            f"model {missing.name!r} is not downloaded and [transcribe] download = false",
            f"`earwig models pull {missing.name}` first",
        )
    pull_with_progress(missing)


def pull_with_progress(entry: catalog.Entry) -> Path:
    """Download one model with a rich progress bar (on stderr: stdout stays for results)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from earwig.transcribe import hub

    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),  # powers of 1000, as formatting.size: one unit everywhere
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,  # a failure leaves its sentence, not an empty bar above it
        disable=not console.is_terminal,  # a pipe or a log gets the outcome only
    ) as progress:
        task = progress.add_task(f"{entry.name} ({entry.repo})", total=entry.size or None)
        path = hub.pull(
            entry, lambda done, total: progress.update(task, completed=done, total=total)
        )
    click.echo(f"{entry.name}: downloaded and verified: {path}", err=True)
    return path
