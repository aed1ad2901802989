"""Logging in from tests without a browser, and the accounts of each role.
(No tests here.)"""

from __future__ import annotations

import re

import requests
from sqlalchemy import Engine

from server.accounts import AccountBook, Role

__all__ = ["PASSWORDS", "make_accounts", "api_login", "form_token", "logged_in_admin"]

PASSWORDS = {role: f"{role.value}-mật-khẩu-đủ-dài" for role in Role}
"""Each role's test account is named after the role and has this password."""


def make_accounts(engine: Engine, officer_id: str = "nguyen-van-an") -> dict[Role, str]:
    """One account per role, made through the real code; the officer's is
    tied to ``officer_id``. Returns each role's username."""
    book = AccountBook(engine)
    for role in Role:
        book.create(role.value, PASSWORDS[role], role, display_name=f"Tài khoản {role.value}",
                    officer_id=officer_id if role is Role.OFFICER else None)
    return {role: role.value for role in Role}


def form_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = re.search(r'name="csrf" value="([^"]*)"', html)
    assert found, "no csrf field on the page"
    return found.group(1)


def api_login(base_url: str, username: str, password: str) -> requests.Session:
    """A requests session logged in through the login page, as a browser would."""
    http = requests.Session()
    form = http.get(f"{base_url}/login", timeout=10)
    answer = http.post(f"{base_url}/login", timeout=10, allow_redirects=False, data={
        "username": username, "password": password, "csrf": form_token(form.text), "next": "/"})
    assert answer.status_code == 303, answer.text
    return http


def logged_in_admin(commune) -> requests.Session:
    """A requests session logged in as a new admin of ``commune`` (a
    :class:`tests.sync_support.Commune`), for the operators' API."""
    AccountBook(commune.engine).create("technician", PASSWORDS[Role.ADMIN], Role.ADMIN)
    return api_login(commune.url, "technician", PASSWORDS[Role.ADMIN])
