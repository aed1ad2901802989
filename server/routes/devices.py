"""The paired devices' health, for the commune's technician and leaders."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from server.accounts import Account, Role
from server.answers import ERROR_RESPONSES, ApiError
from server.deps import get_registry, require
from server.registry import DeviceRegistry
from server.schemas import DeviceHealthOut
from sync.protocol import API_PREFIX, ErrorCode

__all__ = ["router"]

router = APIRouter(prefix=API_PREFIX, tags=["devices"])

_admin_or_leader = require(Role.ADMIN, Role.LEADER)


@router.get("/devices", response_model=list[DeviceHealthOut])
def list_devices(_account: Account = Depends(_admin_or_leader),
                 registry: DeviceRegistry = Depends(get_registry)) -> list[dict[str, Any]]:
    """Every paired device's health: last seen, app version, pending
    count, clock offset, chain status and findings. (Admin, leader: logged
    in on the dashboard; anonymous callers get 401.)"""
    return registry.health()


@router.get("/devices/{device_id}", response_model=DeviceHealthOut, responses=ERROR_RESPONSES)
def device_health(device_id: str, _account: Account = Depends(_admin_or_leader),
                  registry: DeviceRegistry = Depends(get_registry)) -> dict[str, Any]:
    """One device's health. (Admin, leader: logged in on the dashboard.)"""
    found = registry.health(device_id)
    if not found:
        raise ApiError(404, ErrorCode.NOT_FOUND, f"no device {device_id}")
    return found[0]
