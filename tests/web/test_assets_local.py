"""The dashboard needs nothing but its own server (a commune's LAN may have
no internet): in headless Chromium, every page of every menu loads its
styles, scripts, fonts and pictures from the server alone, and each page
carries the policy that forbids anything else (an officer's history, with
its chart, too)."""

from __future__ import annotations

import pytest

from server.accounts import Role
from server.web.render import nav_for
from tests.web.conftest import login_as

pytestmark = pytest.mark.xdist_group("web")


def test_every_menu_page_loads_only_from_its_own_server(page, commune, tablet, roles):
    tablet.rate(6)
    assert tablet.uploader().run_once().pending == 0
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    for role in (Role.ADMIN, Role.LEADER):
        page.context.clear_cookies()
        login_as(page, commune.url, role)
        paths = [item.path for item in nav_for(role)]
        assert len(paths) >= 5
        if role is Role.LEADER:
            paths.append(f"/officers/{tablet.settings.active_officers[0].id}")  # its trend chart
        for path in paths:
            response = page.goto(f"{commune.url}{path}")
            assert response is not None and response.status == 200, path
            page.wait_for_load_state("networkidle")
            policy = response.headers.get("content-security-policy", "")
            assert "default-src 'self'" in policy and "script-src 'self'" in policy, path
    assert len(requested) > 20
    elsewhere = [url for url in requested if not url.startswith(commune.url) and not url.startswith("data:")]
    assert elsewhere == []
    # The vendored scripts were among what the pages loaded.
    assert any(url.endswith("/static/vendor/htmx.min.js") for url in requested)
    assert any(url.endswith("/static/vendor/chart.umd.min.js") for url in requested)
