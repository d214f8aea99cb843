"""Headless Chromium (Debian's package) driven with Playwright, for the web view's tests.

No browser is downloaded: Playwright talks to ``/usr/bin/chromium`` (``MC_TEST_CHROMIUM``
overrides). Every request the page makes is recorded, so a test can prove the page stays on the
sidecar and never puts the token in a URL. Screenshots go to the test's directory and, when
``MC_UI_SCREENSHOTS=DIR`` is set, to DIR as well.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import ConsoleMessage, Page, Request, async_playwright

CHROMIUM = os.environ.get("MC_TEST_CHROMIUM", "/usr/bin/chromium")

#: Long enough for a loaded 2-core machine; a condition is polled, never timed.
WAIT_MS = 30_000


def require_chromium() -> None:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: run `make system-deps` (Debian package chromium)")


@dataclass
class Browser:
    """A page with every requested URL and every console error recorded."""

    page: Page
    base_url: str
    shots: Path
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    async def sign_in(self, token: str, *, path: str = "/ui/") -> None:
        """Open the view and paste the token the way a person does."""
        await self.page.goto(self.base_url + path)
        await self.page.get_by_role("textbox", name="API token").fill(token)
        await self.page.get_by_role("button", name="Use token").click()
        await self.page.locator("#token-panel").wait_for(state="hidden", timeout=WAIT_MS)

    async def screenshot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        extra = os.environ.get("MC_UI_SCREENSHOTS")
        if extra:
            await asyncio.to_thread(_copy_into, path, Path(extra))
        return path

    def foreign_requests(self) -> list[str]:
        """Requests to anywhere but the sidecar (scheme, host and port)."""
        origin = urlsplit(self.base_url)
        return [
            url
            for url in self.requests
            if (urlsplit(url).scheme, urlsplit(url).netloc) != (origin.scheme, origin.netloc)
        ]


def _copy_into(path: Path, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, folder / path.name)


@asynccontextmanager
async def browser(base_url: str, *, shots: Path) -> AsyncIterator[Browser]:
    """Chromium with one page, 1280 wide, recording requests and console errors."""
    require_chromium()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            # Root in a container has no user namespaces for Chromium's sandbox.
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        try:
            context = await chromium.new_context(
                viewport={"width": 1280, "height": 900}, color_scheme="light"
            )
            await context.grant_permissions(["clipboard-read", "clipboard-write"])
            page = await context.new_page()
            session = Browser(page=page, base_url=base_url, shots=shots)

            def on_request(request: Request) -> None:
                session.requests.append(request.url)

            def on_console(message: ConsoleMessage) -> None:
                if message.type == "error":
                    session.console_errors.append(message.text)

            context.on("request", on_request)
            page.on("console", on_console)
            page.set_default_timeout(WAIT_MS)
            yield session
            await context.close()
        finally:
            await chromium.close()
