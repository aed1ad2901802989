"""The citizen's visit: choose the officer, rate, reasons, call-back, thanks,
and back to the idle screen.

:class:`VisitFlow` decides which screen comes next and hands every tap to the
:class:`kiosk.desk.RatingDesk`, which records it. It draws nothing: screens are
reached through a :class:`kiosk.navigator.Navigator`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from kiosk import i18n
from kiosk.config import AttributionMode, Officer, Reason, Settings
from kiosk.desk import REPICK_S, CorrectionRefused, CounterClosed, RatingDesk
from kiosk.navigator import Navigator, Words
from sync.record import Record

__all__ = ["IDLE_SCREENS", "Visit", "VisitFlow", "reason_label"]

# The screens a counter rests on when nobody is being served ("prompt" waits
# for the officer's hand-over when ratings need one).
IDLE_SCREENS = ("closed", "choose", "rate", "prompt")


@dataclass
class Visit:
    """One citizen's pass through the screens, from the tap to idle."""

    officer: Officer
    rating: Record | None = None
    correction: Record | None = None
    """The citizen's second choice, made within the window (one at most)."""
    correctable: bool = False
    """The window for "Chọn lại" is still open."""
    dossier_code: str | None = None
    """The dossier handed over when the officer triggered the prompt."""
    reasons: list[str] = field(default_factory=list)
    phone: str = ""
    consent: bool = False
    details_saved: bool = False
    callback_noted: bool = False
    """A number was given with consent and sealed into the details record."""


def reason_label(settings: Settings, language: str, reason_id: str) -> str:
    """A reason's words: the tablet's own label, else the catalogue's, else its id
    (a reason since removed from the settings may still be in the records)."""
    for reason in (*settings.low_reasons, *settings.high_reasons):
        if reason.id == reason_id:
            return reason.label(language)
    key = f"reason.{reason_id}"
    catalogue = i18n.catalogue(language)
    return catalogue.get(key) if catalogue.has(key) else reason_id


class VisitFlow:
    """The citizen's path through the screens.

    ``on_idle(keep_language)`` runs each time the counter goes back to idle,
    after the visit is forgotten and before the idle screen is chosen: the app
    applies a roster that waited for the visit's end there, and puts the
    configured language back.
    """

    def __init__(
        self,
        desk: RatingDesk,
        navigator: Navigator,
        words: Words,
        on_idle: Callable[[bool], None] | None = None,
    ):
        self.desk = desk
        self.navigator = navigator
        self.words = words
        self.on_idle = on_idle or (lambda _keep_language: None)
        self.visit: Visit | None = None
        self.surveys = None
        """The survey's flow (:class:`kiosk.survey_flow.SurveyFlow`), when the
        app has one: it may invite after a visit, or be the rest screen."""

    @property
    def in_progress(self) -> bool:
        """A citizen is between their first tap and the idle screen."""
        return self.visit is not None

    @property
    def at_rest(self) -> bool:
        """Nobody is being served and an idle screen shows."""
        if self.visit is not None:
            return False
        return self.navigator.current in IDLE_SCREENS or (self.surveys is not None and self.surveys.resting())

    # -- idle ---------------------------------------------------------------------

    def go_idle(self, *, keep_language: bool = False) -> None:
        """Back to the idle screen the counter's state calls for."""
        self.visit = None
        if self.surveys is not None:
            self.surveys.forget()  # a survey still open is recorded before the rest screen
        self.on_idle(keep_language)
        settings = self.desk.settings
        reason = self.desk.closed_reason()
        if self.surveys is not None and self.surveys.rests_on_invitation():
            return  # a survey tablet rests on the invitation while a campaign runs
        if reason is not None:
            closed = self.navigator.screen("closed")
            closed.reason = reason
            closed.hours = settings.working_hours.describe(self.desk.clock.now()) or self.words.tr("closed.no_hours")
            self.navigator.show("closed")
        elif settings.mode == AttributionMode.CHOOSE:
            self.navigator.show("choose")
        elif not settings.handover.without_trigger:
            # Ratings only after a hand-over: the counter waits for the officer.
            self.navigator.screen("prompt").wait_for_handover(self.desk.officer_on_duty())
            self.navigator.show("prompt")
        else:
            rate = self.navigator.screen("rate")
            rate.officer = self.desk.officer_on_duty()
            rate.can_go_back = False
            self.navigator.show("rate")

    def recheck_idle(self) -> None:
        """The periodic look at the clock and the shift, while nobody is served."""
        # A citizen who chose English and has not tapped yet keeps it.
        if self.at_rest:
            self.go_idle(keep_language=True)

    # -- the citizen's taps -------------------------------------------------------

    def choose_officer(self, officer: Officer) -> None:
        """``choose`` mode: the citizen picked who served them."""
        self.visit = Visit(officer)
        rate = self.navigator.screen("rate")
        rate.officer = officer
        rate.can_go_back = True
        self.navigator.show("rate")

    def hand_over(self, dossier_code: str | None) -> bool:
        """The officer hands a result over (a scanned receipt, or the
        configured key): prompt the citizen to rate, for that dossier.

        Only at a counter with one officer on duty (not ``choose`` mode), open,
        and not while a citizen's rating is under way. Returns whether the
        prompt shows."""
        # The invitation to a survey nobody has accepted yet gives way to the next citizen.
        inviting = self.navigator.current == "survey_invite" and not (self.surveys and self.surveys.in_progress)
        if self.navigator.current not in IDLE_SCREENS and not inviting:
            return False  # the technician's or an officer's screens, or a citizen typing a number
        if self.desk.settings.mode == AttributionMode.CHOOSE or self.desk.closed_reason() is not None:
            return False
        if self.visit is not None and self.visit.rating is not None:
            return False
        officer = self.desk.officer_on_duty()
        if officer is None:
            return False
        self.visit = Visit(officer, dossier_code=dossier_code)
        self.navigator.screen("prompt").ask_for_rating(officer, dossier_code)
        self.navigator.show("prompt")
        return True

    def rate(self, score: int) -> None:
        """A face was tapped: record the rating now (or, after "Chọn lại",
        its correction), show what was recorded, then ask for details."""
        if self.visit is not None and self.visit.rating is not None:
            return self._correct(score)
        officer = self.visit.officer if self.visit else self.desk.officer_on_duty()
        if officer is None:
            self.go_idle()
            return
        dossier = self.visit.dossier_code if self.visit else None
        try:
            record = self.desk.rate(officer.id, score, dossier_code=dossier)
        except (CounterClosed, KeyError):
            # Closed meanwhile, or the officer left the roster: nothing to
            # record; the idle screen shows what is true now.
            self.go_idle()
            return
        self.visit = Visit(officer, rating=record, dossier_code=dossier)
        if self.desk.settings.correction_window_s > 0:
            self.visit.correctable = True
            self.navigator.screen("recorded").show_level(self.desk.scale.level(score), can_correct=True)
            self.navigator.show("recorded")
        else:
            self._after_rating()

    def choose_again(self) -> None:
        """"Chọn lại" within the window: the faces again, for one new tap."""
        visit = self.visit
        if visit is None or not visit.correctable:
            return self.recorded_done()
        visit.correctable = False
        self.navigator.screen("prompt").ask_again(visit.officer, REPICK_S)
        self.navigator.show("prompt")

    def recorded_done(self) -> None:
        """The window is over (or the citizen went on): on to the details."""
        if self.visit is None or self.visit.rating is None:
            return self.go_idle()
        self.visit.correctable = False
        self._after_rating()

    def _correct(self, score: int) -> None:
        visit = self.visit
        if visit.correction is None:
            try:
                visit.correction = self.desk.correct(visit.rating, score)
            except (CorrectionRefused, KeyError):
                pass  # too late or once already: the first choice stands
        self._after_rating()

    def _after_rating(self) -> None:
        """Reasons for the level that stands (the corrected one, if any), or thanks."""
        visit = self.visit
        settings = self.desk.settings
        standing = visit.correction or visit.rating
        level = self.desk.scale.level(standing.score)
        if level.low and settings.low_reasons:
            self._ask_reasons(settings.low_reasons, low=True)
        elif not level.low and settings.reasons_on_high and settings.high_reasons:
            self._ask_reasons(settings.high_reasons, low=False)
        else:
            self._thank()

    def reasons_done(self, reasons: Iterable[str], thank: bool = True) -> None:
        """Reasons chosen (maybe none); ``thank=False`` when the screen timed out."""
        if self.visit is None:
            return self.go_idle()
        self.visit.reasons = list(reasons)
        self._save_details()
        self._thank() if thank else self.go_idle()

    def request_callback(self, reasons: Iterable[str]) -> None:
        """The citizen wants a leader to call back: take the number next."""
        if self.visit is None:
            return self.go_idle()
        self.visit.reasons = list(reasons)
        if not self.desk.takes_callbacks():
            return self.reasons_done(reasons)
        self.navigator.screen("callback").reset()
        self.navigator.show("callback")

    def callback_done(self, phone: str, consent: bool, thank: bool = True) -> None:
        """Number given (or declined); ``thank=False`` when the screen timed out."""
        if self.visit is None:
            return self.go_idle()
        self.visit.phone, self.visit.consent = phone, consent
        self._save_details()
        self._thank() if thank else self.go_idle()

    def end_visit(self) -> None:
        """A screen timed out (or the thank-you screen was left): keep what was
        tapped, then back to idle, or on to a running survey's invitation."""
        thanked = self.navigator.current == "thanks"
        if self.visit is not None:
            self._save_details()
        if thanked and self.surveys is not None:
            self.visit = None
            if self.surveys.invite_after_visit():
                return
        self.go_idle()

    # -- steps ----------------------------------------------------------------------

    def _ask_reasons(self, reasons: Iterable[Reason], low: bool) -> None:
        screen = self.navigator.screen("reasons")
        screen.show_reasons(reasons, lambda r: r.label(self.words.language), low)
        # A number can only be taken once it can be sealed to the server.
        screen.offers_callback = low and self.desk.takes_callbacks()
        self.navigator.show("reasons")

    def _save_details(self) -> None:
        # Saved at most once per visit, whichever screen ends it.
        visit = self.visit
        if visit is None or visit.rating is None or visit.details_saved:
            return
        saved = self.desk.add_details(visit.rating, visit.reasons, visit.phone or None, consent=visit.consent)
        visit.details_saved = True
        visit.callback_noted = saved is not None and saved.callback_box is not None
        # Sealed for the server in the record: the tablet keeps no number in clear.
        visit.phone = ""

    def _thank(self) -> None:
        thanks = self.navigator.screen("thanks")
        visit = self.visit
        thanks.comment_url = (
            self.desk.comment_url(visit.rating) if visit and visit.rating else ""
        )
        thanks.callback_noted = bool(visit and visit.callback_noted)
        self.navigator.show("thanks")
