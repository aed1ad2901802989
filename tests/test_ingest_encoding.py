"""The server's fast canonical encoding (orjson) is byte for byte the
contract's (the json module) for every value the wire admits, and nothing
rests on it alone: a hash or seal it does not reproduce is checked again
with the contract's own encoding."""

from __future__ import annotations

import uuid as uuid_module
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from server.ingest import fast_canonical, hash_matches, item_canonical
from sync.record import GENESIS_HASH, KIND_DETAILS, KIND_RATING, Record, canonical_bytes, seal

# Any text the wire lets through: valid Unicode without NUL, control
# characters, quotes, backslashes, astral planes and line separators included.
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
BIG = st.integers(min_value=1, max_value=2**63 - 1)


@settings(max_examples=300, deadline=None)
@given(officer=TEXT, counter=TEXT, token=TEXT, boot=TEXT, app=TEXT, seq=BIG, mono=st.integers(0, 2**63 - 1),
       simulated=st.booleans(), burst=st.booleans())
def test_ratings_encode_alike(officer, counter, token, boot, app, seq, mono, simulated, burst):
    record = Record(kind=KIND_RATING, uuid=str(uuid_module.uuid4()), device_id="tablet-1", seq=seq,
                    prev_hash=GENESIS_HASH, device_time="2026-03-02T08:00:00.000+07:00", monotonic_ns=mono,
                    boot_id=boot, app_version=app, simulated=simulated, officer_id=officer, counter_id=counter,
                    score=2, scale=3, level="satisfied", burst=burst, comment_token=token)
    assert fast_canonical(record) == canonical_bytes(record)
    # What the ingest encodes: the wire item as it came, hash and seal left out.
    assert item_canonical(seal(record).to_dict()) == canonical_bytes(record)


@settings(max_examples=200, deadline=None)
@given(reasons=st.lists(TEXT, max_size=6))
def test_details_encode_alike(reasons):
    record = Record(kind=KIND_DETAILS, uuid=str(uuid_module.uuid4()), device_id="tablet-1", seq=2,
                    prev_hash=GENESIS_HASH, device_time="2026-03-02T08:00:00.000+07:00", monotonic_ns=1,
                    boot_id="b", app_version="0.1.0", rating_uuid=str(uuid_module.uuid4()), reasons=tuple(reasons),
                    callback_consent=False)
    assert fast_canonical(record) == canonical_bytes(record)
    assert item_canonical(seal(record).to_dict()) == canonical_bytes(record)


def test_a_hash_the_fast_encoding_misses_is_checked_with_the_contracts_own():
    record = seal(Record(kind=KIND_RATING, uuid=str(uuid_module.uuid4()), device_id="tablet-1", seq=1,
                         prev_hash=GENESIS_HASH, device_time="2026-03-02T08:00:00.000+07:00", monotonic_ns=1,
                         boot_id="b", app_version="0.1.0", officer_id="an", counter_id="q1", score=3, scale=3,
                         level="very_satisfied", burst=False, comment_token="t" * 16))
    assert hash_matches(record, fast_canonical(record))
    # Were the two encodings ever to differ, the right hash is still recognised…
    assert hash_matches(record, b"not the canonical encoding")
    # …and a wrong one is still refused.
    assert not hash_matches(replace(record, score=1), fast_canonical(replace(record, score=1)))
