"""The compiled check of a rating (server.rating_check) never accepts what the
contract's checks (server.ingest.record_of_item) refuse, and builds the very
record they build: generated ratings of every format, with fields changed,
dropped and added. Read from a batch's JSON with the envelope in one pass
(server.schemas.RatingsBatchIn), the records come out as the two steps make
them: the envelope read as any batch, then the compiled check."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from server.ingest import record_of_item
from server.rating_check import CHECKED_VERSIONS, checked_rating, checked_ratings_times
from server.schemas import BatchIn, RatingsBatchIn
from sync.record import GENESIS_HASH, KIND_RATING, Record, seal
from sync.seal import seal_record

KEY = bytes(range(32))


def rating(version: int, *, sealed: bool, dossier_code: str | None = None, seq: int = 7) -> dict[str, Any]:
    """A valid rating's wire form, in format ``version``."""
    record = seal(Record(
        kind=KIND_RATING, uuid=str(uuid.UUID(int=seq, version=4)), device_id="tablet-1", seq=seq,
        prev_hash=GENESIS_HASH, device_time="2026-03-02T08:15:00.250+07:00", monotonic_ns=5_000_000,
        boot_id="boot-1", app_version="0.1.0", officer_id="nguyen-thi-lan", counter_id="quay-1",
        score=2, scale=3, level="neutral", burst=False, comment_token="t" * 16,
        dossier_code=dossier_code if version >= 3 else None, v=version,
    ))
    if sealed and version >= 2:
        record = Record.from_dict({**record.to_dict(), "seal": seal_record(KEY, record)})
    return record.to_dict()


def contract(raw: Any) -> Record | None:
    """What the contract's own checks make of ``raw``: its record, or None when refused."""
    try:
        return record_of_item(raw)
    except (ValueError, TypeError):
        return None


def typed(record: Record) -> list[tuple[str, type, Any]]:
    """Every field with its value and the value's exact type (3.0 is not 3, True is not 1)."""
    return [(name, type(value), value) for name, value in sorted(vars(record).items())]


TRICKY_TEXT = [
    "", "\x00", "a\x00b", "\ud800", "x" * 500, "x" * 501, "é" * 500, "Nguyễn Thị Lan", " ", "\n",
    "0" * 64, "A" * 64, "0" * 64 + "\n", "0" * 63, "g" * 64,
    "00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-00000000000A",
    "2026-03-02T08:15:00.250+07:00", "2026-03-02T08:15:00.250+07:00\n", "2026-02-30T08:15:00.250+07:00",
    "２０２６-03-02T08:15:00.250+07:00", "2026-03-02T08:15:00+07:00", "0001-01-01T00:00:00.000+14:00",
    "9999-12-31T23:59:59.999-14:00", "2026-03-02T08:15:00.250+24:00",
    "HS-2026-001", "a b", "mã-hồ-sơ", "x" * 64, "x" * 65, "\x7f", "rating", "details", "3",
]
VALUES = st.one_of(
    st.sampled_from(TRICKY_TEXT),
    st.text(max_size=80),
    st.integers(min_value=-(2**65), max_value=2**65),
    st.sampled_from([0, 1, 2, 3, 4, 5, 6, -1, 2**63 - 1, 2**63, -(2**63)]),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1.0, 2.0, 3.0, 7.0]),
    st.lists(st.text(max_size=4), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)
FIELD_NAMES = [*rating(3, sealed=True, dossier_code="HS-1"), "extra", "rating_uuid", "reasons", "callback_box"]
CHANGES = st.lists(
    st.tuples(st.sampled_from(["set", "twist", "drop"]), st.sampled_from(FIELD_NAMES), VALUES,
              st.integers(min_value=0, max_value=7)),
    min_size=1, max_size=3,
)


def twisted(value: Any, how: int) -> Any:
    """A near miss of a field's own value: the same number as a float or a
    bool, one more or less, as text, with a newline, upper-cased, null."""
    if isinstance(value, bool):
        return [int(value), not value, str(value).lower(), None][how % 4]
    if isinstance(value, int):
        return [float(value), value + 1, value - 1, bool(value), str(value), -value, None, value * 2**40][how]
    if isinstance(value, str):
        return [value + "\n", value.upper(), value[:-1], value + "0", " " + value, "", None, value * 2][how]
    return None


def changed(raw: dict[str, Any], changes: list[tuple[str, str, Any, int]]) -> dict[str, Any]:
    """``raw`` with the generated changes made: fields set, twisted or dropped."""
    for change, name, value, how in changes:
        if change == "set":
            raw[name] = value
        elif change == "twist":
            raw[name] = twisted(raw.get(name), how)
        else:
            raw.pop(name, None)
    return raw


@pytest.mark.parametrize("version", (1, 2, 3))
@pytest.mark.parametrize("sealed", (True, False))
@pytest.mark.parametrize("dossier_code", (None, "HS-2026-001", "mã-hồ-sơ"))
def test_an_honest_rating_is_checked_in_compiled_code_into_the_contracts_record(version, sealed, dossier_code):
    raw = rating(version, sealed=sealed, dossier_code=dossier_code)
    expected = contract(raw)
    assert expected is not None
    checked = checked_rating(raw)
    if version not in CHECKED_VERSIONS or (version >= 3 and dossier_code == "mã-hồ-sơ"):
        # An older format, or a dossier code beyond printable ASCII: the contract decides.
        assert checked is None
    else:
        assert checked is not None
        assert typed(checked) == typed(expected)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(version=st.sampled_from([1, 2, 3]), sealed=st.booleans(), changes=CHANGES)
def test_what_the_compiled_check_accepts_the_contract_accepts_alike(version, sealed, changes):
    raw = changed(rating(version, sealed=sealed, dossier_code="HS-1"), changes)
    checked = checked_rating(raw)
    if checked is not None:
        expected = contract(raw)
        assert expected is not None, raw
        assert typed(checked) == typed(expected)


def test_things_a_tablet_never_sends_are_left_to_the_contract():
    base = rating(3, sealed=True)
    assert checked_rating(base) is not None
    for name, value in [("v", 3.0), ("v", True), ("seq", True), ("score", 3.0), ("score", 4), ("burst", 0),
                        ("boot_id", "a\x00b"), ("boot_id", "\ud800"), ("hash", ""), ("hash", "A" * 64),
                        ("device_time", "2026-02-30T08:15:00.250+07:00"), ("seq", 2**63)]:
        changed = {**base, name: value}
        assert checked_rating(changed) is None, (name, value)
    assert checked_rating({**base, "extra": 1}) is None
    assert checked_rating({k: v for k, v in base.items() if k != "seal"}) is None
    assert checked_rating([base]) is None


def batch_body(records: list[Any], *, duplicate: str = "") -> bytes:
    """A batch's JSON body carrying ``records``; ``duplicate``: text put
    after the last record's first field (a key given twice)."""
    text = json.dumps({"protocol": 1, "device_id": "tablet-1", "idempotency_key": "batch-0001",
                       "sent_at": "2026-03-02T08:16:00.000+07:00", "sent_monotonic_ns": 6_000_000,
                       "boot_id": "boot-1", "app_version": "0.1.0", "pending": 0, "records": records},
                      ensure_ascii=False)
    if duplicate:
        head, brace, tail = text.rpartition("{")
        first, comma, rest = tail.partition(", ")
        text = head + brace + first + comma + duplicate + ", " + rest
    return text.encode("utf-8", "surrogatepass")


def read_in_one_pass(body: bytes) -> list[Any] | None:
    """The records as the common batch's one pass reads them (None: it
    refuses them, and the batch is read again as any batch)."""
    try:
        records = RatingsBatchIn.model_validate_json(body).records
    except ValidationError:
        return None
    return records if checked_ratings_times(records, schema_checked=True) is not None else None


def read_in_two_steps(body: bytes) -> list[Any] | None:
    """The records as any batch's envelope reads them, when the compiled check then vouches for them."""
    try:
        records = BatchIn.model_validate_json(body).records
    except ValidationError:
        return None
    return records if checked_ratings_times(records) is not None else None


def typed_items(records: list[Any]) -> list[list[tuple[str, type, Any]]]:
    return [[(name, type(value), value) for name, value in sorted(item.items())] for item in records]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(version=st.sampled_from([1, 2, 3]), sealed=st.booleans(), changes=CHANGES,
       duplicate=st.sampled_from(["", '"score": 3', '"seq": 7', '"extra": 1']))
def test_ratings_read_with_the_envelope_in_one_pass_come_out_as_in_two_steps(version, sealed, changes, duplicate):
    raw = changed(rating(version, sealed=sealed, dossier_code="HS-1"), changes)
    try:
        body = batch_body([rating(3, sealed=True, seq=6), raw], duplicate=duplicate)
    except ValueError:  # a float JSON cannot carry
        return
    one, two = read_in_one_pass(body), read_in_two_steps(body)
    assert (one is None) == (two is None), (one, two)
    if one is not None:
        assert typed_items(one) == typed_items(two)


def test_a_batch_of_honest_ratings_is_read_in_one_pass_and_any_other_is_left_to_the_two_steps():
    honest = [rating(version, sealed=True, seq=seq) for seq, version in ((5, 2), (6, 3))]
    assert typed_items(read_in_one_pass(batch_body(honest))) == typed_items(honest)
    details = {**rating(3, sealed=True, seq=7), "kind": "details"}
    assert read_in_one_pass(batch_body([*honest, details])) is None
    assert read_in_one_pass(batch_body([rating(1, sealed=False)])) is None
    # The envelope's own limits hold in the one pass too.
    assert read_in_one_pass(batch_body(honest).replace(b'"pending": 0', b'"pending": -1')) is None
