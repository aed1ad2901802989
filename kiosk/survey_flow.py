"""The citizen's way through a survey: the invitation, one question per
screen, the thanks, and back to rest.

:class:`SurveyFlow` decides which screen comes next and hands every answer
to the :class:`kiosk.survey_desk.SurveyDesk`, which keeps it at once. It
draws nothing: screens are reached through a :class:`kiosk.navigator.Navigator`.

When the tablet invites (``survey.invite``):

* ``after_thanks`` — while a campaign runs, the end of a rating's thank-you
  screen (Xong, or its countdown) brings the invitation; it goes back to
  rest by itself after the reasons' timeout when nobody accepts;
* ``only`` — a survey tablet: the invitation is its rest screen while a
  campaign runs (no ratings are asked); without a campaign it rests as any
  tablet does;
* ``off`` — never.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kiosk.desk import CLOSED_OUTSIDE_HOURS
from kiosk.navigator import Navigator
from kiosk.store.surveys import Draft
from kiosk.survey_desk import SurveyDesk
from sync.record import Record
from sync.survey import Campaign, Question, SurveyError

__all__ = ["SURVEY_SCREENS", "SurveyFlow"]

SURVEY_SCREENS = ("survey_invite", "survey_question", "survey_thanks")
"""The screens of a survey, by the name the app navigates with."""


class SurveyFlow:
    """One citizen's survey at a time. ``go_rest()`` puts the tablet back
    at rest (the app's :meth:`kiosk.visit.VisitFlow.go_idle`)."""

    def __init__(self, desk: SurveyDesk, navigator: Navigator, invite: Callable[[], str],
                 go_rest: Callable[[], None]):
        self.desk = desk
        self.navigator = navigator
        self.invite = invite
        self.go_rest = go_rest
        self.campaign: Campaign | None = None
        self.draft: Draft | None = None
        self.index = 0
        self.last_record: Record | None = None
        """The survey record written last (for the technician and the tests)."""

    # -- when to invite -------------------------------------------------------------

    @property
    def in_progress(self) -> bool:
        """A citizen accepted the invitation and has not finished yet."""
        return self.draft is not None

    def resting(self) -> bool:
        """The survey tablet's rest screen shows (``only``): nobody is answering."""
        return self.draft is None and self.navigator.current == "survey_invite" and self.invite() == "only"

    def rests_on_invitation(self) -> bool:
        """Show the invitation as the rest screen now (``only``, a campaign
        running, within working hours when the tablet keeps them)."""
        if self.invite() != "only" or self.desk.campaign_today() is None:
            return False
        if self.desk.desk.closed_reason() == CLOSED_OUTSIDE_HOURS:
            return False
        self._show_invitation(at_rest=True)
        return True

    def invite_after_visit(self) -> bool:
        """A rating's visit ended on its thank-you screen: invite when a campaign
        runs and the setting says so. Returns whether the invitation shows."""
        if self.invite() != "after_thanks" or self.draft is not None or self.desk.campaign_today() is None:
            return False
        self._show_invitation(at_rest=False)
        return True

    def _show_invitation(self, *, at_rest: bool) -> None:
        campaign = self.desk.campaign_today()
        screen = self.navigator.screen("survey_invite")
        screen.show_campaign(campaign, at_rest=at_rest)
        self.navigator.show("survey_invite")

    # -- the citizen's taps ---------------------------------------------------------

    def accept(self) -> None:
        """"Tham gia": the first question (a draft is committed first)."""
        campaign = self.desk.campaign_today()
        if campaign is None:
            return self.go_rest()
        self.campaign = campaign
        self.draft = self.desk.begin(campaign)
        self.index = 0
        self._show_question()

    def decline(self) -> None:
        """"Không, cảm ơn", or nobody accepted in time."""
        self.go_rest()

    @property
    def question(self) -> Question | None:
        """The question showing now."""
        if self.campaign is None:
            return None
        questions = self.campaign.questionnaire.questions
        return questions[self.index] if 0 <= self.index < len(questions) else None

    def section_of(self, question: Question) -> str:
        """The title of the section ``question`` is in (empty when it has none)."""
        if self.campaign is None:
            return ""
        return next((s.title for s in self.campaign.questionnaire.sections if question in s.questions), "")

    def answer(self, value: Any) -> None:
        """The citizen answered the question showing: keep it, then the next one."""
        self.keep(value)
        self.next()

    def keep(self, value: Any) -> None:
        """Keep an answer to the question showing without moving on (a toggle
        of a multiple-choice question, the text typed so far)."""
        question = self.question
        if self.draft is None or question is None:
            return
        try:
            self.draft = self.desk.answer(self.draft, question, value, self.campaign)
        except SurveyError:
            pass  # a value the question does not take is not kept (the screen offers only valid ones)

    def skip(self) -> None:
        """"Bỏ qua": on to the next question, this one left as it is."""
        self.next()

    def next(self) -> None:
        """The next question, or the end."""
        if self.campaign is None:
            return self.go_rest()
        self.index += 1
        if self.index >= len(self.campaign.questionnaire.questions):
            return self.finish()
        self._show_question()

    def finish(self) -> None:
        """The last question is behind: record, then thank."""
        answered = self._record()
        screen = self.navigator.screen("survey_thanks")
        screen.answered = answered
        self.navigator.show("survey_thanks")

    def leave(self) -> None:
        """"Kết thúc": the citizen stops here; what was answered is recorded."""
        self.finish()

    def timed_out(self) -> None:
        """Nobody touched a question for its timeout: record, then rest."""
        self._record()
        self.go_rest()

    def done(self) -> None:
        """The survey's thank-you screen is over."""
        self.go_rest()

    def forget(self) -> None:
        """The tablet goes to rest: a survey still open is recorded first."""
        if self.draft is not None:
            self._record()

    # -- steps ----------------------------------------------------------------------

    def _show_question(self) -> None:
        question = self.question
        screen = self.navigator.screen("survey_question")
        screen.show_question(question, self.index, len(self.campaign.questionnaire.questions),
                             self.draft.answers.get(question.key))
        self.navigator.show("survey_question")

    def _record(self) -> bool:
        """Chain the draft (if any answer was given); returns whether one was."""
        draft, campaign, self.draft, self.campaign = self.draft, self.campaign, None, None
        if draft is None:
            return False
        record = self.desk.finish(draft, campaign=campaign)
        if record is not None:
            self.last_record = record
        return record is not None
