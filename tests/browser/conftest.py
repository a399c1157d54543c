"""Browser tests: the real platform in a subprocess (fresh SQLite file, calendar, processes and
demo data as `make run` loads them, embedded jobs), driven by Playwright in Debian's Chromium.

Never `playwright install`: the browser is /usr/bin/chromium from Debian (.ci/run installs it
with fonts-noto-cjk). Without it the tests are skipped locally and fail under CI."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect, sync_playwright

from backend.config import ROOT
from tests.browser.helpers import LiveServer

IN_CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM = "/usr/bin/chromium"
# The machine's network is closed: without these Chromium keeps trying to reach Google.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = ROOT / "var" / "screenshots"  # gitignored (/var/)
# Pages answer in well under a second; the margin is for a loaded CI machine.
expect.set_options(timeout=10_000)


def _skip_or_fail(reason: str) -> None:
    """Like the postgres/redis markers (tests/conftest.py): never a silent skip under CI."""
    if IN_CI:
        pytest.fail(f"{reason}, which CI must provide (.ci/run installs it)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def playwright_api():
    if not os.access(CHROMIUM, os.X_OK):
        _skip_or_fail(f"needs Debian's Chromium ({CHROMIUM})")
    with sync_playwright() as api:
        yield api


@pytest.fixture(scope="session")
def browser(playwright_api):
    browser = playwright_api.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(browser, tmp_path_factory):
    """The platform on a free localhost port, as `make run` starts it (in its own process)."""
    work = tmp_path_factory.mktemp("live")
    database = work / "bpm.sqlite3"
    log = work / "server.log"
    port = _free_port()
    with log.open("w", encoding="utf-8") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.browser.server",
                "--db",
                str(database),
                "--files",
                str(work / "files"),
                "--port",
                str(port),
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            # Cockpit figures computed on request: the tests check them right after writing.
            env={
                **os.environ,
                "DATABASE_URL": f"sqlite:///{database}",
                "LOG_LEVEL": "WARNING",
                "KPI_SNAPSHOT_INTERVAL": "0",
            },
        )
    url = f"http://127.0.0.1:{port}"
    server = LiveServer(url=url, engine=sa.create_engine(f"sqlite:///{database}"), log=log)
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                pytest.fail(f"the server stopped (exit {process.returncode}):\n{server.log_tail()}")
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not answer within 120 s:\n{server.log_tail()}")
            time.sleep(0.3)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        server.engine.dispose()


@pytest.fixture()
def context(browser):
    """A desktop browser window in Chinese (the UI follows Accept-Language)."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture()
def page(context):
    return context.new_page()


_SAVED: list[Path] = []


@pytest.fixture(scope="session")
def screenshot():
    """screenshot(page, "phone-inbox") saves var/screenshots/phone-inbox.png (listed at the end)."""

    def save(page, name: str, *, full_page: bool = True) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=path, full_page=full_page)
        _SAVED.append(path)
        return path

    return save


def pytest_terminal_summary(terminalreporter):
    if _SAVED:
        terminalreporter.write_line("browser screenshots:")
        for path in _SAVED:
            terminalreporter.write_line(f"  {path}")
