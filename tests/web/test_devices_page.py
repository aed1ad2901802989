"""The devices page with real tablets, in headless Chromium: a tampered
tablet's open findings listed in words with their sequence numbers (the
first few, the rest counted), a healthy tablet's pending count, last
contact and clock offset as it reported them, and a pairing request denied
from the page, which the tablet's next poll learns."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from kiosk.desk import DeviceClock
from kiosk.link.pairing import PairingClient, PairingFailed
from server.accounts import Role
from server.settings import load_settings
from server.web.devices import FINDINGS_SHOWN
from sync.protocol import ErrorCode
from tests.sync_support import Commune, ManualClock, Tablet, as_attacker, findings
from tests.web.conftest import login_as
from tests.web.support import PASSWORDS, api_login, make_accounts

SHOTS = os.environ.get("HAILONG_SHOTS")
PHONE = {"width": 390, "height": 844}
OFFSET_S = 42.5  # the healthy tablet's clock is this far behind the server's


def shoot(page, name: str) -> None:
    """A full-page screenshot into ``HAILONG_SHOTS``, when set (to look at the page)."""
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / name), full_page=True)
DELETED = (3, 5, 7, 9, 11, 13, 15)  # ratings taken off the tampered tablet behind the app's back


@dataclass
class Fleet:
    """A commune on a stopped clock with a healthy and a tampered tablet."""

    commune: Commune
    clock: ManualClock
    healthy: Tablet
    tampered: Tablet


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Iterator[Fleet]:
    """The commune's clock stands still, so the healthy tablet's last contact
    and clock offset are known to the second; it went off in the middle of
    a sync with 2 ratings still waiting. The tampered tablet lost 7 ratings
    (7 gaps: more than the page lists)."""
    root = tmp_path_factory.mktemp("devices-page")
    clock = ManualClock()
    behind = (clock.now - timedelta(seconds=OFFSET_S)).astimezone()
    with Commune(root, clock=clock) as commune:
        make_accounts(commune.engine)
        healthy = Tablet(root / "healthy", commune.url, clock=DeviceClock(now=lambda: behind))
        tampered = Tablet(root / "tampered", commune.url, tree_changes=lambda tree: tree.update(
            counter={**tree["counter"], "name": "Quầy 2 — Đất đai"}))
        try:
            healthy.pair(commune)
            tampered.pair(commune)
            healthy.rate(10)

            def switch_off(status) -> None:
                # The tablet is switched off as its second batch of 4 goes out.
                if status.state == "sending" and status.pending <= 6:
                    uploader.stop()

            uploader = healthy.uploader(batch_size=4, on_status=switch_off)
            assert uploader.run_once().sent_this_session == 8  # 2 left on the tablet

            tampered.rate(20)
            as_attacker(tampered, f"DELETE FROM journal WHERE seq IN ({', '.join(map(str, DELETED))})")
            assert tampered.uploader().run_once().pending == 0
            assert findings(commune, tampered.store.device_id) == [(seq, "gap") for seq in DELETED]
            yield Fleet(commune, clock, healthy, tampered)
        finally:
            healthy.close()
            tampered.close()


def test_findings_in_words_and_a_healthy_tablets_health_on_desktop_and_phone(fleet, page):
    commune, tampered, healthy = fleet.commune, fleet.tampered, fleet.healthy
    login_as(page, commune.url, Role.LEADER)  # a leader sees the findings, as the admin does
    page.goto(f"{commune.url}/devices")

    row = page.locator(f"tr[data-device='{tampered.store.device_id}']")
    assert "Có vấn đề" in row.inner_text() and "7 cảnh báo" in row.inner_text()
    listed = page.locator(f"tr[data-device='{tampered.store.device_id}'] + tr.row-findings")
    assert "(7)" in listed.locator(".findings-title").inner_text()
    items = listed.locator("li.finding")
    assert items.count() == FINDINGS_SHOWN
    first = items.first.inner_text()
    assert "Bản ghi số 3" in first and "Thiếu bản ghi (có thể đã bị xóa trên máy)" in first
    assert "records 3..3 are missing" in first
    assert "Bản ghi số 11" in items.nth(4).inner_text()
    assert "Bản ghi số 13" not in listed.inner_text() and "gap" not in listed.inner_text()  # words, not codes
    assert "Còn 2 cảnh báo khác" in listed.locator(".findings-more").inner_text()
    # The healthy tablet has no findings row.
    assert page.locator(f"tr[data-device='{healthy.store.device_id}'] + tr.row-findings").count() == 0

    cells = page.locator(f"tr[data-device='{healthy.store.device_id}']")
    zone = load_settings(commune.engine).zone
    assert cells.locator("td[data-label='Chờ gửi']").inner_text().strip() == "2"
    assert (cells.locator("td[data-label='Liên lạc lần cuối']").inner_text().strip()
            == fleet.clock.now.astimezone(zone).strftime("%d/%m/%Y %H:%M"))
    assert cells.locator("td[data-label='Lệch đồng hồ']").inner_text().strip() == f"+{OFFSET_S:.1f} s"
    shoot(page, "devices-desktop.png")

    page.set_viewport_size(PHONE)
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert listed.locator("li.finding").first.is_visible()
    shoot(page, "devices-phone.png")

    # In English, the same words' translation, never the raw code.
    page.click("nav.lang a[hreflang=en]")
    page.wait_for_load_state()
    first = listed.locator("li.finding").first.inner_text()
    assert "Record 3" in first and "Records missing (perhaps deleted on the tablet)" in first
    shoot(page, "devices-phone-en.png")

    # The tablet's own findings page lists all seven, in the order found.
    page.click("nav.lang a[hreflang=vi]")
    page.wait_for_load_state()
    with page.expect_navigation():
        listed.locator("a.findings-all").click()
    assert page.url.endswith(f"/devices/{tampered.store.device_id}/findings")
    every = page.locator("li.finding")
    assert every.count() == 7
    assert [every.nth(i).locator(".finding-seq").inner_text() for i in range(7)] == [
        f"Bản ghi số {seq}" for seq in (3, 5, 7, 9, 11, 13, 15)]
    assert "(7 cảnh báo)" in page.locator(".lead").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shoot(page, "device-findings-phone.png")
    healthy_page = page.goto(f"{commune.url}/devices/{healthy.store.device_id}/findings")
    assert healthy_page.status == 200 and page.locator("li.finding").count() == 0
    assert page.goto(f"{commune.url}/devices/no-such-tablet/findings").status == 404

    # An officer or an observer does not get the pages at all.
    for role in (Role.OFFICER, Role.OBSERVER):
        http = api_login(commune.url, role.value, PASSWORDS[role])
        for path in ("/devices", f"/devices/{tampered.store.device_id}/findings"):
            answer = http.get(f"{commune.url}{path}", timeout=10)
            assert answer.status_code == 403 and "records 3..3" not in answer.text, path


def test_a_pairing_denied_on_the_page_reaches_the_tablet_and_the_audit(fleet, page):
    commune = fleet.commune
    client = PairingClient(commune.url)
    asked = client.start("tablet-quay-9", "Quầy 9 — Hộ tịch", "0.2.0")
    assert client.poll_once(asked)[0] == ErrorCode.AUTHORIZATION_PENDING

    login_as(page, commune.url, Role.ADMIN)
    page.goto(f"{commune.url}/devices")
    card = page.locator(f"li.pairing[data-code='{asked.user_code}']")
    assert "Quầy 9 — Hộ tịch" in card.inner_text() and "0.2.0" in card.inner_text()
    card.locator("form[action$='/deny'] button").click()
    page.wait_for_load_state()
    assert page.url.endswith("/devices?notice=denied")
    assert "Đã từ chối yêu cầu ghép nối" in page.locator(".alert.ok").inner_text()
    assert page.locator(f"li.pairing[data-code='{asked.user_code}']").count() == 0
    assert asked.user_code not in [p["user_code"] for p in commune.registry.list_pairings()]

    # The tablet's next poll is told it was refused, and it gets no secret.
    with pytest.raises(PairingFailed) as refused:
        client.wait(asked, sleep=lambda s: None)
    assert refused.value.code == ErrorCode.ACCESS_DENIED
    assert commune.registry.credentials("tablet-quay-9") is None
    # The admin's phone: the findings row sits between the tablet's card and its revoke row.
    page.set_viewport_size(PHONE)
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shoot(page, "devices-admin-phone.png")

    page.goto(f"{commune.url}/audit")
    denial = page.locator("tr.audit-device-deny")
    assert denial.count() == 1
    assert "tablet-quay-9" in denial.inner_text() and asked.user_code in denial.inner_text()
    assert "admin" in denial.inner_text()
