"""The transcript page with what the [llm] model wrote: the title, the summary, chapters that
seek the player, and "Translate to…" making subtitles the page then offers as downloads.

The model here is the scripted stand-in of tests/llmserver.py (a fixed title, summary and two
chapters at known times, a translation that keeps every id): the page's part is what is
tested, and a click needs a chapter at a known time. The real model's answers go through the
same daemon in tests/integration/test_llm_stage.py.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import httpx

from conftest import Home
from earwig import protocol as p
from helpers import wait_for
from llmserver import Standin

from .conftest import Web, log_in, new_page

TIMES = re.compile(r"^\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}$", re.M)


def test_summary_chapters_that_seek_and_translate_to(
    browser: Any, tmp_path: Path, models_dir: Path, screens: Path, long_wav: Path
) -> None:
    runtime = Path(tempfile.mkdtemp(prefix="ew-", dir="/tmp"))
    with Standin("scripted") as model:
        home = Home(tmp_path / "earwig", runtime, models_dir)
        home.write_config(
            http='listen = "127.0.0.1:0"',
            extra=f'\n[llm]\nbase_url = "{model.base}"\nmodel = "scripted"\n',
        )
        daemon = home.daemon().start()
        page = new_page(browser)
        try:
            web = Web(daemon, home)
            job = daemon.call(p.AddJobs(paths=[str(long_wav)]))["results"][0]["job"]

            def summarized() -> p.JobDetail | None:
                got = daemon.call(p.GetJob(id=job["id"]))
                return got if got.get("summary") and not got["job"]["stage"] else None

            detail = wait_for(summarized, 300, 0.5, what="the summary")
            chapters = detail["summary"]["chapters"]
            assert [c["title"] for c in chapters] == ["Opening", "Later on"]
            log_in(page, web)
            page.goto(f"{web.url}/jobs/{job['id']}")
            page.locator("#summary-title", has_text="A scripted title").wait_for()
            assert "A scripted summary of the recording." in page.inner_text("#summary-text")
            assert "null" not in page.inner_text("#summary") + page.inner_text("#downloads")
            page.screenshot(path=str(screens / "summary-desktop-light.png"))

            page.click("#chapters button:has-text('Later on')")
            later = chapters[1]["start"]
            assert 20 < later <= 30.0  # moved back to the start of the line it falls in
            wait_for(
                lambda: (
                    abs(page.evaluate("document.querySelector('#media').currentTime") - later) < 0.5
                ),
                30,
                what="the player at the chapter",
            )
            assert abs(float(page.url.split("?t=")[1]) - later) < 0.01

            page.fill("#translate-language", "fr")
            page.click("#translate-form button[type='submit']")
            link = page.locator("#translations a", has_text=".fr.srt")
            link.wait_for(timeout=120_000)
            href = link.get_attribute("href")
            assert href == f"/api/jobs/{job['id']}/transcript.fr.srt"
            auth = {"Authorization": f"Bearer {web.token}"}
            french = httpx.get(web.url + href, headers=auth, timeout=30).text
            source = next(Path(o) for o in job_outputs(daemon, job["id"]) if o.endswith(".srt"))
            assert TIMES.findall(french) == TIMES.findall(source.read_text())
            assert "TR " in french
            assert (home.out / f"{source.stem}.fr.srt").read_text() == french
            assert not page.errors
        finally:
            page.context.close()
            daemon.stop()
            shutil.rmtree(runtime, ignore_errors=True)


def job_outputs(daemon: Any, job_id: int) -> list[str]:
    return list(daemon.call(p.GetJob(id=job_id))["job"]["outputs"])
