"""The paired devices' health, for the commune's technician."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from server.answers import ERROR_RESPONSES, ApiError
from server.deps import Operator, get_registry, operator
from server.registry import DeviceRegistry
from server.schemas import DeviceHealthOut
from sync.protocol import API_PREFIX, ErrorCode

__all__ = ["router"]

router = APIRouter(prefix=API_PREFIX, tags=["devices"])


@router.get("/devices", response_model=list[DeviceHealthOut])
def list_devices(_operator: Operator = Depends(operator),
                 registry: DeviceRegistry = Depends(get_registry)) -> list[dict[str, Any]]:
    """Every paired device's health: last seen, app version, pending
    count, clock offset, chain status and findings. (Operators; the login
    comes with the dashboard.)"""
    return registry.health()


@router.get("/devices/{device_id}", response_model=DeviceHealthOut, responses=ERROR_RESPONSES)
def device_health(device_id: str, _operator: Operator = Depends(operator),
                  registry: DeviceRegistry = Depends(get_registry)) -> dict[str, Any]:
    """One device's health. (Operators; the login comes with the dashboard.)"""
    found = registry.health(device_id)
    if not found:
        raise ApiError(404, ErrorCode.NOT_FOUND, f"no device {device_id}")
    return found[0]
