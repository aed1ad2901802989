"""The server's settings page: only the admin changes the time zone, the
ranking threshold and the commune's name; a bad value is refused with its
reason and what was typed stays; every change is audited."""

from __future__ import annotations

from dataclasses import replace

from server.accounts import AccountBook, Role
from server.settings import load_settings
from tests.web.support import PASSWORDS, api_login, form_token


def test_the_admin_changes_the_settings_and_a_bad_one_is_refused(commune, roles) -> None:
    admin = api_login(commune.url, roles[Role.ADMIN], PASSWORDS[Role.ADMIN])
    form = admin.get(f"{commune.url}/settings", timeout=10)
    assert form.status_code == 200 and 'value="Asia/Ho_Chi_Minh"' in form.text

    refused = admin.post(f"{commune.url}/settings", timeout=10, data={
        "csrf": form_token(form.text), "timezone": "Asia/Hà_Nội", "rank_min_ratings": "12",
        "commune_name": "UBND xã Tân Phú"})
    assert refused.status_code == 422
    assert "Không có múi giờ này" in refused.text and 'value="Asia/Hà_Nội"' in refused.text
    assert load_settings(commune.engine).timezone == "Asia/Ho_Chi_Minh"

    saved = admin.post(f"{commune.url}/settings", timeout=10, allow_redirects=False, data={
        "csrf": form_token(form.text), "timezone": "Asia/Bangkok", "rank_min_ratings": "12",
        "commune_name": "UBND xã Tân Phú"})
    assert saved.status_code == 303
    settings = load_settings(commune.engine)
    assert (settings.timezone, settings.rank_min_ratings, settings.commune_name) == (
        "Asia/Bangkok", 12, "UBND xã Tân Phú")
    # The commune's name is in every page's header, the threshold on the board.
    board = admin.get(f"{commune.url}/board", timeout=10)
    assert "UBND xã Tân Phú" in board.text, board.text[:1500]
    assert "ít nhất 12 lượt" in board.text
    entries, _ = AccountBook(commune.engine).audit_entries()
    change = next(e for e in entries if e.action == "settings.change")
    assert change.actor == roles[Role.ADMIN] and "timezone: Asia/Ho_Chi_Minh → Asia/Bangkok" in change.detail


def test_other_roles_cannot_open_or_change_the_settings(commune, roles) -> None:
    for role in (Role.LEADER, Role.OFFICER, Role.OBSERVER):
        http = api_login(commune.url, roles[role], PASSWORDS[role])
        assert http.get(f"{commune.url}/settings", timeout=10).status_code == 403
        board = http.get(f"{commune.url}/", timeout=10)
        changed = http.post(f"{commune.url}/settings", timeout=10, allow_redirects=False, data={
            "csrf": form_token(board.text) if 'name="csrf"' in board.text else "", "timezone": "Europe/Paris"})
        assert changed.status_code == 403
    assert load_settings(commune.engine).timezone == "Asia/Ho_Chi_Minh"


def test_the_mail_password_is_kept_but_never_shown_or_audited(commune, roles) -> None:
    admin = api_login(commune.url, roles[Role.ADMIN], PASSWORDS[Role.ADMIN])
    form = admin.get(f"{commune.url}/settings", timeout=10)
    fields = {"csrf": form_token(form.text), "smtp_host": "127.0.0.1", "smtp_port": "2525",
              "smtp_from": "hailong@xa.gov.vn", "smtp_user": "hailong", "smtp_password": "bí-mật-thư-123",
              "alert_to": "chu.tich@xa.gov.vn, pho.chu.tich@xa.gov.vn"}
    refused = admin.post(f"{commune.url}/settings", timeout=10, data={**fields, "alert_to": "chu tich"})
    assert refused.status_code == 422 and "Địa chỉ thư không đúng dạng" in refused.text
    assert "bí-mật-thư-123" not in refused.text
    saved = admin.post(f"{commune.url}/settings", timeout=10, allow_redirects=False, data=fields)
    assert saved.status_code == 303
    settings = load_settings(commune.engine)
    assert settings.smtp_password == "bí-mật-thư-123" and settings.smtp_starttls is False
    assert list(settings.alert_to) == ["chu.tich@xa.gov.vn", "pho.chu.tich@xa.gov.vn"]
    again = admin.get(f"{commune.url}/settings", timeout=10)
    assert "bí-mật-thư-123" not in again.text and 'value="hailong@xa.gov.vn"' in again.text
    # An empty password field keeps the one saved.
    admin.post(f"{commune.url}/settings", timeout=10, data={**fields, "smtp_password": ""})
    assert load_settings(commune.engine).smtp_password == "bí-mật-thư-123"
    entries, _ = AccountBook(commune.engine).audit_entries()
    details = " ".join(e.detail for e in entries if e.action == "settings.change")
    assert "smtp_password: changed" in details and "bí-mật-thư-123" not in details


def test_the_admin_enters_the_days_off_as_dates_on_the_page(commune, roles) -> None:
    admin = api_login(commune.url, roles[Role.ADMIN], PASSWORDS[Role.ADMIN])
    form = admin.get(f"{commune.url}/settings", timeout=10)
    assert form.status_code == 200 and 'name="holidays" type="text" value=""' in form.text
    typed = "30/04/2026, 1/5/2026\n02/09/2026"
    refused = admin.post(f"{commune.url}/settings", timeout=10, data={
        "csrf": form_token(form.text), "holidays": typed + ", 31/09/2026"})
    assert refused.status_code == 422 and "không đúng dạng ngày/tháng/năm" in refused.text
    assert "31/09/2026" in refused.text and load_settings(commune.engine).holidays == ()
    saved = admin.post(f"{commune.url}/settings", timeout=10, allow_redirects=False, data={
        "csrf": form_token(form.text), "holidays": typed})
    assert saved.status_code == 303
    assert load_settings(commune.engine).holidays == ("2026-04-30", "2026-05-01", "2026-09-02")
    shown = admin.get(f"{commune.url}/settings", timeout=10)
    assert 'value="30/04/2026, 01/05/2026, 02/09/2026"' in shown.text
    entries, _ = AccountBook(commune.engine).audit_entries()
    change = next(e for e in entries if e.action == "settings.change")
    assert "holidays:" in change.detail and "02/09/2026" in change.detail


def test_the_settings_say_when_the_alert_mails_can_carry_no_link(commune, roles) -> None:
    """Without the server's public address (--public-url) an alert mail names
    the case without a link: the mail settings say so, and stop saying it
    once the address is set."""
    admin = api_login(commune.url, roles[Role.ADMIN], PASSWORDS[Role.ADMIN])
    warning = "Máy chủ chưa có địa chỉ công khai (tùy chọn --public-url khi cài đặt)"
    assert warning in admin.get(f"{commune.url}/settings", timeout=10).text
    launch = commune.app.state.launch
    commune.app.state.launch = replace(launch, public_url="https://hailong.xa-an-binh.vn")
    try:
        assert warning not in admin.get(f"{commune.url}/settings", timeout=10).text
    finally:
        commune.app.state.launch = launch
