"""Every date field of the dashboard writes its day out beside it, weekday
first and the date day first («Thứ Sáu, ngày 06/03/2026»), in the page's
language: a browser set to English shows the field itself month first
(03/06/2026 for the 6th of March), and a leader choosing a report's period
must not read it the other way. Checked in Chromium with an English
locale: the words the server writes, and the words kept in step as a day is
picked."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from server.accounts import Role
from server.i18n import day_in_words, translator
from tests.web.conftest import fresh_page, login_as

pytestmark = pytest.mark.xdist_group("web")


@pytest.fixture
def english_browser_page(browser) -> Iterator:
    """A page in a browser whose own language is American English (month-first date fields)."""
    with fresh_page(browser, locale="en-US") as page:
        yield page


def test_a_day_in_words_names_its_weekday_and_puts_the_day_first():
    friday = date(2026, 3, 6)
    assert day_in_words(friday, translator("vi")) == "Thứ Sáu, ngày 06/03/2026"
    assert day_in_words(friday, translator("en")) == "Friday 06/03/2026"
    assert day_in_words(date(2026, 3, 8), translator("vi")) == "Chủ Nhật, ngày 08/03/2026"


def test_the_export_and_board_date_fields_say_which_day_they_hold(commune, roles, english_browser_page):
    page = english_browser_page
    login_as(page, commune.url, Role.LEADER)
    page.goto(f"{commune.url}/exports")
    # Written by the server: the words of the field's first value.
    first = date.fromisoformat(page.input_value("#first"))
    assert page.text_content("#first-words") == day_in_words(first, translator("vi"))
    assert page.get_attribute("#first", "aria-describedby") == "first-words"
    # Kept in step by the page as a day is picked, and emptied with the field.
    page.fill("#first", "2026-03-06")
    assert page.text_content("#first-words") == "Thứ Sáu, ngày 06/03/2026"
    page.fill("#last", "2026-03-08")
    assert page.text_content("#last-words") == "Chủ Nhật, ngày 08/03/2026"
    page.fill("#last", "")
    assert page.text_content("#last-words") == ""

    page.goto(f"{commune.url}/board?kind=range&first=2026-03-02&last=2026-03-06")
    assert page.text_content("#first-words") == "Thứ Hai, ngày 02/03/2026"
    assert page.text_content("#last-words") == "Thứ Sáu, ngày 06/03/2026"

    # In English, the page's words are English, the day still first.
    page.goto(f"{commune.url}/lang?to=en&next=/exports")
    page.fill("#first", "2026-03-06")
    assert page.text_content("#first-words") == "Friday 06/03/2026"


def test_a_survey_campaigns_dates_say_which_day_they_hold(commune, roles, english_browser_page):
    page = english_browser_page
    login_as(page, commune.url, Role.ADMIN)
    page.goto(f"{commune.url}/surveys/campaigns/new")
    starts = date.fromisoformat(page.input_value("#starts_on"))
    assert page.text_content("#starts_on-words") == day_in_words(starts, translator("vi"))
    page.fill("#ends_on", "2026-06-30")
    assert page.text_content("#ends_on-words") == "Thứ Ba, ngày 30/06/2026"
