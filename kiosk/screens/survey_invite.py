"""The invitation to a running survey of the Fatherland Front (Ủy ban MTTQ):
what it is, that it is anonymous and short, and "Tham gia" or "Không, cảm ơn"."""

from __future__ import annotations

from kivy.app import App
from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from kiosk.screens.base import KioskScreen


class SurveyInviteScreen(KioskScreen):
    """After a rating's thanks it goes back to rest by itself when nobody
    accepts; as a survey tablet's rest screen (``at_rest``) it stays."""

    campaign_title = StringProperty("")
    intro = StringProperty("")
    questions = NumericProperty(0)
    at_rest = BooleanProperty(False)

    def show_campaign(self, campaign, *, at_rest: bool) -> None:
        """Invite to ``campaign`` (a :class:`sync.survey.Campaign`)."""
        self.campaign_title = campaign.title
        self.intro = campaign.questionnaire.intro
        self.questions = len(campaign.questionnaire.questions)
        self.at_rest = at_rest
        if self.manager is not None and self.manager.current_screen is self:
            self.restart_timer()

    def accept(self) -> None:
        App.get_running_app().surveys.accept()

    def decline(self) -> None:
        App.get_running_app().surveys.decline()

    def on_timeout(self) -> None:
        # Nobody accepted: nothing was answered, nothing to keep.
        App.get_running_app().surveys.decline()
