"""The page a person sees when the server refuses a request for its own
limits: a body too large (413) or too slow (408), the database busy (503) or
the disk full (507).

Drawn without touching the database (no session, no settings): the database
may be what failed, and a refusal before the application runs has no
session. The language still comes from the ``lang`` cookie.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import HTTPConnection

from server.i18n import language_of, translator
from server.web.render import LANG_COOKIE, environment

__all__ = ["REASONS", "refusal_html"]

REASONS = ("too_large", "too_slow", "busy", "disk_full")
"""The refusals with a page of their own (keys ``limits.<reason>.title`` / ``.text``)."""


def refusal_html(scope: dict[str, Any], reason: str, *, status: int) -> bytes:
    """The refusal page for the request of ``scope``, as UTF-8 HTML."""
    connection = HTTPConnection(scope)
    lang = language_of(connection.cookies.get(LANG_COOKIE))
    t = translator(lang)
    html = environment.get_template("refusal.html").render(
        request=None, account=None, role=None, lang=lang, t=t, csrf="", nav=[], nav_counts={},
        path=scope.get("path", "/"), commune=t("app.commune_unknown"), reason=reason if reason in REASONS else "busy",
        status=status,
    )
    return html.encode("utf-8")
