"""Browser journeys: a real uvicorn server on loopback (in a thread) and Debian's chromium via Playwright."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Playwright, sync_playwright

from server.accept import UVICORN_LOOP
from server.app import create_app
from server.embedded import free_port
from server.settings import Settings
from tests.factories import run_with_runtime

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-quic", "--no-first-run", "--autoplay-policy=no-user-gesture-required",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


class LiveServer:
    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings = settings.model_copy(update={"port": self.port, "public_url": self.url})
        self._server: uvicorn.Server | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        # The app (and its database pool) is created inside the server thread's event loop.
        # On the loop and HTTP parser `jiangtang serve` runs, so journeys go through the same connection handling.
        config = uvicorn.Config(create_app(self.settings), host="127.0.0.1", port=self.port, log_level="warning",
                                loop=UVICORN_LOOP, http="httptools")
        self._server = uvicorn.Server(config)
        self._server.run()

    def start(self, timeout: float = 30) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not (self._server and self._server.started):
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("live server did not start")
            time.sleep(0.05)  # polling the server's started flag with a deadline

    def stop(self) -> None:
        if self._server:
            self._server.should_exit = True
        self._thread.join(30)


@pytest.fixture
def live_server(settings: Settings) -> Iterator[LiveServer]:
    server = LiveServer(settings)
    server.start()
    yield server
    server.stop()


# Per module, not per session: Playwright's sync API runs an event loop on the test thread while it is open,
# and the async tests collected after the browser modules need that thread's loop slot free again.
@pytest.fixture(scope="module")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(locale="zh-CN")
    yield ctx
    ctx.close()


@pytest.fixture
def phone(browser: Browser) -> Iterator[BrowserContext]:
    """A mobile viewport, as a worker's phone in WeChat would have."""
    ctx = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True,
                              has_touch=True, device_scale_factor=2)
    yield ctx
    ctx.close()


def screenshot(page: object, name: str) -> None:
    """Save a screenshot as a test artefact (not committed) so a failure can be seen."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


@pytest.fixture
def seed(settings: Settings):
    """Run an async set-up function (e.g. tests.factories) against the test database from a sync test."""
    return functools.partial(run_with_runtime, settings)
