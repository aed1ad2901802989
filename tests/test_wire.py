"""The wire contract (sync.wire) is one definition read two ways: the tablet's
pure-Python parser and the server's pydantic models derived from it. They must
accept and refuse the same things, and what the real server sends must be
exactly the contract's shapes, no more and no less.
"""

from __future__ import annotations

import dataclasses
import json
import types
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from kiosk.link.credentials import load_credentials
from kiosk.link.transport import ServerLink
from server import schemas
from server.roster import RosterStore
from sync import wire
from sync.protocol import API_PREFIX, DEVICE_CODE_GRANT, MAX_INT
from tests.sync_support import post, roster_file
from tests.web.support import logged_in_admin

STRICT = {shape: schemas.model_for(shape, strict=True) for shape in wire.SHAPES}


def strategy(tp: Any) -> st.SearchStrategy:
    """Values that satisfy a contract annotation, limits included."""
    origin = get_origin(tp)
    if origin is Annotated:
        base, *markers = get_args(tp)
        return _limited(base, markers)
    if tp is Any:
        nested = st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)
        return st.one_of(st.none(), st.integers(), st.text(max_size=5), nested)
    if origin in (Union, types.UnionType):
        return st.one_of(*(strategy(o) for o in get_args(tp)))
    if origin is Literal:
        return st.sampled_from(get_args(tp))
    if origin is list:
        return st.lists(strategy(get_args(tp)[0]), max_size=3)
    if origin is dict:
        return st.dictionaries(st.text(max_size=8), strategy(get_args(tp)[1]), max_size=3)
    if dataclasses.is_dataclass(tp):
        return st.builds(tp, **{f.name: strategy(wire.hints(tp)[f.name]) for f in dataclasses.fields(tp)})
    if tp is type(None):
        return st.none()
    return {
        bool: st.booleans(),
        int: st.integers(-(2**63), MAX_INT),
        float: st.floats(allow_nan=False, allow_infinity=False, width=64),
        str: st.text(max_size=20),
    }[tp]


def _limited(base: Any, markers: list[Any]) -> st.SearchStrategy:
    pattern = next((m.regex for m in markers if isinstance(m, wire.Pattern)), None)
    size = next((m for m in markers if isinstance(m, wire.Size)), None)
    bounds = next((m for m in markers if isinstance(m, wire.Range)), None)
    optional = get_origin(base) in (Union, types.UnionType)
    inner = next((o for o in get_args(base) if o is not type(None)), base) if optional else base
    if pattern is not None:
        values = st.from_regex(pattern, fullmatch=True)
    elif size is not None and inner is str:
        values = st.text(min_size=size.min or 0, max_size=min(size.max or 40, 40))
    elif size is not None and get_origin(inner) is list:
        values = st.lists(strategy(get_args(inner)[0]), min_size=size.min or 0, max_size=3)
    elif bounds is not None:
        values = st.integers(min_value=bounds.ge, max_value=bounds.le)
    else:
        values = strategy(inner)
    return st.one_of(st.none(), values) if optional else values


def _any_shape() -> st.SearchStrategy:
    return st.sampled_from(wire.SHAPES).flatmap(lambda shape: st.tuples(st.just(shape), strategy(shape)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_any_shape())
def test_every_shape_round_trips_through_both_readers(case: tuple[type, Any]) -> None:
    shape, value = case
    sent = json.loads(json.dumps(wire.to_wire(value)))
    assert wire.parse(shape, sent, extra="forbid") == value
    model = STRICT[shape].model_validate(sent)
    assert json.loads(model.model_dump_json()) == sent


def _required(shape: type) -> list[str]:
    return [f.name for f in dataclasses.fields(shape) if f.default is dataclasses.MISSING]


def _wrong_type(tp: Any) -> Any:
    """A JSON value of another type than the annotation allows."""
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    if tp is Any:
        return None
    options = get_args(tp) if get_origin(tp) in (Union, types.UnionType) else (tp,)
    if str in options or get_origin(options[0]) is Literal and isinstance(get_args(options[0])[0], int):
        return [1]
    return "1"


@given(st.data())
@settings(max_examples=120, deadline=None)
def test_both_readers_refuse_the_same_broken_bodies(data: st.DataObject) -> None:
    shape = data.draw(st.sampled_from(wire.SHAPES))
    sent = json.loads(json.dumps(wire.to_wire(data.draw(strategy(shape)))))
    how = data.draw(st.sampled_from(["drop", "retype", "extra"]))
    if how == "drop":
        if not _required(shape):
            return
        del sent[data.draw(st.sampled_from(_required(shape)))]
    elif how == "retype":
        name = data.draw(st.sampled_from([f.name for f in dataclasses.fields(shape)]))
        broken = _wrong_type(wire.hints(shape)[name])
        if broken is None:
            return
        sent[name] = broken
    else:
        sent["not_in_the_contract"] = 1
    with pytest.raises(wire.WireError):
        wire.parse(shape, sent, extra="forbid")
    with pytest.raises(ValidationError):
        STRICT[shape].model_validate(sent)


@pytest.mark.parametrize(
    ("shape", "changes", "field_path"),
    [
        (wire.BatchRequest, {"protocol": True}, "protocol"),
        (wire.BatchRequest, {"pending": -1}, "pending"),
        (wire.BatchRequest, {"idempotency_key": "short"}, "idempotency_key"),
        (wire.BatchRequest, {"device_id": "ok\n"}, "device_id"),
        (wire.DeviceCodeRequest, {"label": "x" * 201}, "label"),
        (wire.RecordResult, {"status": "lost"}, "status"),
        (wire.RosterPhoto, {"sha256": "ABC"}, "sha256"),
    ],
)
@given(data=st.data())
@settings(max_examples=10, deadline=None)
def test_limits_are_read_alike(shape: type, changes: dict, field_path: str, data: st.DataObject) -> None:
    good = json.loads(json.dumps(wire.to_wire(data.draw(strategy(shape)))))
    STRICT[shape].model_validate(good)
    broken = {**good, **changes}
    with pytest.raises(wire.WireError) as refused:
        wire.parse(shape, broken)
    assert refused.value.path == field_path
    with pytest.raises(ValidationError):
        STRICT[shape].model_validate(broken)


def test_a_newer_servers_extra_field_is_ignored_by_default() -> None:
    answer = {"error": "busy", "detail": "try later", "retry_hint": 3}
    assert wire.parse(wire.ErrorAnswer, answer) == wire.ErrorAnswer("busy", "try later")
    with pytest.raises(wire.WireError):
        wire.parse(wire.ErrorAnswer, answer, extra="forbid")


def test_the_openapi_schemas_come_from_the_contract(commune) -> None:
    spec = requests.get(f"{commune.url}/openapi.json", timeout=10).json()
    components = spec["components"]["schemas"]
    body = spec["paths"][f"{API_PREFIX}/batches"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    batch = components[body["$ref"].rsplit("/", 1)[1]] if "$ref" in body else body
    assert set(batch["properties"]) == {f.name for f in dataclasses.fields(wire.BatchRequest)}
    assert batch["additionalProperties"] is False
    assert batch["properties"]["idempotency_key"]["pattern"] == "^[A-Za-z0-9_-]{8,100}$"
    health = components["DeviceHealthOut"]
    assert set(health["properties"]) == {f.name for f in dataclasses.fields(wire.DeviceHealth)}


@pytest.mark.slow
def test_what_the_real_server_sends_is_exactly_the_contract(commune, tablet) -> None:
    """Pairing, a batch answer, a replayed answer, the roster and device health
    from the real server over loopback, each read with unknown fields refused:
    a field added on one end only fails here."""
    RosterStore(commune.engine).import_file(roster_file(tablet))
    tablet.rate(3)
    credentials = load_credentials(tablet.store.device_secret_path)
    now = datetime.now(UTC)

    request = wire.BatchRequest(
        protocol=1, device_id=credentials.device_id, idempotency_key="contract-test-1",
        sent_at=now.astimezone().isoformat(timespec="milliseconds"), sent_monotonic_ns=1, boot_id="boot",
        app_version="0.1.0", pending=0, records=[r.to_dict() for r in tablet.store.records()],
    )
    body = json.dumps(wire.to_wire(request)).encode("utf-8")
    for replay in (False, True):
        sent = post(commune, credentials.device_id, credentials.secret, body)
        assert sent.status_code == 200, sent.text
        answer = wire.parse(wire.BatchAnswer, sent.json(), extra="forbid")
        assert answer.replay is replay
        assert [r.status for r in answer.results] == ["stored"] * 3

    pairing = requests.post(f"{commune.url}{API_PREFIX}/pair/device-code",
                            json={"device_id": "other-tablet", "label": "Quầy 2"}, timeout=10)
    assert pairing.status_code == 200
    authorization = wire.parse(wire.DeviceAuthorization, pairing.json(), extra="forbid")
    token = requests.post(f"{commune.url}{API_PREFIX}/pair/token", timeout=10, json=wire.to_wire(
        wire.TokenRequest(grant_type=DEVICE_CODE_GRANT, device_code=authorization.device_code)))
    assert token.status_code == 400
    assert wire.parse(wire.ErrorAnswer, token.json(), extra="forbid").error == "authorization_pending"

    fetched = ServerLink(commune.url, credentials).get_signed(
        f"{API_PREFIX}/roster", None, now.isoformat(timespec="seconds"))
    roster = wire.parse(wire.RosterDocument, json.loads(fetched.body), extra="forbid")
    assert [o.id for o in roster.officers] == [o.id for o in tablet.settings.officers]

    health = logged_in_admin(commune).get(f"{commune.url}{API_PREFIX}/devices/{credentials.device_id}", timeout=10)
    assert health.status_code == 200
    assert wire.parse(wire.DeviceHealth, health.json(), extra="forbid").records_count == 3
