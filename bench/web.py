"""The web page's speed with a big history: 10,000 jobs in the store of a real daemon, a real
Chromium (Debian's, through Playwright) on its HTTP port.

Prints, medians over rounds (each a fresh browser context, so nothing is cached):
  * first contentful paint (the page's shell) and first painted queue (the snapshot's rows on
    screen), from the start of navigation;
  * event to screen: a job steered over the socket (resume, pause: the daemon publishes the
    change as it answers) until its row shows the new state and the next frame is painted;
    measured from just before the request, so it includes the request itself (an upper bound);
  * what the snapshot weighs (bytes of its JSON) and how many rows the page drew.

    python bench/web.py [--jobs 10000] [--rounds 5] [--steers 20]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from earwig import protocol as p
from earwig.model import Job, JobState
from earwig.store import Store
from harness import Daemon, wait  # bench/harness.py: the daemon every benchmark starts

PAUSED = 20  # waiting jobs at the top of the history, steered back and forth


def seed(db: Path, count: int) -> list[int]:
    """`count` finished jobs, then PAUSED paused ones (the newest); their ids."""
    store = Store(db)
    now = time.time()
    paused = []
    with store.db.atomic():
        for i in range(count + PAUSED):
            state = JobState.PAUSED if i >= count else JobState.DONE if i % 10 else JobState.FAILED
            job = store._insert_job(
                Job(
                    id=None,
                    source="watch",
                    title=f"episode {i:05d}.mp3",
                    state=state,
                    path=f"/media/{i}.mp3",
                    duration=1800.0,
                    language="en",
                    error="the file is not media" if state is JobState.FAILED else None,
                    created_at=now - (count - i) * 60,
                    updated_at=now - (count - i) * 60,
                    times={"queued": now - (count - i) * 60},
                )
            )
            if state is JobState.PAUSED:
                assert job.id is not None
                paused.append(job.id)
    store.close()
    return paused


def wait_http(daemon: Daemon) -> str:
    """The HTTP server's address, once it listens (port 0: the OS picked it)."""
    view = wait(lambda: daemon.call(p.GetStatus()).get("http", {}).get("url"), 120)
    return str(view).rstrip("/")


# In the page: when row `id` shows `state`, the wall-clock time of the frame after it.
# (Wrapped in an object: evaluate_handle would wait for a bare promise.)
WATCH = """([id, state]) => ({shown: new Promise((resolve) => {
  const now = () => performance.timeOrigin + performance.now();
  const done = () => requestAnimationFrame(() => resolve(now()));
  const row = () => document.querySelector(`#jobs li.job[data-id="${id}"][data-state="${state}"]`);
  if (row()) return done();
  const obs = new MutationObserver(() => { if (row()) { obs.disconnect(); done(); } });
  obs.observe(document.querySelector('#jobs'), {childList: true, subtree: true, attributes: true});
})})"""


def measure(args: argparse.Namespace) -> None:
    from playwright.sync_api import sync_playwright

    root = Path(tempfile.mkdtemp(prefix="earwig-bench-web-"))
    t = time.perf_counter()
    paused = seed(root / "e.db", args.jobs)
    print(f"seeded {args.jobs:,} finished + {PAUSED} paused jobs in {time.perf_counter() - t:.1f}s")
    daemon = Daemon(root, transcribe="threads = 2", http='listen = "127.0.0.1:0"')
    daemon.start()
    try:
        url = wait_http(daemon)
        token = (root / "state" / "http-token").read_text().strip()
        daemon.call(p.PauseQueue())  # resumed jobs stay queued: nothing runs them
        executable = shutil.which("chromium") or "/usr/bin/chromium"
        fcp, queue, snap, rows = [], [], [], 0
        lags: list[float] = []
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=executable, args=["--no-sandbox"])
            for _ in range(args.rounds):
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                page = context.new_page()
                page.goto(f"{url}/?token={token}", wait_until="commit")  # sets the cookie
                page.goto(url + "/")
                page.wait_for_function(
                    "performance.getEntriesByName('earwig:queue-painted').length > 0"
                )
                fcp.append(
                    page.evaluate(
                        "performance.getEntriesByName('first-contentful-paint')[0].startTime"
                    )
                )
                marks = page.evaluate(
                    """() => {
                      const at = (n) => performance.getEntriesByName(n)[0].startTime;
                      return [at('earwig:queue-painted'), at('earwig:snapshot')];
                    }"""
                )
                queue.append(marks[0])
                snap.append(marks[1])
                page.wait_for_function("document.querySelectorAll('#jobs li.job').length >= 100")
                rows = page.locator("#jobs li.job").count()
                context.close()
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            page = context.new_page()
            page.goto(f"{url}/?token={token}")
            page.wait_for_function(
                "performance.getEntriesByName('earwig:queue-painted').length > 0"
            )
            for i in range(args.steers):
                job_id = paused[i % len(paused)]
                for action, state in ((p.ResumeJob, "queued"), (p.PauseJob, "paused")):
                    watcher = page.evaluate_handle(WATCH, [job_id, state])
                    sent = time.time() * 1000
                    daemon.call(action(id=job_id))
                    shown = page.evaluate("(w) => w.shown", watcher)
                    lags.append(shown - sent)
            context.close()
            browser.close()
        snapshot = len(json.dumps(daemon.call(p.Subscribe(topics=["jobs", "log"], limit=100))))
    finally:
        daemon.stop()
        shutil.rmtree(root, ignore_errors=True)

    def ms(values: list[float]) -> str:
        return f"median {statistics.median(values):.0f} ms, max {max(values):.0f} ms"

    print(
        f"history: {args.jobs + PAUSED:,} jobs; the snapshot is {snapshot / 1e3:.0f} kB; "
        f"the page drew {rows} rows"
    )
    print(f"first contentful paint  {ms(fcp)}  (goal: under 1000 ms)")
    print(f"first painted queue     {ms(queue)}  (goal: under 1000 ms)")
    print(f"  (the snapshot arrived and was applied at {ms(snap)})")
    print(f"event to screen         {ms(lags)} over {len(lags)} changes  (goal: under 300 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steers", type=int, default=20)
    measure(parser.parse_args())


if __name__ == "__main__":
    main()
