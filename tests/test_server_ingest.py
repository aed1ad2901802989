"""The ingest rules (idempotency, sequence, chain), without HTTP."""

from __future__ import annotations

import uuid as uuid_module
from dataclasses import replace

import pytest

from server.ingest import ChainHead, StoredRef, check_wire_limits, content_digest, plan_batch
from sync.record import GENESIS_HASH, KIND_RATING, Record, RecordError, seal

DEVICE = "dev-1"


def chain(count: int, *, start: int = 1, prev: str = GENESIS_HASH, boot: str = "boot-a",
          mono0: int = 10**9) -> list[Record]:
    out = []
    for i in range(count):
        seq = start + i
        record = seal(Record(
            kind=KIND_RATING, uuid=str(uuid_module.uuid4()), device_id=DEVICE, seq=seq, prev_hash=prev,
            device_time="2026-03-02T08:00:00.000+07:00", monotonic_ns=mono0 + seq * 10**9, boot_id=boot,
            app_version="0.1.0", officer_id="lan", counter_id="quay-1", score=3, scale=3,
            level="very_satisfied", burst=False, comment_token="tok",
        ))
        out.append(record)
        prev = record.hash
    return out


def stored(records: list[Record]) -> tuple[dict, dict]:
    refs = [StoredRef(DEVICE, r.seq, r.uuid, r.hash, content_digest(r), r.prev_hash) for r in records]
    return {r.uuid: r for r in refs}, {r.seq: r for r in refs}


def head_of(record: Record) -> ChainHead:
    return ChainHead(record.seq, record.hash, record.boot_id, record.monotonic_ns)


def statuses(plan) -> list[str]:
    return [o.status for o in plan.outcomes]


def test_new_records_in_order_are_stored_and_move_the_head():
    records = chain(3)
    plan = plan_batch(DEVICE, [r.to_dict() for r in records], ChainHead(), {}, {})
    assert statuses(plan) == ["stored"] * 3
    assert plan.findings == []
    assert plan.head.seq == 3 and plan.head.hash == records[-1].hash
    assert all(o.flags == () for o in plan.outcomes)


def test_batch_listed_out_of_order_is_checked_in_sequence_order():
    records = chain(3)
    plan = plan_batch(DEVICE, [r.to_dict() for r in reversed(records)], ChainHead(), {}, {})
    assert statuses(plan) == ["stored"] * 3 and plan.findings == []
    assert [o.index for o in plan.outcomes] == [0, 1, 2]


def test_same_uuid_same_content_is_a_duplicate_not_stored_again():
    records = chain(2)
    by_uuid, by_seq = stored(records)
    plan = plan_batch(DEVICE, [r.to_dict() for r in records], head_of(records[-1]), by_uuid, by_seq)
    assert statuses(plan) == ["duplicate", "duplicate"]
    assert plan.to_store == [] and plan.findings == []


def test_same_uuid_different_content_is_a_conflict_with_409():
    records = chain(2)
    by_uuid, by_seq = stored(records)
    edited = replace(records[1], score=1, level="dissatisfied")  # hash not recomputed
    plan = plan_batch(DEVICE, [edited.to_dict()], head_of(records[-1]), by_uuid, by_seq)
    assert statuses(plan) == ["conflict"]
    assert plan.outcomes[0].http_status == 409
    assert [f.problem for f in plan.findings] == ["conflict"]


def test_a_uuid_another_device_holds_is_kept_flagged_and_both_devices_are_told():
    records = chain(1)
    plan = plan_batch(DEVICE, [records[0].to_dict()], ChainHead(), {}, {}, foreign={records[0].uuid: "other"})
    assert statuses(plan) == ["stored"]
    assert plan.outcomes[0].flags == ("uuid_reused",)
    assert [(f.problem, f.seq) for f in plan.findings] == [("uuid_reused", 1)]
    assert "other" in plan.findings[0].detail
    ((device, finding),) = plan.foreign_findings
    assert device == "other" and finding.problem == "uuid_reused" and DEVICE in finding.detail


def test_gap_is_a_finding_and_the_later_record_is_kept_flagged():
    records = chain(4)
    by_uuid, by_seq = stored(records[:1])
    plan = plan_batch(DEVICE, [records[2].to_dict(), records[3].to_dict()], head_of(records[0]), by_uuid, by_seq)
    assert statuses(plan) == ["stored", "stored"]
    problems = {(f.seq, f.problem) for f in plan.findings}
    assert problems == {(2, "gap")}
    assert "after_gap" in plan.outcomes[0].flags and plan.outcomes[1].flags == ()
    assert plan.head.seq == 4


def test_edited_score_without_rehash_is_flagged_bad_hash_and_chain_continues():
    records = chain(3)
    edited = replace(records[1], score=1, level="dissatisfied")
    plan = plan_batch(DEVICE, [records[0].to_dict(), edited.to_dict(), records[2].to_dict()], ChainHead(), {}, {})
    assert statuses(plan) == ["stored"] * 3
    assert [(f.seq, f.problem) for f in plan.findings] == [(2, "bad_hash")]
    assert plan.outcomes[1].flags == ("bad_hash",)


def test_edited_and_rehashed_record_breaks_the_next_link():
    records = chain(3)
    rehashed = seal(replace(records[1], score=1, level="dissatisfied", hash=""))
    plan = plan_batch(DEVICE, [records[0].to_dict(), rehashed.to_dict(), records[2].to_dict()], ChainHead(), {}, {})
    assert [(f.seq, f.problem) for f in plan.findings] == [(3, "broken_link")]


def test_forged_record_at_a_taken_place_is_a_conflict():
    records = chain(2)
    by_uuid, by_seq = stored(records)
    forged = seal(replace(records[1], uuid=str(uuid_module.uuid4()), score=1, level="dissatisfied", hash=""))
    plan = plan_batch(DEVICE, [forged.to_dict()], head_of(records[-1]), by_uuid, by_seq)
    assert statuses(plan) == ["conflict"]
    assert plan.findings[0].problem == "duplicate_seq"


def test_record_filling_an_old_hole_is_kept_late():
    records = chain(3)
    by_uuid, by_seq = stored([records[0], records[2]])
    plan = plan_batch(DEVICE, [records[1].to_dict()], head_of(records[2]), by_uuid, by_seq)
    assert statuses(plan) == ["stored"]
    assert plan.outcomes[0].flags == ("late",)
    assert plan.findings == [] and plan.head.seq == 3


def test_malformed_and_foreign_records_are_rejected_alone():
    records = chain(3)
    broken = records[1].to_dict()
    broken["score"] = "three"
    foreign = replace(records[2], device_id="someone-else").to_dict()
    plan = plan_batch(DEVICE, [records[0].to_dict(), broken, foreign, "not an object"], ChainHead(), {}, {})
    assert statuses(plan) == ["stored", "rejected", "rejected", "rejected"]
    assert plan.outcomes[1].error == "malformed" and "score" in plan.outcomes[1].detail
    assert plan.outcomes[2].error == "wrong_device"
    assert plan.outcomes[3].http_status == 422


def test_monotonic_clock_going_backwards_within_a_boot_is_flagged():
    records = chain(2)
    backwards = seal(replace(records[1], monotonic_ns=1, hash=""))
    plan = plan_batch(DEVICE, [records[0].to_dict(), backwards.to_dict()], ChainHead(), {}, {})
    assert "time_regression" in plan.outcomes[1].flags


def test_two_copies_of_one_record_in_a_batch_store_once():
    record = chain(1)[0]
    plan = plan_batch(DEVICE, [record.to_dict(), record.to_dict()], ChainHead(), {}, {})
    assert sorted(statuses(plan)) == ["duplicate", "stored"]


@pytest.mark.parametrize("value", [
    {"x": "a" * 501}, {"x": "\ud800"}, {"x": 2**70}, {"x": 1.5}, {"x": [[[[["deep"]]]]]}, {"x": "nul\x00"},
])
def test_wire_limits_refuse_what_no_tablet_sends(value):
    with pytest.raises(RecordError):
        check_wire_limits(value)


def test_impossible_calendar_date_is_rejected_not_crashing():
    record = chain(1)[0].to_dict()
    record["device_time"] = "2026-13-45T08:00:00.000+07:00"
    plan = plan_batch(DEVICE, [record], ChainHead(), {}, {})
    assert statuses(plan) == ["rejected"]


def test_forged_record_filling_a_hole_breaks_the_link_to_the_next():
    records = chain(4)
    by_uuid, by_seq = stored([records[0], records[1], records[3]])
    forged = seal(replace(records[2], uuid=str(uuid_module.uuid4()), score=1, level="dissatisfied", hash=""))
    plan = plan_batch(DEVICE, [forged.to_dict()], head_of(records[3]), by_uuid, by_seq)
    assert statuses(plan) == ["stored"]
    assert set(plan.outcomes[0].flags) == {"late", "broken_link"}
    assert [(f.seq, f.problem) for f in plan.findings] == [(3, "broken_link")]
    assert plan.filled == []


def test_honest_record_filling_a_hole_reports_the_hole_filled():
    records = chain(4)
    by_uuid, by_seq = stored([records[0], records[1], records[3]])
    plan = plan_batch(DEVICE, [records[2].to_dict()], head_of(records[3]), by_uuid, by_seq)
    assert plan.outcomes[0].flags == ("late",) and plan.findings == []
    assert plan.filled == [3]


def test_two_records_filling_one_hole_in_one_batch_link_to_each_other():
    records = chain(5)
    by_uuid, by_seq = stored([records[0], records[3], records[4]])
    plan = plan_batch(DEVICE, [records[2].to_dict(), records[1].to_dict()], head_of(records[4]), by_uuid, by_seq)
    # 2 is checked against 1, and 3 against 2 and 4: the last to land closes the hole.
    assert plan.findings == [] and plan.filled == [3]


def test_record_that_cannot_be_placed_on_the_server_clock_is_rejected_alone():
    records = chain(2)

    def place(record):
        if record.seq == 2:
            raise OverflowError("date value out of range")
        return None

    plan = plan_batch(DEVICE, [r.to_dict() for r in records], ChainHead(), {}, {}, place=place)
    assert statuses(plan) == ["stored", "rejected"]
    assert "device_time" in plan.outcomes[1].detail and plan.head.seq == 1


# -- the flags a kept record finally carries ---------------------------------------------------


def test_final_flags_reach_the_answer_and_the_stored_row_whatever_the_order():
    """The answer and the stored row get the same final flags, worked out once.

    They used to be added to the plan's outcomes while the rows were built,
    so an answer built before (or without) the rows lost ``clock_off``,
    ``burst`` and ``simulated``."""
    from datetime import timedelta

    from server.batches import answer_results
    from server.clock import CorrectedTime, parse_device_time
    from server.ingest import final_flags
    from server.store.batches import record_row

    first, second = chain(2)
    second = seal(replace(second, burst=True, simulated=True, hash=""))
    items = [first.to_dict(), second.to_dict()]

    def an_hour_late(record: Record) -> CorrectedTime:
        return CorrectedTime(parse_device_time(record.device_time) + timedelta(hours=1), "offset", 3600.0)

    plan = plan_batch(DEVICE, items, ChainHead(), {}, {}, place=an_hour_late)
    flags = final_flags(plan, clock_threshold_s=300)
    # The answer first, before any row exists.
    _counts, results = answer_results(plan, flags)
    assert [r["flags"] for r in results] == [["clock_off"], ["burst", "clock_off", "simulated"]]
    rows = [record_row(1, o, flags[o.index]) for o in plan.to_store]
    assert [r["flags"] for r in rows] == ["clock_off", "burst clock_off simulated"]
    # The plan itself is left as planned: nothing depends on who read it first.
    assert all(o.flags == () for o in plan.outcomes)
    assert final_flags(plan, clock_threshold_s=7200) == {0: (), 1: ("burst", "simulated")}
