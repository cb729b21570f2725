"""Browser fixtures: the built bundle, Debian's Chromium (skipped with the reason when it is
absent outside CI), the live stack, and a page that records console errors and checks axe."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest

from tests.browser.live import AXE, CHROMIUM, IFRAME, ROOT, admin_stack, build_page, chromium

ARTIFACTS = ROOT / "test-artifacts"
SERIOUS = ("serious", "critical")


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; .ci/run installs the Debian package chromium")
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium to run the browser tests")
    pytest.importorskip("playwright", reason="the playwright package (dev dependency) is not installed")
    try:
        build_page()
    except SystemExit as exc:  # dev.py's clear message when Node.js is missing or too old
        if os.environ.get("CI"):
            pytest.fail(f"the admin page could not be built: {exc}")
        pytest.skip(f"the admin page could not be built: {exc}")
    with chromium() as b:
        yield b


@pytest.fixture()
def live(test_config, tmp_path):
    with admin_stack(test_config, tmp_path) as s:
        yield s


class AdminPage:
    """A Playwright page at the iframe's width that keeps every console error and page error."""

    def __init__(self, page, name: str):
        self.page, self.name = page, name
        self.errors: list[str] = []
        self.allowed_http: list[int] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        ARTIFACTS.mkdir(exist_ok=True)

    def _console(self, msg) -> None:  # type: ignore[no-untyped-def]
        if msg.type != "error":
            return
        # The browser logs every 4xx fetch; a test that provokes one on purpose says which.
        status = re.search(r"status of (\d{3})", msg.text)
        if status and int(status.group(1)) in self.allowed_http:
            self.allowed_http.remove(int(status.group(1)))
            return
        self.errors.append(msg.text)

    def expect_http_error(self, status: int) -> None:
        self.allowed_http.append(status)

    def check(self, screen: str) -> None:
        """axe-core on the current screen (no serious or critical violations), then a screenshot."""
        self.page.wait_for_load_state("networkidle")
        # A dialog fading in has half-transparent text: axe would measure a contrast no one sees.
        self.page.wait_for_function(
            "() => document.getAnimations().every(a => a.playState !== 'running'"
            " || a.effect.getComputedTiming().endTime === Infinity)")  # spinners never end
        self.page.add_script_tag(path=str(AXE))
        violations = self.page.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
            " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))")
        bad = [v for v in violations if v["impact"] in SERIOUS]
        self.page.screenshot(path=str(ARTIFACTS / f"{self.name}-{screen}.png"), full_page=True)
        assert not bad, f"axe on {screen}: {bad}"


@pytest.fixture()
def admin(browser, request) -> Iterator[AdminPage]:
    context = browser.new_context(viewport=IFRAME, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    session = AdminPage(page, request.node.name.removeprefix("test_"))
    yield session
    context.close()
    assert not session.errors, f"console errors: {session.errors}"

