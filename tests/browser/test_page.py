"""The web page in a real browser against a real daemon (issue 27's tests).

Everything goes through what a user does: the token link, the file input, clicks on rows,
segments and hits, the confirmation dialog. What the page shows is checked against the daemon's
own answers over its socket. No test times anything (bench/web.py measures).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from conftest import Home
from earwig import protocol as p
from helpers import DaemonProcess, free_port, wait_for

from .conftest import DESKTOP, PHONE, Web, log_in, new_page

pytestmark = pytest.mark.timeout(240)

# Records every state each queue row has shown, from the DOM itself, so a test can tell that
# a job went to done on screen (through its earlier states) and not by a reload.
WATCH_ROWS = """() => {
  window.__seen = {};
  window.__loadedAt = performance.timeOrigin;
  const note = (li) => {
    const id = li.dataset.id, s = li.dataset.state;
    const seen = (window.__seen[id] ||= []);
    if (seen[seen.length - 1] !== s) seen.push(s);
  };
  new MutationObserver((records) => {
    for (const r of records) {
      for (const n of r.addedNodes) if (n.matches && n.matches('li.job')) note(n);
    }
  }).observe(document.querySelector('#jobs'), {childList: true});
  document.querySelectorAll('#jobs li.job').forEach(note);
}"""

# Records every value the page assigns to a player's currentTime (window.__seeks): what the
# page asked for, exactly. Where the player then lands is the browser's business (it may land
# on a frame or packet boundary, and a player that plays on moves on), so a seek's target is
# checked here, and its landing only to within what a viewer cannot tell apart.
RECORD_SEEKS = """(() => {
  const proto = HTMLMediaElement.prototype;
  const d = Object.getOwnPropertyDescriptor(proto, 'currentTime');
  window.__seeks = [];
  Object.defineProperty(proto, 'currentTime', {
    configurable: true, enumerable: d.enumerable, get: d.get,
    set(v) { window.__seeks.push(v); d.set.call(this, v); },
  });
})()"""


@pytest.fixture(scope="module")
def meeting(web: Web, speech_wav: Path) -> p.JobView:
    """A done job with a transcript: the speech sample, added over the socket."""
    web.daemon.call(p.AddJobs(paths=[str(speech_wav)]))
    return web.daemon.wait_job(
        lambda j: j["title"] == speech_wav.name and j["state"] == "done", what="meeting done"
    )


@pytest.fixture(scope="module")
def upload_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample's sentences in another voice: new content (no duplicate of `meeting`), and
    several segments to click."""
    from earwig.speech import SAMPLE_TEXT, synthesize

    return synthesize(SAMPLE_TEXT, tmp_path_factory.mktemp("upload") / "memo.wav", voice="en-us+f2")


def segments_of(daemon: DaemonProcess, job_id: int) -> list[p.SegmentView]:
    return daemon.call(p.GetJob(id=job_id, transcript=True))["transcript"]["segments"]


def test_without_the_token_the_page_shows_the_login_message_and_no_data(
    web: Web, meeting: dict[str, Any], page: Any
) -> None:
    page.goto(web.url + "/")
    page.wait_for_selector("#login", state="visible")
    assert "earwig web" in page.inner_text("#login")
    assert page.locator("li.job").count() == 0
    assert meeting["title"] not in page.inner_text("body")
    page.goto(f"{web.url}/jobs/{meeting['id']}")  # the transcript page too
    page.wait_for_selector("#login", state="visible")
    assert page.locator(".segment").count() == 0
    assert not page.errors


def test_the_token_link_logs_in_and_leaves_no_token_in_the_address(
    web: Web, meeting: dict[str, Any], page: Any
) -> None:
    log_in(page, web)
    assert page.url == web.url + "/"
    cookie = next(c for c in page.context.cookies() if c["name"] == "earwig_token")
    assert cookie["httpOnly"]
    row = page.locator(f"li.job[data-id='{meeting['id']}']")
    row.wait_for()
    assert meeting["title"] in row.inner_text()
    assert page.locator("#login").is_hidden()


def test_a_stale_login_link_shows_the_login_card_saying_why(web: Web, page: Any) -> None:
    """Issue 39, item 11: a login link with a wrong or old token, opened in a browser, is the
    page with its login card and a sentence about the link, not a raw JSON error."""
    page.goto(f"{web.url}/?token=not-the-token")
    page.wait_for_selector("#login", state="visible")
    assert page.locator("#login-refused").is_visible()
    assert "not this daemon's" in page.inner_text("#login-refused")
    assert page.url == web.url + "/"  # the word is out of the address bar
    assert "unauthorized" not in page.inner_text("body")
    assert not [c for c in page.context.cookies() if c["name"] == "earwig_token"]
    assert not page.errors


def test_status_paths_wrap_at_their_slashes(web: Web, page: Any) -> None:
    """Issue 39, item 13: the Status page broke paths mid-word; they wrap at a slash now."""
    log_in(page, web)
    page.goto(web.url + "/#status")
    where = page.locator("#status-body dd", has_text=str(web.home.out.name)).first
    where.wait_for()
    assert where.inner_text().replace("\n", "") == str(web.home.out)
    assert where.locator("wbr").count() == str(web.home.out).count("/")
    assert not page.errors


def test_add_urls_takes_one_line_each_and_says_which_is_no_url(web: Web, page: Any) -> None:
    """Issue 39, item 11: a line that is not a URL is one input, refused here as not a URL
    (never split into words, each "the path must be absolute"); the URL beside it is sent."""
    log_in(page, web)
    page.goto(web.url + "/#add")
    url = "https://example.invalid/talk.mp3"
    web.daemon.call(p.PauseQueue())  # the URL waits: nothing is fetched
    try:
        page.fill("#add-urls", f"this is not a url\n{url}\n")
        page.click("#view-add form button")
        outcomes = page.locator("#url-results .outcome")
        outcomes.nth(1).wait_for()
        said = outcomes.all_inner_texts()
        assert len(said) == 2 and url in said[0], said  # the URL went to the daemon
        assert said[1].startswith("this is not a url: not a URL"), said
        assert "one web address a line" in said[1] and "absolute" not in " ".join(said)
        assert page.input_value("#add-urls") == "this is not a url"  # left to be mended
    finally:
        for job in web.daemon.jobs():
            if job.get("url") == url and job["state"] == "queued":
                web.daemon.call(p.CancelJob(id=job["id"]))
        web.daemon.call(p.ResumeQueue())
    assert not page.errors


def test_an_uploaded_wav_appears_goes_to_done_live_and_opens_to_its_transcript(
    web: Web, upload_wav: Path, page: Any
) -> None:
    log_in(page, web)
    page.evaluate(WATCH_ROWS)
    page.click("a[data-tab='add']")
    page.set_input_files("#file-input", str(upload_wav))
    page.locator("#uploads .outcome.queued").wait_for()
    queued = re.search(r"#(\d+)", page.inner_text("#uploads .outcome.queued"))
    assert queued is not None
    job_id = int(queued[1])
    page.click("a[data-tab='queue']")
    row = page.locator(f"li.job[data-id='{job_id}'][data-state='done']")
    row.wait_for(timeout=120_000)
    seen = page.evaluate("window.__seen")[str(job_id)]
    assert seen[-1] == "done" and len(seen) > 1, seen  # it was on screen before it was done
    assert page.evaluate("window.__loadedAt") is not None  # the same page: no reload
    assert web.daemon.call(p.GetJob(id=job_id))["job"]["state"] == "done"

    row.locator("a.job-title").click()
    page.wait_for_url(f"{web.url}/jobs/{job_id}")
    segments = segments_of(web.daemon, job_id)
    assert len(segments) >= 2
    page.locator(".segment").nth(len(segments) - 1).wait_for()
    assert page.locator(".segment").count() == len(segments)
    page.wait_for_function("document.querySelector('#media').readyState >= 1")
    page.evaluate(RECORD_SEEKS)
    page.locator(".segment").nth(1).click()
    assert page.evaluate("window.__seeks") == [pytest.approx(segments[1]["start"], abs=1e-3)]
    at = page.evaluate("document.querySelector('#media').currentTime")
    assert at >= segments[1]["start"] - 0.05  # the player went there (and may play on)
    assert "current" in (page.locator(".segment").nth(1).get_attribute("class") or "")
    assert not page.errors


def test_a_search_hit_opens_the_transcript_at_its_moment(
    web: Web, meeting: dict[str, Any], page: Any
) -> None:
    log_in(page, web)
    page.click("a[data-tab='search']")
    page.fill("#search-input", "budget")
    hit = page.locator(".hit-link").first
    hit.wait_for()
    expected = web.daemon.call(p.Search(query="budget"))["hits"][0]
    assert expected["clock"] in hit.inner_text()
    hit.click()
    page.wait_for_url(re.compile(rf"/jobs/{expected['job_id']}\?t="))
    page.wait_for_function(
        "document.querySelector('#media') && document.querySelector('#media').readyState >= 1"
    )
    at = page.evaluate("document.querySelector('#media').currentTime")
    assert at == pytest.approx(expected["start"], abs=0.05)
    current = page.locator(".segment.current")
    assert float(current.get_attribute("data-start") or -1) == pytest.approx(expected["start"])
    assert "budget" in current.inner_text().lower()
    assert not page.errors


def test_the_queue_pauses_a_job_pauses_and_a_delete_asks_first(
    web: Web, speech_wav: Path, page: Any
) -> None:
    log_in(page, web)
    page.click("#queue-toggle")
    wait_for(lambda: web.daemon.call(p.GetStatus())["queue_paused"], 10, what="the queue paused")
    page.locator("#queue-toggle", has_text="Resume queue").wait_for()
    try:
        added = web.daemon.call(p.AddJobs(paths=[str(speech_wav)], force=True))
        job_id = added["results"][0]["job"]["id"]
        row = page.locator(f"li.job[data-id='{job_id}']")
        row.locator("[data-action='pause']").click()  # queued, not running: no question
        page.locator(f"li.job[data-id='{job_id}'][data-state='paused']").wait_for()
        assert web.daemon.call(p.GetJob(id=job_id))["job"]["state"] == "paused"
        row.locator("[data-action='cancel']").click()
        page.locator(f"li.job[data-id='{job_id}'][data-state='cancelled']").wait_for()

        row.locator("[data-action='delete']").click()
        dialog = page.locator("#confirm")
        dialog.wait_for()
        assert f"Delete #{job_id}" in dialog.inner_text()
        page.click("#confirm-no")
        assert dialog.is_hidden()
        assert web.daemon.call(p.GetJob(id=job_id))["job"]["state"] == "cancelled"

        row.locator("[data-action='delete']").click()
        page.click("#confirm-yes")
        row.wait_for(state="detached")
        ids = [j["id"] for j in web.daemon.call(p.ListJobs())["jobs"]]
        assert job_id not in ids
    finally:
        page.click("#queue-toggle")
        wait_for(lambda: not web.daemon.call(p.GetStatus())["queue_paused"], 10, what="resumed")
    assert not page.errors


def test_a_failed_job_shows_its_error_and_hint(
    web: Web, speech_wav: Path, tmp_path: Path, page: Any, screens: Path
) -> None:
    """A file that vanished between being queued and its turn: the job fails with the
    daemon's reason and hint, and the row shows both as they arrive."""
    import shutil

    log_in(page, web)
    web.daemon.call(p.PauseQueue())
    try:
        gone = shutil.copy(speech_wav, tmp_path / "vanished.wav")
        added = web.daemon.call(p.AddJobs(paths=[str(gone)], force=True))
        job_id = added["results"][0]["job"]["id"]
        Path(gone).unlink()
    finally:
        web.daemon.call(p.ResumeQueue())
    row = page.locator(f"li.job[data-id='{job_id}'][data-state='failed']")
    row.wait_for(timeout=60_000)
    job = web.daemon.call(p.GetJob(id=job_id))["job"]
    assert job["error"] and job["hint"]
    assert row.locator(".error-message").inner_text() == job["error"]
    assert row.locator(".error-hint").inner_text() == job["hint"]
    assert row.locator("[data-action='retry']").is_visible()
    row.screenshot(path=str(screens / "failed-row.png"))
    assert not page.errors


def test_a_running_job_shows_its_progress_live_and_its_page_follows_it_to_done(
    web: Web, long_wav: Path, page: Any, screens: Path
) -> None:
    """About a minute of speech: while it transcribes its row shows the progress the daemon
    publishes (a percentage, then speed and time left), and its transcript page, opened
    while it runs, shows the transcript when it is done, without a reload."""
    log_in(page, web)
    added = web.daemon.call(p.AddJobs(paths=[str(long_wav)]))
    job_id = added["results"][0]["job"]["id"]
    # every progress text the row shows, from the DOM (the engine may report only a few times)
    page.evaluate(
        """(id) => {
          window.__progress = [];
          new MutationObserver(() => {
            const t = document.querySelector(`li.job[data-id="${id}"] .job-progress .ptext`);
            const seen = window.__progress;
            if (t && seen.at(-1) !== t.textContent) seen.push(t.textContent);
          }).observe(document.querySelector('#jobs'), {childList: true, subtree: true});
        }""",
        job_id,
    )
    running = page.locator(f"li.job[data-id='{job_id}'][data-state='transcribing']")
    running.locator(".job-progress").wait_for(timeout=120_000)
    running.screenshot(path=str(screens / "running-row.png"))
    # cancelling running work asks first; "No" leaves it running
    running.locator("[data-action='cancel']").click()
    assert f"Cancel #{job_id}" in page.inner_text("#confirm")
    assert "is lost" in page.inner_text("#confirm-detail")
    page.screenshot(path=str(screens / "cancel-question-desktop-light.png"))
    page.click("#confirm-no")
    assert web.daemon.call(p.GetJob(id=job_id))["job"]["state"] != "cancelled"
    page.locator(f"li.job[data-id='{job_id}'][data-state='done']").wait_for(timeout=180_000)
    shown = page.evaluate("window.__progress")
    speed = r"\d+% · [\d.]+\N{MULTIPLICATION SIGN} real time( · .* left)?"  # "52% · 3.1x real time"
    assert any(re.fullmatch(speed, t) for t in shown), shown

    web.daemon.call(p.RetryJob(id=job_id))  # again, to open its page while it runs
    page.locator(f"li.job[data-id='{job_id}'][data-state='transcribing']").wait_for(timeout=120_000)
    page.locator(f"li.job[data-id='{job_id}'] a.job-title").click()
    page.wait_for_url(f"{web.url}/jobs/{job_id}")
    page.evaluate("window.__samePage = true")
    page.locator("#job-header .badge.done").wait_for(timeout=180_000)
    page.locator(".segment").nth(2).wait_for()
    assert page.evaluate("window.__samePage")
    segments = segments_of(web.daemon, job_id)
    assert page.locator(".segment").count() == len(segments)
    assert page.locator("#downloads a").count() == 6
    assert not page.errors


def test_files_dropped_onto_the_page_are_uploaded(web: Web, second_wav: Path, page: Any) -> None:
    """Drag and drop anywhere on the page: the drop target shows while files are over it, and
    the dropped file is uploaded (the Add view opens to show how it went)."""
    import base64

    log_in(page, web)
    data = base64.b64encode(second_wav.read_bytes()).decode()
    name = "morning — draft.wav"  # an em dash stays, as in a watched folder (issue 39, item 8)
    page.evaluate(
        """([name, data]) => {
          const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
          const dt = new DataTransfer();
          dt.items.add(new File([bytes], name, {type: "audio/wav"}));
          window.__dt = dt;
          const fire = (type) => document.querySelector('#jobs').dispatchEvent(
            new DragEvent(type, {dataTransfer: dt, bubbles: true, cancelable: true}));
          fire("dragenter");
          fire("dragover");
        }""",
        [name, data],
    )
    assert page.locator("#drop").is_visible()
    page.evaluate(
        """() => document.querySelector('#jobs').dispatchEvent(
          new DragEvent("drop", {dataTransfer: window.__dt, bubbles: true, cancelable: true}))"""
    )
    assert page.locator("#drop").is_hidden()
    page.wait_for_url(f"{web.url}/#add")
    outcome = page.locator("#uploads .outcome").first
    outcome.wait_for()
    assert name in outcome.inner_text()
    job = next(j for j in web.daemon.jobs() if j["title"] == name)
    assert job["source"] == "upload"  # not "cli": the log and `earwig show` say "from upload"
    page.goto(web.url + "/")
    card = page.locator(f"li.job[data-id='{job['id']}']")
    card.wait_for()
    assert "upload" in card.inner_text()
    assert not page.errors


def test_a_subscription_made_in_the_form_is_listed_checked_and_removed(
    web: Web, second_wav: Path, page: Any, screens: Path
) -> None:
    """The subscription form against a feed on a loopback server: the subscription appears
    with its last check, its episode is transcribed (a URL job: its page links the original),
    "Check now" finds nothing new, and unsubscribing asks first."""
    import time

    from httpserver import LocalServer, rss

    with LocalServer("127.0.0.2") as server:  # a public server, as the page may reach
        wav = second_wav.read_bytes()
        media = server.add("/ep1.wav", body=wav[:-2] + b"\x01\x00", content_type="audio/wav")
        episode = {"title": "Episode 1", "url": media, "date": time.time() - 86400}
        feed = server.add("/feed.xml", body=rss([episode]), content_type="application/rss+xml")
        log_in(page, web)
        page.click("a[data-tab='add']")
        page.fill("#sub-url", feed)
        page.fill("#sub-name", "pod")
        page.fill("#sub-backfill", "1")
        page.click("#sub-form button[type='submit']")
        sub = page.locator("#subs li.sub", has_text="pod")
        sub.filter(has_text="last checked").wait_for(timeout=60_000)
        page.screenshot(path=str(screens / "subscriptions-desktop-light.png"))
        try:
            job = web.daemon.wait_job(
                lambda j: j["subscription"] == "pod" and j["state"] == "done", 120, "episode"
            )
            page.goto(f"{web.url}/jobs/{job['id']}")
            assert page.locator("#original").get_attribute("href") == media
            page.goto(web.url + "/")  # its card names the subscription once (issue 39, 13)
            card = page.locator(f"li.job[data-id='{job['id']}'] .job-meta")
            card.wait_for()
            assert "subscription pod" in card.inner_text()
            assert "subscription · subscription" not in card.inner_text()

            page.goto(web.url + "/#add")
            sub.locator("button", has_text="Check now").click()
            said = re.compile(r"pod: (unchanged|0 new)")  # nothing new: the one episode is known
            page.locator(".toast", has_text=said).wait_for(timeout=60_000)
        finally:
            sub.locator("button", has_text="Unsubscribe").click()
            assert "Unsubscribe from pod?" in page.inner_text("#confirm")
            page.click("#confirm-yes")
            sub.wait_for(state="detached")
    assert not web.daemon.call(p.ListSubscriptions())["subscriptions"]
    assert not page.errors


VIEWS = [("queue", "/"), ("add", "/#add"), ("search", "/#search"), ("status", "/#status")]


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_every_view_at_desktop_and_phone_size_in_light_and_dark(
    web: Web, meeting: dict[str, Any], browser: Any, screens: Path, size: str, scheme: str
) -> None:
    """Screenshots of each view (look at them); at a phone's 390x844 nothing scrolls sideways
    and the buttons are touch-sized."""
    page = new_page(browser, PHONE if size == "phone" else DESKTOP, scheme)
    try:
        log_in(page, web)
        views = [*VIEWS, ("transcript", f"/jobs/{meeting['id']}?t=2")]
        for name, path in views:
            page.goto(web.url + path)
            page.wait_for_selector("body[data-connected='yes']")
            if name == "search":
                page.fill("#search-input", "meeting")
                page.locator(".hit-link").first.wait_for()
            if name == "transcript":
                page.locator(".segment.current").wait_for()
            if name == "status":
                page.locator("#status-body .card").first.wait_for()
            if name == "queue":
                page.locator("li.job").first.wait_for()
            page.screenshot(path=str(screens / f"{name}-{size}-{scheme}.png"))
            # against the device's width: a phone's browser widens its layout viewport (and
            # innerWidth) to fit content that overflows
            viewport = PHONE if size == "phone" else DESKTOP
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"], f"{name} scrolls sideways at {size}: {width} px"
            if size == "phone":
                small = page.evaluate(
                    """() => [...document.querySelectorAll('button, .tabs a')]
                    .filter(b => b.offsetParent && b.getBoundingClientRect().height < 40)
                    .map(b => b.textContent.trim())"""
                )
                assert not small, f"{name}: buttons under 40 px on a phone: {small}"
        assert not page.errors
    finally:
        page.context.close()


def test_a_speaker_is_named_from_the_transcript_page(
    browser: Any, home: Home, tmp_path: Path, screens: Path
) -> None:
    """Voices taking turns, labelled by a daemon with speakers = "auto": the page lists them,
    "Name..." names one (as `earwig speakers name` does), and the lines show the name."""
    from conftest import conversation

    home.write_config(transcribe='speakers = "auto"', http='listen = "127.0.0.1:0"')
    talk = tmp_path / "talk.wav"
    conversation(talk)
    daemon = home.daemon().start()
    page = new_page(browser)
    try:
        web = Web(daemon, home)
        job = daemon.call(p.AddJobs(paths=[str(talk)]))["results"][0]["job"]
        daemon.wait_job(lambda j: j["id"] == job["id"] and j["state"] == "done", 240, "talk")
        said = [s["speaker"] for s in segments_of(daemon, job["id"])]
        assert len(set(said)) >= 2, said
        log_in(page, web)
        page.goto(f"{web.url}/jobs/{job['id']}")
        page.locator("#speakers").wait_for()
        page.screenshot(path=str(screens / "speakers-desktop-light.png"))
        page.click(f"#speakers button[aria-label='Name {said[1]}']")
        page.fill("#name-input", "Ben")
        page.click("#name-form button[value='save']")
        page.locator(".segment .speaker", has_text="Ben").first.wait_for()
        assert said[1] not in page.inner_text("#segments")
        after = [s["speaker"] for s in segments_of(daemon, job["id"])]
        assert after == ["Ben" if s == said[1] else s for s in said]
        assert not page.errors
    finally:
        page.context.close()  # the daemon: the `home` fixture stops it, whatever happened


def test_status_shows_a_model_download_with_its_progress_until_it_is_ready(
    browser: Any, hub: Any, home: Home, screens: Path
) -> None:
    """A daemon configured for a model it must fetch (from the tests' loopback hub, held
    after its first MiB): Status shows the download and its bytes, then the model ready."""
    import threading

    hub.faults.hold = release = threading.Event()
    home.write_config(transcribe='model = "base"', http='listen = "127.0.0.1:0"')
    daemon = home.daemon().start()
    page = new_page(browser)
    try:
        web = Web(daemon, home)
        log_in(page, web)
        page.goto(web.url + "/#status")
        card = page.locator("#model-card")
        card.locator("progress").wait_for(timeout=60_000)
        assert "downloading (base)" in card.inner_text()
        # its first MiB came: the page asks again each second while a download runs
        card.filter(has_text=re.compile(r"[\d.]+ MB of [\d.]+ MB")).wait_for(timeout=30_000)
        page.screenshot(path=str(screens / "status-downloading-desktop-light.png"))
        release.set()
        card.filter(has_text="ready (base)").wait_for(timeout=120_000)
        assert card.locator("progress").count() == 0
        assert not page.errors
    finally:
        release.set()
        page.context.close()


def test_the_banner_shows_while_the_daemon_is_away_and_the_page_reconnects_by_itself(
    browser: Any, home: Home, speech_wav: Path
) -> None:
    """A fixed port here (a restarted daemon must come back where the page looks for it)."""
    home.write_config(http=f'listen = "127.0.0.1:{free_port()}"')
    daemon = home.daemon().start()
    page = new_page(browser)
    try:
        web = Web(daemon, home)
        log_in(page, web)
        assert page.locator("#banner").is_hidden()
        daemon.stop()
        page.locator("#banner").wait_for(state="visible", timeout=20_000)
        assert "not answering" in page.inner_text("#banner")
        daemon.start()
        daemon.call(p.AddJobs(paths=[str(speech_wav)]))  # news the page must pick up
        page.locator("#banner").wait_for(state="hidden", timeout=30_000)
        page.locator("li.job").first.wait_for(timeout=30_000)
        assert page.evaluate("document.body.dataset.connected") == "yes"
    finally:
        page.context.close()


def test_in_firefox_too(web: Web, meeting: dict[str, Any], tmp_path: Path, screens: Path) -> None:
    """The same page in Firefox (over WebDriver BiDi, tests/browser/firefox.py): logged in by
    the token link, the queue live, a click on a segment seeks, a search hit opens at its
    moment, no errors. Firefox is optional here (CI installs Chromium): skipped without it."""
    from .firefox import Firefox, find_firefox

    executable = find_firefox()
    if executable is None:
        pytest.skip("no firefox found (apt-get install firefox-esr to run this one too)")
    segments = segments_of(web.daemon, meeting["id"])
    with Firefox(executable, tmp_path / "profile") as ff:
        ff.navigate(web.login_link())
        assert ff.evaluate("location.href") == web.url + "/"
        ff.wait(f"document.querySelector(\"li.job[data-id='{meeting['id']}']\")")
        ff.screenshot(screens / "queue-firefox.png")

        ff.navigate(f"{web.url}/jobs/{meeting['id']}")
        ff.wait(f"document.querySelectorAll('.segment').length === {len(segments)}")
        ff.wait("document.querySelector('#media').readyState >= 1")
        ff.evaluate(RECORD_SEEKS)
        # the click plays on from there (autoplay is allowed in this profile): paused in the
        # same script, so where the player lands is the seek's doing, not the time played since
        ff.evaluate(
            "(() => { document.querySelectorAll('.segment')[1].click();"
            " document.querySelector('#media').pause(); })()"
        )
        assert ff.evaluate("window.__seeks") == [pytest.approx(segments[1]["start"], abs=1e-3)]
        ff.wait("!document.querySelector('#media').seeking")
        at = ff.evaluate("document.querySelector('#media').currentTime")
        assert at == pytest.approx(segments[1]["start"], abs=0.05)
        current = ff.evaluate("document.querySelector('.segment.current').dataset.start")
        assert float(current) == pytest.approx(segments[1]["start"])
        ff.screenshot(screens / "transcript-firefox.png")

        ff.navigate(web.url + "/#search")
        ff.evaluate(
            "(() => { const i = document.querySelector('#search-input'); i.value = 'budget';"
            " i.dispatchEvent(new Event('input')); })()"
        )
        ff.wait("document.querySelector('.hit-link')")
        ff.evaluate("document.querySelector('.hit-link').click()")
        expected = web.daemon.call(p.Search(query="budget"))["hits"][0]
        ff.wait("document.querySelector('.segment.current')")
        at = ff.evaluate("new URLSearchParams(location.search).get('t')")  # "0" for 0.0
        assert float(at) == pytest.approx(expected["start"]), at
        start = ff.evaluate("document.querySelector('.segment.current').dataset.start")
        assert float(start) == pytest.approx(expected["start"])
        assert not ff.errors, ff.errors


def test_the_event_streams_snapshot_takes_a_limit_the_page_asks_for(
    web: Web, meeting: dict[str, Any], speech_wav: Path
) -> None:
    """/api/events?limit=N (added for the page: its snapshot carries the newest N jobs, not
    500); a limit out of range is a 400 with the usual JSON error, before any stream starts."""
    import json
    import urllib.error
    import urllib.request

    web.daemon.call(p.AddJobs(paths=[str(speech_wav)], force=True))  # a second job at least
    auth = {"Authorization": f"Bearer {web.token}"}
    request = urllib.request.Request(f"{web.url}/api/events?limit=1", headers=auth)
    with urllib.request.urlopen(request, timeout=30) as response:
        lines: list[bytes] = []
        while not lines or lines[-1] != b"":
            lines.append(response.readline().rstrip(b"\r\n"))
    data = next(line for line in lines if line.startswith(b"data:"))
    snapshot = json.loads(data[len(b"data:") :])
    assert len(snapshot["jobs"]) == 1
    assert snapshot["jobs"][0]["id"] == max(j["id"] for j in web.daemon.jobs())
    for bad in ("0", "1001", "many"):
        request = urllib.request.Request(f"{web.url}/api/events?limit={bad}", headers=auth)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        assert refused.value.code == 400
        assert json.loads(refused.value.read())["error"]["message"]


def test_markup_in_a_title_runs_nothing_and_the_page_allows_no_inline_script(
    web: Web, speech_wav: Path, tmp_path: Path, browser: Any
) -> None:
    """A client names its upload with markup: the title shows as text, nothing runs, and the
    page's Content-Security-Policy would stop it even if it ever became markup."""
    import httpx

    title = "<script>window.pwned=1</script><img src=x onerror=window.pwned=2>.wav"
    clip = tmp_path / "clip.wav"
    clip.write_bytes(speech_wav.read_bytes() + b"\0\0")  # new content: a job of its own
    with clip.open("rb") as fh:
        r = httpx.post(
            f"{web.url}/v1/audio/transcriptions",
            headers={"Authorization": f"Bearer {web.token}"},
            files={"file": (title, fh, "audio/wav")},
            data={"response_format": "text"},
            timeout=180,
        )
    assert r.status_code == 200, r.text
    csp = httpx.get(web.url + "/").headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    job = next(j for j in web.daemon.call(p.ListJobs())["jobs"] if j["title"] == title)
    page = new_page(browser, csp=True)  # the page's own policy in force
    page.add_init_script(  # every violation, from the first byte: the page itself makes none
        "window.blocked = []; document.addEventListener('securitypolicyviolation',"
        " (e) => window.blocked.push(`${e.violatedDirective} ${e.blockedURI}`));"
    )
    log_in(page, web)
    row = page.locator(f"li.job[data-id='{job['id']}']")
    row.wait_for()
    assert title in row.inner_text()
    page.goto(f"{web.url}/jobs/{job['id']}")
    page.locator(".segment").first.wait_for()
    assert title in page.inner_text("#view-job")
    assert page.evaluate("() => window.pwned") is None
    assert page.evaluate("() => window.blocked") == []
    # Markup that did reach the document: the policy blocks its inline handler and script
    page.evaluate(
        """() => {
          document.body.insertAdjacentHTML('beforeend',
            '<img src="/static/icon.svg" onload="window.pwned=3">');
          const s = document.createElement('script');
          s.textContent = 'window.pwned = 4';
          document.body.append(s);
        }"""
    )
    wait_for(lambda: page.evaluate("() => window.blocked.length") >= 2, 10, what="the policy")
    assert page.evaluate("() => window.pwned") is None
    assert not page.errors
    page.context.close()
