"""One question of a survey per screen, its answers as large targets by
kind: option buttons (single), toggles and "Tiếp" (multiple), five labelled
agreement buttons (scale), the letters keyboard (text) and the officers'
photo cards (officer). "Bỏ qua" goes on without an answer; "Kết thúc" ends
the survey there. Every answer is kept the moment it is given."""

from __future__ import annotations

from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.factory import Factory
from kivy.properties import NumericProperty, StringProperty
from kivy.uix.scrollview import ScrollView
from kivy.uix.widget import Widget

from kiosk.screens.base import KioskScreen
from kiosk.survey_desk import TEXT_ANSWER_CHARS
from kiosk.widgets.card import fill_officer_grid
from kiosk.widgets.chip import Chip
from kiosk.widgets.letters import LetterKeys
from sync.survey import AGREEMENT_POINTS

TEXT_SAVE_AFTER_S = 1.0
"""Seconds after the last key before the text typed so far is kept."""


class SurveyQuestionScreen(KioskScreen):
    """Shows the question :class:`kiosk.survey_flow.SurveyFlow` asks."""

    kind = StringProperty("single")
    question_text = StringProperty("")
    section_title = StringProperty("")
    number = NumericProperty(1)
    total = NumericProperty(1)
    typed = StringProperty("")
    """A text question: what is typed so far."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._save_text = None
        self._question = None

    def show_question(self, question, index: int, total: int, current: Any = None) -> None:
        """Ask ``question`` (a :class:`sync.survey.Question`), the ``index``-th of ``total``."""
        app = App.get_running_app()
        self._cancel_text_save()
        self._question = question
        self.kind, self.question_text = question.kind, question.text
        self.number, self.total = index + 1, total
        self.section_title = app.surveys.section_of(question)
        body = self.ids.body
        body.clear_widgets()
        getattr(self, f"_fill_{question.kind}")(body, question, current)
        self._place_actions()
        if self.manager is not None and self.manager.current_screen is self:
            self.restart_timer()

    # -- bodies by kind ---------------------------------------------------------------

    def _scroll(self, body, grid) -> None:
        scroll = ScrollView(do_scroll_x=False)
        scroll.add_widget(grid)
        body.add_widget(scroll)

    def _fill_single(self, body, question, _current) -> None:
        grid = Factory.AnswerGrid(cols=1 if App.get_running_app().portrait or len(question.options) <= 3 else 2)
        for option in question.options:
            button = Factory.OptionButton(text=option.text)
            button.option_key = option.key
            button.bind(on_release=lambda b: App.get_running_app().surveys.answer(b.option_key))
            grid.add_widget(button)
        self._scroll(body, grid)

    def _fill_multiple(self, body, question, current) -> None:
        chosen = set(current or ())
        grid = Factory.AnswerGrid(cols=1 if App.get_running_app().portrait else 2)
        for option in question.options:
            chip = Chip(reason_id=option.key, text=option.text)
            chip.state = "down" if option.key in chosen else "normal"
            chip.bind(state=lambda *_: App.get_running_app().surveys.keep(self.chosen()))
            grid.add_widget(chip)
        self._scroll(body, grid)

    def _fill_scale(self, body, _question, _current) -> None:
        app = App.get_running_app()
        row = Factory.ScaleRow(orientation="vertical" if app.portrait else "horizontal")
        for point in range(1, AGREEMENT_POINTS + 1):
            button = Factory.ScaleButton()
            button.point = point
            button.bind(on_release=lambda b: App.get_running_app().surveys.answer(b.point))
            row.add_widget(button)
        body.add_widget(row)

    def _fill_text(self, body, _question, current) -> None:
        app = App.get_running_app()
        keys = LetterKeys(delete_text=app.tr("survey.delete"), space_text=app.tr("survey.space"))
        keys.max_length = TEXT_ANSWER_CHARS
        keys.value = current or ""
        self.typed = keys.value
        keys.bind(value=self._typed)
        if app.portrait:
            body.add_widget(Widget())  # the keyboard at the bottom, under the thumb
        body.add_widget(keys)

    def _fill_officer(self, body, _question, _current) -> None:
        app = App.get_running_app()
        grid = Factory.AnswerGrid(cols=2 if app.portrait else 3)
        fill_officer_grid(grid, app.settings.active_officers, lambda o: app.surveys.answer(o.id))
        self._scroll(body, grid)

    def _place_actions(self) -> None:
        # A text question in landscape: the keyboard fills the right, the
        # question and the buttons share the left column.
        actions, left, main = self.ids.actions, self.ids.left, self.ids.main
        beside = self.kind == "text" and not App.get_running_app().portrait
        target = left if beside else main
        if actions.parent is None or actions.parent.uid != target.uid:
            actions.parent.remove_widget(actions)
            target.add_widget(actions)

    # -- what the citizen chose -------------------------------------------------------

    def option_buttons(self) -> list:
        """The answers' buttons, chips or cards, in order."""
        found = []
        for widget in self.ids.body.walk(restrict=True):
            if hasattr(widget, "option_key") or hasattr(widget, "point") or isinstance(widget, Chip) \
                    or type(widget).__name__ == "OfficerCard":
                found.append(widget)
        return found

    def letter_keys(self):
        """The keyboard of a text question."""
        return next(w for w in self.ids.body.walk(restrict=True) if isinstance(w, LetterKeys))

    def chosen(self) -> list[str]:
        """A multiple-choice question: the options chosen, in order."""
        return [w.reason_id for w in self.option_buttons() if isinstance(w, Chip) and w.state == "down"]

    def _typed(self, _keys, value: str) -> None:
        self.typed = value
        self._cancel_text_save()
        self._save_text = Clock.schedule_once(lambda _dt: App.get_running_app().surveys.keep(self.typed),
                                              TEXT_SAVE_AFTER_S)

    def _cancel_text_save(self) -> None:
        if self._save_text is not None:
            self._save_text.cancel()
            self._save_text = None

    def _now_kept(self) -> None:
        """Keep what a toggle or the keyboard holds now (before leaving the question)."""
        self._cancel_text_save()
        if self.kind == "text":
            App.get_running_app().surveys.keep(self.typed.strip() or None)

    # -- the buttons ------------------------------------------------------------------

    def go_on(self) -> None:
        """"Tiếp" (multiple and text): on to the next question."""
        self._now_kept()
        App.get_running_app().surveys.next()

    def skip(self) -> None:
        """"Bỏ qua": this question stays unanswered."""
        self._cancel_text_save()
        surveys = App.get_running_app().surveys
        if self.kind in ("multiple", "text"):
            surveys.keep(None)
        surveys.skip()

    def leave(self) -> None:
        """"Kết thúc": the survey ends here, what was answered is kept."""
        self._now_kept()
        App.get_running_app().surveys.leave()

    def on_leave(self, *args) -> None:
        super().on_leave(*args)
        self._cancel_text_save()

    def on_timeout(self) -> None:
        self._now_kept()
        App.get_running_app().surveys.timed_out()
