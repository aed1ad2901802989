"""Is the server up, and what time does it have."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from server.clock import Clock, utc_text
from server.deps import get_clock
from sync.protocol import API_PREFIX

__all__ = ["router"]

router = APIRouter(prefix=API_PREFIX, tags=["service"])


@router.get("/health")
def health(clock: Clock = Depends(get_clock)) -> dict[str, str]:
    """The server is up; its clock. (Anyone.)"""
    return {"status": "ok", "server_time": utc_text(clock())}
