"""An officer's own page: their history over a period (day, week, month,
quarter, 6 months, year or a chosen range) as a trend chart and, the same
figures, as a table that is the page when JavaScript is off; the reasons
under the plans' headings; the ratings counted apart and the exclusion switch.

Leaders, observers and the admin may open any officer's page; an officer
only their own (``/me`` leads there) — another id gives 403 before anything
is read. The figures are :func:`server.figures.officer_history`'s: counts of
ratings by level, reason and day, never anything about a citizen.
"""

from __future__ import annotations

from calendar import monthrange
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.accounts import Account, Role
from server.deps import AccessDenied
from server.figures import History, officer_history
from server.i18n import Translate, translator
from server.scores import Bucket
from server.settings import load_settings
from server.web.auth import require
from server.web.board import choose_period, figures_context, level_keys, other_reasons, today_in
from server.web.render import page, register_nav, request_language

__all__ = ["router", "bucket_label", "chart_label", "chart_data"]

router = APIRouter(include_in_schema=False)
register_nav("/me", "history.nav", (Role.OFFICER,), order=10)


def bucket_label(bucket: Bucket, t: Translate) -> str:
    """A trend bucket in words: a day, a span of days, or a month."""
    if bucket.first == bucket.last:
        return bucket.first.strftime("%d/%m/%Y")
    if bucket.first.day == 1 and bucket.last.day == monthrange(bucket.last.year, bucket.last.month)[1] \
            and bucket.first.month == bucket.last.month:
        return t("board.label.month", month=bucket.first.month, year=bucket.first.year)
    return f"{bucket.first.strftime('%d/%m')}–{bucket.last.strftime('%d/%m/%Y')}"


def chart_label(bucket: Bucket, t: Translate, *, short: bool) -> str:
    """A trend bucket on the chart's axis: without the year when every bucket is in the same one."""
    if short and bucket.first == bucket.last:
        return bucket.first.strftime("%d/%m")
    if short and bucket.first.day != 1:
        return f"{bucket.first.strftime('%d/%m')}–{bucket.last.strftime('%d/%m')}"
    return bucket_label(bucket, t)


def chart_data(history: History, t: Translate, lang: str) -> dict[str, Any]:
    """The trend for ``static/charts.js``: labels, the rate and its interval in
    percent (None where a bucket has no rating), the number of ratings, and
    the words of the legend and axes."""
    def share(value: float | None) -> float | None:
        return round(100 * value, 1) if value is not None else None

    rates = [figures.rate for _bucket, figures in history.trend]
    one_year = len({year for bucket, _f in history.trend for year in (bucket.first.year, bucket.last.year)}) == 1
    return {
        "labels": [chart_label(bucket, t, short=one_year) for bucket, _figures in history.trend],
        "rate": [share(r.share) for r in rates],
        "low": [share(r.low) for r in rates],
        "high": [share(r.high) for r in rates],
        "n": [r.n for r in rates],
        "decimal": "," if lang == "vi" else ".",
        "words": {
            "rate": t("history.chart.rate"),
            "low": t("history.chart.low"),
            "high": t("history.chart.high"),
            "band": t("history.chart.band"),
            "n": t("history.chart.n"),
            "percent_axis": t("history.chart.percent_axis"),
            "count_axis": t("history.chart.count_axis"),
        },
    }


@router.get("/me")
def my_page(request: Request, account: Account = Depends(require(Role.OFFICER))) -> Response:
    """An officer's way to their own page, keeping the period chosen. (Officer.)"""
    if not account.officer_id:
        raise AccessDenied(403, "forbidden")
    query = request.url.query
    return RedirectResponse(f"/officers/{account.officer_id}" + (f"?{query}" if query else ""), status_code=303)


@router.get("/officers/{officer_id}", response_class=HTMLResponse)
def officer_page(request: Request, officer_id: str = Path(max_length=100),
                 kind: str | None = Query(None, max_length=10), day: str | None = Query(None, max_length=10),
                 first: str | None = Query(None, max_length=10), last: str | None = Query(None, max_length=10),
                 flagged: str | None = Query(None, max_length=10), grain: str | None = Query(None, max_length=10),
                 place: str | None = Query(None, max_length=10),
                 account: Account = Depends(require(Role.LEADER, Role.OBSERVER, Role.ADMIN, Role.OFFICER))
                 ) -> HTMLResponse:
    """One officer's history, this month by default. (Leader, observer,
    admin: any officer; officer: only their own, 403 for any other id.)"""
    if account.role is Role.OFFICER and account.officer_id != officer_id:
        raise AccessDenied(403, "forbidden")
    engine = request.app.state.engine
    settings = load_settings(engine)
    choice = choose_period(kind or "month", day, first, last, flagged, today=today_in(request, settings),
                           zone=settings.zone, grain=grain, place=place)
    history = officer_history(engine, officer_id, choice.period, choice.exclusions, grain=choice.grain,
                              place=choice.place)
    lang = request_language(request)
    t = translator(lang)
    # An officer always has their own page, even before the roster names them.
    own = account.officer_id == officer_id
    if not own and history.name == officer_id and history.total.total == 0:
        return page(request, "officer_missing.html", status_code=404)
    return page(request, "officer.html", history=history, levels=level_keys([history.total]),
                rows=[(bucket_label(bucket, t), figures) for bucket, figures in history.trend],
                chart=chart_data(history, t, lang), other_reasons=other_reasons(history.reasons),
                action=f"/officers/{officer_id}", own=own,
                **figures_context(choice, settings, lang, t))

