"""The survey tables of the tablet: the campaigns last received from the
server, and the survey a citizen is answering now.

A draft is not chained: each answer is written to it, durably, the moment it
is given, so a kill or a power cut loses no answered question. When the
survey ends (finished, left, timed out, or found at the next start) the
draft becomes one chained ``survey`` record and is deleted in the same
transaction (:meth:`SurveyDrafts.delete`, run beside the journal's append).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from kiosk.store.database import TabletDatabase

__all__ = ["Draft", "SurveyCampaignCache", "SurveyDrafts"]

_SLOT = "campaigns"


class SurveyCampaignCache:
    """The campaigns the server sent this tablet (their wire form), kept
    so that the tablet asks them offline."""

    def __init__(self, database: TabletDatabase):
        self.database = database

    def save(self, campaigns: list[dict[str, Any]], received_at: str) -> None:
        """Keep ``campaigns`` in place of the ones kept before."""
        body = json.dumps(campaigns, ensure_ascii=False, separators=(",", ":"))
        with self.database.write() as conn:
            conn.execute(
                "INSERT INTO survey_campaigns (slot, body, received_at) VALUES (?, ?, ?) "
                "ON CONFLICT(slot) DO UPDATE SET body = excluded.body, received_at = excluded.received_at",
                [_SLOT, body, received_at],
            )

    def load(self) -> list[dict[str, Any]]:
        """The campaigns kept, in their wire form; none before the first fetch."""
        row = self.database.execute("SELECT body FROM survey_campaigns WHERE slot = ?", [_SLOT]).fetchone()
        if row is None:
            return []
        try:
            value = json.loads(row[0])
        except ValueError:
            return []
        return [c for c in value if isinstance(c, dict)] if isinstance(value, list) else []


@dataclass(frozen=True)
class Draft:
    """A survey under way: what has been answered so far."""

    id: int
    campaign_id: str
    questionnaire_id: str
    questionnaire_version: int
    answers: dict[str, Any]
    started_at: str
    """The device time the citizen accepted the invitation."""


class SurveyDrafts:
    """The survey being answered, one durable write per answer."""

    def __init__(self, database: TabletDatabase):
        self.database = database

    def start(self, campaign_id: str, questionnaire_id: str, questionnaire_version: int, at: str) -> Draft:
        """A new, empty draft, committed."""
        with self.database.write() as conn:
            cursor = conn.execute(
                "INSERT INTO survey_drafts (campaign_id, questionnaire_id, questionnaire_version, answers, "
                "started_at, updated_at) VALUES (?, ?, ?, '{}', ?, ?)",
                [campaign_id, questionnaire_id, questionnaire_version, at, at],
            )
            draft_id = cursor.lastrowid
        return Draft(draft_id, campaign_id, questionnaire_id, questionnaire_version, {}, at)

    def answer(self, draft_id: int, key: str, value: Any, at: str) -> dict[str, Any]:
        """Set (or, with ``None``, clear) one question's answer and commit it;
        returns the draft's answers now."""
        with self.database.write() as conn:
            row = conn.execute("SELECT answers FROM survey_drafts WHERE id = ?", [draft_id]).fetchone()
            if row is None:
                raise KeyError(draft_id)
            answers = json.loads(row[0])
            if value is None:
                answers.pop(key, None)
            else:
                answers[key] = value
            conn.execute(
                "UPDATE survey_drafts SET answers = ?, updated_at = ? WHERE id = ?",
                [json.dumps(answers, ensure_ascii=False, separators=(",", ":")), at, draft_id],
            )
        return answers

    def get(self, draft_id: int) -> Draft | None:
        """The draft with that id, if it is still open."""
        rows = self._rows("WHERE id = ?", [draft_id])
        return rows[0] if rows else None

    def open_drafts(self) -> list[Draft]:
        """Every draft not recorded yet, oldest first (at most one, unless a
        kill came between two surveys' ends)."""
        return self._rows("ORDER BY id", [])

    @staticmethod
    def delete(conn: sqlite3.Connection, draft_id: int) -> None:
        """Remove a recorded draft, inside the transaction that chains its record."""
        conn.execute("DELETE FROM survey_drafts WHERE id = ?", [draft_id])

    def discard(self, draft_id: int) -> None:
        """Remove a draft that holds no answer (nothing to record)."""
        with self.database.write() as conn:
            self.delete(conn, draft_id)

    def _rows(self, tail: str, params: list[Any]) -> list[Draft]:
        rows = self.database.execute(
            "SELECT id, campaign_id, questionnaire_id, questionnaire_version, answers, started_at "
            f"FROM survey_drafts {tail}",
            params,
        ).fetchall()
        drafts = []
        for draft_id, campaign_id, questionnaire_id, version, answers, started_at in rows:
            try:
                values = json.loads(answers)
            except ValueError:
                values = {}
            drafts.append(Draft(draft_id, campaign_id, questionnaire_id, version,
                                values if isinstance(values, dict) else {}, started_at))
        return drafts
