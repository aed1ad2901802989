"""Is the server up, what time does it have, and is its disk all right."""

from __future__ import annotations

from fastapi import APIRouter, Request

from server.clock import utc_text
from sync.protocol import API_PREFIX

__all__ = ["router"]

router = APIRouter(prefix=API_PREFIX, tags=["service"])


@router.get("/health")
async def health(request: Request) -> dict[str, str]:
    """The server is up; its clock; its disk (``ok``, ``low`` or ``full``).
    (Anyone.)

    Answered from memory on the event loop, never from the database nor a
    worker thread: it stays quick while the database is locked or every
    worker is waiting on it."""
    state = request.app.state
    disk = state.disk_alarm.state()
    return {"status": "ok", "server_time": utc_text(state.clock()),
            "disk": "full" if disk.full else "low" if disk.low else "ok"}
