"""The reports page on a real server over loopback, against ratings made on
a real tablet (:func:`tests.test_reports.seed`): who may see and download
which report (an officer only their own; comments' texts only for leaders;
the archive only for leaders), every download audited, the reminder on the
board on the server's clock until the archive is made, and the page at
desktop and phone width in Chromium."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook

from server.accounts import AccountBook, Role
from server.evidence import verify_archive
from server.reports import REMINDER_DAYS_BEFORE
from server.scores import Exclusions
from tests.sync_support import Commune, ManualClock
from tests.test_reports import COMMENT, HANOI, MARCH, PHONE, SUGGESTION_NAME, SUGGESTION_PHONE, expected_levels, seed
from tests.web.conftest import login_as
from tests.web.support import PASSWORDS, api_login, form_token, make_accounts

pytestmark = pytest.mark.xdist_group("web")

MARCH_QUERY = {"kind": "month", "day": "2026-03-01"}


@pytest.fixture
def reported(tmp_path):
    clock = ManualClock()
    with Commune(tmp_path, clock=clock) as commune:
        seeded = seed(tmp_path, commune, clock)
        make_accounts(commune.engine, seeded.officers[0])
        yield seeded
        seeded.tablet.close()


def _session(seeded, role: Role):
    return api_login(seeded.commune.url, role.value, PASSWORDS[role])


def _download(http, url: str, **fields: str):
    page = http.get(f"{url}/reports", params=MARCH_QUERY, timeout=30)
    return http.post(f"{url}/reports/download", timeout=60, allow_redirects=False,
                     data={"csrf": form_token(page.text), **MARCH_QUERY, **fields})


def _sheets(data: bytes) -> dict[str, str]:
    book = load_workbook(io.BytesIO(data))
    return {sheet.title: repr(list(sheet.iter_rows(values_only=True))) for sheet in book.worksheets}


def test_each_role_gets_the_report_it_may_read(reported) -> None:
    url, officers = reported.commune.url, reported.officers
    want = expected_levels(reported.ratings, MARCH, Exclusions())
    leader = _session(reported, Role.LEADER)
    page = leader.get(f"{url}/reports", params=MARCH_QUERY, timeout=30)
    assert page.status_code == 200
    figures = re.search(r'class="card commune-figures report-figures"[^>]*data-n="(\d+)" data-satisfied="(\d+)"',
                        page.text)
    assert figures and int(figures.group(1)) == sum(want.values())
    assert int(figures.group(2)) == sum(n for k, n in want.items() if k in {"satisfied", "very_satisfied"})
    assert "/reports/archive" in page.text
    # The leaders' version carries the comments' texts, never a name or a number.
    answer = _download(leader, url, format="xlsx")
    assert answer.status_code == 200 and "bao-cao-2026-03.xlsx" in answer.headers["content-disposition"]
    sheets = _sheets(answer.content)
    assert COMMENT in sheets["Ý kiến người dân"]
    assert not any(secret in text for text in sheets.values() for secret in (PHONE, SUGGESTION_PHONE, SUGGESTION_NAME))
    pdf = _download(leader, url, format="pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    # An officer's report, chosen by a leader; an unknown officer is a 404.
    one = _download(leader, url, format="xlsx", officer=officers[1])
    assert one.status_code == 200 and officers[1] in one.headers["content-disposition"]
    assert "Cán bộ" not in _sheets(one.content)
    assert leader.get(f"{url}/reports", params={**MARCH_QUERY, "officer": "nobody"}, timeout=30).status_code == 404

    for role in (Role.OBSERVER, Role.ADMIN):
        http = _session(reported, role)
        page = http.get(f"{url}/reports", params=MARCH_QUERY, timeout=30)
        assert page.status_code == 200 and "/reports/archive" not in page.text
        sheets = _sheets(_download(http, url, format="xlsx").content)
        assert "Ý kiến người dân" not in sheets and COMMENT not in repr(sheets)
        refused = http.post(f"{url}/reports/archive", data={"csrf": form_token(page.text), **MARCH_QUERY},
                            timeout=30, allow_redirects=False)
        assert refused.status_code == 403

    officer = _session(reported, Role.OFFICER)
    own = officer.get(f"{url}/reports", params=MARCH_QUERY, timeout=30)
    assert own.status_code == 200 and reported.names[officers[0]] in own.text
    assert 'name="officer"' in own.text and 'id="officer"' not in own.text  # no choice of scope
    other = officer.get(f"{url}/reports", params={**MARCH_QUERY, "officer": officers[1]}, timeout=30)
    assert other.status_code == 403
    assert _download(officer, url, format="xlsx", officer=officers[1]).status_code == 403
    mine = _download(officer, url, format="xlsx")
    assert mine.status_code == 200 and officers[0] in mine.headers["content-disposition"]
    assert COMMENT not in repr(_sheets(mine.content))
    assert officer.post(f"{url}/reports/archive", data={"csrf": form_token(own.text), **MARCH_QUERY},
                        timeout=30, allow_redirects=False).status_code == 403

    # Every download is in the audit log, with who asked.
    entries, _ = AccountBook(reported.commune.engine).audit_entries(per_page=200)
    downloads = [(e.actor, e.detail) for e in entries if e.action == "report.download" and e.target == "2026-03"]
    assert ("leader", "format=xlsx scope=commune texts") in downloads
    assert ("observer", "format=xlsx scope=commune") in downloads
    assert ("officer", f"format=xlsx scope={officers[0]}") in downloads
    assert len(downloads) == 6  # the refused ones changed nothing


def test_the_reminder_shows_until_the_archive_is_made(reported) -> None:
    url, clock = reported.commune.url, reported.clock
    leader = _session(reported, Role.LEADER)
    observer = _session(reported, Role.OBSERVER)
    # The day before the reminder starts, nothing; from 26 May, the 6-month report.
    deadline = datetime(2026, 6, 15, 10, 0, tzinfo=HANOI)
    clock.now = (deadline - timedelta(days=REMINDER_DAYS_BEFORE + 1)).astimezone(UTC)
    assert "report-reminder" not in leader.get(f"{url}/board", timeout=30).text
    clock.now = datetime(2026, 6, 1, 10, 0, tzinfo=HANOI).astimezone(UTC)
    board = leader.get(f"{url}/board", timeout=30).text
    assert 'data-period="2026-H1"' in board and "15/06/2026" in board and "còn 14 ngày" in board
    assert "report-reminder" not in observer.get(f"{url}/board", timeout=30).text
    admin = _session(reported, Role.ADMIN)
    assert 'data-period="2026-H1"' in admin.get(f"{url}/home", timeout=30).text
    # The leader makes the half-year's archive from the link: the reminder goes, the page says it was made.
    page = leader.get(f"{url}/reports", params={"kind": "half", "day": "2026-01-01"}, timeout=30)
    made = leader.post(f"{url}/reports/archive", timeout=120, data={
        "csrf": form_token(page.text), "kind": "half", "day": "2026-01-01"})
    assert made.status_code == 200 and made.headers["content-type"] == "application/zip"
    assert "ho-so-minh-chung-2026-H1.zip" in made.headers["content-disposition"]
    assert verify_archive(io.BytesIO(made.content)).ok
    with zipfile.ZipFile(io.BytesIO(made.content)) as archive:
        assert COMMENT not in archive.read("report.xlsx").decode("latin-1")
    assert "report-reminder" not in leader.get(f"{url}/board", timeout=30).text
    page = leader.get(f"{url}/reports", params={"kind": "half", "day": "2026-01-01"}, timeout=30).text
    assert "archive-made" in page
    # December: the yearly report.
    clock.now = datetime(2026, 12, 1, 10, 0, tzinfo=HANOI).astimezone(UTC)
    leader = _session(reported, Role.LEADER)  # the earlier session has expired by then
    assert 'data-period="2026"' in leader.get(f"{url}/board", timeout=30).text


def test_the_page_at_desktop_and_phone_width(reported, page, tmp_path) -> None:
    url = reported.commune.url
    login_as(page, url, Role.LEADER)
    for width, height in ((1280, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{url}/reports?kind=month&day=2026-03-01")
        assert page.locator(".report-reminder").count() == 1
        assert page.locator("table.report-officers tbody tr").count() >= 3
        # Nothing wider than the screen.
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, (width, overflow)
        page.screenshot(path=str(tmp_path / f"reports-{width}.png"), full_page=True)
    with page.expect_download() as download:
        page.click("button[value=xlsx]")
    assert download.value.suggested_filename == "bao-cao-2026-03.xlsx"
