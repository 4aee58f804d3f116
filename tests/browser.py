"""The page in a real browser: Debian's Chromium driven by Playwright (no browser is
downloaded), for the browser tests under tests/e2e. Screenshots go to var/screenshots/."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.stack import RunningStack

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "var" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's headless Chromium under Playwright."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: `make tools` installs it"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


class Page:
    """A browser tab on the stack's page, recording console errors and the API calls
    the page makes (method, path, JSON body)."""

    def __init__(self, browser: Any, stack: RunningStack, width: int = 1280) -> None:
        self.tab = browser.new_page(viewport={"width": width, "height": 900}, accept_downloads=True)
        self.errors: list[str] = []
        self.calls: list[tuple[str, str, Any]] = []
        self.tab.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.tab.on("pageerror", lambda e: self.errors.append(str(e)))
        self.tab.on("request", self._record)
        self.tab.goto(stack.gateway_url + "/")

    def _record(self, request: Any) -> None:
        path = urlsplit(request.url).path
        if not path.startswith("/api/"):
            return
        body = request.post_data if request.method == "POST" else None
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = body  # a multipart upload
        self.calls.append((request.method, path, parsed))

    def bodies(self, path: str) -> list[Any]:
        """The bodies the page POSTed to `path`, in order."""
        return [body for method, called, body in self.calls if method == "POST" and called == path]

    def enter_key(self, key: str) -> None:
        self.tab.get_by_label("API key", exact=True).fill(key)
        self.tab.keyboard.press("Enter")
        self.tab.wait_for_selector("#household:not([hidden])")

    def section(self, link: str, section: str) -> None:
        """Opens a section from the page's navigation."""
        self.tab.get_by_role("link", name=link, exact=True).click()
        self.tab.wait_for_selector(f"#{section}:not([hidden])")

    def screenshot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.tab.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    def violations(self) -> list[str]:
        from axe_playwright_python.sync_playwright import Axe

        results = Axe().run(self.tab)
        return [f"{v['id']}: {v['help']}" for v in results.response["violations"]]

    def fits(self, width: int) -> bool:
        """Whether the page, at `width` pixels, needs no horizontal scrolling."""
        self.tab.set_viewport_size({"width": width, "height": 812})
        return bool(self.tab.evaluate("document.documentElement.scrollWidth") <= width)
