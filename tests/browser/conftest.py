"""A real browser against a real daemon: Debian's Chromium driven by Playwright for Python.

Playwright's own browser download cannot be reached here, so the tests launch the system's
chromium through `executable_path` (.ci/run installs it with apt-get where it is missing).
Without one the tests skip, saying why; under CI (the CI variable set) they fail instead, so
a browser that went missing is never a silent pass.

One daemon per module, with HTTP on a free loopback port (port 0: the OS picks; the daemon's
status says which), its own config, database and state, as tests/conftest.py's Home builds
them. Screenshots of every view go under the pytest temp dir (screens/), to be looked at.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import Home
from earwig import protocol as p
from helpers import DaemonProcess, wait_for

from .firefox import find_browser

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SLOW = 120_000  # ms: the longest any page wait may take before the test fails


def find_chromium() -> str | None:
    return find_browser("EARWIG_CHROMIUM", CANDIDATES)


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must have it (.ci/run installs chromium)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one module. Not the session: Playwright's sync API keeps its event loop
    set as running in the main thread while it is open, and every later test that calls
    asyncio.run (the async client, the dashboard's Pilot) would fail under it."""
    executable = find_chromium()
    if executable is None:
        _missing("no chromium found (apt-get install chromium, or set EARWIG_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install '.[test]')")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def screens(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screenshots go: look at them (the path is printed with -s or on failure)."""
    path = tmp_path_factory.getbasetemp() / "screens"
    path.mkdir(exist_ok=True)
    return path


class Web:
    """The daemon's HTTP side as the tests reach it."""

    def __init__(self, daemon: DaemonProcess, home: Home) -> None:
        self.daemon = daemon
        self.home = home
        status = wait_for(
            lambda: (s := daemon.call(p.GetStatus())).get("http", {}).get("url") and s,
            60,
            what="the HTTP server to listen",
        )
        self.url = status["http"]["url"].rstrip("/")
        self.token = (home.state / "http-token").read_text().strip()

    def login_link(self) -> str:
        return f"{self.url}/?token={self.token}"


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[Web]:
    root = tmp_path_factory.mktemp("web")
    runtime = Path(tempfile.mkdtemp(prefix="ew-", dir="/tmp"))
    home = Home(root / "earwig", runtime, models_dir)
    # the page is a network client: its URLs may reach 127.0.0.2, standing for the internet
    home.write_config(http='listen = "127.0.0.1:0"\nprivate_networks = ["127.0.0.2"]')
    with pytest.MonkeyPatch.context() as mp:  # the daemon's environment, as _isolated_home's
        mp.setenv("HOME", str(root / "home"))
        mp.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
        mp.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
        for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
            mp.delenv(var, raising=False)
        daemon = home.daemon()
        try:
            daemon.start()
        except BaseException:
            home.finish()
            raise
    try:
        yield Web(daemon, home)
    finally:
        try:
            daemon.stop()  # gently (its log says how it ended); killed if it will not stop
        finally:
            home.finish()
            shutil.rmtree(runtime, ignore_errors=True)


def new_page(
    browser: Any, viewport: dict[str, int] = DESKTOP, scheme: str = "light", csp: bool = False
) -> Any:
    """A page in a context of its own. Playwright runs the tests' `wait_for_function`
    predicates through eval, which the page's Content-Security-Policy forbids, so the policy
    is set aside unless `csp` (the test of the policy itself keeps it)."""
    phone = viewport["width"] < 600
    context = browser.new_context(
        viewport=viewport,
        color_scheme=scheme,
        has_touch=phone,
        is_mobile=phone,
        bypass_csp=not csp,
    )
    # Playwright's 30 s default gives up on the first slow answer of a loaded machine: each
    # wait is for a condition, so a generous deadline costs nothing when things go well.
    context.set_default_timeout(SLOW)
    page = context.new_page()
    page.errors = []  # uncaught errors in the page fail the test that looks at them
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    return page


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    page = new_page(browser)
    try:
        yield page
    finally:
        page.context.close()


def log_in(page: Any, web: Web) -> None:
    page.goto(web.login_link())
    page.wait_for_selector("body[data-connected='yes']")
