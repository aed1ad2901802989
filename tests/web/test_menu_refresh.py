"""An open page keeps its menu's badges current: a lowest-level rating a
real tablet uploads while a leader looks at the board shows as a new case
in the menu when the window regains focus (and every minute), with no
reload; a session that ended in the meantime sends the page to the login
page, to come back to it after."""

from __future__ import annotations

import pytest

from server.accounts import Role
from tests.web.conftest import login_as

pytestmark = pytest.mark.xdist_group("web")

BADGE = "nav.menu a[href='/cases'] .nav-count"


def refocus(page) -> None:
    """What the browser does when the leader comes back to the window."""
    page.evaluate("() => window.dispatchEvent(new Event('focus'))")


def test_a_new_case_shows_in_the_open_pages_menu_without_a_reload(page, commune, tablet, roles):
    login_as(page, commune.url, Role.LEADER)
    page.goto(f"{commune.url}/board")
    assert page.locator(BADGE).count() == 0
    marker = page.evaluate("() => { window.notReloaded = true; return window.notReloaded; }")
    assert marker is True

    officer = tablet.settings.active_officers[0].id
    tablet.desk.rate(officer, 1)
    tablet.desk.rate(officer, 1)
    assert tablet.uploader().run_once().pending == 0

    refocus(page)
    page.wait_for_selector(f"{BADGE}[data-count='2']")
    assert page.locator(BADGE).inner_text() == "2"
    # The same page (no navigation), its entry still marked as the current one.
    assert page.evaluate("() => window.notReloaded === true")
    assert page.locator("nav.menu a[aria-current='page']").get_attribute("href") == "/board"

    # The session ends (here: its cookie is gone); the next refresh goes to
    # the login page, which leads back to the board.
    page.context.clear_cookies()
    with page.expect_navigation():
        refocus(page)
    assert page.url.endswith("/login?next=/board")
