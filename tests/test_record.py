"""The record format shared by tablet and server: canonical encoding, sealing,
and the chain check that finds deleted, edited and forged records."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from sync.record import (
    GENESIS_HASH,
    KIND_DETAILS,
    KIND_RATING,
    Record,
    RecordError,
    canonical_bytes,
    compute_hash,
    seal,
    verify_chain,
)

DEVICE = "5b0c9a52-3a1e-4f0e-9d8e-2f1f6a0c0b11"


def _rating(seq: int, prev_hash: str, **changes: object) -> Record:
    values: dict = dict(
        kind=KIND_RATING,
        uuid=f"00000000-0000-4000-8000-{seq:012d}",
        device_id=DEVICE,
        seq=seq,
        prev_hash=prev_hash,
        device_time="2026-01-05T08:00:00.000+07:00",
        monotonic_ns=seq * 10**9,
        boot_id="boot-1",
        app_version="0.1.0",
        officer_id="nguyen-thi-lan",
        counter_id="quay-1",
        score=3,
        scale=3,
        level="very_satisfied",
        burst=False,
        comment_token="tok",
    )
    values.update(changes)
    return Record(**values)


def _chain(n: int) -> list[Record]:
    records, prev = [], GENESIS_HASH
    for seq in range(1, n + 1):
        record = seal(_rating(seq, prev))
        records.append(record)
        prev = record.hash
    return records


def test_canonical_encoding_is_compact_sorted_utf8() -> None:
    record = _rating(1, GENESIS_HASH, officer_id="lê-thị-thu-hà")
    encoded = canonical_bytes(record)
    text = encoded.decode("utf-8")
    # Vietnamese stays as UTF-8, not \\u escapes, so every language's JSON
    # library produces the same bytes.
    assert "lê-thị-thu-hà" in text and "\\u" not in text
    assert " " not in text
    keys = list(json.loads(text))
    assert keys == sorted(keys)
    assert "hash" not in keys
    # Only the rating's own fields: no details fields leak in as nulls.
    assert "rating_uuid" not in keys and "officer_id" in keys


def test_canonical_encoding_is_stable() -> None:
    """A known record always encodes to the same bytes and hash: both ends of
    the wire and every future version must agree on them. (Format version 1:
    its bytes never change; version 2 is pinned in test_sync_forward_integrity.)"""
    record = _rating(1, GENESIS_HASH, v=1)
    assert canonical_bytes(record) == (
        b'{"app_version":"0.1.0","boot_id":"boot-1","burst":false,"comment_token":"tok",'
        b'"counter_id":"quay-1","device_id":"5b0c9a52-3a1e-4f0e-9d8e-2f1f6a0c0b11",'
        b'"device_time":"2026-01-05T08:00:00.000+07:00","kind":"rating","level":"very_satisfied",'
        b'"monotonic_ns":1000000000,"officer_id":"nguyen-thi-lan","prev_hash":"'
        + GENESIS_HASH.encode()
        + b'","scale":3,"score":3,"seq":1,"simulated":false,'
        b'"uuid":"00000000-0000-4000-8000-000000000001","v":1}'
    )
    assert compute_hash(record) == compute_hash(_rating(1, GENESIS_HASH, v=1))


def test_the_simulated_flag_is_hashed() -> None:
    real = seal(_rating(1, GENESIS_HASH))
    simulated = seal(_rating(1, GENESIS_HASH, simulated=True))
    assert real.hash != simulated.hash
    assert b'"simulated":true' in canonical_bytes(simulated)


def test_seal_fills_the_hash_and_validates() -> None:
    record = seal(_rating(1, GENESIS_HASH))
    assert len(record.hash) == 64 and record.hash == compute_hash(replace(record, hash=""))
    with pytest.raises(RecordError, match="score"):
        seal(_rating(1, GENESIS_HASH, score=4))
    with pytest.raises(RecordError, match="device_time"):
        seal(_rating(1, GENESIS_HASH, device_time="05/01/2026 08:00"))


def test_wire_round_trip() -> None:
    record = seal(_rating(1, GENESIS_HASH))
    assert Record.from_dict(json.loads(json.dumps(record.to_dict()))) == record
    details = seal(
        Record(
            kind=KIND_DETAILS, uuid="00000000-0000-4000-8000-000000000002", device_id=DEVICE,
            seq=2, prev_hash=record.hash, device_time="2026-01-05T08:00:05.000+07:00",
            monotonic_ns=5, boot_id="boot-1", app_version="0.1.0", rating_uuid=record.uuid,
            reasons=("waited_long", "come_back"), callback_phone="0912345678", callback_consent=True,
            v=2,  # a number in clear: formats 1 and 2 only
        )
    )
    again = Record.from_dict(json.loads(json.dumps(details.to_dict())))
    assert again == details and again.reasons == ("waited_long", "come_back")


@pytest.mark.parametrize(
    ("change", "field"),
    [({"extra": 1}, "extra"), ({"score": True}, "score"), ({"burst": 0}, "burst"), ({"kind": "vote"}, "kind")],
)
def test_from_dict_names_the_bad_field(change: dict, field: str) -> None:
    data = seal(_rating(1, GENESIS_HASH)).to_dict()
    data.update(change)
    with pytest.raises(RecordError, match=f"^{field}"):
        Record.from_dict(data)


@pytest.mark.parametrize("field", ["hash", "prev_hash", "seal"])
@pytest.mark.parametrize("spoil", [
    lambda h: h + "\n",  # a trailing newline: what a "$" pattern lets through
    lambda h: h + "0",
    lambda h: h[:-1] + "F",
    lambda h: " " + h[1:],
])
def test_hashes_are_exactly_64_lower_case_hex_digits(field: str, spoil) -> None:
    data = seal(_rating(1, GENESIS_HASH)).to_dict()
    data["seal"] = "ab" * 32
    data[field] = spoil(data[field])
    with pytest.raises(RecordError, match=f"^{field}"):
        Record.from_dict(data)


@pytest.mark.parametrize(("field", "value"), [
    ("uuid", "00000000-0000-4000-8000-000000000001\n"),
    ("device_time", "2026-01-05T08:00:00.000+07:00\n"),
    ("dossier_code", "HS-001\n"),
])
def test_a_trailing_newline_is_refused(field: str, value: str) -> None:
    data = seal(_rating(1, GENESIS_HASH)).to_dict()
    data[field] = value
    with pytest.raises(RecordError, match=f"^{field}"):
        Record.from_dict(data)


def test_phone_needs_consent() -> None:
    with pytest.raises(RecordError, match="callback_consent"):
        seal(
            Record(
                kind=KIND_DETAILS, uuid="00000000-0000-4000-8000-000000000002", device_id=DEVICE,
                seq=2, prev_hash=GENESIS_HASH, device_time="2026-01-05T08:00:05.000+07:00",
                monotonic_ns=5, boot_id="b", app_version="0.1.0",
                rating_uuid="00000000-0000-4000-8000-000000000001", reasons=(),
                callback_phone="0912345678", callback_consent=False, v=2,
            )
        )


def test_intact_chain_verifies() -> None:
    assert verify_chain(_chain(10)) == []
    assert verify_chain([]) == []


def test_edited_record_is_a_bad_hash() -> None:
    records = _chain(6)
    records[3] = replace(records[3], score=1, level="dissatisfied")
    assert [(f.seq, f.problem) for f in verify_chain(records)] == [(4, "bad_hash")]


def test_resealed_edit_breaks_the_next_link() -> None:
    """An editor who recomputes the edited record's hash still breaks the
    link from the record after it."""
    records = _chain(6)
    records[3] = seal(replace(records[3], score=1, level="dissatisfied"))
    assert [(f.seq, f.problem) for f in verify_chain(records)] == [(5, "broken_link")]


def test_deleted_record_is_a_gap() -> None:
    records = _chain(6)
    del records[2]
    assert [(f.seq, f.problem) for f in verify_chain(records)] == [(3, "gap")]


def test_rewritten_history_is_caught_from_a_trusted_point() -> None:
    """Whoever rewrites a whole tail and reseals it gets a chain that is
    consistent on its own; the server catches it because a new batch must
    continue from the last record it accepted."""
    records = _chain(6)
    # The server accepted 1..4; the genuine 5..6 continue from there.
    assert verify_chain(records[4:], start_seq=5, start_prev_hash=records[3].hash) == []
    forged, prev = list(records[:3]), records[2].hash
    for seq in (4, 5, 6):
        record = seal(_rating(seq, prev, score=1, level="dissatisfied"))
        forged.append(record)
        prev = record.hash
    assert verify_chain(forged) == []
    findings = verify_chain(forged[4:], start_seq=5, start_prev_hash=records[3].hash)
    assert [(f.seq, f.problem) for f in findings] == [(5, "broken_link")]


def test_duplicate_sequence_number() -> None:
    records = _chain(4)
    records.insert(2, records[1])
    assert [(f.seq, f.problem) for f in verify_chain(records)] == [(2, "duplicate_seq")]


def test_malformed_record_is_reported_not_raised() -> None:
    records = _chain(3)
    records[1] = replace(records[1], scale=7)
    problems = [(f.seq, f.problem) for f in verify_chain(records)]
    assert (2, "malformed") in problems
