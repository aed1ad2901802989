"""What the citizens' public forms share (the comment form and suggestion
box, a survey's phone page, the rating at home): a double-submit token, kept
in a cookie of the form's own path and in a hidden field, so that another
site cannot post in a citizen's name; and the short page that only says
something (received, expired, too many posts…)."""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable

from fastapi import Request, Response

from server.web.render import page

__all__ = [
    "FORM_TOKEN_MAX_AGE_S",
    "SpentTokens",
    "new_form_token",
    "form_token_ok",
    "keep_form_token",
    "message_page",
]

FORM_TOKEN_MAX_AGE_S = 4 * 3600
"""How long a form stays postable after it was opened."""


def new_form_token() -> str:
    """A fresh token for one form's hidden field and cookie."""
    return secrets.token_urlsafe(24)


def keep_form_token(request: Request, response: Response, cookie: str, token: str, path: str) -> Response:
    """Set the form's cookie (HTTP-only, same-site, under ``path``) on ``response``."""
    response.set_cookie(cookie, token, max_age=FORM_TOKEN_MAX_AGE_S, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path=path)
    return response


def form_token_ok(request: Request, cookie: str, sent: str) -> bool:
    """Whether the hidden field's token is the one in the form's cookie."""
    expected = request.cookies.get(cookie, "")
    return bool(expected) and hmac.compare_digest(sent.encode("utf-8"), expected.encode("utf-8"))


def message_page(request: Request, template: str, state: str, status_code: int, **context) -> Response:
    """A page that only says something; a refusal for too many posts says
    when to come back."""
    response = page(request, template, status_code=status_code, state=state, **context)
    if status_code == 429:
        response.headers["Retry-After"] = "3600"
    return response


class SpentTokens:
    """Form tokens that have already stored something, so that the same form
    posted again (a double tap on "Gửi", a reload of the answer) stores
    nothing more. A token lives no longer than its cookie, so it is
    remembered that long, in memory (the server is one process); a form that
    was refused comes back with a new token."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_age_s: float = FORM_TOKEN_MAX_AGE_S):
        self._clock = clock
        self._max_age_s = max_age_s
        self._spent: dict[str, float] = {}
        self._lock = threading.Lock()

    def spend(self, token: str) -> bool:
        """Mark ``token`` used; False if it already was."""
        now = self._clock()
        with self._lock:
            if len(self._spent) > 1000:
                self._spent = {t: at for t, at in self._spent.items() if now - at < self._max_age_s}
            at = self._spent.get(token)
            if at is not None and now - at < self._max_age_s:
                return False
            self._spent[token] = now
            return True
