"""A tablet's survey records (format 4) in a batch: each answer set goes to
the survey's answers (:func:`server.store.surveys.add_response`, channel
``kiosk``) in the batch's own transaction, beside the chained record.

The record itself is stored like any other (chain, seal, flags); it is never
a rating, and no figure of ratings counts it (they all read ``kind =
'rating'``). An answer set is counted only from a record the chain and the
seal vouch for: one flagged as edited, forged or another device's UUID is
kept as evidence and flagged ``survey_not_counted``, as is one the survey
refuses (a campaign the server no longer has, an answer given on a day
outside the campaign's dates in the commune's time zone, answers its
questionnaire does not take). Ratings pay one comparison of their kind per
record here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from sqlalchemy import Connection

from server.ingest import IngestPlan
from server.settings import settings_in
from server.store.surveys import add_response
from sync.protocol import RecordStatus
from sync.record import KIND_SURVEY
from sync.survey import SurveyError, answers_of_text

__all__ = ["FLAG_SURVEY_NOT_COUNTED", "count_survey_answers"]

log = logging.getLogger("hailong.server.surveys")

FLAG_SURVEY_NOT_COUNTED = "survey_not_counted"
# Flags saying the record is not what the tablet wrote, or not this tablet's.
_UNTRUSTED = frozenset({"bad_hash", "broken_link", "bad_seal", "unsealed", "uuid_reused", "simulated"})


def count_survey_answers(conn: Connection, device_id: str, plan: IngestPlan,
                         flags: Mapping[int, Sequence[str]]) -> dict[int, tuple[str, ...]]:
    """Add the answer set of every survey record the batch stores; returns
    the flags with ``survey_not_counted`` on those that were not."""
    surveys = [o for o in plan.outcomes if o.status == RecordStatus.STORED and o.record.kind == KIND_SURVEY]
    if not surveys:
        return dict(flags)
    out = dict(flags)
    zone = settings_in(conn).zone  # campaigns run by the commune's days
    for outcome in surveys:
        record = outcome.record
        if _UNTRUSTED.intersection(out[outcome.index]):
            out[outcome.index] = tuple(sorted({*out[outcome.index], FLAG_SURVEY_NOT_COUNTED}))
            continue
        try:
            add_response(
                conn,
                campaign_id=record.campaign_id,
                questionnaire_id=record.questionnaire_id,
                questionnaire_version=record.questionnaire_version,
                channel="kiosk",
                answered_at=outcome.placed.time,
                answers=answers_of_text(record.answers),
                complete=record.complete,
                device_id=device_id,
                record_uuid=record.uuid,
                days_in=zone,
            )
        except SurveyError as exc:
            # Checked before anything is written: the batch's transaction goes on.
            log.warning("survey answers of %s (seq %s) not counted: %s", device_id, record.seq, exc)
            out[outcome.index] = tuple(sorted({*out[outcome.index], FLAG_SURVEY_NOT_COUNTED}))
    return out
