"""A report (:class:`server.reports.Report`) written out: as an XLSX workbook
(numbers as numbers; sheets for the summary, the officers, the reasons and
the follow-up, and the comments' texts in the leaders' version) and as an
administrative document in the layout of Decree 30/2020 («BÁO CÁO», its
number left blank to be filled in, the letterhead from the settings, «Nơi
nhận»), which :func:`server.documents.pdf.render_pdf` prints as PDF.

Every word comes from the server's language files (``reports.*``); the
document itself is always Vietnamese, as the commune sends it.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from server.documents.model import (
    AdministrativeDocument,
    Block,
    Heading,
    Paragraph,
    Table,
    document_number,
    letterhead,
)
from server.documents.pdf import render_pdf
from server.documents.sheets import new_sheet
from server.i18n import Translate, translator
from server.reports import Report, period_label
from server.scores import CATEGORIES, HEADINGS, REASON_HEADINGS, Exclusions, Figures, PeriodKind
from server.settings import ServerSettings
from sync.scale import SCALES

__all__ = ["LEVEL_ORDER", "report_filename", "write_xlsx", "report_document", "render_report_pdf",
           "percent_text"]

LEVEL_ORDER: tuple[str, ...] = tuple(level.key for level in SCALES[5].best_first)
"""Level keys best first (every scale's levels are among the 5-level scale's)."""

_PERCENT = "0.0%"


def percent_text(value: float | None) -> str:
    """A share as the Vietnamese text writes it: ``87,5%`` (``—`` when there is none)."""
    return "—" if value is None else f"{100 * value:.1f}".replace(".", ",") + "%"


def report_filename(report: Report, code: str, fmt: str) -> str:
    """``bao-cao-2026-H1.xlsx``, or ``bao-cao-2026-H1-<officer>.pdf`` for an officer's report."""
    who = f"-{report.officer_id}" if report.officer_id else ""
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in f"bao-cao-{code}{who}")
    return f"{safe}.{fmt}"


def _levels(report: Report) -> list[str]:
    """The levels to list: the 3-level scale's always, any other found, best first."""
    seen = {key for f in (report.figures, *report.officers.values()) for key, n in f.levels.items() if n}
    seen |= {level.key for level in SCALES[3].levels}
    return [key for key in LEVEL_ORDER if key in seen] + sorted(k for k in seen - set(LEVEL_ORDER) if k)


def _excluded_words(exclusions: Exclusions, t: Translate) -> str:
    chosen = [t(f"scores.apart.{c}") for c in CATEGORIES if getattr(exclusions, c)]
    return ", ".join(chosen) if chosen else t("reports.doc.nothing_excluded")


def _officer_rows(report: Report) -> list[tuple[int | None, str, Figures]]:
    """(position or None, officer id, figures): ranked first, then those too few to rank."""
    if report.ranking is None:
        return []
    entries = [*report.ranking.ranked, *report.ranking.too_few]
    return [(e.position, e.officer_id, report.officers[e.officer_id]) for e in entries]


def _reason_label(reason: str, t: Translate) -> str:
    label = t(f"roster.reason.{reason}")
    return reason if label.startswith("roster.reason.") else label


def _other_reasons(report: Report) -> list[str]:
    return sorted((r for r in report.reasons if r not in REASON_HEADINGS),
                  key=lambda r: (-report.reasons[r].total, r))


# -- XLSX ---------------------------------------------------------------------------


def _rate_cells(figures: Figures) -> list[Any]:
    rate = figures.rate
    return [rate.n, rate.satisfied, rate.share, rate.low, rate.high]


def write_xlsx(report: Report, out: str | Path | IO[bytes], *, commune: str, lang: str = "vi",
               zone_name: str = "") -> None:
    """Write the report as a workbook: numbers as numbers (shares as
    percentages), headers in ``lang``."""
    t = translator(lang)
    levels = _levels(report)
    book = Workbook()
    book.remove(book.active)

    summary = new_sheet(book, t("reports.sheet.summary"), [t("reports.col.item"), t("reports.col.value")], [46, 40])
    figures, rate = report.figures, report.figures.rate
    rows: list[tuple[str, Any, str | None]] = [
        (t("reports.field.commune"), commune, None),
        (t("reports.field.scope"), report.officer_name or t("reports.scope_commune"), None),
        (t("reports.field.period"), period_label(report.period, t), None),
        (t("reports.field.first"), report.period.first, "DD/MM/YYYY"),
        (t("reports.field.last"), report.period.last, "DD/MM/YYYY"),
        (t("reports.field.made_at"), report.made_at.astimezone(report.period.zone).replace(tzinfo=None),
         "DD/MM/YYYY HH:MM"),
        (t("reports.field.zone"), zone_name or str(report.period.zone), None),
        (t("reports.field.excluded_kinds"), _excluded_words(report.exclusions, t), None),
        (t("reports.field.total"), figures.total, None),
        (t("reports.field.excluded"), figures.excluded, None),
        (t("reports.field.counted"), rate.n, None),
        (t("reports.field.satisfied"), rate.satisfied, None),
        (t("reports.field.rate"), rate.share, _PERCENT),
        (t("reports.field.low"), rate.low, _PERCENT),
        (t("reports.field.high"), rate.high, _PERCENT),
    ]
    rows += [(t("reports.field.level", level=t(f"board.level.{key}")), figures.levels.get(key, 0), None)
             for key in levels]
    rows += [(t("reports.field.apart", category=t(f"scores.apart.{c}")), figures.apart.get(c, 0), None)
             for c in CATEGORIES]
    rows += [(t("reports.field.comments_on_ratings"), report.comments.on_ratings, None),
             (t("reports.field.suggestions"), report.comments.suggestions, None)]
    for label, value, number_format in rows:
        summary.append([label, value])
        if number_format and value is not None:
            summary.cell(row=summary.max_row, column=2).number_format = number_format

    if report.officer_id is None:
        header = [t("reports.col.rank"), t("reports.col.officer_id"), t("reports.col.officer"), t("reports.col.n"),
                  t("reports.col.satisfied"), t("reports.col.rate"), t("reports.col.low"), t("reports.col.high"),
                  *[t(f"board.level.{key}") for key in levels], t("reports.col.excluded")]
        officers = new_sheet(book, t("reports.sheet.officers"), header, [8, 22, 28] + [12] * (len(header) - 3))
        for position, officer_id, f in _officer_rows(report):
            officers.append([position, officer_id, report.names.get(officer_id, officer_id), *_rate_cells(f),
                             *[f.levels.get(key, 0) for key in levels], f.excluded])
            for column in (6, 7, 8):
                officers.cell(row=officers.max_row, column=column).number_format = _PERCENT

    reasons = new_sheet(book, t("reports.sheet.reasons"),
                     [t("reports.col.group"), t("reports.col.heading"), t("scores.praised"), t("scores.faulted")],
                     [18, 30, 14, 14])
    for h in report.headings:
        reasons.append([t(f"scores.group.{h.group}"), t(f"scores.heading.{h.heading}"), h.praised, h.faulted])
    reasons.append([])
    reasons.append([t("reports.col.reason"), "", t("scores.praised"), t("scores.faulted")])
    for cell in reasons[reasons.max_row]:
        cell.font = Font(bold=True)
    for reason in sorted(report.reasons, key=lambda r: (-report.reasons[r].total, r)):
        counted = report.reasons[reason]
        other = "" if reason in REASON_HEADINGS else t("scores.other_reasons")
        reasons.append([_reason_label(reason, t), other, counted.praised, counted.faulted])

    follow = report.follow_up
    follow_sheet = new_sheet(book, t("reports.sheet.follow_up"), [t("reports.col.item"), t("reports.col.count")],
                          [50, 14])
    follow_rows: list[tuple[str, int]] = [
        (t("reports.follow.opened"), follow.opened), (t("reports.follow.resolved"), follow.resolved),
        (t("reports.follow.on_time"), follow.resolved_on_time), (t("reports.follow.late"), follow.resolved_late),
        (t("reports.follow.still_open"), follow.still_open), (t("reports.follow.overdue"), follow.overdue),
    ]
    follow_rows += [(t("reports.follow.cause", cause=t(f"cases.cause.{c}")), n) for c, n in follow.by_cause.items()]
    follow_rows += [(t("reports.follow.outcome", outcome=t(f"cases.outcome.{o}")), n)
                    for o, n in follow.by_outcome.items()]
    if follow.letters is not None:
        follow_rows += [(t(f"reports.follow.letters_{kind}"), n) for kind, n in sorted(follow.letters.items())]
    for label, value in follow_rows:
        follow_sheet.append([label, value])

    if report.with_comment_texts:
        texts = new_sheet(book, t("reports.sheet.comments"),
                       [t("reports.col.written_at"), t("reports.col.kind"), t("reports.col.officer"),
                        t("reports.col.level"), t("reports.col.text")], [18, 16, 26, 16, 80])
        for c in report.comments.texts:
            texts.append([datetime.fromisoformat(c.written_at).astimezone(report.period.zone).replace(tzinfo=None),
                          t(f"reports.comment_kind.{c.kind}"),
                          report.names.get(c.officer_id, c.officer_id) if c.officer_id else "",
                          t(f"board.level.{c.level}") if c.level else "", c.text])
            texts.cell(row=texts.max_row, column=1).number_format = "DD/MM/YYYY HH:MM"
            texts.cell(row=texts.max_row, column=5).alignment = Alignment(wrap_text=True, vertical="top")
    book.save(out)


# -- the administrative document -----------------------------------------------------


def report_document(report: Report, settings: ServerSettings, *, day: date) -> AdministrativeDocument:
    """The report as a Decree 30/2020 «BÁO CÁO», dated ``day``, its number left to fill in."""
    t = translator("vi")
    head = letterhead(settings)
    commune = head.commune or t("app.commune_unknown")
    label = period_label(report.period, t)
    lower_label = label[:1].lower() + label[1:]
    first, last = report.period.first.strftime("%d/%m/%Y"), report.period.last.strftime("%d/%m/%Y")
    figures, rate = report.figures, report.figures.rate
    levels = _levels(report)
    subject = (t("reports.doc.subject_officer", name=report.officer_name, period=lower_label) if report.officer_id
               else t("reports.doc.subject", period=lower_label))
    # A week's or a range's words already give their days.
    dates = "" if report.period.kind in (PeriodKind.WEEK, PeriodKind.RANGE, PeriodKind.DAY) else t(
        "reports.doc.dates", first=first, last=last)
    blocks: list[Block] = [Paragraph(t("reports.doc.intro", commune=commune, period=lower_label, dates=dates))]

    blocks.append(Heading(t("reports.doc.s_results", n=_roman(1))))
    if rate.n:
        blocks.append(Paragraph(t("reports.doc.summary", total=_count(figures.total), counted=_count(rate.n),
                                  satisfied=_count(rate.satisfied), rate=percent_text(rate.share),
                                  low=percent_text(rate.low), high=percent_text(rate.high))))
    else:
        blocks.append(Paragraph(t("reports.doc.no_ratings", total=_count(figures.total))))
    blocks.append(Paragraph(t("reports.doc.excluded", count=_count(figures.excluded),
                              which=_excluded_words(report.exclusions, t))))
    blocks.append(Table(
        header=(t("reports.col.level"), t("reports.col.count"), t("reports.col.share")),
        rows=tuple((t(f"board.level.{key}"), figures.levels.get(key, 0),
                    percent_text(figures.levels.get(key, 0) / rate.n if rate.n else None)) for key in levels)
        + ((t("reports.doc.total_row"), rate.n, percent_text(1.0 if rate.n else None)),),
        widths=(3, 1.2, 1.2), numeric=(1, 2)))
    apart = [f"{t(f'scores.apart.{c}')}: {_count(figures.apart.get(c, 0))}" for c in CATEGORIES]
    blocks.append(Paragraph(t("reports.doc.apart", list="; ".join(apart))))

    number = 1
    if report.officer_id is None:
        number += 1
        blocks.append(Heading(t("reports.doc.s_officers", n=_roman(number))))
        blocks.append(Paragraph(t("reports.doc.officers_hint", min=settings.rank_min_ratings)))
        blocks.append(Table(
            header=(t("reports.col.rank"), t("reports.col.officer"), t("reports.col.n"), t("reports.col.rate"),
                    t("reports.col.interval")),
            rows=tuple((position if position is not None else "—", report.names.get(oid, oid), f.rate.n,
                        percent_text(f.rate.share),
                        f"{percent_text(f.rate.low)} – {percent_text(f.rate.high)}" if f.rate.n else "—")
                       for position, oid, f in _officer_rows(report)),
            widths=(0.8, 3.2, 1.1, 1.3, 2.2), numeric=(0, 2, 3, 4)))

    number += 1
    blocks.append(Heading(t("reports.doc.s_reasons", n=_roman(number))))
    blocks.append(Paragraph(t("reports.doc.reasons_hint")))
    blocks.append(Table(
        header=(t("reports.col.heading"), t("scores.praised"), t("scores.faulted")),
        rows=tuple((f"{t(f'scores.group.{h.group}')}: {t(f'scores.heading.{h.heading}')}", h.praised, h.faulted)
                   for h in report.headings if h.group in HEADINGS),
        widths=(4, 1.3, 1.3), numeric=(1, 2)))
    others = _other_reasons(report)
    if others:
        blocks.append(Paragraph(t("reports.doc.other_reasons", list="; ".join(
            f"{_reason_label(r, t)} ({report.reasons[r].praised}/{report.reasons[r].faulted})" for r in others))))

    number += 1
    blocks.append(Heading(t("reports.doc.s_comments", n=_roman(number))))
    comments = report.comments
    blocks.append(Paragraph(t("reports.doc.comments", on_ratings=_count(comments.on_ratings),
                              suggestions=_count(comments.suggestions))))
    if report.with_comment_texts and comments.texts:
        blocks.append(Table(
            header=(t("reports.col.written_at"), t("reports.col.officer"), t("reports.col.text")),
            rows=tuple((datetime.fromisoformat(c.written_at).astimezone(report.period.zone).strftime("%d/%m/%Y"),
                        report.names.get(c.officer_id, c.officer_id) if c.officer_id
                        else t("reports.comment_kind.suggestion"), c.text) for c in comments.texts),
            widths=(1.3, 2, 5)))

    number += 1
    follow = report.follow_up
    blocks.append(Heading(t("reports.doc.s_follow_up", n=_roman(number))))
    rows: list[tuple[str, int]] = [
        (t("reports.follow.opened"), follow.opened), (t("reports.follow.resolved"), follow.resolved),
        (t("reports.follow.on_time"), follow.resolved_on_time), (t("reports.follow.late"), follow.resolved_late),
        (t("reports.follow.still_open"), follow.still_open), (t("reports.follow.overdue"), follow.overdue),
    ]
    if follow.letters is not None:
        rows += [(t(f"reports.follow.letters_{kind}"), n) for kind, n in sorted(follow.letters.items())]
    blocks.append(Table(header=(t("reports.col.item"), t("reports.col.count")), rows=tuple(rows),
                        widths=(5, 1.3), numeric=(1,)))
    blocks.append(Paragraph(t("reports.doc.closing", period=lower_label, commune=commune)))
    return AdministrativeDocument(
        issuer=head.issuer, number=document_number("BC", head.symbol), place=head.place, day=day,
        kind=t("reports.doc.kind"), subject=subject, blocks=tuple(blocks), signature=head.signature,
        copies_to=tuple(t(f"reports.doc.copies_{i}") for i in range(1, 5)), author=commune,
        keywords=(t("reports.doc.kind"), label),
    )


def render_report_pdf(report: Report, settings: ServerSettings, *, day: date) -> bytes:
    """The report as a PDF ready to sign."""
    return render_pdf(report_document(report, settings, day=day))


def _count(number: int) -> str:
    """A count as Vietnamese text writes it: ``1.234``."""
    return f"{number:,}".replace(",", ".")


def _roman(number: int) -> str:
    return ("I", "II", "III", "IV", "V", "VI", "VII")[number - 1]

