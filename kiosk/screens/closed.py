"""A calm "counter closed" screen: nobody signed in, or outside working hours
("Hết giờ làm việc", with the week's hours)."""

from __future__ import annotations

from collections.abc import Callable

from kivy.app import App
from kivy.properties import StringProperty

from kiosk.config import WEEKDAYS, WorkingHours
from kiosk.screens.base import KioskScreen


def week_lines(hours: WorkingHours, tr: Callable[..., str]) -> list[str]:
    """The week's opening hours, one line per run of days opening alike:
    ``Thứ Hai – Thứ Sáu: 07:30–11:30, 13:30–17:00``; days without a session
    say they are closed."""
    runs: list[tuple[str, str, str]] = []  # first day, last day, hours text
    for day in WEEKDAYS:
        spans = hours.sessions.get(day, ())
        text = ", ".join(f"{a:%H:%M}–{b:%H:%M}" for a, b in spans) or tr("closed.day_off")
        if runs and runs[-1][2] == text:
            runs[-1] = (runs[-1][0], day, text)
        else:
            runs.append((day, day, text))
    lines = []
    for first, last, text in runs:
        days = tr(f"tech.weekday_{first}")
        if last != first:
            days = tr("closed.days_range", first=days, last=tr(f"tech.weekday_{last}"))
        lines.append(f"{days}: {text}")
    return lines


class ClosedScreen(KioskScreen):
    """No rating can be made here."""

    reason = StringProperty("")
    """``no_officer`` or ``outside_hours``."""

    hours = StringProperty("")
    """Today's working hours, already in words."""

    week_text = StringProperty("")
    """The week's working hours, one line per run of days."""

    def on_pre_enter(self, *_args) -> None:
        self.show_week()

    def show_week(self) -> None:
        """Word the week's hours in the language shown now."""
        app = App.get_running_app()
        self.week_text = "\n".join(week_lines(app.settings.working_hours, app.tr))

    def on_timeout(self) -> None:
        pass
