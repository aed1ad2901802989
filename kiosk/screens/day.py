"""The officer's day: today's count, satisfaction rate, distribution, reasons,
call-back requests, and the last 7 or 30 days. Only the signed-in officer's own
figures are ever put on this screen."""

from __future__ import annotations

from kivy.app import App
from kivy.properties import NumericProperty, ObjectProperty, StringProperty

from kiosk.screens.base import KioskScreen
from kiosk.widgets.charts import LevelBar


class DayScreen(KioskScreen):
    """Shows one :class:`kiosk.daybook.OfficerDay`."""

    officer = ObjectProperty(None, allownone=True)
    """Whose day this is."""

    day = ObjectProperty(None, allownone=True)
    """The :class:`kiosk.daybook.OfficerDay` shown."""

    days = NumericProperty(7)
    """How many days the chart shows: 7 or 30."""

    reasons_text = StringProperty("")
    """Reasons given today, most frequent first, one per line."""

    callbacks_text = StringProperty("")
    """How many call-backs were asked for today (never a number)."""

    def show(self, officer, day, levels, label_for, reason_label) -> None:
        """Fill the screen; ``levels`` best first."""
        self.officer = officer
        self.day = day
        total = day.tally.total
        self.ids.levels.clear_widgets()
        for level in levels:
            count = day.tally.counts.get(level.key, 0)
            self.ids.levels.add_widget(
                LevelBar(label=label_for(level.key), count=count,
                         share=count / total if total else 0.0, colour=(*level.colour, 1))
            )
        app = App.get_running_app()
        self.reasons_text = "\n".join(f"{reason_label(r)}: {n}" for r, n in day.reasons) or app.tr("day.no_reasons")
        # Only the count: the rated officer never sees a citizen's number.
        self.callbacks_text = (app.tr("day.callbacks_count", count=day.callbacks) if day.callbacks
                               else app.tr("day.no_callbacks"))

    def chart_points(self, day, days) -> list:
        """``(date, count, rate)`` of the chart's days, oldest first."""
        if day is None:
            return []
        return [(p.date, p.count, p.rate) for p in day.series[-int(days):]]

    def rated_days(self, day, days) -> int:
        """How many ratings the chart's days hold."""
        return sum(count for _date, count, _rate in self.chart_points(day, days))

    def on_timeout(self) -> None:
        App.get_running_app().visits.go_idle()
