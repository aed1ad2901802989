"""The accounts page, driven in a real headless Chromium: the admin makes an
officer's account tied to the roster (and is refused one tied to nobody on
it), another role's account, resets a password and closes an account — each
seen working by logging in (or failing to), by the sessions it ends, and in
the audit log, which names the account and never a password. Leaders and
officers get 403 on the page and on its forms."""

from __future__ import annotations

import requests

from server.accounts import AccountBook, Role
from server.roster import RosterStore
from tests.sync_support import roster_file
from tests.web.conftest import login_as
from tests.web.support import PASSWORDS, api_login, form_token

OFFICER_USER = "tran.van.hung"
FIRST_PASSWORD = "mật-khẩu-đầu-tiên-của-Hùng"
SECOND_PASSWORD = "mật-khẩu-mới-sau-khi-quên"
OBSERVER_USER = "mttq.phuong"
OBSERVER_PASSWORD = "mật-khẩu-của-Mặt-trận"


def login_status(base_url: str, username: str, password: str) -> int:
    """The login page's answer to these credentials: 303 when a session opens."""
    http = requests.Session()
    form = http.get(f"{base_url}/login", timeout=10)
    return http.post(f"{base_url}/login", timeout=10, allow_redirects=False, data={
        "username": username, "password": password, "csrf": form_token(form.text), "next": "/"}).status_code


def my_page(http: requests.Session, base_url: str) -> str:
    """Where an officer's session is sent from ``/me``: their own page, or the login page once it has ended."""
    answer = http.get(f"{base_url}/me", allow_redirects=False, timeout=10)
    assert answer.status_code == 303
    return answer.headers["location"]


def create_account(page, username: str, display_name: str, role: Role, officer: str, password: str) -> None:
    """Fill and send the page's form for a new account."""
    form = page.locator("section[aria-labelledby=new-title] form")
    form.locator("#new-username").fill(username)
    form.locator("#new-name").fill(display_name)
    form.locator(f"input[name=role][value={role.value}]").check()
    form.locator("#new-officer").select_option(officer)
    form.locator("#new-password").fill(password)
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()


def test_the_admin_creates_resets_and_closes_accounts(commune, roles, tablet, page):
    RosterStore(commune.engine).import_file(roster_file(tablet))
    book = AccountBook(commune.engine)
    login_as(page, commune.url, Role.ADMIN)
    page.goto(f"{commune.url}/accounts")

    # An officer's account, tied to their entry in the roster.
    create_account(page, OFFICER_USER, "Trần Văn Hùng", Role.OFFICER, "tran-van-hung", FIRST_PASSWORD)
    assert page.url.endswith("/accounts?notice=created")
    assert page.locator(".alert.ok").inner_text() == "Đã tạo tài khoản."
    row = page.locator(f"tr[data-account='{OFFICER_USER}']")
    assert "Cán bộ" in row.inner_text() and "Trần Văn Hùng" in row.locator("td").nth(2).inner_text()
    made = {a.username: a for a in book.accounts()}[OFFICER_USER]
    assert (made.role, made.officer_id, made.active) == (Role.OFFICER, "tran-van-hung", True)
    first_session = api_login(commune.url, OFFICER_USER, FIRST_PASSWORD)
    assert my_page(first_session, commune.url) == "/officers/tran-van-hung"

    # Another role: an officer chosen by mistake is not kept.
    create_account(page, OBSERVER_USER, "Ủy ban MTTQ phường", Role.OBSERVER, "nguyen-thi-lan", OBSERVER_PASSWORD)
    assert page.url.endswith("/accounts?notice=created")
    assert page.locator(f"tr[data-account='{OBSERVER_USER}'] td").nth(2).inner_text() == "—"
    observer = {a.username: a for a in book.accounts()}[OBSERVER_USER]
    assert (observer.role, observer.officer_id) == (Role.OBSERVER, None)

    # An officer id that is not on the roster (as a stale or hand-made form sends) is refused; nothing is made.
    usernames = {a.username for a in book.accounts()}
    page.evaluate("() => document.querySelector('#new-officer').add(new Option('Người đã nghỉ', 'nguoi-da-nghi'))")
    create_account(page, "nguoi.da.nghi", "Người Đã Nghỉ", Role.OFFICER, "nguoi-da-nghi", FIRST_PASSWORD)
    assert page.locator(".alert.error").inner_text() == (
        "Tài khoản cán bộ phải gắn với một cán bộ trong danh sách hiện hành.")
    assert page.input_value("#new-username") == "nguoi.da.nghi"  # what was typed is kept…
    assert page.input_value("#new-password") == ""  # …but never the password
    assert {a.username for a in book.accounts()} == usernames
    assert login_status(commune.url, "nguoi.da.nghi", FIRST_PASSWORD) == 401

    # A new password: the old sessions end, the new password logs in, the old one no longer does.
    page.goto(f"{commune.url}/accounts")
    row = page.locator(f"tr[data-account='{OFFICER_USER}']")
    row.locator("summary").click()
    row.locator("input[name=password]").fill(SECOND_PASSWORD)
    row.locator("form[action$='/password'] button[type=submit]").click()
    page.wait_for_load_state()
    assert page.url.endswith("/accounts?notice=password")
    assert my_page(first_session, commune.url).startswith("/login?next=")
    assert login_status(commune.url, OFFICER_USER, FIRST_PASSWORD) == 401
    second_session = api_login(commune.url, OFFICER_USER, SECOND_PASSWORD)
    assert my_page(second_session, commune.url) == "/officers/tran-van-hung"

    # Closing the account ends its open session and refuses its logins; the row stays, shown closed.
    page.locator(f"tr[data-account='{OFFICER_USER}'] form[action$='/deactivate'] button").click()
    page.wait_for_load_state()
    assert page.url.endswith("/accounts?notice=deactivated")
    row = page.locator(f"tr[data-account='{OFFICER_USER}']")
    assert "Đã khóa" in row.inner_text() and row.locator("form[action$='/reactivate']").count() == 1
    assert row.locator("form[action$='/deactivate'], form[action$='/password']").count() == 0
    assert my_page(second_session, commune.url).startswith("/login?next=")
    assert login_status(commune.url, OFFICER_USER, SECOND_PASSWORD) == 401
    assert {a.username: a for a in book.accounts()}[OFFICER_USER].active is False

    # Reopened (back from leave): the same username, role, officer and password log in again.
    row.locator("form[action$='/reactivate'] button").click()
    page.wait_for_load_state()
    assert page.url.endswith("/accounts?notice=reactivated")
    assert "Đang dùng" in page.locator(f"tr[data-account='{OFFICER_USER}']").inner_text()
    again = api_login(commune.url, OFFICER_USER, SECOND_PASSWORD)
    assert my_page(again, commune.url) == "/officers/tran-van-hung"
    officer_id = {a.username: a for a in book.accounts()}[OFFICER_USER].id
    book.reactivate(officer_id, actor="admin")  # open already: nothing changes, nothing audited
    book.deactivate(officer_id, actor="admin")
    book.deactivate(officer_id, actor="admin")  # closed already: audited once

    # The audit log names the account and who changed it, never a password.
    page.goto(f"{commune.url}/audit")
    for action, label, times in (("create", "Tạo tài khoản", 1), ("password", "Đặt lại mật khẩu", 1),
                                 ("deactivate", "Khóa tài khoản", 2), ("reactivate", "Mở lại tài khoản", 1)):
        line = page.locator(f"tr.audit-account-{action}", has_text=OFFICER_USER)
        assert line.count() == times, action
        line = line.first
        cells = line.locator("td").all_inner_texts()
        assert cells[1:4] == ["admin", label, OFFICER_USER], action
    assert "role=officer officer=tran-van-hung" in page.locator(
        "tr.audit-account-create", has_text=OFFICER_USER).inner_text()
    assert page.locator("tr.audit-account-create", has_text="nguoi.da.nghi").count() == 0
    entries, _ = book.audit_entries(per_page=500)
    stored = page.content() + "".join(f"{e.target} {e.detail}" for e in entries)
    for password in (FIRST_PASSWORD, SECOND_PASSWORD, OBSERVER_PASSWORD):
        assert password not in stored


def test_leaders_and_officers_may_not_use_the_accounts_page(commune, roles):
    book = AccountBook(commune.engine)
    before = book.accounts()
    admin_id = next(a.id for a in before if a.username == "admin")
    for role in (Role.LEADER, Role.OFFICER):
        http = api_login(commune.url, role.value, PASSWORDS[role])
        assert http.get(f"{commune.url}/accounts", timeout=5).status_code == 403, role
        # The session's own CSRF token: only the role can be what refuses these.
        token = form_token(http.get(f"{commune.url}/home", timeout=5).text)
        posts = {
            "/accounts": {"username": "chiem.quyen", "password": "mật-khẩu-chiếm-quyền", "role": "admin"},
            f"/accounts/{admin_id}/password": {"password": "mật-khẩu-chiếm-quyền"},
            f"/accounts/{admin_id}/deactivate": {},
            f"/accounts/{admin_id}/reactivate": {},
        }
        for path, data in posts.items():
            answer = http.post(f"{commune.url}{path}", data={**data, "csrf": token}, allow_redirects=False,
                               timeout=5)
            assert answer.status_code == 403, (role, path)
    assert book.accounts() == before
    assert login_status(commune.url, "admin", PASSWORDS[Role.ADMIN]) == 303
