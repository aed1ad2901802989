"""What the citizens' public forms share (the comment form and suggestion
box, a survey's phone page, the rating at home): a double-submit token, kept
in a cookie of the form's own path and in a hidden field, so that another
site cannot post in a citizen's name; and the short page that only says
something (received, expired, too many posts…)."""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request, Response

from server.web.render import page

__all__ = ["FORM_TOKEN_MAX_AGE_S", "new_form_token", "form_token_ok", "keep_form_token", "message_page"]

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
