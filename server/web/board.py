"""The commune's board: every officer's satisfaction rate over a period, with
the number of ratings it rests on and its 95% interval, the ranking by the
interval's lower bound (officers under the threshold listed apart), the
ratings counted apart and the one switch that leaves them all out, and the
reasons under the plans' headings.

The figures are :func:`server.figures.board`'s; this module only reads the
page's choices (a plain GET form, so it works without JavaScript) and hands
the figures to ``board.html``. The period choice (:class:`PeriodChoice`) is
shared with an officer's own page (:mod:`server.web.officers`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.accounts import Account, Role
from server.figures import board
from server.i18n import Translate, translator
from server.reports import period_label
from server.scores import (
    AT_HOME,
    CATEGORIES,
    HEADINGS,
    REASON_HEADINGS,
    Exclusions,
    Figures,
    Grain,
    Period,
    PeriodKind,
    Place,
)
from server.settings import ServerSettings, load_settings
from server.web.auth import require
from server.web.render import page, register_nav, request_language
from sync.scale import SCALES

__all__ = ["router", "PeriodChoice", "choose_period", "figures_context", "LEVEL_ORDER", "MAX_RANGE_DAYS"]

router = APIRouter(include_in_schema=False)
register_nav("/board", "board.nav", (Role.LEADER, Role.OBSERVER, Role.ADMIN), order=10)

MAX_RANGE_DAYS = 3 * 366
"""The longest chosen range a page draws (a longer one is cut to this)."""

LEVEL_ORDER: tuple[str, ...] = tuple(level.key for level in SCALES[5].best_first)
"""Level keys in the order the pages list them, best first (every scale's
levels are among the 5-level scale's)."""


@dataclass(frozen=True)
class PeriodChoice:
    """What the page was asked to show: a period and whether every flagged rating is left out."""

    period: Period
    exclude_flagged: bool
    """The one switch: leave out burst, simulated, clock-off and chain ratings
    (off: only simulated ones are left out, the default)."""
    today: date
    grain: Grain | None = None
    """The width of a trend's buckets when chosen (an officer's page), else the period's own."""
    place: Place = Place.ALL
    """Where the ratings counted were given: everywhere (the default), at the counter or at home."""

    @property
    def exclusions(self) -> Exclusions:
        """The exclusions the switch stands for."""
        return Exclusions.all() if self.exclude_flagged else Exclusions()

    def query(self, period: Period | None = None, **extra: str) -> str:
        """The query string that shows ``period`` (this one by default) with the same switch."""
        period = period or self.period
        values: dict[str, str] = {"kind": period.kind.value}
        if period.kind == PeriodKind.RANGE:
            values.update(first=period.first.isoformat(), last=period.last.isoformat())
        else:
            values["day"] = period.first.isoformat()
        if self.exclude_flagged:
            values["flagged"] = "exclude"
        if self.grain is not None:
            values["grain"] = self.grain.value
        if self.place is not Place.ALL:
            values["place"] = self.place.value
        values.update(extra)
        return urlencode(values)

    @property
    def previous(self) -> str:
        """The query string of the period before."""
        return self.query(self.period.shift(-1))

    @property
    def next(self) -> str | None:
        """The query string of the period after, or None when it starts after today."""
        later = self.period.shift(1)
        return self.query(later) if later.first <= self.today else None

    @property
    def today_query(self) -> str:
        """The query string of today's period of the same kind (a day for a range)."""
        kind = PeriodKind.DAY if self.period.kind == PeriodKind.RANGE else self.period.kind
        return self.query(Period.of(kind, self.today, self.period.zone))

    def label(self, t: Translate) -> str:
        """The period in words: «Tháng 3/2026», «Tuần 10 (02/03–08/03/2026)»… (:func:`server.reports.period_label`)."""
        return period_label(self.period, t)


def _parse_day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def choose_period(kind: str | None, day: str | None, first: str | None, last: str | None,
                  flagged: str | None, *, today: date, zone: ZoneInfo, grain: str | None = None,
                  place: str | None = None) -> PeriodChoice:
    """The period a page's query asks for; anything unreadable falls back to
    today's day (a page of figures never fails on a mistyped date).

    ``kind`` is a :class:`~server.scores.PeriodKind` value; ``day`` any day of
    the period (today by default); a range takes ``first`` and ``last``
    (swapped when reversed, cut to :data:`MAX_RANGE_DAYS`); ``flagged=exclude``
    turns the one switch on; ``grain`` (``day``, ``week``, ``month``) sets a
    trend's buckets; ``place`` (``counter``, ``home``) shows only the ratings
    given there (every place by default)."""
    try:
        period_kind = PeriodKind(kind or PeriodKind.DAY)
    except ValueError:
        period_kind = PeriodKind.DAY
    anchor = _parse_day(day) or today
    if period_kind == PeriodKind.RANGE:
        start, end = _parse_day(first) or anchor, _parse_day(last) or _parse_day(first) or anchor
        if end < start:
            start, end = end, start
        end = min(end, start + timedelta(days=MAX_RANGE_DAYS - 1))
        period = Period.between(start, end, zone)
    else:
        period = Period.of(period_kind, anchor, zone)
    try:
        trend_grain = Grain(grain) if grain else None
    except ValueError:
        trend_grain = None
    return PeriodChoice(period, flagged == "exclude", today, trend_grain, Place.of(place))


def percent(value: float | None, lang: str) -> str:
    """A share as a percentage with one decimal, in the page's language's
    way of writing numbers (``87,5%`` in Vietnamese, ``87.5%`` in English)."""
    if value is None:
        return "—"
    text = f"{100 * value:.1f}"
    return (text.replace(".", ",") if lang == "vi" else text) + "%"


def level_keys(figures: list[Figures]) -> list[str]:
    """The level keys found in these figures, best first (unknown ones last)."""
    seen = {key for f in figures for key, count in f.levels.items() if count}
    return [key for key in LEVEL_ORDER if key in seen] + sorted(seen - set(LEVEL_ORDER))


def figures_context(choice: PeriodChoice, settings: ServerSettings, lang: str, t: Translate) -> dict:
    """What every figures page passes its template besides the figures: the
    period's words and links, the switch, the period kinds, ``pct``."""
    return {
        "choice": choice,
        "period_label": choice.label(t),
        "kinds": [kind.value for kind in PeriodKind],
        "categories": CATEGORIES,
        "places": [p.value for p in Place],
        "at_home": AT_HOME,
        "heading_groups": HEADINGS,
        "level_order": LEVEL_ORDER,
        "min_ratings": settings.rank_min_ratings,
        "pct": lambda value: percent(value, lang),
        "zone_name": settings.timezone,
    }


def other_reasons(reasons: dict) -> list[str]:
    """Reasons given that are under none of the plans' headings (a commune's own), most given first."""
    return sorted((r for r in reasons if r not in REASON_HEADINGS), key=lambda r: (-reasons[r].total, r))


def today_in(request: Request, settings: ServerSettings) -> date:
    """Today in the commune's time zone, on the server's clock."""
    return Period.today(settings.zone, request.app.state.clock()).first


@router.get("/board", response_class=HTMLResponse)
def board_page(request: Request, kind: str | None = Query(None, max_length=10),
               day: str | None = Query(None, max_length=10), first: str | None = Query(None, max_length=10),
               last: str | None = Query(None, max_length=10),
               flagged: str | None = Query(None, max_length=10), place: str | None = Query(None, max_length=10),
               account: Account = Depends(require(Role.LEADER, Role.OBSERVER, Role.ADMIN, Role.OFFICER))
               ) -> Response:
    """The commune's board for a period, today's by default. (Leader,
    observer, admin; an officer is sent to their own page, with the same choices.)"""
    if account.role is Role.OFFICER:
        query = request.url.query
        return RedirectResponse("/me" + (f"?{query}" if query else ""), status_code=303)
    engine = request.app.state.engine
    settings = load_settings(engine)
    choice = choose_period(kind, day, first, last, flagged, today=today_in(request, settings), zone=settings.zone,
                           place=place)
    figures = board(engine, choice.period, choice.exclusions, settings=settings, place=choice.place)
    lang = request_language(request)
    t = translator(lang)
    everyone = [figures.commune, *figures.officers.values()]
    return page(request, "board.html", figures=figures, levels=level_keys(everyone),
                other_reasons=other_reasons(figures.reasons), **figures_context(choice, settings, lang, t))

