"""Who may see what on the dashboard, driven in a real headless Chromium:
each role's menu and pages, 403 for the others, the login page for
anonymous visitors, CSRF, the login rate limit, logout, and the devices page."""

from __future__ import annotations

import requests

from server.accounts import Role
from sync.protocol import API_PREFIX
from tests.web.conftest import login, login_as
from tests.web.support import PASSWORDS, api_login

# What each role's menu shows, and what it may not open.
MENU = {
    Role.ADMIN: {"/home", "/board", "/devices", "/accounts", "/audit", "/roster", "/settings", "/reports",
                 "/home-visits", "/surveys", "/survey-results"},
    Role.LEADER: {"/home", "/board", "/exports", "/devices", "/roster", "/comments", "/cases", "/reports",
                  "/home-visits", "/surveys", "/survey-results"},
    Role.OFFICER: {"/home", "/me", "/cases", "/reports", "/home-visits"},
    Role.OBSERVER: {"/home", "/board", "/reports", "/surveys", "/survey-results"},
}
# Where each role lands after logging in (the officer's own page is under /officers/).
LANDING = {Role.ADMIN: "/home", Role.LEADER: "/board", Role.OFFICER: "/officers/nguyen-van-an",
           Role.OBSERVER: "/board"}
ADMIN_PAGES = ("/devices", "/accounts", "/audit", "/settings")


def menu_paths(page) -> set[str]:
    return set(page.eval_on_selector_all("nav.menu a", "links => links.map(a => a.getAttribute('href'))"))


def test_each_role_sees_its_own_menu_and_gets_403_elsewhere(commune, roles, page):
    for role in Role:
        page.context.clear_cookies()
        login_as(page, commune.url, role)
        assert page.url.endswith(LANDING[role]), (role, page.url)
        assert menu_paths(page) == MENU[role], role
        assert page.locator(".who-name").inner_text() == f"Tài khoản {role.value}"
        for path in ADMIN_PAGES:
            answer = page.goto(f"{commune.url}{path}")
            allowed = path in MENU[role]
            assert answer.status == (200 if allowed else 403), (role, path)
            if not allowed:
                assert "Không có quyền truy cập" in page.content()


def test_anonymous_visitors_are_sent_to_the_login_page_and_back(commune, roles, page):
    for path in ("/", "/home", *ADMIN_PAGES):
        page.goto(f"{commune.url}{path}")
        assert "/login?next=" in page.url, path
    page.goto(f"{commune.url}/audit")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORDS[Role.ADMIN])
    page.click("form.stack button[type=submit]")
    page.wait_for_load_state()
    assert page.url == f"{commune.url}/audit"
    assert page.locator("h1").inner_text() == "Nhật ký hoạt động"
    # The login, success and failure alike, is in the audit log (never the password).
    page.reload()
    assert page.locator("tr.audit-login-success").count() >= 1
    assert PASSWORDS[Role.ADMIN] not in page.content()


def test_operator_api_refuses_anonymous_and_wrong_roles(commune, roles, tablet):
    for path in (f"{API_PREFIX}/devices", f"{API_PREFIX}/devices/{tablet.store.device_id}"):
        anonymous = requests.get(f"{commune.url}{path}", timeout=5)
        assert anonymous.status_code == 401 and anonymous.json()["error"] == "login_required"
        for role in Role:
            answer = api_login(commune.url, role.value, PASSWORDS[role]).get(f"{commune.url}{path}", timeout=5)
            assert answer.status_code == (200 if role in (Role.ADMIN, Role.LEADER) else 403), (role, path)


def test_posts_without_the_sessions_csrf_token_are_refused(commune, roles):
    admin = api_login(commune.url, "admin", PASSWORDS[Role.ADMIN])
    new = {"username": "moi", "password": "mật-khẩu-mới-đủ-dài", "role": "observer"}
    for token in (None, "wrong-token"):
        data = dict(new) if token is None else {**new, "csrf": token}
        answer = admin.post(f"{commune.url}/accounts", data=data, allow_redirects=False, timeout=5)
        assert answer.status_code == 403 and "Yêu cầu không hợp lệ" in answer.text
    # Another session's token is no better.
    leader_page = api_login(commune.url, "leader", PASSWORDS[Role.LEADER]).get(f"{commune.url}/home", timeout=5)
    from tests.web.support import form_token

    stolen = form_token(leader_page.text)
    assert admin.post(f"{commune.url}/accounts", data={**new, "csrf": stolen}, allow_redirects=False,
                      timeout=5).status_code == 403
    assert "moi" not in admin.get(f"{commune.url}/accounts", timeout=5).text
    # The login form's own token (no session yet) is checked too.
    bare = requests.post(f"{commune.url}/login", data={"username": "admin", "password": PASSWORDS[Role.ADMIN]},
                         allow_redirects=False, timeout=5)
    assert bare.status_code == 403 and "hailong_session" not in bare.headers.get("set-cookie", "")


def test_wrong_passwords_lock_the_login_and_the_page_says_so(commune, roles, page):
    for _ in range(5):
        login(page, commune.url, "officer", "không-phải-mật-khẩu")
    assert "tạm khóa" in page.locator(".alert.error").inner_text().lower()
    # Even the right password is refused while locked.
    login_as(page, commune.url, Role.OFFICER)
    assert "/login" in page.url and "Đã nhập sai quá nhiều lần" in page.content()
    # Another account is not locked by it.
    login_as(page, commune.url, Role.OBSERVER)
    assert page.url.endswith(LANDING[Role.OBSERVER])


def test_logout_ends_the_session(commune, roles, page):
    login_as(page, commune.url, Role.LEADER)
    cookie = next(c for c in page.context.cookies() if c["name"] == "hailong_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    page.click("form.logout button")
    page.wait_for_load_state()
    assert "/login" in page.url
    # The old token no longer opens anything, even replayed.
    replay = requests.get(f"{commune.url}{API_PREFIX}/devices", cookies={"hailong_session": cookie["value"]},
                          timeout=5)
    assert replay.status_code == 401


def test_language_switch_keeps_the_page(commune, roles, page):
    login_as(page, commune.url, Role.ADMIN)
    page.goto(f"{commune.url}/devices")
    page.click("nav.lang a[hreflang=en]")
    page.wait_for_load_state()
    assert page.url.endswith("/devices") and page.locator("h1").inner_text() == "Tablets"
    assert page.locator("html").get_attribute("lang") == "en"


def test_devices_page_shows_a_paired_tablet_and_an_admin_approves_a_pairing(commune, roles, tablet, page):
    tablet.rate(2)
    tablet.uploader().run_once()
    waiting = requests.post(f"{commune.url}{API_PREFIX}/pair/device-code",
                            json={"device_id": "tablet-quay-2", "label": "Quầy số 2 — Đất đai", "app_version": "0.2.0"},
                            timeout=5).json()
    again = requests.post(f"{commune.url}{API_PREFIX}/pair/device-code",
                          json={"device_id": tablet.store.device_id, "label": "Quầy 1 (lại)"}, timeout=5).json()

    login_as(page, commune.url, Role.LEADER)
    page.goto(f"{commune.url}/devices")
    row = page.locator(f"tr[data-device='{tablet.store.device_id}']")
    assert tablet.settings.counter_name in row.inner_text()
    assert "0.1.0" in row.inner_text() and "Nguyên vẹn" in row.inner_text()
    assert page.locator("#pairings").count() == 0  # leaders see tablets, not the approvals

    page.context.clear_cookies()
    login_as(page, commune.url, Role.ADMIN)
    page.goto(f"{commune.url}/devices")
    card = page.locator(f".pairing[data-code='{waiting['user_code']}']")
    assert "Quầy số 2 — Đất đai" in card.inner_text() and "tablet-quay-2" in card.inner_text()
    assert card.locator(".alert.warn").count() == 0
    assert page.locator(f".pairing[data-code='{again['user_code']}'] .alert.warn").count() == 1
    card.locator("button.primary").click()
    page.wait_for_load_state()
    assert "Đã duyệt ghép nối" in page.locator(".alert.ok").inner_text()
    assert page.locator("tr[data-device='tablet-quay-2']").count() == 1
    assert commune.registry.credentials("tablet-quay-2")[1] == "active"

    # Revoking asks for a reason, and it is kept.
    page.locator("tr.row-actions details summary").first.click()
    page.locator("tr.row-actions input[name=reason]").first.fill("Máy bị mất")
    page.locator("tr.row-actions button.danger").first.click()
    page.wait_for_load_state()
    assert "Đã thu hồi máy" in page.content() and "Máy bị mất" in page.content()
    page.goto(f"{commune.url}/audit")
    assert page.locator("tr.audit-device-approve").count() == 1
    assert page.locator("tr.audit-device-revoke").count() == 1
