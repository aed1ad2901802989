"""The queries of the Fatherland Front's surveys: questionnaires (every
version), campaigns and the answer sets of the three channels (tablet,
phone, paper).

The rules of a questionnaire and of an answer set are the shared contract's
(:mod:`sync.survey`): every function here checks through it, so what is
stored is what a tablet would accept. The versioning rule lives here because
it is a question of what is stored: a questionnaire nobody has answered yet
is edited in place; once it has answers an edit adds a version, the answers
keep the version they were given under, and the campaigns still running ask
the new one from then on.

Answer sets are anonymous: no address and no identity of who answered is
stored; ``entered_by`` is the account that typed a paper form in.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from server.store import tables
from sync.survey import CHANNELS, Campaign, Questionnaire, SurveyError, answers_text, check_answers

__all__ = [
    "StoredCampaign",
    "SurveyResponse",
    "save_questionnaire",
    "questionnaire",
    "questionnaires",
    "questionnaire_versions",
    "response_count_of_questionnaire",
    "create_campaign",
    "update_campaign",
    "campaign",
    "campaigns",
    "campaign_by_token",
    "campaigns_for_device",
    "add_response",
    "responses",
    "response_counts",
]


@dataclass(frozen=True)
class StoredCampaign:
    """A campaign as the server keeps it: the contract a tablet receives
    (:attr:`contract`) and the places it is asked in."""

    contract: Campaign
    device_ids: tuple[str, ...] | None
    """The tablets that ask it (``contract.kiosk`` true); None: every tablet."""
    public_link: bool
    """Whether its public link (``/s/<public_token>``) takes answers from phones."""
    public_token: str
    paper: bool
    """Whether paper forms are typed in for it."""
    created_at: str
    created_by: int | None

    @property
    def id(self) -> str:
        """The campaign's id."""
        return self.contract.id

    @property
    def questionnaire(self) -> Questionnaire:
        """The questionnaire (the version it asks now)."""
        return self.contract.questionnaire

    def asks_device(self, device_id: str) -> bool:
        """Whether that tablet asks this campaign."""
        return self.contract.kiosk and (self.device_ids is None or device_id in self.device_ids)


@dataclass(frozen=True)
class SurveyResponse:
    """One stored answer set."""

    id: int
    campaign_id: str
    questionnaire_id: str
    questionnaire_version: int
    channel: str
    answered_at: datetime
    """When it was answered (aware, UTC)."""
    answers: dict[str, Any]
    complete: bool
    device_id: str | None
    record_uuid: str | None
    entered_by: int | None


# -- questionnaires ----------------------------------------------------------------


def save_questionnaire(
    conn: Connection, data: dict[str, Any], *, by_account: int | None, now: datetime | None = None
) -> Questionnaire:
    """Store a questionnaire from its plain form (checked by
    :meth:`Questionnaire.from_dict`, which raises :class:`SurveyError`).

    Without an ``id`` a new questionnaire is made (version 1). An existing
    one nobody can have seen yet is changed in place (same version). One in
    use — with answers, or asked by a campaign that has begun, whose tablets
    and phones may already hold it — gets the next version, and the campaigns
    of it that have not ended ask that version from then on: an answer given
    to the old wording still checks against it. The ``version`` in ``data``
    is ignored: the store decides it."""
    stamp = _stamp(now)
    today = (now or datetime.now(UTC)).date().isoformat()
    qid = str(data.get("id") or "").strip() or _new_id("ks")
    latest = _latest_version(conn, qid)
    version = 1 if latest is None else latest
    answered = latest is not None and in_use(conn, qid, latest, now)
    if answered:
        version = latest + 1
    checked = Questionnaire.from_dict({**data, "id": qid, "version": version})
    body = json.dumps(checked.to_dict(), ensure_ascii=False, sort_keys=True)
    q = tables.questionnaires
    if latest is not None and not answered:
        conn.execute(update(q).where(q.c.id == qid, q.c.version == version).values(body=body))
        return checked
    conn.execute(insert(q).values(id=qid, version=version, body=body, created_at=stamp, created_by=by_account))
    if answered:
        c = tables.survey_campaigns
        conn.execute(
            update(c).where(c.c.questionnaire_id == qid, c.c.ends_on >= today).values(questionnaire_version=version)
        )
    return checked


def in_use(conn: Connection, questionnaire_id: str, version: int, now: datetime | None = None) -> bool:
    """Whether a version has answers, or a campaign asking it has begun: an
    edit then makes a new version (see :func:`save_questionnaire`)."""
    if response_count_of_questionnaire(conn, questionnaire_id, version) > 0:
        return True
    # A day ahead of UTC: a commune's date (Asia/Ho_Chi_Minh) runs up to a day
    # before UTC's, and a campaign taken for begun a day early costs only a version.
    by_day = ((now or datetime.now(UTC)).date() + timedelta(days=1)).isoformat()
    c = tables.survey_campaigns
    begun = select(c.c.id).where(
        c.c.questionnaire_id == questionnaire_id, c.c.questionnaire_version == version, c.c.starts_on <= by_day
    )
    return conn.execute(begun.limit(1)).first() is not None


def questionnaire(conn: Connection, questionnaire_id: str, version: int | None = None) -> Questionnaire | None:
    """One version of a questionnaire (the latest when ``version`` is None), or None."""
    q = tables.questionnaires
    query = select(q.c.body).where(q.c.id == questionnaire_id)
    query = query.where(q.c.version == version) if version is not None else query.order_by(q.c.version.desc())
    body = conn.execute(query.limit(1)).scalar()
    return None if body is None else Questionnaire.from_dict(json.loads(body))


def questionnaires(conn: Connection) -> list[Questionnaire]:
    """The latest version of every questionnaire, newest first."""
    q = tables.questionnaires
    latest = (
        select(q.c.id, func.max(q.c.version).label("version"), func.min(q.c.created_at).label("first"))
        .group_by(q.c.id)
        .subquery()
    )
    query = (
        select(q.c.body)
        .join(latest, (q.c.id == latest.c.id) & (q.c.version == latest.c.version))
        .order_by(latest.c.first.desc(), q.c.id)
    )
    return [Questionnaire.from_dict(json.loads(body)) for (body,) in conn.execute(query)]


def questionnaire_versions(conn: Connection, questionnaire_id: str) -> list[dict[str, Any]]:
    """Every version of a questionnaire, oldest first: version, created_at,
    created_by and how many answer sets it has."""
    q, r = tables.questionnaires, tables.survey_responses
    answered = (
        select(r.c.questionnaire_version, func.count().label("n"))
        .where(r.c.questionnaire_id == questionnaire_id)
        .group_by(r.c.questionnaire_version)
        .subquery()
    )
    query = (
        select(q.c.version, q.c.created_at, q.c.created_by, func.coalesce(answered.c.n, 0).label("responses"))
        .outerjoin(answered, answered.c.questionnaire_version == q.c.version)
        .where(q.c.id == questionnaire_id)
        .order_by(q.c.version)
    )
    return [dict(row) for row in conn.execute(query).mappings()]


def response_count_of_questionnaire(conn: Connection, questionnaire_id: str, version: int | None = None) -> int:
    """How many answer sets a questionnaire has (of one version, or of all)."""
    r = tables.survey_responses
    query = select(func.count()).select_from(r).where(r.c.questionnaire_id == questionnaire_id)
    if version is not None:
        query = query.where(r.c.questionnaire_version == version)
    return int(conn.execute(query).scalar_one())


def _latest_version(conn: Connection, questionnaire_id: str) -> int | None:
    q = tables.questionnaires
    value = conn.execute(select(func.max(q.c.version)).where(q.c.id == questionnaire_id)).scalar()
    return None if value is None else int(value)


# -- campaigns -----------------------------------------------------------------------


def create_campaign(
    conn: Connection,
    *,
    title: str,
    questionnaire_id: str,
    starts_on: date,
    ends_on: date,
    kiosk: bool,
    device_ids: list[str] | None,
    public_link: bool,
    paper: bool,
    target: int,
    by_account: int | None,
    now: datetime | None = None,
) -> str:
    """Store a new campaign of the latest version of a questionnaire; its id.
    Raises :class:`SurveyError` for an unknown questionnaire or a value the
    contract refuses (a title, the period, the target)."""
    campaign_id = _new_id("dot")
    values = _campaign_values(
        conn,
        campaign_id,
        title=title,
        questionnaire_id=questionnaire_id,
        starts_on=starts_on,
        ends_on=ends_on,
        kiosk=kiosk,
        device_ids=device_ids,
        public_link=public_link,
        paper=paper,
        target=target,
    )
    conn.execute(
        insert(tables.survey_campaigns).values(
            **values, public_token=secrets.token_urlsafe(16), created_at=_stamp(now), created_by=by_account
        )
    )
    return campaign_id


def update_campaign(
    conn: Connection,
    campaign_id: str,
    *,
    title: str,
    questionnaire_id: str,
    starts_on: date,
    ends_on: date,
    kiosk: bool,
    device_ids: list[str] | None,
    public_link: bool,
    paper: bool,
    target: int,
) -> bool:
    """Change a campaign (its public token stays); whether it exists. A
    change of questionnaire takes that questionnaire's latest version."""
    existing = campaign(conn, campaign_id)
    if existing is None:
        return False
    values = _campaign_values(
        conn,
        campaign_id,
        title=title,
        questionnaire_id=questionnaire_id,
        starts_on=starts_on,
        ends_on=ends_on,
        kiosk=kiosk,
        device_ids=device_ids,
        public_link=public_link,
        paper=paper,
        target=target,
    )
    if questionnaire_id == existing.questionnaire.id:
        values["questionnaire_version"] = existing.questionnaire.version
    c = tables.survey_campaigns
    conn.execute(update(c).where(c.c.id == campaign_id).values(**values))
    return True


def campaign(conn: Connection, campaign_id: str) -> StoredCampaign | None:
    """One campaign, or None."""
    c = tables.survey_campaigns
    row = conn.execute(select(c).where(c.c.id == campaign_id)).mappings().first()
    return None if row is None else _stored_campaign(conn, row, {})


def campaign_by_token(conn: Connection, public_token: str) -> StoredCampaign | None:
    """The campaign whose public link carries that token, or None."""
    c = tables.survey_campaigns
    row = conn.execute(select(c).where(c.c.public_token == public_token)).mappings().first()
    return None if row is None else _stored_campaign(conn, row, {})


def campaigns(conn: Connection) -> list[StoredCampaign]:
    """Every campaign, the latest starting first."""
    c = tables.survey_campaigns
    seen: dict[tuple[str, int], Questionnaire] = {}
    rows = conn.execute(select(c).order_by(c.c.starts_on.desc(), c.c.created_at.desc())).mappings()
    return [_stored_campaign(conn, row, seen) for row in rows]


def campaigns_for_device(conn: Connection, device_id: str, today: date) -> list[Campaign]:
    """The tablet campaigns that tablet asks and that have not ended by
    ``today`` (one not started yet is included: the tablet starts it on its
    first day), the earliest starting first."""
    c = tables.survey_campaigns
    seen: dict[tuple[str, int], Questionnaire] = {}
    query = select(c).where(c.c.kiosk.is_(True), c.c.ends_on >= today.isoformat()).order_by(c.c.starts_on, c.c.id)
    stored = (_stored_campaign(conn, row, seen) for row in conn.execute(query).mappings())
    return [entry.contract for entry in stored if entry.asks_device(device_id)]


def _campaign_values(
    conn: Connection,
    campaign_id: str,
    *,
    title: str,
    questionnaire_id: str,
    starts_on: date,
    ends_on: date,
    kiosk: bool,
    device_ids: list[str] | None,
    public_link: bool,
    paper: bool,
    target: int,
) -> dict[str, Any]:
    asked = questionnaire(conn, questionnaire_id)
    if asked is None:
        raise SurveyError("questionnaire_id", "unknown_questionnaire", str(questionnaire_id)[:64])
    # The contract checks the title, the period and the target as a tablet will.
    contract = Campaign.from_dict(
        {
            "id": campaign_id,
            "title": title,
            "starts_on": starts_on.isoformat(),
            "ends_on": ends_on.isoformat(),
            "kiosk": kiosk,
            "target": target,
            "questionnaire": asked.to_dict(),
        }
    )
    devices = None if device_ids is None else sorted({str(d) for d in device_ids if str(d).strip()})
    return dict(
        id=campaign_id,
        title=contract.title,
        questionnaire_id=asked.id,
        questionnaire_version=asked.version,
        starts_on=contract.starts_on.isoformat(),
        ends_on=contract.ends_on.isoformat(),
        kiosk=bool(kiosk),
        device_ids=None if devices is None else json.dumps(devices),
        public_link=bool(public_link),
        paper=bool(paper),
        target=contract.target,
    )


def _stored_campaign(conn: Connection, row: Any, seen: dict[tuple[str, int], Questionnaire]) -> StoredCampaign:
    key = (row["questionnaire_id"], int(row["questionnaire_version"]))
    asked = seen.get(key)
    if asked is None:
        asked = seen[key] = questionnaire(conn, *key)
    if asked is None:  # never: a campaign is made of a stored questionnaire, and versions are never deleted
        raise LookupError(f"campaign {row['id']}: questionnaire {key} is missing")
    contract = Campaign(
        id=row["id"],
        title=row["title"],
        starts_on=date.fromisoformat(row["starts_on"]),
        ends_on=date.fromisoformat(row["ends_on"]),
        questionnaire=asked,
        kiosk=bool(row["kiosk"]),
        target=int(row["target"]),
    )
    devices = row["device_ids"]
    return StoredCampaign(
        contract=contract,
        device_ids=None if devices is None else tuple(json.loads(devices)),
        public_link=bool(row["public_link"]),
        public_token=row["public_token"],
        paper=bool(row["paper"]),
        created_at=row["created_at"],
        created_by=row["created_by"],
    )


# -- answer sets ---------------------------------------------------------------------


def add_response(
    conn: Connection,
    *,
    campaign_id: str,
    questionnaire_id: str,
    questionnaire_version: int,
    channel: str,
    answered_at: datetime | str,
    answers: dict[str, Any],
    complete: bool,
    device_id: str | None = None,
    record_uuid: str | None = None,
    entered_by: int | None = None,
    officer_ids: frozenset[str] | None = None,
    days_in: tzinfo | None = None,
) -> int:
    """Store one answer set; its id. The answers are checked against that
    version of the questionnaire (:func:`check_answers`, with ``officer_ids``
    when given) and stored in their normal form. With ``days_in`` (the
    commune's time zone), ``answered_at`` must fall on one of the campaign's
    days there. A tablet's answer set (``device_id`` and ``record_uuid``) is
    stored once: a second call gives the first one's id. Raises
    :class:`SurveyError` for an unknown channel, campaign or questionnaire
    version, a day outside the campaign, or answers the contract refuses."""
    if channel not in CHANNELS:
        raise SurveyError("channel", "unknown_channel", str(channel)[:16])
    r = tables.survey_responses
    if device_id is not None and record_uuid is not None:
        known = _response_of_record(conn, device_id, record_uuid)
        if known is not None:
            return known
    c = tables.survey_campaigns
    found = conn.execute(select(c.c.questionnaire_id, c.c.starts_on, c.c.ends_on)
                         .where(c.c.id == campaign_id)).first()
    if found is None:
        raise SurveyError("campaign_id", "unknown_campaign", str(campaign_id)[:64])
    owner, starts_on, ends_on = found
    if owner != questionnaire_id:
        raise SurveyError("questionnaire_id", "not_the_campaigns", str(questionnaire_id)[:64])
    answered_text = _utc_text(answered_at)
    if days_in is not None:
        day = datetime.fromisoformat(answered_text).astimezone(days_in).date().isoformat()
        if not starts_on <= day <= ends_on:
            raise SurveyError("answered_at", "outside_the_campaign", f"{day} not in {starts_on}…{ends_on}")
    asked = questionnaire(conn, questionnaire_id, questionnaire_version)
    if asked is None:
        raise SurveyError("questionnaire_version", "unknown_version", str(questionnaire_version))
    normal = check_answers(asked, answers, officer_ids)
    values = dict(
        campaign_id=campaign_id,
        questionnaire_id=questionnaire_id,
        questionnaire_version=int(questionnaire_version),
        channel=channel,
        answered_at=answered_text,
        answers=answers_text(normal),
        complete=bool(complete),
        device_id=device_id,
        record_uuid=record_uuid,
        entered_by=entered_by,
    )
    if device_id is None or record_uuid is None:
        return int(conn.execute(insert(r).values(**values)).inserted_primary_key[0])
    try:
        # A savepoint: a concurrent copy of the same record (PostgreSQL) must
        # not abort the caller's transaction.
        with conn.begin_nested():
            return int(conn.execute(insert(r).values(**values)).inserted_primary_key[0])
    except IntegrityError:
        known = _response_of_record(conn, device_id, record_uuid)
        if known is None:
            raise
        return known


def responses(conn: Connection, campaign_id: str) -> list[SurveyResponse]:
    """Every answer set of a campaign, in the order answered."""
    r = tables.survey_responses
    query = select(r).where(r.c.campaign_id == campaign_id).order_by(r.c.answered_at, r.c.id)
    return [
        SurveyResponse(
            id=int(row["id"]),
            campaign_id=row["campaign_id"],
            questionnaire_id=row["questionnaire_id"],
            questionnaire_version=int(row["questionnaire_version"]),
            channel=row["channel"],
            answered_at=datetime.fromisoformat(row["answered_at"]).astimezone(UTC),
            answers=json.loads(row["answers"]),
            complete=bool(row["complete"]),
            device_id=row["device_id"],
            record_uuid=row["record_uuid"],
            entered_by=row["entered_by"],
        )
        for row in conn.execute(query).mappings()
    ]


def response_counts(
    conn: Connection, campaign_id: str | None = None, *, entered_by: int | None = None
) -> dict[str, dict[str, int]]:
    """How many answer sets each campaign has, by channel
    (``{campaign_id: {channel: n}}``); only one campaign's, or only those one
    account typed in, when asked."""
    r = tables.survey_responses
    query = select(r.c.campaign_id, r.c.channel, func.count()).group_by(r.c.campaign_id, r.c.channel)
    if campaign_id is not None:
        query = query.where(r.c.campaign_id == campaign_id)
    if entered_by is not None:
        query = query.where(r.c.entered_by == entered_by)
    counts: dict[str, dict[str, int]] = {}
    for cid, channel, n in conn.execute(query):
        counts.setdefault(cid, {})[channel] = int(n)
    return counts


def _response_of_record(conn: Connection, device_id: str, record_uuid: str) -> int | None:
    r = tables.survey_responses
    value = conn.execute(select(r.c.id).where(r.c.device_id == device_id, r.c.record_uuid == record_uuid)).scalar()
    return None if value is None else int(value)


# -- inside ----------------------------------------------------------------------------


def _new_id(prefix: str) -> str:
    """A short random id (questionnaires and campaigns are few; it is never guessed from)."""
    return f"{prefix}-{secrets.token_hex(5)}"


def _stamp(now: datetime | None) -> str:
    return _utc_text(now or datetime.now(UTC))


def _utc_text(when: datetime | str) -> str:
    """The stored UTC text of an aware time (or of its ISO text, with an offset)."""
    if isinstance(when, str):
        try:
            when = datetime.fromisoformat(when)
        except ValueError:
            raise SurveyError("answered_at", "not_a_time", when[:40]) from None
    if when.tzinfo is None:
        raise SurveyError("answered_at", "no_utc_offset")
    return when.astimezone(UTC).isoformat(timespec="milliseconds")
