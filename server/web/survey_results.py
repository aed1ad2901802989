"""The Fatherland Front's survey results on the dashboard: a campaign's
results, two campaigns compared, their downloads and the paper questionnaire.

* ``/survey-results`` — the campaigns with their answer sets, links to each
  one's results, and the form to compare two;
* ``/survey-results/{id}`` — a campaign's results question by
  question (``?channel=kiosk|phone|paper`` keeps one channel;
  ``?grain=week|month`` the width of the chart over time), with
  ``results.xlsx`` and ``results.pdf`` beside it;
* ``/survey-results/compare?before=…&after=…`` — two campaigns side by side (by
  default the first campaign, the baseline, against the latest), with
  ``compare.xlsx`` and ``compare.pdf``;
* ``/survey-results/{id}/questionnaire.pdf`` — the paper questionnaire
  of the version the campaign asks now, for the paper channel.

Who: the admin, the observer (the Front) and leaders read every page and
file; officers may not (403). The citizens' free texts are shown — with
phone numbers and e-mail addresses masked — to leaders and the observer,
who read them and act on them; the admin (a technician) sees only their
number, and the files follow the page. Every download is audited
(``survey.download``). The rules are :mod:`server.survey_results`', the
files :mod:`server.survey_files`'.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from server.accounts import Account, AccountBook, Role
from server.i18n import Translate, translator
from server.scores import Grain, Rate
from server.settings import load_settings
from server.store import read_transaction
from server.store import roster as stored_roster
from server.store import surveys as stored
from server.store.ratings import officer_names
from server.survey_files import (
    comparison_filename,
    questionnaire_filename,
    render_comparison_pdf,
    render_questionnaire_pdf,
    render_results_pdf,
    results_filename,
    write_comparison_xlsx,
    write_results_xlsx,
)
from server.survey_results import (
    CampaignComparison,
    CampaignReport,
    QuestionResult,
    campaign_report,
    compare_campaigns,
    masked_text,
)
from server.web.auth import client_address, get_accounts, require
from server.web.render import page, register_nav, request_language
from sync.survey import AGREEMENT_POINTS, CHANNELS, Questionnaire

__all__ = ["router", "TEXT_READERS"]

router = APIRouter(include_in_schema=False)

_ROLES = (Role.ADMIN, Role.OBSERVER, Role.LEADER)
READERS = Depends(require(*_ROLES))
TEXT_READERS = frozenset({Role.LEADER, Role.OBSERVER})
"""Who reads the citizens' free texts (masked): those who act on them."""
_ID = r"^[A-Za-z0-9_-]{1,64}$"
_MEDIA = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}

register_nav("/survey-results", "survey_results.nav", _ROLES, order=39)


@dataclass(frozen=True)
class _Loaded:
    """A stored campaign with every version its answer sets name, and those answer sets."""

    campaign: stored.StoredCampaign
    questionnaires: list[Questionnaire]
    answer_sets: list[stored.SurveyResponse]


def _load(request: Request, campaign_id: str) -> _Loaded | None:
    with read_transaction(request.app.state.engine) as conn:
        found = stored.campaign(conn, campaign_id)
        if found is None:
            return None
        qid = found.questionnaire.id
        answer_sets = [a for a in stored.responses(conn, campaign_id) if a.questionnaire_id == qid]
        versions = sorted({a.questionnaire_version for a in answer_sets} | {found.questionnaire.version})
        questionnaires = [q for v in versions if (q := stored.questionnaire(conn, qid, v)) is not None]
    return _Loaded(found, questionnaires, answer_sets)


def _names(request: Request) -> dict[str, str]:
    with read_transaction(request.app.state.engine) as conn:
        return officer_names(conn)


def _active_officers(request: Request) -> list[tuple[str, str]]:
    """(id, name) of the roster's active officers, in its order."""
    with read_transaction(request.app.state.engine) as conn:
        current = stored_roster.current_roster(conn)
    if current is None:
        return []
    officers = json.loads(current[0]).get("officers", [])
    return [(o["id"], o.get("name") or o["id"]) for o in officers if o.get("id") and o.get("active", True)]


def _missing(request: Request) -> HTMLResponse:
    return page(request, "survey_results_missing.html", status_code=404)


def _channel(value: str | None) -> str | None:
    return value if value in CHANNELS else None


def _grain(value: str | None) -> Grain | None:
    return Grain(value) if value in ("week", "month") else None


def _report(request: Request, loaded: _Loaded, channel: str | None, grain: Grain | None) -> CampaignReport:
    settings = load_settings(request.app.state.engine)
    return campaign_report(
        loaded.campaign.contract,
        loaded.questionnaires,
        loaded.answer_sets,
        zone=settings.zone,
        made_at=request.app.state.clock(),
        channel=channel,
        grain=grain,
    )


def _headers(filename: str) -> dict[str, str]:
    return {
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }


# -- what a page shows of a question -----------------------------------------------------------


def _question_view(
    number: int, result: QuestionResult, t: Translate, names: Mapping[str, str], with_texts: bool, zone: Any
) -> dict[str, Any]:
    """A question's result as the page draws it: its rows (label, count,
    share, interval text) and, for the chart, labels and shares."""
    q = result.question
    rows: list[dict[str, Any]] = []
    if q.kind in ("single", "multiple"):
        rows = [{"label": o.text, "count": o.count, "share": o.share, "rate": o.rate} for o in result.options]
    elif q.kind == "scale" and result.scale:
        rows = [
            {
                "label": f"{p}. {t(f'survey_results.point.{p}')}",
                "count": result.scale.count(p),
                "share": result.scale.share(p),
                "rate": None,
            }
            for p in range(AGREEMENT_POINTS, 0, -1)
        ]
    elif q.kind == "officer":
        rows = [
            {"label": names.get(o.officer_id, o.officer_id), "count": o.count, "share": o.share, "rate": None}
            for o in result.officers
        ]
    texts = []
    if q.kind == "text" and with_texts:
        texts = [
            {
                "when": a.answered_at.astimezone(zone).strftime("%d/%m/%Y"),
                "channel": t(f"survey_results.channel.{a.channel}"),
                "text": masked_text(a.text),
            }
            for a in result.texts
        ]
    chart = None
    if rows and q.kind != "text":
        chart = {
            "labels": [r["label"] for r in rows],
            "shares": [None if r["share"] is None else round(100 * r["share"], 1) for r in rows],
        }
    return {
        "number": number,
        "question": q,
        "result": result,
        "rows": rows,
        "texts": texts,
        "chart": chart,
        "agreeing": result.scale.agreeing if result.scale else None,
        "mean": result.scale.mean if result.scale else None,
    }


def _timeline_view(report: CampaignReport, t: Translate) -> dict[str, Any]:
    numbers = {q.key: i for i, q in enumerate(report.campaign.questionnaire.questions, start=1)}
    labels = [
        (f"{b.bucket.first:%d/%m}" if report.grain == Grain.WEEK else f"{b.bucket.first:%m/%Y}")
        for b in report.timeline
    ]
    return {
        "labels": labels,
        "respondents": [b.respondents for b in report.timeline],
        "series": [
            {
                "label": t("survey_results.col.agreeing_of", question=numbers[q.key]),
                "values": [
                    None if b.rate(q.key).share is None else round(100 * (b.rate(q.key).share or 0), 1)
                    for b in report.timeline
                ],
            }
            for q in report.scale_questions
        ],
        "words": {"respondents": t("survey_results.col.respondents"), "percent": t("survey_results.page.percent_axis")},
    }


# -- the pages ----------------------------------------------------------------------------------


@router.get("/survey-results", response_class=HTMLResponse)
def results_index(request: Request, _account: Account = READERS) -> HTMLResponse:
    """Every campaign with its answer sets by channel, links to its results,
    and the form to compare two. (Admin, observer, leader.)"""
    with read_transaction(request.app.state.engine) as conn:
        campaigns = stored.campaigns(conn)
        counts = stored.response_counts(conn)
    rows = [
        {"campaign": c, "counts": counts.get(c.id, {}), "total": sum(counts.get(c.id, {}).values())} for c in campaigns
    ]
    before, after = _default_pair(campaigns)
    return page(request, "survey_results_index.html", rows=rows, before=before, after=after, channels=CHANNELS)


def _default_pair(campaigns: list[stored.StoredCampaign]) -> tuple[str | None, str | None]:
    """The baseline (the campaign that started first) and the latest to start."""
    if len(campaigns) < 2:
        return (campaigns[0].id if campaigns else None), None
    ordered = sorted(campaigns, key=lambda c: (c.contract.starts_on, c.created_at))
    return ordered[0].id, ordered[-1].id


def _comparison(
    request: Request, before: str | None, after: str | None
) -> tuple[list[stored.StoredCampaign], str | None, str | None, CampaignComparison | None]:
    with read_transaction(request.app.state.engine) as conn:
        campaigns = stored.campaigns(conn)
    known = {c.id for c in campaigns}
    default_before, default_after = _default_pair(campaigns)
    before = before if before in known else default_before
    after = after if after in known else default_after
    if before is None or after is None:
        return campaigns, before, after, None
    first, second = _load(request, before), _load(request, after)
    if first is None or second is None:
        return campaigns, before, after, None
    compared = compare_campaigns(
        (first.campaign.contract, first.questionnaires, first.answer_sets),
        (second.campaign.contract, second.questionnaires, second.answer_sets),
        made_at=request.app.state.clock(),
    )
    return campaigns, before, after, compared


@router.get("/survey-results/compare", response_class=HTMLResponse)
def compare_page(
    request: Request,
    before: str | None = Query(None, max_length=64),
    after: str | None = Query(None, max_length=64),
    _account: Account = READERS,
) -> HTMLResponse:
    """Two campaigns compared question by question (the baseline against
    the latest by default). (Admin, observer, leader.)"""
    campaigns, before, after, compared = _comparison(request, before, after)
    t = translator(request_language(request))
    chart = None
    if compared is not None:
        # Numbered as the page numbers the questions asked in both campaigns.
        both = [row for row in compared.comparison.questions if row.before and row.after]
        scales = [(i, row) for i, row in enumerate(both, start=1) if row.changes and row.changes[0].label == "agree"]
        chart = {
            "labels": [t("survey_results.page.question_short", number=i) for i, _row in scales],
            "titles": [row.question.text for _i, row in scales],
            "before": [_percent_value(row.changes[0].before) for _i, row in scales],
            "after": [_percent_value(row.changes[0].after) for _i, row in scales],
            "words": {
                "before": compared.before.title,
                "after": compared.after.title,
                "percent": t("survey_results.page.percent_axis"),
            },
        }
    return page(
        request, "survey_compare.html", campaigns=campaigns, before=before, after=after, compared=compared, chart=chart
    )


@router.get("/survey-results/compare.{fmt}")
def compare_download(
    request: Request,
    fmt: str = Path(pattern="^(xlsx|pdf)$"),
    before: str | None = Query(None, max_length=64),
    after: str | None = Query(None, max_length=64),
    account: Account = READERS,
    accounts: AccountBook = Depends(get_accounts),
) -> Response:
    """Two campaigns compared, as XLSX or PDF; audited. (Admin, observer, leader.)"""
    _campaigns, before, after, compared = _comparison(request, before, after)
    if compared is None:
        return _missing(request)
    settings = load_settings(request.app.state.engine)
    _audit(request, accounts, account, f"{before}..{after}", f"comparison format={fmt}")
    if fmt == "pdf":
        data = render_comparison_pdf(compared, settings, day=_today(request, settings.zone))
    else:
        buffer = io.BytesIO()
        write_comparison_xlsx(
            compared, buffer, commune=settings.commune_name, lang=request_language(request), zone=settings.zone
        )
        data = buffer.getvalue()
    return Response(
        data, media_type=_MEDIA[fmt], headers=_headers(comparison_filename(compared.before, compared.after, fmt))
    )


@router.get("/survey-results/{campaign_id}", response_class=HTMLResponse)
def results_page(
    request: Request,
    campaign_id: str = Path(max_length=64, pattern=_ID),
    channel: str | None = Query(None, max_length=10),
    grain: str | None = Query(None, max_length=10),
    account: Account = READERS,
) -> HTMLResponse:
    """A campaign's results question by question, by channel and over time.
    (Admin, observer, leader; the citizens' texts only for the observer and leaders.)"""
    loaded = _load(request, campaign_id)
    if loaded is None:
        return _missing(request)
    chosen = _channel(channel)
    report = _report(request, loaded, chosen, _grain(grain))
    t = translator(request_language(request))
    names = _names(request)
    with_texts = account.role in TEXT_READERS
    versions = []
    for version in report.results.versions:
        sections = []
        number = 0
        for section in version.sections:
            views = []
            for result in section.questions:
                number += 1
                views.append(_question_view(number, result, t, names, with_texts, report.zone))
            sections.append({"title": section.title, "questions": views})
        versions.append({"version": version, "sections": sections})
    query = {k: v for k, v in (("channel", chosen), ("grain", grain if _grain(grain) else None)) if v}
    charts = {
        "timeline": _timeline_view(report, t),
        "questions": {
            f"q-{v['version'].version}-{q['number']}": q["chart"]
            for v in versions
            for s in v["sections"]
            for q in s["questions"]
            if q["chart"]
        },
        "words": {"share": t("survey_results.col.share")},
    }
    return page(
        request,
        "survey_results.html",
        report=report,
        versions=versions,
        channel=chosen,
        channels=CHANNELS,
        grain=report.grain.value,
        query=query,
        charts=charts,
        with_texts=with_texts,
    )


def _percent_value(rate: Rate) -> float | None:
    return None if rate.share is None else round(100 * rate.share, 1)


# -- downloads ----------------------------------------------------------------------------------


def _audit(request: Request, accounts: AccountBook, account: Account, target: str, detail: str) -> None:
    accounts.audit(account.username, "survey.download", target, detail, client_address(request))


@router.get("/survey-results/{campaign_id}/results.{fmt}")
def results_download(
    request: Request,
    campaign_id: str = Path(max_length=64, pattern=_ID),
    fmt: str = Path(pattern="^(xlsx|pdf)$"),
    channel: str | None = Query(None, max_length=10),
    grain: str | None = Query(None, max_length=10),
    account: Account = READERS,
    accounts: AccountBook = Depends(get_accounts),
) -> Response:
    """A campaign's results as XLSX or PDF; audited. (Admin, observer,
    leader; the citizens' texts only for the observer and leaders.)"""
    loaded = _load(request, campaign_id)
    if loaded is None:
        return _missing(request)
    report = _report(request, loaded, _channel(channel), _grain(grain))
    with_texts = account.role in TEXT_READERS
    settings = load_settings(request.app.state.engine)
    names = _names(request)
    _audit(
        request,
        accounts,
        account,
        campaign_id,
        f"results format={fmt} channel={report.results.channel or 'all'}" + (" texts" if with_texts else ""),
    )
    if fmt == "pdf":
        data = render_results_pdf(
            report, settings, day=_today(request, settings.zone), names=names, with_texts=with_texts
        )
    else:
        buffer = io.BytesIO()
        write_results_xlsx(
            report,
            buffer,
            commune=settings.commune_name,
            names=names,
            with_texts=with_texts,
            lang=request_language(request),
        )
        data = buffer.getvalue()
    return Response(data, media_type=_MEDIA[fmt], headers=_headers(results_filename(loaded.campaign.contract, fmt)))


@router.get("/survey-results/{campaign_id}/questionnaire.pdf")
def questionnaire_download(
    request: Request,
    campaign_id: str = Path(max_length=64, pattern=_ID),
    account: Account = READERS,
    accounts: AccountBook = Depends(get_accounts),
) -> Response:
    """The paper questionnaire of the version the campaign asks now, with
    the roster's active officers by name; audited. (Admin, observer, leader.)"""
    with read_transaction(request.app.state.engine) as conn:
        found = stored.campaign(conn, campaign_id)
    if found is None:
        return _missing(request)
    settings = load_settings(request.app.state.engine)
    data = render_questionnaire_pdf(
        found.questionnaire, settings, officers=_active_officers(request), campaign=found.contract
    )
    _audit(request, accounts, account, campaign_id, f"questionnaire version={found.questionnaire.version}")
    return Response(data, media_type=_MEDIA["pdf"], headers=_headers(questionnaire_filename(found.questionnaire)))


def _today(request: Request, zone: Any) -> Any:
    now: datetime = request.app.state.clock()
    return now.astimezone(zone).date()
