"""What the idempotency cache keeps of a batch's answer, and the answer
rebuilt from it for a replay.

A replay carries the very records of the first upload (the records digest
says so), so the device, the key, each result's UUID and sequence number
(:func:`server.ingest.item_place`) and the counts are rebuilt from the
replayed batch instead of being kept. What is kept is the answer's time, the
clock offset and each record's status, error, detail and flags, as compact
JSON compressed with zlib: the usual answer, every record stored alike,
takes a few bytes per record instead of the two hundred of its JSON.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from typing import Any

import orjson

from server.ingest import item_place
from sync import wire
from sync.protocol import RecordStatus

__all__ = ["compact_answer", "compact_answer_of", "compact_answer_json", "expand_answer"]


def _compact(received_at: str, clock_offset_s: float | None, rows: list[list[Any]]) -> bytes:
    return zlib.compress(orjson.dumps({"t": received_at, "o": clock_offset_s, "r": rows}), 6)


def compact_answer(answer: wire.BatchAnswer) -> bytes:
    """The cache's form of an answer."""
    return _compact(answer.received_at, answer.clock_offset_s,
                    [[r.status, r.error, r.detail, list(r.flags)] for r in answer.results])


def compact_answer_json(text: str) -> bytes:
    """The cache's form of an answer kept as whole JSON text by an older
    version (the upgrade of an existing database converts them)."""
    return compact_answer_of(json.loads(text))


def compact_answer_of(answer: dict[str, Any]) -> bytes:
    """The cache's form of an answer in its wire form (plain JSON values)."""
    return _compact(answer["received_at"], answer.get("clock_offset_s"),
                    [[r["status"], r.get("error"), r.get("detail", ""), list(r.get("flags", []))]
                     for r in answer["results"]])


def expand_answer(kept: bytes, device_id: str, idempotency_key: str, records: Sequence[Any]) -> wire.BatchAnswer:
    """The first answer to a batch of these ``records``, rebuilt from
    :func:`compact_answer` (``replay``: true)."""
    content = json.loads(zlib.decompress(kept))
    counts = {status: 0 for status in RecordStatus.ALL}
    results = []
    for index, ((status, error, detail, flags), item) in enumerate(zip(content["r"], records, strict=True)):
        uuid, seq = item_place(item)
        counts[status] += 1
        results.append(wire.RecordResult(index=index, uuid=uuid, seq=seq, status=status,
                                         http_status=RecordStatus.HTTP[status], error=error, detail=detail,
                                         flags=list(flags)))
    return wire.BatchAnswer(device_id=device_id, idempotency_key=idempotency_key, received_at=content["t"],
                            clock_offset_s=content["o"], replay=True, counts=counts, results=results)
