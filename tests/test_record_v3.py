"""Format 3 of the record: the ``correction`` kind and a rating's ``dossier_code``,
added without changing a single byte of version 1 and 2 records."""

from __future__ import annotations

import pytest

from sync.record import (
    FORMAT_VERSION,
    GENESIS_HASH,
    KIND_CORRECTION,
    KIND_RATING,
    Record,
    RecordError,
    canonical_bytes,
    kind_fields,
    seal,
    verify_chain,
)

DEVICE = "5b0c9a52-3a1e-4f0e-9d8e-2f1f6a0c0b11"
RATING_UUID = "00000000-0000-4000-8000-000000000001"


def _rating(**changes: object) -> Record:
    values: dict = dict(kind=KIND_RATING, uuid=RATING_UUID, device_id=DEVICE, seq=1, prev_hash=GENESIS_HASH,
                        device_time="2026-01-05T08:00:00.000+07:00", monotonic_ns=10**9, boot_id="boot-1",
                        app_version="0.1.0", officer_id="nguyen-thi-lan", counter_id="quay-1", score=1, scale=3,
                        level="unsatisfied", burst=False, comment_token="tok")
    values.update(changes)
    return seal(Record(**values))


def _correction(rating: Record, **changes: object) -> Record:
    values: dict = dict(kind=KIND_CORRECTION, uuid="00000000-0000-4000-8000-000000000002", device_id=DEVICE,
                        seq=rating.seq + 1, prev_hash=rating.hash, device_time="2026-01-05T08:00:03.000+07:00",
                        monotonic_ns=4 * 10**9, boot_id="boot-1", app_version="0.1.0", rating_uuid=rating.uuid,
                        score=3, scale=3, level="very_satisfied")
    values.update(changes)
    return seal(Record(**values))


def test_format_3_is_current_and_pinned() -> None:
    record = _rating(dossier_code="000.00.20.H12-260105-0001")
    assert record.v == FORMAT_VERSION == 3
    assert canonical_bytes(record) == (
        b'{"app_version":"0.1.0","boot_id":"boot-1","burst":false,"comment_token":"tok",'
        b'"counter_id":"quay-1","device_id":"5b0c9a52-3a1e-4f0e-9d8e-2f1f6a0c0b11",'
        b'"device_time":"2026-01-05T08:00:00.000+07:00","dossier_code":"000.00.20.H12-260105-0001",'
        b'"kind":"rating","level":"unsatisfied","monotonic_ns":1000000000,"officer_id":"nguyen-thi-lan",'
        b'"prev_hash":"' + GENESIS_HASH.encode() + b'","scale":3,"score":1,"seq":1,"simulated":false,'
        b'"uuid":"00000000-0000-4000-8000-000000000001","v":3}'
    )
    # A rating without a hand-over carries the field as null: it is still hashed.
    assert b'"dossier_code":null' in canonical_bytes(_rating())


@pytest.mark.parametrize("version", [1, 2])
def test_older_ratings_keep_exactly_their_fields(version: int) -> None:
    old = _rating(v=version)
    assert "dossier_code" not in old.to_dict() and b"dossier_code" not in canonical_bytes(old)
    assert Record.from_dict(old.to_dict()) == old
    with pytest.raises(RecordError, match="^dossier_code: unknown field"):
        Record.from_dict({**old.to_dict(), "dossier_code": None})
    assert kind_fields(KIND_RATING, version) == tuple(f for f in kind_fields(KIND_RATING, 3) if f != "dossier_code")


def test_a_version_3_rating_must_carry_the_dossier_code_field() -> None:
    data = _rating().to_dict()
    del data["dossier_code"]
    with pytest.raises(RecordError, match="^dossier_code: missing"):
        Record.from_dict(data)


@pytest.mark.parametrize("code", ["", "has space", "a" * 65, "tab\there"])
def test_a_bad_dossier_code_is_refused(code: object) -> None:
    with pytest.raises(RecordError, match="^dossier_code"):
        _rating(dossier_code=code)


def test_a_correction_round_trips_and_chains_after_its_rating() -> None:
    rating = _rating()
    correction = _correction(rating)
    data = correction.to_dict()
    assert set(data) - {"hash", "seal"} == {
        "v", "kind", "uuid", "device_id", "seq", "prev_hash", "device_time", "monotonic_ns", "boot_id",
        "app_version", "simulated", "rating_uuid", "score", "scale", "level"}
    assert Record.from_dict(data) == correction
    assert verify_chain([rating, correction]) == []


def test_a_correction_is_checked_and_exists_only_from_format_3() -> None:
    rating = _rating()
    with pytest.raises(RecordError, match="format version 3"):
        _correction(rating, v=2)
    with pytest.raises(RecordError, match="^kind"):
        Record.from_dict({**_correction(rating).to_dict(), "v": 2, "seal": ""})
    with pytest.raises(RecordError, match="^score"):
        _correction(rating, score=4)
    with pytest.raises(RecordError, match="^rating_uuid"):
        _correction(rating, rating_uuid="not-a-uuid")
    with pytest.raises(RecordError, match="^officer_id: unknown field"):
        Record.from_dict({**_correction(rating).to_dict(), "officer_id": "x"})
