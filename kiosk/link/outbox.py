"""The outbox: which records still have to reach the server, which batch is
in flight, and what the server said about each record.

Everything is kept in the tablet's database, so a restart resumes where it
stopped: the batch in flight is sent again with the same idempotency key, and
an acknowledged record is never sent again.
"""

from __future__ import annotations

import json
import uuid as uuid_module
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sync.protocol import RecordStatus
from sync.record import Record

__all__ = ["Batch", "Outbox", "AckSummary"]

_INFLIGHT = "inflight_batch"


@dataclass(frozen=True)
class Batch:
    """Records sent together under one idempotency key."""

    key: str
    records: tuple[Record, ...]


@dataclass(frozen=True)
class AckSummary:
    """What one answer acknowledged."""

    acknowledged: int
    stored: int
    duplicate: int
    conflict: int
    rejected: int
    unanswered: int
    """Records of the batch the answer did not mention: they stay pending."""


class Outbox:
    """The pending records of one tablet store (used on one thread)."""

    def __init__(self, store: Any):
        self.store = store

    def pending_count(self) -> int:
        """Records not acknowledged yet."""
        return self.store.pending_count()

    def next_batch(self, size: int) -> Batch | None:
        """The next records to send, or ``None`` when everything is sent.

        The batch in flight when the tablet stopped is returned again with its
        key, so the server can answer a retry from its idempotency cache.
        """
        inflight = self._inflight()
        if inflight is not None:
            records = self.store.pending_records(inflight["count"])
            seqs = [r.seq for r in records]
            if seqs and seqs[0] == inflight["first"] and seqs[-1] == inflight["last"] and len(seqs) == inflight["count"]:
                return Batch(inflight["key"], tuple(records))
        records = self.store.pending_records(size)
        if not records:
            self.store.set_outbox_state(_INFLIGHT, None)
            return None
        batch = Batch(uuid_module.uuid4().hex, tuple(records))
        self.store.set_outbox_state(_INFLIGHT, json.dumps(
            {"key": batch.key, "first": records[0].seq, "last": records[-1].seq, "count": len(records)}
        ))
        return batch

    def forget_inflight(self) -> None:
        """Drop the in-flight batch's key: the next batch gets a fresh one."""
        self.store.set_outbox_state(_INFLIGHT, None)

    def acknowledge(self, batch: Batch, answer: dict[str, Any], at: datetime) -> AckSummary:
        """Mark the records the answer speaks of as sent, with the server's verdict.

        A result is trusted only when its index, UUID and sequence number all
        match the record sent at that place; anything else stays pending.
        """
        counts = {status: 0 for status in RecordStatus.ALL}
        acks: list[tuple[int, str, str, str]] = []
        results = answer.get("results") if isinstance(answer, dict) else None
        for result in results if isinstance(results, list) else []:
            if not isinstance(result, dict):
                continue
            index, status = result.get("index"), result.get("status")
            if not isinstance(index, int) or not 0 <= index < len(batch.records) or status not in counts:
                continue
            record = batch.records[index]
            if result.get("uuid") not in (record.uuid, None) or result.get("seq") not in (record.seq, None):
                continue
            counts[status] += 1
            detail = result.get("detail") if isinstance(result.get("detail"), str) else ""
            flags = result.get("flags") if isinstance(result.get("flags"), list) else []
            if flags:
                detail = f"{detail} [{' '.join(str(f) for f in flags)}]"
            acks.append((record.seq, record.uuid, status, detail[:500]))
        if acks:
            self.store.acknowledge(acks, at)
        self.forget_inflight()
        return AckSummary(
            acknowledged=len(acks), stored=counts[RecordStatus.STORED], duplicate=counts[RecordStatus.DUPLICATE],
            conflict=counts[RecordStatus.CONFLICT], rejected=counts[RecordStatus.REJECTED],
            unanswered=len(batch.records) - len(acks),
        )

    def _inflight(self) -> dict[str, Any] | None:
        text = self.store.outbox_state(_INFLIGHT)
        if not text:
            return None
        try:
            data = json.loads(text)
            return data if isinstance(data, dict) and {"key", "first", "last", "count"} <= set(data) else None
        except ValueError:
            return None
