"""The survey campaigns this tablet asks, fetched from the commune server
(``GET /api/v1/surveys``, signed, with ``If-None-Match``): the tablet keeps
them in its database (:mod:`kiosk.store.surveys`) and asks them offline.

    campaigns = SurveyFetch(link).fetch(etag)   # (list, etag), or None when unchanged
"""

from __future__ import annotations

import json
from typing import Any

from kiosk.link.transport import ServerLink
from sync.protocol import API_PREFIX

__all__ = ["SURVEYS_PATH", "SurveyFetch", "SurveyFetchError"]

SURVEYS_PATH = f"{API_PREFIX}/surveys"


class SurveyFetchError(RuntimeError):
    """The server's answer is not a list of campaigns."""


class SurveyFetch:
    """Fetches the campaigns of one tablet."""

    def __init__(self, link: ServerLink):
        self.link = link

    def fetch(self, etag: str | None = None) -> tuple[list[dict[str, Any]], str | None] | None:
        """The campaigns' wire forms and the answer's ETag; ``None`` when
        they did not change since ``etag`` (304). Raises ``TransportError``
        when the server cannot be reached or has no surveys (an older
        server), :class:`SurveyFetchError` for an answer of the wrong shape.
        Each campaign is checked by the contract when it is kept."""
        fetched = self.link.get_signed(SURVEYS_PATH, etag)  # timed by the link's clock
        if fetched.body is None:
            return None
        try:
            document = json.loads(fetched.body)
        except ValueError:
            raise SurveyFetchError("the campaigns are not JSON") from None
        campaigns = document.get("campaigns") if isinstance(document, dict) else None
        if not isinstance(campaigns, list):
            raise SurveyFetchError("the answer has no list of campaigns")
        return campaigns, fetched.etag
