"""The call-back request: a phone number on a large keypad, with explicit consent."""

from __future__ import annotations

from kivy.app import App
from kivy.properties import BooleanProperty, StringProperty

from kiosk.desk import is_valid_phone
from kiosk.screens.base import KioskScreen


class CallbackScreen(KioskScreen):
    """Sends only with a valid number and the consent box ticked."""

    compact_moves = (("actions", "left", "right"),)

    consent = BooleanProperty(False)
    """The citizen agreed to be called on this number."""

    message = StringProperty("")
    """What is missing before the request can be sent."""

    def consent_words(self, language: str, settings) -> str:
        """The consent text: who will call (``commune.leaders``, else the
        commune's leaders), why, and how long the number is kept."""
        app = App.get_running_app()
        if settings.leaders:
            who = settings.leaders
        elif settings.commune_name:
            who = app.tr("callback.who_commune", language, commune=settings.commune_name)
        else:
            who = app.tr("callback.who_default", language)
        return app.tr("callback.consent", language, who=who, months=settings.callback_retention_months)

    @staticmethod
    def number_ok(number: str) -> bool:
        """Whether the number typed so far is a whole phone number."""
        return is_valid_phone(number)

    @staticmethod
    def missing(number: str, consent: bool, language: str) -> str:
        """Why «Gửi» is still disabled: a number that cannot be right (typed
        out to 10 digits, or not starting with 0), then the consent box;
        nothing while the citizen is still typing."""
        app = App.get_running_app()
        if number and not is_valid_phone(number) and (len(number) >= 10 or not number.startswith("0")):
            return app.tr("callback.invalid", language)
        if is_valid_phone(number) and not consent:
            return app.tr("callback.need_consent", language)
        return ""

    def reset(self) -> None:
        """Empty the keypad and untick consent: no number stays on the screen
        once the visit is over."""
        self.ids.keypad.clear()
        self.consent = False
        self.message = ""

    def on_leave(self, *args) -> None:
        super().on_leave(*args)
        self.reset()

    @property
    def phone(self) -> str:
        return self.ids.keypad.value

    def toggle_consent(self) -> None:
        self.consent = not self.consent
        self.message = ""

    def send(self) -> None:
        app = App.get_running_app()
        if not is_valid_phone(self.phone):
            self.message = app.tr("callback.invalid")
        elif not self.consent:
            self.message = app.tr("callback.need_consent")
        else:
            app.visits.callback_done(self.phone, True)

    def cancel(self) -> None:
        App.get_running_app().visits.callback_done("", False)

    def on_timeout(self) -> None:
        # Keep the number only if the citizen both typed it and agreed.
        App.get_running_app().visits.callback_done(self.phone, self.consent, thank=False)
