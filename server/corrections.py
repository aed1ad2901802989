"""What format 3 adds at ingest: a rating's correction and its dossier code.

* A ``correction`` (the citizen's second tap, within the tablet's window)
  counts for the rating it points at, if that rating is the same device's and
  not corrected already: its level goes onto the rating's row
  (``corrected_level``), and every figure counts that level. Either way the
  correction is stored, like every record; one that cannot count is flagged
  ``correction_refused``.
* A rating whose dossier code already has a rating (from any tablet) is
  stored and flagged ``repeat_dossier``: a dossier is rated once, the second
  rating is kept as evidence, never dropped.

Cases (:mod:`server.cases`): a low rating opened its case when it arrived. If
the citizen corrected it to a level that opens no case, the case stays (a
leader decides) and notes the correction; a rating corrected down to a level
that opens one opens its case then.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from sqlalchemy import Connection

from server.cases import open_cases_for_batch
from server.ingest import IngestPlan
from server.store import cases as stored_cases
from server.store.corrections import ratings_of_device, set_correction
from server.store.dossiers import rated_dossiers
from sync.record import KIND_CORRECTION, KIND_RATING, Record

__all__ = ["FLAG_REPEAT_DOSSIER", "FLAG_CORRECTION_REFUSED", "format_3_flags", "apply_corrections"]

FLAG_REPEAT_DOSSIER = "repeat_dossier"
FLAG_CORRECTION_REFUSED = "correction_refused"


def format_3_flags(conn: Connection, device_id: str, plan: IngestPlan,
                   flags: Mapping[int, Sequence[str]]) -> dict[int, tuple[str, ...]]:
    """``flags`` (by the record's index in the batch) with ``repeat_dossier``
    and ``correction_refused`` added where they belong; worked out before the
    records are stored, so the stored rows and the answer agree."""
    out = {index: tuple(found) for index, found in flags.items()}
    stored = plan.to_store
    coded = [o for o in stored if o.record.kind == KIND_RATING and o.record.dossier_code]
    corrections = [o for o in stored if o.record.kind == KIND_CORRECTION]
    if coded:
        seen = rated_dossiers(conn, {o.record.dossier_code for o in coded})
        for outcome in coded:  # in sequence order: the first of a batch is not a repeat
            if outcome.record.dossier_code in seen:
                out[outcome.index] = _with(out.get(outcome.index, ()), FLAG_REPEAT_DOSSIER)
            seen.add(outcome.record.dossier_code)
    if corrections:
        for outcome, _rating in _counting(conn, device_id, stored, corrections, refused=True):
            out[outcome.index] = _with(out.get(outcome.index, ()), FLAG_CORRECTION_REFUSED)
    return out


def apply_corrections(conn: Connection, device_id: str, plan: IngestPlan, stamp: str) -> list[int]:
    """After the batch's records are stored: put each counting correction on
    its rating's row, note it on the rating's case, and open a case for a
    rating corrected down to a level that opens one. The new cases' ids."""
    corrections = [o for o in plan.to_store if o.record.kind == KIND_CORRECTION]
    if not corrections:
        return []
    corrected: list[Record] = []
    for outcome, rating in _counting(conn, device_id, plan.to_store, corrections, refused=False):
        record = outcome.record
        if set_correction(conn, device_id, record.rating_uuid, record.score, record.level):
            corrected.append(replace(rating, score=record.score, level=record.level))
    if not corrected:
        return []
    cases = stored_cases.cases_by_rating(conn, [r.uuid for r in corrected])
    for rating in corrected:
        case = cases.get(rating.uuid)
        if case is not None:
            stored_cases.add_event(conn, case_id=case["id"], at=stamp, actor=None, action="corrected",
                                   value=rating.level, note=None)
    return open_cases_for_batch(conn, [_Corrected(r) for r in corrected if r.uuid not in cases], stamp)


@dataclass(frozen=True)
class _Corrected:
    """A rating as corrected, shaped as a stored outcome for :func:`open_cases_for_batch`."""

    record: Record


def _counting(conn: Connection, device_id: str, stored: Sequence, corrections: Sequence, *, refused: bool):
    """The corrections that count (``refused=False``) or do not, each with its rating."""
    in_batch = {o.record.uuid: o.record for o in stored if o.record.kind == KIND_RATING}
    wanted = {o.record.rating_uuid for o in corrections} - set(in_batch)
    earlier = ratings_of_device(conn, device_id, wanted) if wanted else {}
    taken = {uuid for uuid, (_rating, done) in earlier.items() if done}
    for outcome in corrections:
        record = outcome.record
        rating = in_batch.get(record.rating_uuid) or (earlier.get(record.rating_uuid) or (None,))[0]
        counts = (rating is not None and rating.uuid not in taken and rating.scale == record.scale
                  and rating.simulated == record.simulated)
        if counts:
            taken.add(rating.uuid)
        if counts != refused:
            yield outcome, rating


def _with(flags: Sequence[str], flag: str) -> tuple[str, ...]:
    return tuple(sorted({*flags, flag}))
