"""Receiving one authenticated batch: the idempotency cache, the clock
observation, and storing what :func:`server.ingest.plan_batch` decided — all
in one transaction, so a batch is either wholly applied or not at all.

The rules are :mod:`server.ingest`'s and :mod:`server.clock`'s; the queries
are :mod:`server.store.batches`'. This module puts them together.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, partial
from typing import Any

import orjson
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from server.answer_cache import compact_answer_of, expand_answer
from server.callback_numbers import erase_expired as erase_expired_callbacks
from server.callback_numbers import store_sealed_keys
from server.cases import UNSATISFIED, announce, open_cases_for_batch
from server.clock import (
    BootAnchor,
    ClockObservation,
    CorrectedTime,
    clock_is_off,
    correct,
    corrected,
    newer_anchor,
    parse_device_time,
    utc_text,
)
from server.corrections import apply_corrections, format_3_flags
from server.ingest import ChainHead, IngestPlan, Outcome, final_flags, item_text, plan_batch
from server.plain_batch import PLAIN_ROW_COLUMNS, NotPlain, PlainBatch, plain_times, plan_plain
from server.seals import SealKey, check_seals, device_columns, key_of_device
from server.settings import load_settings
from server.store import batches as stored_batches
from server.store import statistics, write_transaction
from server.survey_records import count_survey_answers
from sync import wire
from sync.protocol import MAX_INT, RecordStatus
from sync.record import Record

__all__ = ["Batch", "BatchAnswer", "BatchIngest", "IdempotencyKeyReused", "records_digest", "answer_results"]


class IdempotencyKeyReused(Exception):
    """The batch's idempotency key was used before for different records."""


class _HandOver(Exception):
    """The plain lane wrote rows before it found the batch not plain: the
    transaction is rolled back whole, and run again by the general rules."""


@dataclass(frozen=True)
class Batch:
    """A batch's envelope, checked, with its records still in wire form."""

    device_id: str
    idempotency_key: str
    sent_at: datetime
    sent_monotonic_ns: int
    boot_id: str
    app_version: str
    pending: int
    records: list[Any]
    callback_keys: tuple[wire.CallbackKey, ...] = ()
    """Outside the chain: the sealed keys of call-back numbers (:mod:`server.callback_numbers`)."""
    ratings_checked: bool = False
    """Whether every record was read as a rating the compiled check vouches
    for (:data:`server.schemas.RatingsBatchIn`): the plain lane need not check them again."""


@dataclass(frozen=True)
class BatchAnswer:
    """The answer to a batch as the JSON text that is sent back (encoded
    once); :attr:`content` reads it as the contract's shape."""

    text: str
    replay: bool
    """Whether this repeats the answer first given under the idempotency key."""

    @property
    def content(self) -> wire.BatchAnswer:
        """The answer as :class:`sync.wire.BatchAnswer`."""
        return wire.parse(wire.BatchAnswer, json.loads(self.text))

    @property
    def body(self) -> bytes:
        """The text as the HTTP body."""
        return self.text.encode("utf-8")


def records_digest(records: list[Any]) -> str:
    """What an idempotency key is bound to: the records, not the envelope.

    A retry refreshes the envelope's device time (so the clock reading is
    fresh) but must carry the same records under the same key. The digest
    is of the records list as compact JSON with sorted keys (orjson: the
    json module took as long as the rest of the ingest); a list orjson
    cannot encode (an integer beyond 64 bits) is digested as version 0.1 did."""
    try:
        return hashlib.sha256(orjson.dumps(records, option=orjson.OPT_SORT_KEYS)).hexdigest()
    except (TypeError, orjson.JSONEncodeError):
        return legacy_records_digest(records)


def legacy_records_digest(records: list[Any]) -> str:
    """The records digest as version 0.1 made it (each item as ASCII JSON,
    :func:`server.ingest.item_text`): answers it kept still match their retries."""
    return hashlib.sha256(("[" + ",".join(item_text(item) for item in records) + "]").encode("ascii")).hexdigest()


def answer_results(plan: IngestPlan, flags: Mapping[int, Sequence[str]]) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """The answer's counts and results for a planned batch (the JSON shape of
    :class:`sync.wire.BatchAnswer`'s): one result per record, in the batch's
    order, each with its final ``flags`` (from
    :func:`server.ingest.final_flags`). Built as plain values: through the
    dataclasses it cost more than storing the records."""
    counts = dict.fromkeys(RecordStatus.ALL, 0)
    results = []
    http = RecordStatus.HTTP
    for o in plan.outcomes:
        counts[o.status] += 1
        results.append({"index": o.index, "uuid": o.uuid, "seq": o.seq, "status": o.status,
                        "http_status": http[o.status], "error": o.error, "detail": o.detail,
                        "flags": list(flags[o.index])})
    return counts, results


def _encoded_answer(batch: Batch, stamp: str, clock_offset_s: float | None, counts: dict[str, int],
                    results: list[dict[str, Any]]) -> tuple[str, bytes]:
    """A stored batch's answer: its JSON text, and the form the idempotency
    cache keeps (:func:`server.answer_cache.compact_answer_of`)."""
    answer = {"device_id": batch.device_id, "idempotency_key": batch.idempotency_key, "received_at": stamp,
              "clock_offset_s": clock_offset_s, "replay": False, "counts": counts, "results": results}
    return orjson.dumps(answer).decode("utf-8"), compact_answer_of(answer)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _boot_ids(batch: Batch) -> set[str]:
    """The boots whose clock anchors the batch may need: its own and its records'."""
    boot_ids = {batch.boot_id}
    for item in batch.records:
        if isinstance(item, dict) and isinstance(item.get("boot_id"), str):
            boot_ids.add(item["boot_id"])
    return boot_ids


def _uuids(batch: Batch) -> set[str]:
    """The records' UUIDs (those that could be stored) the ingest rules need to know about."""
    return {uuid for item in batch.records if isinstance(item, dict)
            and isinstance(uuid := item.get("uuid"), str) and len(uuid) <= 64}


def _seqs(batch: Batch) -> set[int]:
    """The sequence numbers the ingest rules need to know about: the
    records' own, and for each the ones on both sides (a late record must
    link to the record before it and be linked to by its successor)."""
    own = {seq for item in batch.records if isinstance(item, dict)
           and isinstance(seq := item.get("seq"), int) and not isinstance(seq, bool) and 1 <= seq <= MAX_INT}
    return own | {seq - 1 for seq in own} | {seq + 1 for seq in own}


class BatchIngest:
    """Applies batches to the server database."""

    HOUSEKEEPING_EVERY = timedelta(hours=1)
    STAGED_FROM = 200
    """Records in a plain batch from which its rows go in chunk by chunk
    beside the making of the next (:class:`server.store.batches.RecordStager`);
    a smaller batch goes in with one insert."""

    def __init__(self, engine: Engine, *, clock_threshold_s: float = 300.0, plain_lane: bool = True):
        self.engine = engine
        self.clock_threshold_s = clock_threshold_s
        self.plain_lane = plain_lane
        """Whether plain batches take :mod:`server.plain_batch` (off: every
        batch takes the general rules; the tests compare the two)."""
        self._next_housekeeping: datetime | None = None
        self._housekeeper: threading.Thread | None = None
        self._housekeeping_lock = threading.Lock()
        self._housekeeping_running = False
        self._round_due: datetime | None = None

    def receive(self, batch: Batch, received_at: datetime) -> BatchAnswer:
        """Store a batch from an authenticated, active device and return the
        answer for it: one result per record, in the batch's order.

        A batch whose idempotency key was seen before with the same records is
        answered with the first answer (``replay``: true) and changes
        nothing, not even the device's last-seen time or pending count: a
        captured batch replayed later must not make a lost or stolen tablet
        look alive. Raises :class:`IdempotencyKeyReused` when the key was
        seen with other records.
        """
        # Worked out when first needed (a plain batch's while its last rows go in).
        digest = cache(partial(records_digest, batch.records))
        observation = ClockObservation(batch.boot_id, batch.sent_monotonic_ns, batch.sent_at, received_at)
        opened: list[int] = []

        def apply(conn: Connection, *, plain_lane: bool) -> BatchAnswer:
            opened.clear()  # the transaction may run more than once: only the last run's cases were committed
            return self._apply(conn, batch, digest, observation, received_at, opened, plain_lane=plain_lane)

        try:
            answer = write_transaction(self.engine, partial(apply, plain_lane=self.plain_lane))
        except _HandOver:
            # The plain lane wrote rows before the batch turned out not to be
            # plain: all of it was rolled back, and the general rules decide
            # the batch in a transaction of its own.
            answer = write_transaction(self.engine, partial(apply, plain_lane=False))
        # Told once committed: an alert never announces a case that was rolled back.
        announce(self.engine, opened)
        self._housekeeping(received_at)
        return answer

    def apply_own(self, conn: Connection, device_id: str, build: Callable[[Mapping[str, Any]], Batch],
                  received_at: datetime, opened: list[int], *, flags: Sequence[str] = ()) -> BatchAnswer:
        """Store records the server writes itself, for a source of its own
        (the ratings given at home, :mod:`server.home_visits`), inside the
        caller's transaction and by the very rules a tablet's batch meets:
        chain, seals, flags, call-back keys, cases.

        ``build`` makes the batch from the source's row once it is locked
        (its chain head and sealing key), so two writers never take the same
        place in the chain; ``flags`` are added to every record it stores.
        The ids of the cases opened are added to ``opened``: announce them
        (:func:`server.cases.announce`) once the transaction has committed."""
        batch = build(stored_batches.lock_device(conn, device_id))
        observation = ClockObservation(batch.boot_id, batch.sent_monotonic_ns, batch.sent_at, received_at)
        return self._apply(conn, batch, cache(partial(records_digest, batch.records)), observation, received_at, opened,
                           extra_flags=tuple(flags))

    def _housekeeping(self, now: datetime) -> None:
        """At most once every :attr:`HOUSEKEEPING_EVERY` on the server's
        clock, on a thread of its own (the upload that crosses the hour is
        answered without waiting for it): forget the answers kept longer than
        the ``answer_retention_days`` setting, erase the call-back numbers past
        their retention, and refresh the query planner's statistics as the
        ratings grow (:mod:`server.store.statistics`).

        Exactly-once does not rest on the cache: a batch retried after its
        answer was forgotten is planned afresh, and its records, already
        stored with the same content, are acknowledged as duplicates."""
        with self._housekeeping_lock:
            if self._next_housekeeping is not None and now < self._next_housekeeping:
                return
            self._next_housekeeping = now + self.HOUSEKEEPING_EVERY
            self._round_due = now
            if self._housekeeping_running:
                return  # the thread at work takes this round when it is done
            self._housekeeping_running = True
            self._housekeeper = threading.Thread(target=self._keep_house, name="housekeeping", daemon=True)
            self._housekeeper.start()

    def wait_for_housekeeping(self, timeout: float | None = None) -> None:
        """Until the rounds due, if any, have been done (tests, shutdown)."""
        housekeeper = self._housekeeper
        if housekeeper is not None:
            housekeeper.join(timeout)

    def _keep_house(self) -> None:
        while True:
            with self._housekeeping_lock:
                now, self._round_due = self._round_due, None
                if now is None:
                    self._housekeeping_running = False
                    return
            try:
                self._house_round(now)
            except Exception:  # a failed round is tried again on the next hour's upload
                logging.getLogger(__name__).exception("housekeeping failed; it is tried again in an hour")

    def _house_round(self, now: datetime) -> None:
        days = load_settings(self.engine).answer_retention_days
        cutoff = utc_text(now - timedelta(days=days))
        write_transaction(self.engine, lambda conn: stored_batches.forget_answers(conn, cutoff))
        # Call-back numbers past their retention are erased on the same hourly round.
        erase_expired_callbacks(self.engine, now)
        statistics.refresh(self.engine)

    def _apply(self, conn: Connection, batch: Batch, digest: Callable[[], str], observation: ClockObservation,
               received_at: datetime, opened: list[int], *, plain_lane: bool = False,
               extra_flags: tuple[str, ...] = ()) -> BatchAnswer:
        """:meth:`receive`'s work, inside its transaction (which may run it more
        than once); ``plain_lane``: whether a plain batch may take
        :mod:`server.plain_batch` (which raises :class:`_HandOver` when the
        transaction must be run again without it); ``extra_flags`` are added
        to every record it stores."""
        device = stored_batches.lock_device(conn, batch.device_id)
        cached = stored_batches.cached_answer(conn, batch.device_id, batch.idempotency_key)
        if cached is not None:
            if cached[0] != digest() and cached[0] != legacy_records_digest(batch.records):
                raise IdempotencyKeyReused()
            answer = expand_answer(cached[1], batch.device_id, batch.idempotency_key, batch.records)
            return BatchAnswer(_dumps(wire.to_wire(answer)), replay=True)

        anchors: dict[str, BootAnchor] = stored_batches.boot_anchors(conn, batch.device_id, _boot_ids(batch))
        fresh = newer_anchor(anchors.get(batch.boot_id), observation)
        device_values: dict[str, Any] = {
            "last_seen_at": utc_text(received_at),
            "pending_count": batch.pending,
            "app_version": batch.app_version,
        }
        if fresh:
            anchors[batch.boot_id] = observation.anchor()
            stored_batches.save_anchor(conn, batch.device_id, observation.anchor())
            device_values.update(
                clock_offset_s=observation.offset_s,
                clock_checked_at=utc_text(received_at),
                clock_off=clock_is_off(observation.offset_s, self.clock_threshold_s),
            )
        head = ChainHead(device["head_seq"], device["head_hash"], device["head_boot_id"],
                         device["head_monotonic_ns"])
        # Records of a boot that never sent a batch are shifted by the freshest offset we have.
        fallback = observation.offset_s if fresh else (device["clock_offset_s"] or observation.offset_s)

        def place(record: Record) -> CorrectedTime:
            # Worked out while planning, so a record whose corrected time
            # falls off the calendar is refused alone instead of failing
            # the whole batch (which the tablet would resend forever).
            return correct(parse_device_time(record.device_time), record.boot_id, record.monotonic_ns,
                           anchors, fallback)

        stamp = utc_text(received_at)
        key = key_of_device(device)
        lane = self._plain(conn, batch, head, key, anchors, fallback, stamp, observation.offset_s,
                           digest) if plain_lane else None
        if lane is not None:
            plain, text, kept = lane
            # After the records, as below.
            store_sealed_keys(conn, batch.device_id, batch.callback_keys, stamp)
            opened.extend(open_cases_for_batch(
                conn, [Outcome(0, RecordStatus.STORED, r.uuid, r.seq, record=r) for r in plain.low], stamp))
            new_head, seal_key, stored_count = plain.head, plain.seal_key, plain.stored
        else:
            # Only now: the plain lane has the UUIDs and sequence numbers
            # looked up as its records go in.
            by_uuid, foreign = stored_batches.refs_at_uuids(conn, batch.device_id, _uuids(batch))
            by_seq = stored_batches.refs_at_seqs(conn, batch.device_id, _seqs(batch))
            plan = plan_batch(batch.device_id, batch.records, head, by_uuid, by_seq, place=place,
                              foreign=foreign)
            seal_key = check_seals(key, plan)  # adds its findings and flags to the plan
            # Format 3: a dossier rated before, a correction that cannot count (server.corrections).
            flags = format_3_flags(conn, batch.device_id, plan, final_flags(plan, self.clock_threshold_s))
            # Format 4: a survey record's answers join the survey's, in this transaction (server.survey_records).
            flags = count_survey_answers(conn, batch.device_id, plan, flags)
            if extra_flags:
                for outcome in plan.to_store:
                    flags[outcome.index] = tuple(sorted({*flags[outcome.index], *extra_flags}))
            self._store(conn, batch, plan, flags, stamp)
            # After the records: a key is kept only for a details record stored with its number.
            store_sealed_keys(conn, batch.device_id, batch.callback_keys, stamp)
            # Follow-up cases open with their records (server.cases says why not later).
            opened.extend(open_cases_for_batch(conn, plan.to_store, stamp))
            opened.extend(apply_corrections(conn, batch.device_id, plan, stamp))
            new_head, stored_count = plan.head, len(plan.to_store)
            text, kept = _encoded_answer(batch, stamp, observation.offset_s, *answer_results(plan, flags))
        device_values.update(
            head_seq=new_head.seq,
            head_hash=new_head.hash,
            head_boot_id=new_head.boot_id,
            head_monotonic_ns=new_head.monotonic_ns,
            records_count=device["records_count"] + stored_count,
            **(device_columns(seal_key) if seal_key is not None else {}),
        )
        stored_batches.update_device(conn, batch.device_id, device_values)
        stored_batches.save_answer(conn, batch.device_id, batch.idempotency_key, digest(), kept, stamp)
        return BatchAnswer(text, replay=False)

    def _plain(self, conn: Connection, batch: Batch, head: ChainHead, key: SealKey | None,
               anchors: Mapping[str, BootAnchor], fallback_offset_s: float, stamp: str,
               clock_offset_s: float | None, digest: Callable[[], str]) -> tuple[PlainBatch, str, bytes] | None:
        """The batch through :mod:`server.plain_batch`, its receipt and rows
        stored, with its answer (:func:`_encoded_answer`); None, with nothing
        written, when it needs the general rules. Raises :class:`_HandOver`
        when that turns out after rows were written: also when a record's
        UUID or sequence number is found taken as the rows go in (the
        device's own, by the table's constraints; another device's UUID,
        looked up by the stager), which the general rules tell apart."""
        device_times = plain_times(batch.records, schema_checked=batch.ratings_checked)
        if device_times is None:
            return None

        def place(device_time: datetime, boot_id: str, monotonic_ns: int) -> tuple[datetime, str, float]:
            return corrected(device_time, boot_id, monotonic_ns, anchors, fallback_offset_s)

        # A long batch goes in by thirds, each beside the making of the next.
        count = len(batch.records)
        stager = stored_batches.RecordStager(conn, PLAIN_ROW_COLUMNS, batch.device_id, batch.idempotency_key, stamp,
                                             beside=count >= self.STAGED_FROM)
        try:
            plain = plan_plain(batch.device_id, batch.records, device_times, head, key, place,
                               self.clock_threshold_s, UNSATISFIED, stager.add, chunk=-(-count // 3))
            # What needs no database is done while the last rows go in:
            # the answer, and the records' digest the cache keeps with it.
            counts = dict.fromkeys(RecordStatus.ALL, 0)
            counts[RecordStatus.STORED] = plain.stored
            text, kept = _encoded_answer(batch, stamp, clock_offset_s, counts, plain.results)
            digest()
            stager.finish()
        except (NotPlain, stored_batches.UuidHeldElsewhere, IntegrityError):
            stager.abandon()
            if stager.wrote:
                raise _HandOver from None
            return None
        except BaseException:
            stager.abandon()  # the connection is free again before the transaction is rolled back
            raise
        return plain, text, kept

    def _store(self, conn: Connection, batch: Batch, plan: IngestPlan, flags: Mapping[int, Sequence[str]],
               stamp: str) -> None:
        """Write what the plan keeps: the new records, the findings, the conflicts aside; close filled gaps."""
        if plan.to_store:
            receipt = stored_batches.add_receipt(conn, batch.device_id, batch.idempotency_key, stamp)
            stored_batches.add_records(conn, [stored_batches.record_row(receipt, o, flags[o.index])
                                              for o in plan.to_store])
        stored_batches.add_findings(conn, batch.device_id, plan.findings, stamp=stamp,
                                    batch_key=batch.idempotency_key)
        for other, found in plan.foreign_findings:
            stored_batches.add_findings(conn, other, [found], stamp=stamp, batch_key=batch.idempotency_key)
        stored_batches.add_conflicts(conn, batch.device_id, plan.conflicts, stamp=stamp)
        stored_batches.resolve_gaps(conn, batch.device_id, plan.filled, stamp)
