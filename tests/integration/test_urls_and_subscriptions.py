"""URLs, the inbox file and subscriptions, end to end: a real daemon, real yt-dlp and
feedparser, and a real HTTP server on 127.0.0.1 serving feeds and generated speech."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from conftest import SECOND_TEXT, Home
from earwig import protocol as p
from helpers import run_cli, wait_for, wer
from httpserver import LocalServer, atom, rss

T0 = 1_700_000_000


@pytest.fixture
def server():
    with LocalServer() as srv:
        yield srv


def markdown_links(text: str) -> list[str]:
    """The link targets a Markdown parser (markdown-it-py, CommonMark) finds in `text`."""
    from markdown_it import MarkdownIt

    found = []
    for token in MarkdownIt().parse(text):
        for child in token.children or ():
            if child.type == "link_open":
                found.append(str(child.attrs["href"]))
    return found


def unique(wav: bytes, n: int) -> bytes:
    """The same speech with its last sample set to n: other media to sha256, which earwig
    would otherwise (rightly) transcribe only once however many URLs serve it."""
    return wav[:-2] + n.to_bytes(2, "little")


def episode(server: LocalServer, n: int, wav: Path, title: str | None = None) -> dict:
    url = server.add(
        f"/media/ep{n}.wav", body=unique(wav.read_bytes(), n), content_type="audio/wav"
    )
    return {
        "title": title or f"Episode {n}",
        "url": url,
        "date": T0 + n * 86400,
        "guid": f"guid-{n}",
    }


def subscription(name: str, url: str, backfill: int = 3, every: str = "1d") -> str:
    return (
        f'\n[[subscription]]\nname = "{name}"\nurl = "{url}"\nbackfill = {backfill}\n'
        f'every = "{every}"\n'
    )


def by_title(jobs: list[p.JobView]) -> dict[str, p.JobView]:
    return {j["title"]: j for j in jobs}


def test_add_url_downloads_then_transcribes(home: Home, server, second_wav) -> None:
    url = server.add("/media/morning.wav", body=second_wav.read_bytes(), content_type="audio/wav")
    daemon = home.daemon().start()
    try:
        out = run_cli(home.config, "add", url)
        assert out.returncode == 0 and "queued #1" in out.stdout, out.stderr
        (job,) = daemon.wait_idle(1)
        assert job["state"] == "done" and job["path"] is not None, job
        assert Path(job["path"]).is_relative_to(home.media)  # downloaded into the cache
        assert job["url"] == url and job["sha256"]
        # a URL job's own life: downloading, back in the queue once downloaded, then
        # fetching (checking the file) once, in that order (times keep each state's last entry)
        times = job["times"]
        order = ["downloading", "queued", "fetching", "transcribing", "done"]
        assert sorted(order, key=times.__getitem__) == order, times
        assert wer(SECOND_TEXT, (home.out / "morning.txt").read_text()) < 0.35
        # one GET for the media (yt-dlp's generic extractor would probe it first), and the
        # transcript remembers the URL, not the media cache that keep_media empties
        assert [r.method for r in server.requests if r.path == "/media/morning.wav"] == ["GET"]
        doc = json.loads((home.out / "morning.json").read_text())
        assert doc["source"] == url and doc["url"] == url and doc["media"] == job["path"]
        exported = run_cli(home.config, "export", "1")  # notes: Markdown with timed links
        assert exported.returncode == 0, exported.stderr
        links = markdown_links(Path(exported.stdout.strip()).read_text())
        timed = [link for link in links if "#t=" in link]
        starts = [int(s["start"]) for s in doc["segments"]]
        assert url in links and timed, links  # the source, and a link to each paragraph's time
        assert all(link.startswith(url + "#t=") for link in timed), timed
        assert {int(link.split("#t=")[1]) for link in timed} <= set(starts)
        shown = run_cli(home.config, "show", "1", "--no-transcript")
        assert f"url      {url}" in shown.stdout and "attempts" not in shown.stdout, shown.stdout
        again = run_cli(home.config, "add", url)
        assert "skipped" in again.stdout and "same content as #1" in again.stdout
    finally:
        daemon.kill()


def test_a_404_url_fails_at_once_without_retries(home: Home, server, daemon) -> None:
    run_cli(home.config, "add", server.url("/media/gone.mp3"))
    (job,) = daemon.wait_idle(1)
    assert job["state"] == "failed" and "404" in job["error"], job
    assert job["attempts"] == 1 and server.count("/media/gone.mp3") == 1
    out = run_cli(home.config, "add", "ftp://nowhere/x.mp3")
    assert out.returncode == 1 and "not a URL" in out.stderr


def test_subscribe_backfill_then_only_new_items_then_unchanged(
    home: Home, server, second_wav
) -> None:
    eps = [episode(server, n, second_wav) for n in (1, 2, 3)]
    feed = server.add("/feed.xml", body=rss(eps), content_type="application/rss+xml", etag='"v1"')
    home.write_config(extra=subscription("pod", feed, backfill=2))
    daemon = home.daemon().start()
    try:
        jobs = daemon.wait_idle(2)
        assert sorted(j["title"] for j in jobs) == ["Episode 2", "Episode 3"]
        assert all(j["state"] == "done" and j["subscription"] == "pod" for j in jobs)
        assert (home.out / "pod" / "Episode 3.txt").exists()
        assert server.count("/media/ep1.wav") == 0  # never fetched, ever

        eps.append(episode(server, 4, second_wav))
        server.add("/feed.xml", body=rss(eps), content_type="application/rss+xml", etag='"v2"')
        out = run_cli(home.config, "check", "pod")
        assert out.returncode == 0 and "pod: 1 new item(s) queued" in out.stdout, out.stderr
        jobs = daemon.wait_idle(3)
        assert sorted(j["title"] for j in jobs) == ["Episode 2", "Episode 3", "Episode 4"]

        media_before = server.media_requests()
        out = run_cli(home.config, "check", "pod")
        assert "pod: unchanged" in out.stdout
        assert server.media_requests() == media_before
        last = [r for r in server.requests if r.path == "/feed.xml"][-1]
        assert last.headers.get("If-None-Match") == '"v2"'
        subs = json.loads(run_cli(home.config, "subscriptions", "--json").stdout)
        assert subs[0]["items_found"] == 3 and subs[0]["last_error"] is None
        assert subs[0]["next_check"] is not None
    finally:
        daemon.kill()


def test_feed_shapes_and_broken_feeds(home: Home, server, second_wav) -> None:
    a = [episode(server, n, second_wav) for n in (1, 2)]
    b = [{**episode(server, n, second_wav), "guid": None} for n in (3, 4)]
    c = [episode(server, n, second_wav) for n in (5, 6)]
    d = [
        episode(server, 7, second_wav),
        {**episode(server, 8, second_wav), "url": server.url("/media/missing.wav")},
    ]
    oldest_first = server.add("/old.xml", body=rss(a), content_type="application/rss+xml")
    no_guids = server.add("/noguid.xml", body=rss(b, guid=False), content_type="text/xml")
    atom_feed = server.add("/atom.xml", body=atom(c), content_type="application/atom+xml")
    with_404 = server.add("/404.xml", body=rss(d), content_type="application/rss+xml")
    truncated = server.add("/trunc.xml", body=rss(a)[:150], content_type="application/rss+xml")
    html = server.add(
        "/page.html", body=b"<html><body><p>Hello</p></body></html>", content_type="text/html"
    )
    home.write_config(
        extra="".join(
            [
                subscription("old", oldest_first, backfill=1),
                subscription("noguid", no_guids, backfill=1),
                subscription("atom", atom_feed, backfill=1),
                subscription("with404", with_404, backfill=2),
                subscription("truncated", truncated),
                subscription("html", html),
            ]
        )
    )
    daemon = home.daemon().start()
    try:
        jobs = by_title(daemon.wait_idle(5))
        assert jobs["Episode 2"]["subscription"] == "old"  # newest, though listed last
        assert jobs["Episode 4"]["subscription"] == "noguid"
        assert jobs["Episode 6"]["subscription"] == "atom"
        assert jobs["Episode 7"]["state"] == "done"  # the good item of a feed with a 404
        assert jobs["Episode 8"]["state"] == "failed" and "404" in (
            jobs["Episode 8"]["error"] or ""
        )
        assert {j["state"] for t, j in jobs.items() if t != "Episode 8"} == {"done"}
        wait_for(
            lambda: all(
                daemon.call(p.ListSubscriptions())["subscriptions"][i]["last_check"]
                for i in range(6)
            ),
            what="every subscription to be checked",
        )
        subs = {s["name"]: s for s in daemon.call(p.ListSubscriptions())["subscriptions"]}
        assert (subs["truncated"]["last_error"] or "").startswith(
            f"feed {truncated} is malformed: "
        )
        # a web page is not a feed, but may be a channel: "auto" hands it to yt-dlp, which
        # cannot list it either
        assert subs["html"]["last_error"] == f"yt-dlp cannot handle {html}", subs["html"]
        assert subs["old"]["last_error"] is None
        assert daemon.call(p.GetStatus())["pid"]  # and the daemon is fine
        listing = run_cli(home.config, "subscriptions").stdout
        assert "error: " in listing and "truncated" in listing
    finally:
        daemon.kill()


def test_titles_from_the_internet_cannot_escape(home: Home, server, second_wav) -> None:
    eps = [
        episode(server, 1, second_wav, title="../../etc/passwd"),
        episode(server, 2, second_wav, title="A" * 300),
    ]
    feed = server.add("/feed.xml", body=rss(eps), content_type="application/rss+xml")
    home.write_config(extra=subscription("evil/../../name", feed, backfill=2))
    daemon = home.daemon().start()
    try:
        jobs = daemon.wait_idle(2)
        assert {j["state"] for j in jobs} == {"done"}
        for job in jobs:
            assert job["path"] is not None, job
            assert Path(job["path"]).resolve().is_relative_to(home.media.resolve())
            for out in job["outputs"]:
                assert Path(out).resolve().is_relative_to(home.out.resolve()), out
                assert len(Path(out).name) <= 130
        assert not (home.root / "etc").exists()
    finally:
        daemon.kill()


def test_inbox_lines_become_jobs_and_garbage_stays_visible(home: Home, server, second_wav):
    good = [
        server.add(
            f"/media/in{i}.wav", body=unique(second_wav.read_bytes(), i), content_type="audio/wav"
        )
        for i in (1, 2)
    ]
    daemon = home.daemon().start()
    try:
        inbox = home.watch / "inbox.txt"
        with open(inbox, "a") as fh:  # appended while the daemon runs
            fh.write(f"# my links\n{good[0]}\nthis is not a url\n\n{good[1]}\n")
        jobs = daemon.wait_idle(3)
        states = sorted((j["state"], j["title"]) for j in jobs)
        assert states[0] == ("done", "in1") and states[1] == ("done", "in2")
        assert states[2][0] == "failed"
        garbage = next(j for j in jobs if j["state"] == "failed")
        assert "not a URL" in (garbage["error"] or "")
        done = (home.watch / "inbox.done").read_text()
        assert good[0] in done and good[1] in done and "failed" in done
        wait_for(
            lambda: not inbox.exists() and not list(home.watch.glob("inbox.txt.claimed-*")),
            what="the inbox to be emptied",
        )
        # the inbox lies in the watched folder: its claimed copy and inbox.done are earwig's
        # own, never taken for recordings to probe and skip (issue 39, item 9)
        logged = run_cli(home.config, "logs", "-n", "200").stdout.splitlines()
        own = [line for line in logged if "skipped" in line and "inbox." in line]
        assert not own and not any("claimed-" in line for line in logged), logged
    finally:
        daemon.kill()


def test_inbox_survives_kill_9_and_queues_each_url_exactly_once(home: Home, server, second_wav):
    urls = [
        server.add(
            f"/media/k{i}.wav", body=unique(second_wav.read_bytes(), i), content_type="audio/wav"
        )
        for i in range(30)
    ]
    (home.watch / "inbox.txt").write_text("\n".join(urls) + "\n")
    daemon = home.daemon().start(wait=False)
    wait_for(lambda: daemon.jobs(), what="the inbox to be read")
    daemon.kill()  # right after the first read: downloads and cleanup interrupted
    daemon = home.daemon().start()
    try:
        wait_for(lambda: len(daemon.jobs()) >= 30, what="all 30 URLs")
        daemon.call(p.PauseQueue())
        assert sorted(j["url"] or "" for j in daemon.jobs()) == sorted(urls)
    finally:
        daemon.kill()


def test_read_only_inbox_is_read_in_place(home: Home, server, second_wav) -> None:
    url = server.add("/media/ro.wav", body=second_wav.read_bytes(), content_type="audio/wav")
    inbox = home.watch / "inbox.txt"
    inbox.write_text(url + "\n")
    inbox.chmod(0o444)
    daemon = home.daemon().start()
    try:
        (job,) = daemon.wait_idle(1)
        assert job["state"] == "done" and inbox.read_text() == url + "\n"  # untouched
        daemon.stop()
        daemon = home.daemon().start()
        daemon.call(p.GetStatus())
        wait_for(lambda: any("ready" in e["message"] for e in daemon.call(p.TailLogs())["log"]))
        assert len(daemon.jobs()) == 1  # its progress is remembered across restarts
    finally:
        inbox.chmod(0o644)
        daemon.kill()


def test_subscribe_edits_the_config_keeping_comments_and_the_daemon_follows(
    home: Home, server, second_wav
) -> None:
    eps = [episode(server, n, second_wav) for n in (1, 2)]
    feed = server.add("/feed.xml", body=rss(eps), content_type="application/rss+xml")
    home.config.write_text("# my precious comment\n" + home.config.read_text())
    daemon = home.daemon().start()
    try:
        out = run_cli(
            home.config, "subscribe", feed, "--name", "show", "--backfill", "1", "--every", "12h"
        )
        assert out.returncode == 0, out.stderr
        assert "reloaded" in out.stdout
        text = home.config.read_text()
        assert text.startswith("# my precious comment") and 'name = "show"' in text
        (job,) = daemon.wait_idle(1)
        assert job["title"] == "Episode 2" and job["state"] == "done"
        dup = run_cli(home.config, "subscribe", feed, "--name", "show")
        assert dup.returncode == 2 and "already exists" in dup.stderr
        out = run_cli(home.config, "unsubscribe", "show")
        assert out.returncode == 0, out.stderr
        text = home.config.read_text()
        assert 'name = "show"' not in text and text.startswith("# my precious comment")
        assert daemon.call(p.ListSubscriptions())["subscriptions"] == []
    finally:
        daemon.kill()


def test_sighup_with_a_broken_config_keeps_the_old_one(home: Home, server, daemon) -> None:
    home.config.write_text(home.config.read_text() + "\n[transcribe]\nbeam = 1\n")
    daemon.proc.send_signal(signal.SIGHUP)
    wait_for(
        lambda: any("reload refused" in e["message"] for e in daemon.call(p.TailLogs())["log"]),
        what="the refusal",
    )
    assert daemon.call(p.GetStatus())["pid"] == daemon.proc.pid


def test_media_is_removed_after_transcription_when_asked(home: Home, server, second_wav):
    url = server.add("/media/tmp.wav", body=second_wav.read_bytes(), content_type="audio/wav")
    text = home.config.read_text().replace("retries = 2", 'retries = 2\nkeep_media = "none"')
    home.config.write_text(text)
    daemon = home.daemon().start()
    try:
        run_cli(home.config, "add", url)
        (job,) = daemon.wait_idle(1)
        assert job["state"] == "done" and job["path"] is not None, job
        assert not Path(job["path"]).exists()
        assert (home.out / "tmp.txt").exists()  # transcripts are never cleaned
    finally:
        daemon.kill()


def test_a_rate_limited_feed_is_backed_off(home: Home, server) -> None:
    feed = server.add("/busy.xml", status=429, headers={"Retry-After": "3600"})
    home.write_config(extra=subscription("busy", feed))
    daemon = home.daemon().start()
    try:
        wait_for(
            lambda: daemon.call(p.ListSubscriptions())["subscriptions"][0]["last_error"],
            what="the first check",
        )
        requests = server.count("/busy.xml")
        out = run_cli(home.config, "check", "busy")
        assert out.returncode == 1 and "backing off" in out.stderr
        assert server.count("/busy.xml") == requests  # not asked again
    finally:
        daemon.kill()


def test_publishers_transcripts_are_taken_without_the_media(home: Home, server, second_wav) -> None:
    """Podcasting 2.0: four items each link a transcript of one of the four types; their
    text is taken (no media request), indexed and written; a fifth's transcript is a 404, so
    its audio is downloaded and transcribed by the real model."""
    bodies = {
        "vtt": ("text/vtt", "WEBVTT\n\n00:00.000 --> 00:03.000\n<v Ann>Velvet aardvarks sing.\n"),
        "srt": ("application/x-subrip", "1\n00:00:00,000 --> 00:00:02,000\nMarble tortoises.\n"),
        "json": (
            "application/json",
            json.dumps(
                {
                    "version": "1.0.0",
                    "segments": [
                        {"speaker": "Ann", "startTime": 0, "endTime": 2, "body": "Copper owls"},
                        {"speaker": "Ben", "startTime": 2, "endTime": 4, "body": "hum loudly"},
                    ],
                }
            ),
        ),
        "html": ("text/html", "<cite>Ann:</cite><time>0:00</time><p>Saffron herons.</p>"),
    }
    eps = []
    for n, (ext, (ctype, body)) in enumerate(bodies.items(), 1):
        url = server.add(f"/t/ep{n}.{ext}", body=body.encode(), content_type=ctype)
        ep = episode(server, n, second_wav)
        ep["extra"] = f'<podcast:transcript url="{url}" type="{ctype}" language="en"/>'
        eps.append(ep)
    chapters = {"version": "1.2.0", "chapters": [{"startTime": 0, "title": "Cold open"}]}
    eps[0]["extra"] += (
        f'<podcast:chapters url="{server.add("/c/1.json", body=json.dumps(chapters).encode())}"'
        ' type="application/json+chapters"/>'
    )
    gone = episode(server, 5, second_wav)
    gone["extra"] = f'<podcast:transcript url="{server.url("/t/gone.vtt")}" type="text/vtt"/>'
    eps.append(gone)
    feed = server.add("/feed.xml", body=rss(eps), content_type="application/rss+xml")
    home.write_config(extra=subscription("pub", feed, backfill=5))
    daemon = home.daemon().start()
    try:
        jobs = by_title(daemon.wait_idle(5))
        assert all(j["state"] == "done" for j in jobs.values()), jobs
        for n, ext in enumerate(bodies, 1):
            job = jobs[f"Episode {n}"]
            assert job["text_from"] == f"publisher ({bodies[ext][0]})", job
            assert job["path"] is None and job["backend"] == "publisher"
            assert server.count(f"/media/ep{n}.wav") == 0 and server.count(f"/t/ep{n}.{ext}") == 1
            assert f"earwig retry {job['id']}" in (job["hint"] or "")  # how to hear the audio
        # the fallback: its transcript is a 404, so its media came and the model heard it
        five = jobs["Episode 5"]
        assert five["text_from"] is None and five["backend"] != "publisher", five
        assert server.count("/media/ep5.wav") == 1
        assert (
            wer(
                SECOND_TEXT,
                Path(next(o for o in five["outputs"] if o.endswith(".txt"))).read_text(),
            )
            < 0.35
        )
        # the job log (`earwig logs`, what a user reads) says why the audio was fetched
        logged = run_cli(home.config, "logs", "-n", "200").stdout
        gone_url = server.url("/t/gone.vtt")
        assert f"Episode 5: publisher's transcript: transcript {gone_url}: HTTP error 404" in (
            logged
        ), logged
        assert "Episode 5: transcribing the audio instead" in logged, logged
        assert server.count("/t/gone.vtt") == 1
        # every publisher's text is searchable, the JSON's speakers reach the outputs
        for word in ("aardvarks", "tortoises", "owls", "herons"):
            found = run_cli(home.config, "search", word)
            assert found.returncode == 0 and word in found.stdout.lower(), (word, found.stdout)
        json_job = jobs["Episode 3"]
        doc = json.loads(
            Path(next(o for o in json_job["outputs"] if o.endswith(".json"))).read_text()
        )
        assert [s.get("speaker") for s in doc["segments"]] == ["Ann", "Ben"], doc["segments"]
        assert doc["text_from"] == "publisher (application/json)"
        vtt = Path(next(o for o in jobs["Episode 1"]["outputs"] if o.endswith(".vtt"))).read_text()
        assert "<v Ann>Velvet aardvarks sing." in vtt
        one = json.loads(
            Path(next(o for o in jobs["Episode 1"]["outputs"] if o.endswith(".json"))).read_text()
        )
        assert one["chapters"] == [{"start": 0.0, "title": "Cold open"}]
        assert server.count("/c/1.json") == 1
    finally:
        daemon.kill()


def test_transcripts_modes_both_and_always_and_a_retry_transcribes_the_audio(
    home: Home, server, second_wav
) -> None:
    vtt = server.add(
        "/t/words.vtt",
        body=b"WEBVTT\n\n00:00.000 --> 00:02.000\nPublished words.\n",
        content_type="text/vtt",
    )
    extra = f'<podcast:transcript url="{vtt}" type="text/vtt"/>'
    config = ""
    for n, mode in enumerate(("publisher-first", "both", "always-transcribe"), 1):
        ep = {**episode(server, n, second_wav, title=mode), "extra": extra}
        feed = server.add(f"/feed{n}.xml", body=rss([ep]), content_type="application/rss+xml")
        config += subscription(f"s{n}", feed) + f'transcripts = "{mode}"\n'
    home.write_config(extra=config)
    daemon = home.daemon().start()
    try:
        jobs = by_title(daemon.wait_idle(3))
        first, both, always = jobs["publisher-first"], jobs["both"], jobs["always-transcribe"]
        assert first["text_from"] == "publisher (text/vtt)" and server.count("/media/ep1.wav") == 0
        # both: the publisher's text beside earwig's own, which the model made from the audio
        assert both["text_from"] is None and server.count("/media/ep2.wav") == 1
        theirs = [o for o in both["outputs"] if ".publisher." in o]
        assert theirs and all(Path(o).exists() for o in theirs), both["outputs"]
        txt = next(o for o in theirs if o.endswith(".txt"))
        assert Path(txt).read_text().strip() == "Published words."
        ours = next(o for o in both["outputs"] if o.endswith(".txt") and ".publisher." not in o)
        assert wer(SECOND_TEXT, Path(ours).read_text()) < 0.35
        # always-transcribe never asks for the publisher's file
        assert always["text_from"] is None and server.count("/media/ep3.wav") == 1
        assert server.count("/t/words.vtt") == 2  # publisher-first and both
        # a retry of a job whose text was the publisher's transcribes the audio
        assert run_cli(home.config, "retry", str(first["id"])).returncode == 0
        again = daemon.wait_job(
            lambda j: j["id"] == first["id"] and j["state"] == "done" and not j["text_from"],
            what="the retried job transcribed",
        )
        assert again["backend"] != "publisher" and server.count("/media/ep1.wav") == 1
    finally:
        daemon.kill()


def test_a_name_subscribed_again_starts_afresh(home: Home, server, daemon, second_wav) -> None:
    """Unsubscribe, then subscribe the same name to another feed: no old status is inherited
    and its first check runs at once (it used to wait a whole interval)."""
    one = server.add("/one.xml", body=rss([episode(server, 1, second_wav)]))
    two = server.add("/two.xml", body=rss([episode(server, 2, second_wav)]))

    def state() -> dict:
        subs = daemon.call(p.GetStatus())["subscriptions"]
        return next((s for s in subs if s["name"] == "pod"), {})

    # --no-check: each feed is fetched by its checks only, so they can be counted
    args = ["--name", "pod", "--backfill", "0", "--every", "1d", "--no-check"]
    assert run_cli(home.config, "subscribe", one, *args).returncode == 0
    wait_for(lambda: state().get("last_ok"), what="the first check")
    assert server.count("/one.xml") == 1
    assert run_cli(home.config, "unsubscribe", "pod").returncode == 0
    assert run_cli(home.config, "subscribe", two, *args).returncode == 0
    wait_for(lambda: server.count("/two.xml") == 1, what="the new feed checked at once")
    fresh = wait_for(lambda: state().get("last_ok") and state())
    assert fresh["url"] == two and fresh["items_found"] == 0 and not fresh["last_error"]


def test_a_subscription_is_named_after_its_feeds_title(home: Home, server, second_wav) -> None:
    """No --name: the feed's own title, through the daemon or without it; a name in use
    gets a number; a page that is not a feed falls back to host and path."""
    feed = server.add(
        "/pod.xml", body=rss([episode(server, 1, second_wav)], title="Rivers &amp; Co")
    )
    args = ["--backfill", "0"]
    out = run_cli(home.config, "subscribe", feed, *args)  # no daemon: the config is edited
    assert out.returncode == 0 and "subscribed 'Rivers & Co'" in out.stdout, out.stdout
    daemon = home.daemon().start()
    try:
        other = server.add("/pod2.xml", body=rss([], title="Rivers &amp; Co"))
        out = run_cli(home.config, "subscribe", other, *args)
        assert "subscribed 'Rivers & Co (2)'" in out.stdout, out.stdout
        page = server.add("/show/page.html", body=b"<html><body>hi</body></html>")
        out = run_cli(home.config, "subscribe", page, *args, "--no-check")  # not listable
        assert "subscribed '127.0.0.1-page'" in out.stdout, out.stdout
        names = [s["name"] for s in daemon.call(p.ListSubscriptions())["subscriptions"]]
        assert names == ["Rivers & Co", "Rivers & Co (2)", "127.0.0.1-page"]
    finally:
        daemon.kill()


def test_a_cancel_during_a_download_that_then_fails_stays_a_cancel(
    server: LocalServer, home: Home
) -> None:
    """The user cancels while the server is silent; the download then fails (the server drops
    the connection) before yt-dlp's progress hook could see the request. The cancel wins: the
    job ends cancelled, not failed or queued for a retry."""
    server.add("/quiet.mp3", body=b"\0" * 200_000, content_type="audio/mpeg", stall_after=0)
    daemon = home.daemon().start()
    try:
        daemon.call(p.AddJobs(paths=[server.url("/quiet.mp3")]))
        wait_for(lambda: daemon.jobs()[0]["state"] == "downloading", 60, what="downloading")
        daemon.call(p.CancelJob(id=1))
        server.released.set()  # the silent server drops the connection: the download fails
        job = wait_for(
            lambda: next((j for j in daemon.jobs() if j["state"] != "downloading"), None),
            60,
            what="the download to end",
        )
        assert job["state"] == "cancelled", job
        assert not job["not_before"], job  # no retry scheduled
    finally:
        daemon.kill()
