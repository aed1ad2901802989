"""Every route of the commune server says who may use it, and anonymous
callers get nothing but the few public ones: each route of the API and of the
dashboard is called without a login or a signature, and must refuse, unless
it is on the public list below with its reason."""

from __future__ import annotations

import re

import pytest
import requests
from fastapi.routing import APIRoute

from server.routes import ROUTERS
from server.web import PAGE_ROUTERS
from sync.protocol import API_PREFIX

# The only routes anyone may call, and why.
PUBLIC = {
    ("GET", f"{API_PREFIX}/health"): "is the server up: no data",
    ("POST", f"{API_PREFIX}/pair/device-code"): "a tablet asking to pair (RFC 8628): it has no secret yet",
    ("POST", f"{API_PREFIX}/pair/token"): "a tablet polling for its secret with its device code",
    ("GET", "/pair"): "the address a tablet's QR code opens: it only leads to the devices page (login)",
    ("GET", "/login"): "the login page",
    ("POST", "/login"): "logging in",
    ("GET", "/lang"): "switching the page language (a cookie)",
    ("GET", "/c/{rating_uuid}"): "a citizen's comment form (the tablet's QR code): opens only with the rating's token",
    ("POST", "/c/{rating_uuid}"): "a citizen's comment: the rating's token, a form cookie, limited per address",
    ("GET", "/gop-y"): "the electronic suggestion box, for any citizen",
    ("POST", "/gop-y"): "a citizen's suggestion: a form cookie, limited per address",
    ("GET", "/s/{token}"): "a survey campaign's public link (its QR code): only while the campaign takes answers",
    ("POST", "/s/{token}"): "a citizen's survey answers: the link's token, a form cookie, limited per address",
    ("GET", "/s/{token}/officers/{officer_id}"): "an officer's small portrait, for an open survey that asks who served",
    ("GET", "/h/{token}"): "a citizen's rating after a visit at home: opens only with the visit's one-time token",
    ("POST", "/h/{token}"): "a citizen's tap after a visit at home: the visit's token, once, a form cookie, "
                            "limited per address",
    ("GET", "/h/{token}/chi-tiet"): "the reasons after that tap: only the browser that rated (a key in its cookie)",
    ("POST", "/h/{token}/chi-tiet"): "the reasons and call-back after that tap: the rater's key, once, a form "
                                     "cookie, limited per address",
}

# Routes tablets call: refused without the device's signature.
SIGNED = {
    ("POST", f"{API_PREFIX}/batches"),
    ("POST", f"{API_PREFIX}/seal-key"),
    ("GET", f"{API_PREFIX}/roster"),
    ("GET", f"{API_PREFIX}/roster/portraits/{{officer_id}}"),
    ("GET", f"{API_PREFIX}/surveys"),
}


def _routes() -> list[tuple[str, str]]:
    found = []
    for router in (*ROUTERS, *PAGE_ROUTERS):
        for route in router.routes:
            assert isinstance(route, APIRoute), route
            for method in sorted(route.methods - {"HEAD"}):
                found.append((method, route.path))
    return found


ROUTES = _routes()


def test_the_letters_are_routes_for_signed_in_callers_only() -> None:
    # A letter names the citizen: each download is a page route, refused below to anonymous callers.
    letters = {("GET", "/cases/{case_id}/letters/apology.pdf"), ("GET", "/cases/{case_id}/letters/apology.docx"),
               ("GET", "/comments/{comment_id}/letters/thanks.pdf"),
               ("GET", "/comments/{comment_id}/letters/thanks.docx")}
    assert letters <= set(ROUTES) and not letters & set(PUBLIC)


def test_the_lists_name_only_routes_that_exist() -> None:
    assert set(PUBLIC) <= set(ROUTES), set(PUBLIC) - set(ROUTES)
    assert SIGNED <= set(ROUTES), SIGNED - set(ROUTES)
    assert len(ROUTES) > 20


@pytest.mark.parametrize(("method", "path"), [r for r in ROUTES if r not in PUBLIC])
def test_anonymous_callers_are_refused(commune, method: str, path: str) -> None:
    url = commune.url + re.sub(r"\{[^}]+\}", "x", path)
    answer = requests.request(method, url, timeout=10, allow_redirects=False,
                              data={"x": "1"} if method == "POST" else None)
    if (method, path) in SIGNED:
        assert answer.status_code == 401, (method, path, answer.status_code)
        assert answer.json()["error"] in ("unknown_device", "bad_signature")
    elif path.startswith(API_PREFIX):
        assert answer.status_code == 401, (method, path, answer.status_code)
    elif method == "GET":
        # A page: sent to the login page, nothing of the page shown.
        assert answer.status_code in (303, 307), (method, path, answer.status_code)
        assert answer.headers["location"].startswith("/login")
    else:
        # A form post without a session: refused before anything changes.
        assert answer.status_code in (303, 401, 403), (method, path, answer.status_code)
        if answer.status_code == 303:
            assert answer.headers["location"].startswith("/login")


# The periodic reports: each route is refused to anonymous callers above; these
# name them, so a report route dropped from the dashboard (or made public) fails here.
REPORT_ROUTES = {("GET", "/reports"), ("POST", "/reports/download"), ("POST", "/reports/archive")}


def test_the_report_routes_are_listed_and_never_public() -> None:
    assert REPORT_ROUTES <= set(ROUTES), REPORT_ROUTES - set(ROUTES)
    assert not REPORT_ROUTES & set(PUBLIC)


def test_an_anonymous_report_download_gets_no_file(commune) -> None:
    for path, data in (("/reports/download", {"format": "xlsx", "kind": "year", "day": "2026-01-01"}),
                       ("/reports/archive", {"kind": "half", "day": "2026-01-01"})):
        answer = requests.post(commune.url + path, data=data, timeout=10, allow_redirects=False)
        assert answer.status_code in (303, 401, 403), (path, answer.status_code)
        assert not answer.content.startswith((b"PK", b"%PDF"))


def test_the_erase_callback_route_is_listed_and_never_public() -> None:
    # A leader erases a citizen's number from the case page; refused to anonymous callers above.
    route = ("POST", "/cases/{case_id}/erase-callback")
    assert route in set(ROUTES) and route not in PUBLIC


# Ratings at home: the officer's pages, each refused to anonymous callers above;
# who among the logged-in may use them is proved in tests/web/test_home_visits.py.
HOME_VISIT_ROUTES = {("GET", "/home-visits"): "officer, leader, admin",
                     ("POST", "/home-visits"): "officer (for themselves), leader, admin (for anyone)",
                     ("GET", "/home-visits/{visit_id}"): "its maker, its officer, leader, admin; with its token"}


def test_the_home_visit_routes_are_listed_and_never_public() -> None:
    assert set(HOME_VISIT_ROUTES) <= set(ROUTES), set(HOME_VISIT_ROUTES) - set(ROUTES)
    assert not set(HOME_VISIT_ROUTES) & set(PUBLIC)


# The survey results: each route is refused to anonymous callers above; that an
# officer is refused every one (403) is proved in tests/web/test_survey_results_pages.py.
SURVEY_RESULTS_ROUTES = {
    ("GET", "/survey-results"): "admin, observer, leader",
    ("GET", "/survey-results/compare"): "admin, observer, leader",
    ("GET", "/survey-results/compare.{fmt}"): "admin, observer, leader (audited)",
    ("GET", "/survey-results/{campaign_id}"): "admin, observer, leader; citizens' texts for observer and leader",
    ("GET", "/survey-results/{campaign_id}/results.{fmt}"): "admin, observer, leader (audited); texts likewise",
    ("GET", "/survey-results/{campaign_id}/questionnaire.pdf"): "admin, observer, leader (audited)",
}


def test_the_survey_results_routes_are_listed_and_never_public() -> None:
    assert set(SURVEY_RESULTS_ROUTES) <= set(ROUTES), set(SURVEY_RESULTS_ROUTES) - set(ROUTES)
    assert not set(SURVEY_RESULTS_ROUTES) & set(PUBLIC)
