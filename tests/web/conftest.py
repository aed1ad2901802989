"""The dashboard's browser tests: a real commune server on loopback, an
account of each role made through the real code, and headless Debian
Chromium driven by Playwright (one browser for the session, one context
per test)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from server.accounts import Role
from tests.web.support import PASSWORDS, make_accounts

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture
def roles(commune) -> dict[Role, str]:
    """One account per role on ``commune`` (username = the role's name;
    passwords in :data:`tests.web.support.PASSWORDS`)."""
    return make_accounts(commune.engine)


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium (Debian's), shared by the session's tests."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@contextmanager
def fresh_page(browser, *, locale: str = "vi-VN") -> Iterator:
    """A page in a browser context of its own (no cookies shared), the
    browser's own language ``locale``."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale=locale)
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def page(browser) -> Iterator:
    """A fresh browser context and page (no cookies shared between tests)."""
    with fresh_page(browser) as fresh:
        yield fresh


def login(page, base_url: str, username: str, password: str) -> None:
    """Log in through the login page and wait for the page it leads to."""
    page.goto(f"{base_url}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("form.stack button[type=submit]")
    page.wait_for_load_state()


def login_as(page, base_url: str, role: Role) -> None:
    """Log in as the test account of ``role``."""
    login(page, base_url, role.value, PASSWORDS[role])
