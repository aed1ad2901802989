"""The Fatherland Front's surveys on the commune server: designing
questionnaires, running campaigns and taking answers from phones and paper.

The shared contract (:mod:`sync.survey`) holds what a questionnaire and an
answer set are; :mod:`server.store.surveys` stores them; this module holds
the server's rules around them, free of HTTP:

* who changed what — every change is written to the audit log, in the same
  transaction (``survey.questionnaire.create``/``.edit``/``.version``,
  ``survey.campaign.create``/``.edit``, ``survey.paper.enter``);
* when a campaign takes answers: its public link between its first and last
  day (the commune's local dates), its paper forms whenever it has them;
* the ready-made questionnaire following the five SIPAS aspects, in the
  page's language (its words are in the catalogues, ``survey_template``);
* reading an answer set from a form's fields (the phone page and the paper
  data-entry page share the same fields, ``a.<question key>``).

Answer sets are anonymous: a phone answer is stored with no address and no
identity; a paper form with the account that typed it in.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine

from server.accounts import Account
from server.clock import Clock, utc_now, utc_text
from server.i18n import Translate
from server.settings import load_settings
from server.store import accounts as stored_accounts
from server.store import roster as stored_roster
from server.store import surveys as stored
from server.store.database import read_transaction, write_transaction
from server.store.surveys import StoredCampaign
from sync.survey import Campaign, Questionnaire, SurveyError, check_answers, missing_required

__all__ = [
    "FIELD_PREFIX",
    "Opening",
    "RosterOfficer",
    "SurveyDesk",
    "template_questionnaire",
    "answers_of_form",
    "typed_of_form",
]

FIELD_PREFIX = "a."
"""A form field holding the answer to a question is ``a.<question key>``."""


class Opening(enum.Enum):
    """Whether a campaign's public link takes answers today."""

    OPEN = "open"
    NOT_FOUND = "not_found"  # no such link, or the campaign has none
    NOT_STARTED = "not_started"
    CLOSED = "closed"


@dataclass(frozen=True)
class RosterOfficer:
    """An officer a citizen may name in an ``officer`` question."""

    id: str
    name: str
    title: str
    photo: str | None
    """The portrait's digest (its version), or None without a portrait."""


class SurveyDesk:
    """The surveys of one commune server (``engine``), on its clock."""

    def __init__(self, engine: Engine, *, clock: Clock = utc_now) -> None:
        self.engine = engine
        self.clock = clock

    # -- reading -------------------------------------------------------------------

    def today(self) -> date:
        """The commune's local date (campaigns run by local days)."""
        return self.clock().astimezone(self.zone()).date()

    def zone(self) -> ZoneInfo:
        """The commune's time zone."""
        return load_settings(self.engine).zone

    def questionnaires(self) -> list[tuple[Questionnaire, int]]:
        """Every questionnaire (latest version) and how many answer sets it has, newest first."""
        with read_transaction(self.engine) as conn:
            return [(q, stored.response_count_of_questionnaire(conn, q.id)) for q in stored.questionnaires(conn)]

    def questionnaire(self, questionnaire_id: str, version: int | None = None) -> Questionnaire | None:
        """One questionnaire (its latest version unless ``version``)."""
        with read_transaction(self.engine) as conn:
            return stored.questionnaire(conn, questionnaire_id, version)

    def versions(self, questionnaire_id: str) -> list[dict[str, Any]]:
        """Every version of a questionnaire with its number of answer sets, oldest first."""
        with read_transaction(self.engine) as conn:
            return stored.questionnaire_versions(conn, questionnaire_id)

    def used_keys(self, questionnaire_id: str) -> list[str]:
        """Every question key any stored version of a questionnaire has given."""
        with read_transaction(self.engine) as conn:
            keys = {
                question.key
                for row in stored.questionnaire_versions(conn, questionnaire_id)
                if (version := stored.questionnaire(conn, questionnaire_id, row["version"])) is not None
                for question in version.questions
            }
        return sorted(keys)

    def answered(self, questionnaire_id: str) -> int:
        """How many answer sets the latest version of a questionnaire has
        (an edit then makes a new version)."""
        with read_transaction(self.engine) as conn:
            latest = stored.questionnaire(conn, questionnaire_id)
            return 0 if latest is None else stored.response_count_of_questionnaire(conn, latest.id, latest.version)

    def in_use(self, questionnaire_id: str) -> bool:
        """Whether saving the questionnaire makes a new version: answers, or a
        campaign of it that has begun (tablets and phones may hold it)."""
        with read_transaction(self.engine) as conn:
            latest = stored.questionnaire(conn, questionnaire_id)
            return latest is not None and stored.in_use(conn, latest.id, latest.version, self.clock())

    def campaigns(self) -> list[tuple[StoredCampaign, dict[str, int]]]:
        """Every campaign and its answer sets by channel, the latest first."""
        with read_transaction(self.engine) as conn:
            counts = stored.response_counts(conn)
            return [(c, counts.get(c.id, {})) for c in stored.campaigns(conn)]

    def campaigns_for_device(self, device_id: str) -> list[Campaign]:
        """The campaigns that tablet asks and that have not ended by the commune's today."""
        today = self.today()  # before the transaction: the settings are read on a connection of their own
        with read_transaction(self.engine) as conn:
            return stored.campaigns_for_device(conn, device_id, today)

    def campaign(self, campaign_id: str) -> StoredCampaign | None:
        """One campaign."""
        with read_transaction(self.engine) as conn:
            return stored.campaign(conn, campaign_id)

    def counts(self, campaign_id: str, *, entered_by: int | None = None) -> dict[str, int]:
        """A campaign's answer sets by channel (only one account's typing, when asked)."""
        with read_transaction(self.engine) as conn:
            return stored.response_counts(conn, campaign_id, entered_by=entered_by).get(campaign_id, {})

    def officers(self) -> list[RosterOfficer]:
        """The active officers of the current roster, in its order."""
        with read_transaction(self.engine) as conn:
            current = stored_roster.current_roster(conn)
        if current is None:
            return []
        document = json.loads(current[0])
        return [
            RosterOfficer(
                id=o["id"],
                name=o.get("name") or o["id"],
                title=o.get("title") or "",
                photo=(o.get("photo") or {}).get("sha256"),
            )
            for o in document.get("officers", [])
            if o.get("active", True) and o.get("id")
        ]

    def portrait(self, officer_id: str) -> tuple[bytes, str] | None:
        """An officer's portrait and its digest, or None."""
        with read_transaction(self.engine) as conn:
            found = stored_roster.portrait(conn, officer_id)
        return None if found is None else (found[0], found[2])

    # -- the public link --------------------------------------------------------------

    def public_opening(self, token: str) -> tuple[Opening, StoredCampaign | None]:
        """Whether the public link of that token takes answers today, and its campaign."""
        with read_transaction(self.engine) as conn:
            found = stored.campaign_by_token(conn, token) if token else None
        if found is None or not found.public_link:
            return Opening.NOT_FOUND, None
        today = self.today()
        if today < found.contract.starts_on:
            return Opening.NOT_STARTED, found
        if today > found.contract.ends_on:
            return Opening.CLOSED, found
        return Opening.OPEN, found

    def answer_by_phone(self, token: str, answers: Mapping[str, Any]) -> int:
        """Store a citizen's answers from the public link; the answer set's id.
        Raises :class:`SurveyError`: ``not_open`` (path = the :class:`Opening`)
        when the link takes no answers, ``missing_required`` (detail = the
        keys, comma-separated) when a required question is unanswered, or a
        contract error naming the question."""
        state, found = self.public_opening(token)
        if state is not Opening.OPEN or found is None:
            raise SurveyError(state.value, "not_open")
        asked = found.questionnaire
        officer_ids = frozenset(o.id for o in self.officers())
        normal = check_answers(asked, answers, officer_ids)
        missing = missing_required(asked, normal)
        if missing:
            raise SurveyError("answers", "missing_required", ",".join(missing))
        now = self.clock()

        def store(conn: Connection) -> int:
            return stored.add_response(
                conn,
                campaign_id=found.id,
                questionnaire_id=asked.id,
                questionnaire_version=asked.version,
                channel="phone",
                answered_at=now,
                answers=normal,
                complete=True,
                officer_ids=officer_ids,
            )

        return write_transaction(self.engine, store)

    # -- changes (audited) -------------------------------------------------------------

    def save_questionnaire(self, data: Mapping[str, Any], actor: Account, address: str | None) -> Questionnaire:
        """Store a questionnaire from its plain form (new without an ``id``);
        see :func:`server.store.surveys.save_questionnaire` for versions."""
        now = self.clock()

        def save(conn: Connection) -> Questionnaire:
            before = stored.questionnaire(conn, str(data.get("id") or "")) if data.get("id") else None
            saved = stored.save_questionnaire(conn, dict(data), by_account=actor.id, now=now)
            if before is None:
                action = "survey.questionnaire.create"
            elif saved.version != before.version:
                action = "survey.questionnaire.version"
            else:
                action = "survey.questionnaire.edit"
            detail = f"v{saved.version}: {saved.title} ({len(saved.questions)})"
            self._audit(conn, actor, action, f"questionnaire {saved.id}", detail, address, now)
            return saved

        return write_transaction(self.engine, save)

    def create_campaign(self, actor: Account, address: str | None, **values: Any) -> str:
        """A new campaign (the keyword arguments of
        :func:`server.store.surveys.create_campaign`, less ``by_account``); its id."""
        now = self.clock()

        def create(conn: Connection) -> str:
            campaign_id = stored.create_campaign(conn, **values, by_account=actor.id, now=now)
            self._audit(
                conn, actor, "survey.campaign.create", f"campaign {campaign_id}", _campaign_detail(values), address, now
            )
            return campaign_id

        return write_transaction(self.engine, create)

    def update_campaign(self, campaign_id: str, actor: Account, address: str | None, **values: Any) -> bool:
        """Change a campaign; whether it exists."""
        now = self.clock()

        def change(conn: Connection) -> bool:
            if not stored.update_campaign(conn, campaign_id, **values):
                return False
            self._audit(
                conn, actor, "survey.campaign.edit", f"campaign {campaign_id}", _campaign_detail(values), address, now
            )
            return True

        return write_transaction(self.engine, change)

    def enter_paper(
        self, campaign_id: str, answers: Mapping[str, Any], actor: Account, address: str | None
    ) -> tuple[int, bool]:
        """Store the answers typed in from one paper form; its id and whether
        it is complete (a paper form may leave a required question blank: it
        is stored as it is, marked incomplete). Raises :class:`SurveyError`
        (``no_paper`` when the campaign takes no paper forms)."""
        now = self.clock()
        officer_ids = frozenset(o.id for o in self.officers())

        def enter(conn: Connection) -> tuple[int, bool]:
            found = stored.campaign(conn, campaign_id)
            if found is None or not found.paper:
                raise SurveyError("campaign_id", "no_paper", campaign_id[:64])
            asked = found.questionnaire
            normal = check_answers(asked, answers, officer_ids)
            complete = not missing_required(asked, normal)
            response_id = stored.add_response(
                conn,
                campaign_id=found.id,
                questionnaire_id=asked.id,
                questionnaire_version=asked.version,
                channel="paper",
                answered_at=now,
                answers=normal,
                complete=complete,
                entered_by=actor.id,
                officer_ids=officer_ids,
            )
            self._audit(
                conn,
                actor,
                "survey.paper.enter",
                f"campaign {found.id}",
                f"response {response_id}, v{asked.version}, {len(normal)}/{len(asked.questions)}",
                address,
                now,
            )
            return response_id, complete

        return write_transaction(self.engine, enter)

    def _audit(
        self,
        conn: Connection,
        actor: Account,
        action: str,
        target: str,
        detail: str,
        address: str | None,
        now: datetime,
    ) -> None:
        stored_accounts.add_audit(
            conn,
            at=utc_text(now),
            actor=actor.username,
            action=action,
            target=target,
            detail=detail,
            address=(address or None) and address[:64],
        )


def _campaign_detail(values: Mapping[str, Any]) -> str:
    """What the audit log says of a campaign's settings (no personal data)."""
    devices = values.get("device_ids")
    places = [name for name in ("kiosk", "public_link", "paper") if values.get(name)]
    return (
        f"{values.get('title', '')}; {values.get('questionnaire_id', '')}; "
        f"{values.get('starts_on')}..{values.get('ends_on')}; {'+'.join(places) or '-'}; "
        f"tablets={'all' if devices is None else ','.join(devices)}; target={values.get('target', 0)}"
    )


# -- the SIPAS template ---------------------------------------------------------------

# The five aspects of the SIPAS index (access, procedure, officers, result,
# feedback), each a section; a question is (key, kind, required, option keys).
# The words are the catalogues' (survey_template.<section>.<question>...).
_TEMPLATE: tuple[tuple[str, tuple[tuple[str, str, bool, tuple[str, ...]], ...]], ...] = (
    (
        "tiep_can",
        (
            ("tc1", "scale", True, ()),
            ("tc2", "scale", False, ()),
            ("tc3", "scale", False, ()),
            ("tc4", "single", False, ("niem-yet", "cong-dvc", "can-bo", "nguoi-quen", "khac")),
        ),
    ),
    (
        "thu_tuc",
        (
            ("tt1", "scale", True, ()),
            ("tt2", "scale", False, ()),
            ("tt3", "scale", False, ()),
            ("tt4", "scale", False, ()),
        ),
    ),
    (
        "cong_chuc",
        (
            ("cc0", "officer", False, ()),
            ("cc1", "scale", True, ()),
            ("cc2", "scale", False, ()),
            ("cc3", "scale", False, ()),
            ("cc4", "scale", False, ()),
        ),
    ),
    (
        "ket_qua",
        (
            ("kq1", "single", True, ("dung-hen", "som-hen", "tre-hen", "chua-nhan")),
            ("kq2", "scale", False, ()),
            ("kq3", "single", False, ("mot-lan", "hai-lan", "ba-lan")),
        ),
    ),
    (
        "gop_y",
        (
            ("gy1", "scale", False, ()),
            ("gy2", "scale", False, ()),
            ("gy3", "scale", True, ()),
            ("gy4", "text", False, ()),
        ),
    ),
)


def template_questionnaire(t: Translate) -> dict[str, Any]:
    """The ready-made questionnaire on the five SIPAS aspects, in the
    language of ``t``, as the plain form the designer edits (no id: saving
    it makes a new questionnaire)."""
    sections = []
    for section_key, questions in _TEMPLATE:
        base = f"survey_template.{section_key}"
        sections.append(
            {
                "title": t(f"{base}.title"),
                "questions": [
                    {
                        "key": key,
                        "kind": kind,
                        "text": t(f"{base}.{key}.text"),
                        "required": required,
                        "options": [{"key": option, "text": t(f"{base}.{key}.{option}")} for option in options],
                    }
                    for key, kind, required, options in questions
                ],
            }
        )
    return {
        "id": "",
        "version": 1,
        "title": t("survey_template.title"),
        "intro": t("survey_template.intro"),
        "sections": sections,
    }


# -- answers from a form ------------------------------------------------------------------


def answers_of_form(questionnaire: Questionnaire, values: Callable[[str], Sequence[str]]) -> dict[str, Any]:
    """The answer set in a form's fields (``values(name)`` gives every value
    of a field): one value per question, a list for ``multiple``; what is
    left blank is absent. Not yet checked (see :func:`check_answers`)."""
    answers: dict[str, Any] = {}
    for question in questionnaire.questions:
        given = [v for v in values(FIELD_PREFIX + question.key) if isinstance(v, str)]
        if question.kind == "multiple":
            chosen = [v for v in given if v]
            if chosen:
                answers[question.key] = chosen
        else:
            value = next((v for v in given if v.strip()), "")
            if value.strip():
                answers[question.key] = value
    return answers


def typed_of_form(questionnaire: Questionnaire, values: Callable[[str], Sequence[str]]) -> dict[str, Any]:
    """What was typed or chosen, to show the form again as it was sent
    (a set of choices for ``multiple``, the raw text otherwise)."""
    typed: dict[str, Any] = {}
    for question in questionnaire.questions:
        given = [v for v in values(FIELD_PREFIX + question.key) if isinstance(v, str)]
        typed[question.key] = set(given) if question.kind == "multiple" else (given[0] if given else "")
    return typed
