"""The devices page and pairing requests an attacker wrote: labels shown with
their control characters escaped, a request in an active tablet's name
marked on the request and on the tablet's row, and its approval refused
until the confirmation box is ticked. In headless Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.link.credentials import load_credentials
from server.accounts import Role
from tests.test_pairing_defences import HOSTILE_LABEL, ask_to_pair
from tests.web.conftest import login_as

PHONE = {"width": 390, "height": 844}


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_hostile_label_and_active_device_on_the_devices_page(commune, roles, tablet, page, tmp_path: Path, width):
    if width == "phone":
        page.set_viewport_size(PHONE)
    secret = load_credentials(tablet.store.device_secret_path).secret
    _, _, hostile = ask_to_pair(commune, "127.0.0.1", "tablet-hostile", HOSTILE_LABEL)
    _, _, squatter = ask_to_pair(commune, "127.0.0.2", tablet.store.device_id, "Quầy 1")

    login_as(page, commune.url, Role.ADMIN)
    page.goto(f"{commune.url}/devices")
    html = page.content()
    assert not any(ch in html for ch in "\x1b\x07\u202e")
    shown = page.locator(f"li.pairing[data-code='{hostile['user_code']}']")
    assert "Quầy 1\\x1b[2J\\x1b]0;owned\\x07\\u202eevil" in shown.inner_text()
    assert shown.locator(".already-active").count() == 0

    request = page.locator(f"li.pairing[data-code='{squatter['user_code']}']")
    assert request.locator(".already-active").is_visible()
    assert "đang hoạt động" in request.locator(".already-active").inner_text()
    row = page.locator(f"tr[data-device='{tablet.store.device_id}']")
    assert row.locator(".contested").is_visible()
    page.screenshot(path=str(tmp_path / f"devices-{width}.png"), full_page=True)

    # Approving without the box ticked is refused, and the tablet keeps its secret.
    request.locator("form[action$='/approve'] button").click()
    page.wait_for_load_state()
    assert "Chưa duyệt" in page.locator(".alert.error").inner_text()
    assert commune.registry.credentials(tablet.store.device_id) == (secret, "active")
    page.screenshot(path=str(tmp_path / f"devices-refused-{width}.png"), full_page=True)

    request = page.locator(f"li.pairing[data-code='{squatter['user_code']}']")
    request.locator("input[name=replace_active]").check()
    request.locator("form[action$='/approve'] button").click()
    page.wait_for_load_state()
    assert page.url.endswith("/devices?notice=approved")
    assert commune.registry.credentials(tablet.store.device_id)[0] != secret
    assert page.locator(f"tr[data-device='{tablet.store.device_id}'] .contested").count() == 0

    # A request for a new tablet is approved without any box.
    page.locator(f"li.pairing[data-code='{hostile['user_code']}'] form[action$='/approve'] button").click()
    page.wait_for_load_state()
    assert page.url.endswith("/devices?notice=approved")
    assert "Quầy 1\\x1b[2J" in page.locator("tr[data-device='tablet-hostile']").inner_text()
