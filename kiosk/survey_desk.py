"""The Fatherland Front's surveys on the tablet, free of Kivy: which campaign
runs today, each answer kept the moment it is given, and the chained
``survey`` record written when the citizen is done.

The screens (:mod:`kiosk.survey_flow`) and the tests go through
:class:`SurveyDesk`, so there is one path from a tap to a kept answer. The
answers are anonymous: the record names no officer and no counter; only an
``officer`` question's answer names one, because that is the question.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from kiosk.desk import RatingDesk
from kiosk.store import device_time_text
from kiosk.store.surveys import Draft, SurveyDrafts
from sync.record import KIND_SURVEY, MAX_SURVEY_ANSWERS_CHARS, Record
from sync.survey import Campaign, Question, SurveyError, answers_text, check_answers, missing_required

__all__ = ["SurveyDesk", "TEXT_ANSWER_CHARS", "campaigns_of"]

log = logging.getLogger("hailong.kiosk.surveys")

TEXT_ANSWER_CHARS = 200
"""The longest text answer typed on the tablet's keyboard (the contract allows
more, for answers typed in from paper)."""


def campaigns_of(plain: Iterable[Any]) -> list[Campaign]:
    """The campaigns of their wire forms that the contract accepts (one that
    does not is left out, and the log says why)."""
    campaigns = []
    for item in plain:
        try:
            campaigns.append(Campaign.from_dict(item))
        except SurveyError as exc:
            log.warning("a survey campaign is not asked: %s", exc)
    return campaigns


class SurveyDesk:
    """One tablet's surveys: the campaigns it keeps, the draft being
    answered, and the records they become."""

    def __init__(self, desk: RatingDesk, officer_ids: Callable[[], frozenset[str]] | None = None):
        self.desk = desk
        self.store = desk.store
        self.drafts: SurveyDrafts = desk.store.survey_drafts
        self.officer_ids = officer_ids or (lambda: frozenset(o.id for o in desk.settings.active_officers))
        self._campaigns: list[Campaign] | None = None
        self.server_offset_s: float | None = None
        """The server's clock minus the tablet's, as last learnt (None until
        the tablet has heard from the server since it started)."""

    # -- campaigns ----------------------------------------------------------------

    def campaigns(self) -> list[Campaign]:
        """The campaigns kept on the tablet (read once, then from memory)."""
        if self._campaigns is None:
            self._campaigns = campaigns_of(self.store.survey_campaigns.load())
        return self._campaigns

    def keep_campaigns(self, plain: list[Any]) -> list[Campaign]:
        """Keep the campaigns the server sent (their wire forms), in place of
        the ones kept before; returns those the tablet can ask."""
        campaigns = campaigns_of(plain)
        self.store.survey_campaigns.save([c.to_dict() for c in campaigns], device_time_text(self.desk.clock.now()))
        self._campaigns = campaigns
        return campaigns

    def campaign_today(self, now: datetime | None = None) -> Campaign | None:
        """The campaign the tablet asks today (the first kept one that runs on
        today's local date and is meant for tablets), or None. Today is the
        server's when the tablet knows how far off its own clock is (a tablet
        whose date is wrong asks the campaign that really runs); ``now`` is
        the tablet's time, default its clock's."""
        when = now or self.desk.clock.now()
        if self.server_offset_s is not None:
            when += timedelta(seconds=self.server_offset_s)
        day = when.date()
        return next((c for c in self.campaigns() if c.kiosk and c.runs_on(day)), None)

    def keep_server_offset(self, offset_s: float) -> bool:
        """Keep the server's clock minus the tablet's (learnt by the link);
        whether the campaign asked today changed with it."""
        before = self.campaign_today()
        self.server_offset_s = offset_s
        return self.campaign_today() is not before

    def _campaign(self, campaign_id: str, version: int) -> Campaign | None:
        return next((c for c in self.campaigns()
                     if c.id == campaign_id and c.questionnaire.version == version), None)

    # -- answering ------------------------------------------------------------------

    def begin(self, campaign: Campaign) -> Draft:
        """The citizen accepted the invitation: an empty draft, committed."""
        questionnaire = campaign.questionnaire
        return self.drafts.start(campaign.id, questionnaire.id, questionnaire.version,
                                 device_time_text(self.desk.clock.now()))

    def answer(self, draft: Draft, question: Question, value: Any, campaign: Campaign | None = None) -> Draft:
        """Keep one answer now (``None`` or an empty value clears it), checked
        by the contract's rules against ``campaign``'s questionnaire (the one
        on the screen; else the kept campaign of the draft); raises
        :class:`sync.survey.SurveyError` for a value the question does not take."""
        campaign = campaign or self._campaign(draft.campaign_id, draft.questionnaire_version)
        normal = None
        if value not in (None, "", []):
            if question.kind == "text" and isinstance(value, str):
                value = value[:TEXT_ANSWER_CHARS]
            # The questionnaire on the screen decides; one the server has
            # replaced meanwhile is checked again when the draft is chained.
            questionnaire = campaign.questionnaire if campaign is not None else None
            checked = check_answers(questionnaire, {question.key: value}, self.officer_ids()) \
                if questionnaire is not None else {question.key: value}
            normal = checked.get(question.key)
        answers = self.drafts.answer(draft.id, question.key, normal, device_time_text(self.desk.clock.now()))
        return Draft(draft.id, draft.campaign_id, draft.questionnaire_id, draft.questionnaire_version, answers,
                     draft.started_at)

    def finish(self, draft: Draft, *, cut_short: bool = False, campaign: Campaign | None = None) -> Record | None:
        """Chain the draft's answers as one ``survey`` record and delete the
        draft in the same transaction. ``complete`` is false when a required
        question is unanswered, or when the survey was ``cut_short`` (a draft
        found at start-up: the app stopped under it). A draft without a single
        answer is discarded: there is nothing to record. ``campaign``: the
        one the citizen answered (else the kept campaign of the draft)."""
        current = self.drafts.get(draft.id)
        if current is None:
            return None  # recorded already
        if not current.answers:
            self.drafts.discard(current.id)
            return None
        if campaign is None or (campaign.id, campaign.questionnaire.version) != (
                current.campaign_id, current.questionnaire_version):
            campaign = self._campaign(current.campaign_id, current.questionnaire_version)
        answers = dict(current.answers)
        if campaign is not None:
            answers = _checked_or_kept(campaign, answers)
            complete = not cut_short and not missing_required(campaign.questionnaire, answers)
        else:
            complete = False  # the campaign is no longer kept: its rules cannot be checked here
        text = _fitting_text(answers)
        return self.desk.append_other(
            KIND_SURVEY,
            beside=lambda conn, _record: SurveyDrafts.delete(conn, current.id),
            campaign_id=current.campaign_id,
            questionnaire_id=current.questionnaire_id,
            questionnaire_version=current.questionnaire_version,
            answers=text,
            complete=complete,
        )

    def recover(self) -> list[Record]:
        """At start-up: record every draft a stop left behind (incomplete),
        so no answered question is lost."""
        recorded = []
        for draft in self.drafts.open_drafts():
            record = self.finish(draft, cut_short=True)
            if record is not None:
                recorded.append(record)
        return recorded


def _checked_or_kept(campaign: Campaign, answers: dict[str, Any]) -> dict[str, Any]:
    """The answers in the contract's normal form. Each was checked when given;
    one that no longer passes (an officer who left the roster meanwhile) is
    still kept as given, since what the citizen said is the record."""
    try:
        return check_answers(campaign.questionnaire, answers)
    except SurveyError:
        return answers


def _fitting_text(answers: dict[str, Any]) -> str:
    """The answers' canonical text, within the record's limit: should a
    questionnaire of many text questions overflow it, its last text answers
    are shortened (never any other answer)."""
    text = answers_text(answers)
    if len(text) <= MAX_SURVEY_ANSWERS_CHARS:
        return text
    answers = dict(answers)
    for key in reversed([k for k, v in answers.items() if isinstance(v, str) and len(v) > 20]):
        answers[key] = answers[key][:20]
        text = answers_text(answers)
        if len(text) <= MAX_SURVEY_ANSWERS_CHARS:
            break
    return text
