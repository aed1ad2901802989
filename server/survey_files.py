"""A survey campaign's results and the comparison of two, written out for
the Fatherland Front's report, and the paper questionnaire.

* :func:`write_results_xlsx` and :func:`write_comparison_xlsx`: workbooks
  with numbers as numbers (shares as percentages), like the periodic reports'.
* :func:`results_document` and :func:`comparison_document`: «BÁO CÁO» in the
  Decree 30/2020 layout issued by the commune's Front committee
  (:func:`server.documents.model.front_issuer`), printed by
  :func:`server.documents.pdf.render_pdf`.
* :func:`render_questionnaire_pdf`: the «PHIẾU KHẢO SÁT» a citizen fills in
  on paper: the same header, the title and introduction, the sections, and
  each question with its boxes to tick (options, the five points of the
  scale, the officers by name) or dotted lines to write on.

Citizens' free texts appear only when ``with_texts`` is asked (the pages
ask it for leaders and the observer) and then with phone numbers and e-mail
addresses masked. The documents are Vietnamese, as the Front sends them; a
workbook's headers follow the page's language. Every word comes from the
server's language files (``survey_results.*``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from fpdf import FPDF
from fpdf.enums import Align, XPos, YPos
from openpyxl import Workbook
from openpyxl.styles import Alignment

from server.documents import layout as L
from server.documents.model import (
    AdministrativeDocument,
    Block,
    Heading,
    Paragraph,
    Signature,
    Table,
    document_number,
    front_issuer,
    letterhead,
    unit_name,
)
from server.documents.pdf import FONT, ensure_room, line_height, render_pdf
from server.documents.sheets import new_sheet
from server.i18n import Translate, translator
from server.scores import Bucket, Rate
from server.settings import ServerSettings
from server.survey_results import (
    CampaignComparison,
    CampaignReport,
    QuestionComparison,
    QuestionResult,
    ShareChange,
    VersionResults,
    masked_text,
)
from sync.survey import AGREEMENT_POINTS, CHANNELS, Campaign, Question, Questionnaire

__all__ = [
    "results_filename",
    "comparison_filename",
    "questionnaire_filename",
    "write_results_xlsx",
    "write_comparison_xlsx",
    "results_document",
    "comparison_document",
    "render_results_pdf",
    "render_comparison_pdf",
    "render_questionnaire_pdf",
    "percent",
    "interval_text",
    "PDF_TEXTS",
]

_PERCENT = "0.0%"
PDF_TEXTS = 300
"""The citizens' texts a PDF lists per question, the first ones answered
(a long list would make a report of hundreds of pages; the workbook has them all)."""
_DATE = "DD/MM/YYYY"
_TIME = "DD/MM/YYYY HH:MM"


def _safe(name: str) -> str:
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_.") else "-" for ch in name)


def results_filename(campaign: Campaign, fmt: str) -> str:
    """``ket-qua-khao-sat-<campaign>.xlsx``."""
    return f"{_safe('ket-qua-khao-sat-' + campaign.id)}.{fmt}"


def comparison_filename(before: Campaign, after: Campaign, fmt: str) -> str:
    """``so-sanh-khao-sat-<before>-<after>.pdf``."""
    return f"{_safe(f'so-sanh-khao-sat-{before.id}-{after.id}')}.{fmt}"


def questionnaire_filename(questionnaire: Questionnaire) -> str:
    """``phieu-khao-sat-<questionnaire>-v<version>.pdf``."""
    return f"{_safe(f'phieu-khao-sat-{questionnaire.id}-v{questionnaire.version}')}.pdf"


def percent(value: float | None) -> str:
    """A share as Vietnamese writes it: ``87,5%`` (``—`` when there is none)."""
    return "—" if value is None else f"{100 * value:.1f}".replace(".", ",") + "%"


def interval_text(rate: Rate) -> str:
    """A rate's 95% interval, ``62,1% – 80,4%`` (``—`` with no answers)."""
    return f"{percent(rate.low)} – {percent(rate.high)}" if rate.n else "—"


def _count(number: int) -> str:
    return f"{number:,}".replace(",", ".")


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}".replace(".", ",")


def _signed_points(value: float | None) -> str:
    """A difference of shares in percentage points: ``+12,5`` (``—`` for none)."""
    if value is None:
        return "—"
    return ("+" if value > 0 else "") + f"{100 * value:.1f}".replace(".", ",")


def _local(moment: datetime, report_zone: Any) -> datetime:
    return moment.astimezone(report_zone).replace(tzinfo=None)


def _period_words(campaign: Campaign) -> str:
    return f"{campaign.starts_on:%d/%m/%Y} – {campaign.ends_on:%d/%m/%Y}"


def _item_label(result: QuestionResult, t: Translate) -> str:
    return t(f"survey_results.kind.{result.question.kind}")


# -- XLSX -------------------------------------------------------------------------------


def _formats(sheet: Any, formats: Mapping[int, str]) -> None:
    """Number formats for the last row's columns (1-based)."""
    for column, number_format in formats.items():
        cell = sheet.cell(row=sheet.max_row, column=column)
        if cell.value is not None:
            cell.number_format = number_format


def _question_rows(
    result: QuestionResult, t: Translate, names: Mapping[str, str]
) -> list[tuple[str, int | None, int, float | None, float | None, float | None]]:
    """(item, count, out of, share, low, high) of a question's results."""
    q = result.question
    if q.kind in ("single", "multiple"):
        return [(o.text, o.count, o.rate.n, o.share, o.rate.low, o.rate.high) for o in result.options]
    if q.kind == "scale" and result.scale:
        scale = result.scale
        rows: list[tuple[str, int | None, int, float | None, float | None, float | None]] = [
            (f"{p}. " + t(f"survey_results.point.{p}"), scale.count(p), result.answered, scale.share(p), None, None)
            for p in range(1, AGREEMENT_POINTS + 1)
        ]
        agreeing = scale.agreeing
        rows.append(
            (t("survey_results.agreeing"), agreeing.satisfied, agreeing.n, agreeing.share, agreeing.low, agreeing.high)
        )
        return rows
    if q.kind == "officer":
        return [
            (names.get(o.officer_id, o.officer_id), o.count, o.answered, o.share, None, None) for o in result.officers
        ]
    return [(t("survey_results.text_count"), result.answered, result.answered, None, None, None)]


def write_results_xlsx(
    report: CampaignReport,
    out: str | Path | IO[bytes],
    *,
    commune: str,
    names: Mapping[str, str],
    with_texts: bool,
    lang: str = "vi",
) -> None:
    """The campaign's results as a workbook: a summary; every version's
    questions with each item's count, the number it is out of, the share and
    its 95% interval; the agreeing shares by channel and over time; the
    citizens' texts (masked) only ``with_texts``."""
    t = translator(lang)
    results = report.results
    campaign = report.campaign
    book = Workbook()
    book.remove(book.active)

    summary = new_sheet(
        book, t("survey_results.sheet.summary"), [t("survey_results.col.item"), t("survey_results.col.value")], [44, 50]
    )
    rows: list[tuple[str, Any, str | None]] = [
        (t("survey_results.field.commune"), commune, None),
        (t("survey_results.field.campaign"), campaign.title, None),
        (t("survey_results.field.questionnaire"), campaign.questionnaire.title, None),
        (t("survey_results.field.starts_on"), campaign.starts_on, _DATE),
        (t("survey_results.field.ends_on"), campaign.ends_on, _DATE),
        (t("survey_results.field.made_at"), _local(report.made_at, report.zone), _TIME),
        (t("survey_results.field.zone"), str(report.zone), None),
        (
            t("survey_results.field.channel"),
            t(f"survey_results.channel.{results.channel}") if results.channel else t("survey_results.all_channels"),
            None,
        ),
        (t("survey_results.field.respondents"), results.respondents, None),
        (t("survey_results.field.complete"), results.complete, None),
        (t("survey_results.field.target"), campaign.target or None, None),
    ]
    rows += [
        (t("survey_results.field.by_channel", channel=t(f"survey_results.channel.{c}")), n, None)
        for c, n in results.by_channel
    ]
    for label, value, number_format in rows:
        summary.append([label, value])
        if number_format:
            _formats(summary, {2: number_format})

    header = [
        t("survey_results.col.version"),
        t("survey_results.col.section"),
        t("survey_results.col.number"),
        t("survey_results.col.key"),
        t("survey_results.col.question"),
        t("survey_results.col.kind"),
        t("survey_results.col.option"),
        t("survey_results.col.count"),
        t("survey_results.col.out_of"),
        t("survey_results.col.share"),
        t("survey_results.col.low"),
        t("survey_results.col.high"),
        t("survey_results.col.mean"),
    ]
    widths = [9, 22, 7, 14, 44, 14, 34, 10, 10, 10, 10, 10, 10]
    sheet = new_sheet(book, t("survey_results.sheet.results"), header, widths)
    for version in results.versions:
        for number, result in _numbered(version):
            section = next(s.title for s in version.sections if result in s.questions)
            for item, count, out_of, share, low, high in _question_rows(result, t, names):
                mean = result.scale.mean if result.scale and item == t("survey_results.agreeing") else None
                sheet.append(
                    [
                        version.version,
                        section,
                        number,
                        result.question.key,
                        result.question.text,
                        _item_label(result, t),
                        item,
                        count,
                        out_of,
                        share,
                        low,
                        high,
                        mean,
                    ]
                )
                _formats(sheet, {10: _PERCENT, 11: _PERCENT, 12: _PERCENT, 13: "0.00"})

    channels = new_sheet(
        book,
        t("survey_results.sheet.channels"),
        [
            t("survey_results.col.question"),
            t("survey_results.col.channel"),
            t("survey_results.col.count"),
            t("survey_results.col.out_of"),
            t("survey_results.col.share"),
            t("survey_results.col.low"),
            t("survey_results.col.high"),
            t("survey_results.col.mean"),
        ],
        [48, 16, 10, 10, 10, 10, 10, 10],
    )
    for question in report.scale_questions:
        for channel, pooled in report.channels:
            found = pooled.question(question.key)
            if found is None or found.scale is None:
                continue
            agreeing = found.scale.agreeing
            channels.append(
                [
                    question.text,
                    t(f"survey_results.channel.{channel}"),
                    agreeing.satisfied,
                    agreeing.n,
                    agreeing.share,
                    agreeing.low,
                    agreeing.high,
                    found.scale.mean,
                ]
            )
            _formats(channels, {5: _PERCENT, 6: _PERCENT, 7: _PERCENT, 8: "0.00"})

    scales = report.scale_questions
    timeline = new_sheet(
        book,
        t("survey_results.sheet.timeline"),
        [
            t("survey_results.col.first"),
            t("survey_results.col.last"),
            t("survey_results.col.respondents"),
            *[t(f"survey_results.channel.{c}") for c in CHANNELS],
            *[t("survey_results.col.agreeing_of", question=q.key) for q in scales],
            *[t("survey_results.col.n_of", question=q.key) for q in scales],
        ],
        [12, 12, 10, 10, 10, 10] + [14] * (2 * len(scales)),
    )
    for bucket in report.timeline:
        timeline.append(
            [
                bucket.bucket.first,
                bucket.bucket.last,
                bucket.respondents,
                *[n for _c, n in bucket.by_channel],
                *[bucket.rate(q.key).share for q in scales],
                *[bucket.rate(q.key).n for q in scales],
            ]
        )
        _formats(timeline, {1: _DATE, 2: _DATE, **{7 + i: _PERCENT for i in range(len(scales))}})

    if with_texts:
        texts = new_sheet(
            book,
            t("survey_results.sheet.texts"),
            [
                t("survey_results.col.answered_at"),
                t("survey_results.col.channel"),
                t("survey_results.col.version"),
                t("survey_results.col.question"),
                t("survey_results.col.text"),
            ],
            [18, 14, 9, 40, 80],
        )
        for version in results.versions:
            for result in version.questions:
                for answer in result.texts:
                    texts.append(
                        [
                            answer.answered_at.astimezone(report.zone).date(),
                            t(f"survey_results.channel.{answer.channel}"),
                            version.version,
                            result.question.text,
                            masked_text(answer.text),
                        ]
                    )
                    _formats(texts, {1: _DATE})
                    texts.cell(row=texts.max_row, column=5).alignment = Alignment(wrap_text=True, vertical="top")
    book.save(out)


def _numbered(version: VersionResults) -> list[tuple[int, QuestionResult]]:
    return list(enumerate(version.questions, start=1))


def _change_cells(change: ShareChange) -> list[Any]:
    return [
        change.before.satisfied,
        change.before.n,
        change.before.share,
        change.before.low,
        change.before.high,
        change.after.satisfied,
        change.after.n,
        change.after.share,
        change.after.low,
        change.after.high,
        change.difference,
    ]


def write_comparison_xlsx(
    compared: CampaignComparison, out: str | Path | IO[bytes], *, commune: str, lang: str = "vi", zone: Any
) -> None:
    """Two campaigns side by side: for each matched question and share, both
    counts, shares and intervals, the difference (in shares) and whether it
    is beyond the intervals' overlap."""
    t = translator(lang)
    book = Workbook()
    book.remove(book.active)
    summary = new_sheet(
        book, t("survey_results.sheet.summary"), [t("survey_results.col.item"), t("survey_results.col.value")], [44, 50]
    )
    c = compared.comparison
    for label, value, number_format in (
        (t("survey_results.field.commune"), commune, None),
        (t("survey_results.field.before"), f"{compared.before.title} ({_period_words(compared.before)})", None),
        (t("survey_results.field.after"), f"{compared.after.title} ({_period_words(compared.after)})", None),
        (t("survey_results.field.before_n"), c.before.respondents, None),
        (t("survey_results.field.after_n"), c.after.respondents, None),
        (t("survey_results.field.made_at"), _local(compared.made_at, zone), _TIME),
        (t("survey_results.field.rule"), t("survey_results.rule"), None),
    ):
        summary.append([label, value])
        if number_format:
            _formats(summary, {2: number_format})
        summary.cell(row=summary.max_row, column=2).alignment = Alignment(wrap_text=True, vertical="top")

    header = [
        t("survey_results.col.key"),
        t("survey_results.col.question"),
        t("survey_results.col.matched"),
        t("survey_results.col.option"),
        t("survey_results.col.before_count"),
        t("survey_results.col.before_n"),
        t("survey_results.col.before_share"),
        t("survey_results.col.before_low"),
        t("survey_results.col.before_high"),
        t("survey_results.col.after_count"),
        t("survey_results.col.after_n"),
        t("survey_results.col.after_share"),
        t("survey_results.col.after_low"),
        t("survey_results.col.after_high"),
        t("survey_results.col.difference"),
        t("survey_results.col.beyond"),
        t("survey_results.col.mean_before"),
        t("survey_results.col.mean_after"),
    ]
    sheet = new_sheet(book, t("survey_results.sheet.comparison"), header, [14, 44, 16, 30] + [11] * 14)
    for row in c.questions:
        question = row.question
        matched = t(f"survey_results.matched.{row.matched_by}")
        if not row.changes:
            answered = [row.before.answered if row.before else None, row.after.answered if row.after else None]
            sheet.append(
                [
                    question.key,
                    question.text,
                    matched,
                    t("survey_results.answered"),
                    answered[0],
                    None,
                    None,
                    None,
                    None,
                    answered[1],
                ]
            )
            continue
        for change in row.changes:
            label = change.text or t("survey_results.agreeing")
            sheet.append(
                [
                    question.key,
                    question.text,
                    matched,
                    label,
                    *_change_cells(change),
                    t("survey_results.yes") if change.beyond_overlap else t("survey_results.no"),
                    row.mean_before if change.label == "agree" else None,
                    row.mean_after if change.label == "agree" else None,
                ]
            )
            _formats(
                sheet,
                {
                    7: _PERCENT,
                    8: _PERCENT,
                    9: _PERCENT,
                    12: _PERCENT,
                    13: _PERCENT,
                    14: _PERCENT,
                    15: "+0.0%;-0.0%;0.0%",
                    17: "0.00",
                    18: "0.00",
                },
            )
    book.save(out)


# -- the documents ----------------------------------------------------------------------


def _front_signature(t: Translate) -> Signature:
    return Signature(capacity=t("survey_results.doc.capacity"), title=t("survey_results.doc.signer"))


def _question_blocks(
    number: int, result: QuestionResult, t: Translate, names: Mapping[str, str], with_texts: bool, zone: Any
) -> list[Block]:
    q = result.question
    blocks: list[Block] = [
        Heading(
            t("survey_results.doc.question", number=number, text=q.text, n=f"n\u00a0=\u00a0{_count(result.answered)}")
        )
    ]
    if q.kind in ("single", "multiple"):
        if q.kind == "multiple":
            blocks.append(Paragraph(t("survey_results.doc.multiple_hint")))
        blocks.append(
            Table(
                header=(
                    t("survey_results.col.option"),
                    t("survey_results.col.count"),
                    t("survey_results.col.share"),
                    t("survey_results.col.interval"),
                ),
                rows=tuple((o.text, o.count, percent(o.share), interval_text(o.rate)) for o in result.options),
                widths=(4, 1.1, 1.2, 2.3),
                numeric=(1, 2, 3),
            )
        )
    elif q.kind == "scale" and result.scale:
        scale = result.scale
        rows: list[tuple[str | int | float, ...]] = [
            (f"{p}. " + t(f"survey_results.point.{p}"), scale.count(p), percent(scale.share(p)), "")
            for p in range(AGREEMENT_POINTS, 0, -1)
        ]
        rows.append(
            (
                t("survey_results.agreeing"),
                scale.agreeing.satisfied,
                percent(scale.agreeing.share),
                interval_text(scale.agreeing),
            )
        )
        blocks.append(
            Table(
                header=(
                    t("survey_results.col.point"),
                    t("survey_results.col.count"),
                    t("survey_results.col.share"),
                    t("survey_results.col.interval"),
                ),
                rows=tuple(rows),
                widths=(4, 1.1, 1.2, 2.3),
                numeric=(1, 2, 3),
            )
        )
        blocks.append(Paragraph(t("survey_results.doc.mean", mean=_number(scale.mean), n=_count(result.answered))))
    elif q.kind == "officer":
        if result.officers:
            blocks.append(
                Table(
                    header=(
                        t("survey_results.col.officer"),
                        t("survey_results.col.count"),
                        t("survey_results.col.share"),
                    ),
                    rows=tuple(
                        (names.get(o.officer_id, o.officer_id), o.count, percent(o.share)) for o in result.officers
                    ),
                    widths=(5, 1.3, 1.3),
                    numeric=(1, 2),
                )
            )
    else:
        blocks.append(Paragraph(t("survey_results.doc.texts", n=_count(result.answered))))
        if with_texts and result.texts:
            listed = result.texts[:PDF_TEXTS]
            if len(result.texts) > PDF_TEXTS:
                blocks.append(
                    Paragraph(t("survey_results.doc.texts_cut", shown=_count(PDF_TEXTS), n=_count(len(result.texts))))
                )
            blocks.append(
                Table(
                    header=(t("survey_results.col.answered_at"), t("survey_results.col.text")),
                    rows=tuple((f"{a.answered_at.astimezone(zone):%d/%m/%Y}", masked_text(a.text)) for a in listed),
                    widths=(1.4, 6),
                )
            )
    return blocks


def results_document(
    report: CampaignReport, settings: ServerSettings, *, day: date, names: Mapping[str, str], with_texts: bool
) -> AdministrativeDocument:
    """The campaign's results as a «BÁO CÁO» of the commune's Front
    committee, dated ``day``, its number left to fill in."""
    t = translator("vi")
    head = letterhead(settings)
    commune = head.commune or t("app.commune_unknown")
    front = unit_name(commune)
    campaign, results = report.campaign, report.results
    channel = t(f"survey_results.channel.{results.channel}") if results.channel else ""
    blocks: list[Block] = [
        Paragraph(
            t(
                "survey_results.doc.intro",
                front=front,
                title=campaign.title,
                first=f"{campaign.starts_on:%d/%m/%Y}",
                last=f"{campaign.ends_on:%d/%m/%Y}",
                questionnaire=campaign.questionnaire.title,
            )
        ),
        Heading(t("survey_results.doc.s_general")),
        Paragraph(
            t("survey_results.doc.respondents", n=_count(results.respondents), complete=_count(results.complete))
            + (" " + t("survey_results.doc.only_channel", channel=channel) if channel else "")
        ),
        Table(
            header=(t("survey_results.col.channel"), t("survey_results.col.count"), t("survey_results.col.share")),
            rows=tuple(
                (
                    t(f"survey_results.channel.{c}"),
                    n,
                    percent(
                        n / sum(m for _c, m in results.by_channel) if any(m for _c, m in results.by_channel) else None
                    ),
                )
                for c, n in results.by_channel
            ),
            widths=(4, 1.5, 1.5),
            numeric=(1, 2),
        ),
        Paragraph(t("survey_results.doc.how_to_read")),
    ]
    section_number = 1
    for version in results.versions:
        if len(results.versions) > 1:
            section_number += 1
            blocks.append(
                Heading(
                    t(
                        "survey_results.doc.s_version",
                        n=_roman(section_number),
                        version=version.version,
                        count=_count(version.respondents),
                    )
                )
            )
        number = 0
        for section in version.sections:
            if len(results.versions) == 1:
                section_number += 1
                blocks.append(Heading(f"{_roman(section_number)}. {section.title or campaign.questionnaire.title}"))
            elif section.title:
                blocks.append(Paragraph(section.title))
            for result in section.questions:
                number += 1
                blocks.extend(_question_blocks(number, result, t, names, with_texts, report.zone))
    scales = report.scale_questions
    numbers = {q.key: i for i, q in enumerate(campaign.questionnaire.questions, start=1)}
    if report.timeline:
        section_number += 1
        blocks.append(Heading(t(f"survey_results.doc.s_timeline_{report.grain.value}", n=_roman(section_number))))
        blocks.append(
            Table(
                header=(
                    t("survey_results.col.period"),
                    t("survey_results.col.respondents"),
                    *[t(f"survey_results.channel.{c}") for c in CHANNELS],
                ),
                rows=tuple(
                    (_bucket_words(b.bucket), b.respondents, *[n for _c, n in b.by_channel]) for b in report.timeline
                ),
                widths=(2.6, 1.2, 1.2, 1.2, 1.2),
                numeric=(1, 2, 3, 4),
            )
        )
        # The agreeing share of each scale question over time, four questions a table.
        for part in range(0, len(scales), 4):
            chunk = scales[part : part + 4]
            blocks.append(
                Table(
                    header=(
                        t("survey_results.col.period"),
                        *[t("survey_results.col.agreeing_of", question=numbers[q.key]) for q in chunk],
                    ),
                    rows=tuple(
                        (_bucket_words(b.bucket), *[_share_n(b.rate(q.key)) for q in chunk]) for b in report.timeline
                    ),
                    widths=(2.6, *[1.6] * len(chunk)),
                    numeric=tuple(range(1, len(chunk) + 1)),
                )
            )
    if scales:
        section_number += 1
        blocks.append(Heading(t("survey_results.doc.s_channels", n=_roman(section_number))))
        rows = []
        for question in scales:
            cells: list[str | int | float] = [
                t("survey_results.doc.numbered", number=numbers[question.key], text=question.text)
            ]
            for _channel, pooled in report.channels:
                found = pooled.question(question.key)
                rate = found.scale.agreeing if found is not None and found.scale is not None else Rate(0, 0)
                cells.append(f"{_share_n(rate)}\n{interval_text(rate)}" if rate.n else "—")
            rows.append(tuple(cells))
        blocks.append(
            Table(
                header=(
                    t("survey_results.col.question"),
                    *[t(f"survey_results.channel.{c}") for c, _p in report.channels],
                ),
                rows=tuple(rows),
                widths=(3.4, 2, 2, 2),
                numeric=(1, 2, 3),
            )
        )
    blocks.append(Paragraph(t("survey_results.doc.closing")))
    return AdministrativeDocument(
        issuer=front_issuer(settings),
        number=document_number("BC", "MTTQ"),
        place=head.place,
        day=day,
        kind=t("survey_results.doc.kind"),
        subject=t("survey_results.doc.subject", title=campaign.title),
        blocks=tuple(blocks),
        signature=_front_signature(t),
        copies_to=tuple(t(f"survey_results.doc.copies_{i}") for i in range(1, 4)),
        author=commune,
        keywords=(t("survey_results.doc.kind"), campaign.title),
    )


def _comparison_rows(row: QuestionComparison, t: Translate) -> list[tuple[str | int | float, ...]]:
    rows: list[tuple[str | int | float, ...]] = []
    for change in row.changes:
        label = change.text or t("survey_results.agreeing")
        mark = t("survey_results.direction." + {1: "up", -1: "down"}.get(change.direction, "same"))
        rows.append(
            (
                label,
                f"{percent(change.before.share)}\n({interval_text(change.before)}; n={change.before.n})",
                f"{percent(change.after.share)}\n({interval_text(change.after)}; n={change.after.n})",
                t("survey_results.doc.points", points=_signed_points(change.difference)),
                mark,
            )
        )
    return rows


def comparison_document(compared: CampaignComparison, settings: ServerSettings, *, day: date) -> AdministrativeDocument:
    """Two campaigns compared, as a «BÁO CÁO» of the commune's Front committee."""
    t = translator("vi")
    head = letterhead(settings)
    commune = head.commune or t("app.commune_unknown")
    c = compared.comparison
    before, after = compared.before, compared.after
    blocks: list[Block] = [
        Paragraph(
            t(
                "survey_results.doc.compare_intro",
                front=unit_name(commune),
                before=before.title,
                before_dates=_period_words(before),
                before_n=_count(c.before.respondents),
                after=after.title,
                after_dates=_period_words(after),
                after_n=_count(c.after.respondents),
            )
        ),
        Paragraph(t("survey_results.rule")),
    ]
    number = 0
    section = 1
    blocks.append(Heading(t("survey_results.doc.s_compared", n=_roman(section))))
    unmatched = []
    for row in c.questions:
        if row.before is None or row.after is None:
            unmatched.append(row)
            continue
        number += 1
        heading = t("survey_results.doc.compared_question", number=number, text=row.question.text)
        if row.matched_by == "key_reworded":
            heading += " " + t("survey_results.doc.reworded", before=row.before.question.text)
        blocks.append(Heading(heading))
        if row.changes:
            blocks.append(
                Table(
                    header=(
                        t("survey_results.col.option"),
                        t("survey_results.col.before_short"),
                        t("survey_results.col.after_short"),
                        t("survey_results.col.difference"),
                        t("survey_results.col.verdict"),
                    ),
                    rows=tuple(_comparison_rows(row, t)),
                    widths=(2.4, 2.3, 2.3, 1.8, 1.7),
                    numeric=(3,),
                )
            )
            if row.mean_before is not None or row.mean_after is not None:
                blocks.append(
                    Paragraph(
                        t("survey_results.doc.means", before=_number(row.mean_before), after=_number(row.mean_after))
                    )
                )
        else:
            blocks.append(
                Paragraph(
                    t(
                        "survey_results.doc.answered_both",
                        before=_count(row.before.answered),
                        after=_count(row.after.answered),
                    )
                )
            )
    if unmatched:
        section += 1
        blocks.append(Heading(t("survey_results.doc.s_unmatched", n=_roman(section))))
        blocks.append(
            Table(
                header=(t("survey_results.col.question"), t("survey_results.col.asked_in")),
                rows=tuple(
                    (
                        row.question.text,
                        t("survey_results.doc.only_before")
                        if row.after is None
                        else t("survey_results.doc.only_after"),
                    )
                    for row in unmatched
                ),
                widths=(5, 2),
            )
        )
    blocks.append(Paragraph(t("survey_results.doc.closing")))
    return AdministrativeDocument(
        issuer=front_issuer(settings),
        number=document_number("BC", "MTTQ"),
        place=head.place,
        day=day,
        kind=t("survey_results.doc.kind"),
        subject=t("survey_results.doc.compare_subject", before=before.title, after=after.title),
        blocks=tuple(blocks),
        signature=_front_signature(t),
        copies_to=tuple(t(f"survey_results.doc.copies_{i}") for i in range(1, 4)),
        author=commune,
        keywords=(t("survey_results.doc.kind"), before.title, after.title),
    )


def render_results_pdf(
    report: CampaignReport, settings: ServerSettings, *, day: date, names: Mapping[str, str], with_texts: bool
) -> bytes:
    """The campaign's results as a PDF ready to sign."""
    return render_pdf(results_document(report, settings, day=day, names=names, with_texts=with_texts))


def render_comparison_pdf(compared: CampaignComparison, settings: ServerSettings, *, day: date) -> bytes:
    """The comparison as a PDF ready to sign."""
    return render_pdf(comparison_document(compared, settings, day=day))


def _bucket_words(bucket: Bucket) -> str:
    """``06/04 – 12/04/2026``, or one day's date."""
    if bucket.first == bucket.last:
        return f"{bucket.first:%d/%m/%Y}"
    return f"{bucket.first:%d/%m} – {bucket.last:%d/%m/%Y}"


def _share_n(rate: Rate) -> str:
    """``73,3% (n\u00a0=\u00a035)``; ``—`` with no answers."""
    return f"{percent(rate.share)} (n\u00a0=\u00a0{rate.n})" if rate.n else "—"


def _roman(number: int) -> str:
    numerals = ((10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"))
    text = ""
    for value, letters in numerals:
        while number >= value:
            text += letters
            number -= value
    return text


# -- the paper questionnaire ------------------------------------------------------------

_FORM_PT = 13.0
_OPTION_PT = 12.5
_CAPTION_PT = 10.0
_BOX_MM = 4.2
_INDENT_MM = 6.0
_WRITING_LINES = 3
_WRITING_GAP_MM = 8.5


class _Form:
    """Draws a questionnaire's questions on the page, keeping each question
    (and a section's heading with its first question) on one page."""

    def __init__(
        self, pdf: FPDF, questionnaire: Questionnaire, officers: Sequence[tuple[str, str]], t: Translate
    ) -> None:
        self.pdf = pdf
        self.questionnaire = questionnaire
        self.officers = [(oid, L.plain(name)) for oid, name in officers]
        self.t = t
        self.left = L.MARGIN_LEFT_MM
        self.width = L.TEXT_WIDTH_MM

    # measuring and drawing share one path: ``draw`` False only adds up heights.

    def question(self, number: int, question: Question, *, draw: bool) -> float:
        pdf, t = self.pdf, self.t
        height = 0.0
        hint = t(f"survey_results.form.hint.{question.kind}") if question.kind != "text" else ""
        text = t("survey_results.form.question", number=number, text=L.plain(question.text))
        if question.required:
            text += " (*)"
        height += self._text(text + (f" ({hint})" if hint else ""), "B", _FORM_PT, self.left, self.width, draw=draw)
        height += 1.5
        if question.kind in ("single", "multiple"):
            height += self._boxes([L.plain(o.text) for o in question.options], draw=draw)
        elif question.kind == "officer":
            height += self._boxes(
                [name for _oid, name in self.officers] or [t("survey_results.form.no_officers")], draw=draw
            )
        elif question.kind == "scale":
            height += self._scale(draw=draw)
        else:
            height += self._lines(draw=draw)
        height += 3.5
        if draw:
            pdf.set_y(pdf.get_y() + 3.5)
        return height

    def _text(
        self, text: str, style: str, size: float, x: float, width: float, *, draw: bool, align: Align = Align.L
    ) -> float:
        pdf = self.pdf
        pdf.set_font(FONT, style, size)
        lines = pdf.multi_cell(width, line_height(size), text, dry_run=True, output="LINES")
        height = len(lines) * line_height(size)
        if draw:
            pdf.set_x(x)
            pdf.multi_cell(width, line_height(size), text, align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        return height

    def _box(self, x: float, y: float) -> None:
        self.pdf.set_line_width(0.3)
        self.pdf.rect(x, y, _BOX_MM, _BOX_MM)

    def _boxes(self, labels: list[str], *, draw: bool) -> float:
        """Options with a box each: in two columns when every label fits half the width."""
        pdf = self.pdf
        pdf.set_font(FONT, "", _OPTION_PT)
        step = line_height(_OPTION_PT) + 1.6
        half = (self.width - _INDENT_MM) / 2
        two = len(labels) > 2 and all(pdf.get_string_width(label) < half - _BOX_MM - 6 for label in labels)
        if two:
            rows = (len(labels) + 1) // 2
            if draw:
                top = pdf.get_y()
                for index, label in enumerate(labels):
                    column, row = divmod(index, rows)
                    x = self.left + _INDENT_MM + column * half
                    y = top + row * step
                    self._box(x, y + (line_height(_OPTION_PT) - _BOX_MM) / 2)
                    pdf.set_xy(x + _BOX_MM + 2.5, y)
                    pdf.cell(half - _BOX_MM - 4, line_height(_OPTION_PT), label)
                pdf.set_y(top + rows * step)
            return rows * step
        height = 0.0
        text_x = self.left + _INDENT_MM + _BOX_MM + 2.5
        text_w = self.width - _INDENT_MM - _BOX_MM - 2.5
        for label in labels:
            lines = pdf.multi_cell(text_w, line_height(_OPTION_PT), label, dry_run=True, output="LINES")
            if draw:
                y = pdf.get_y()
                self._box(self.left + _INDENT_MM, y + (line_height(_OPTION_PT) - _BOX_MM) / 2)
                pdf.set_xy(text_x, y)
                pdf.multi_cell(
                    text_w, line_height(_OPTION_PT), label, align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT
                )
                pdf.set_y(pdf.get_y() + 1.6)
            height += len(lines) * line_height(_OPTION_PT) + 1.6
        return height

    def _scale(self, *, draw: bool) -> float:
        """Five boxes in a row, 1 to 5, each with its words under it."""
        pdf, t = self.pdf, self.t
        column = (self.width - _INDENT_MM) / AGREEMENT_POINTS
        pdf.set_font(FONT, "", _CAPTION_PT)
        captions = [t(f"survey_results.point.{p}") for p in range(1, AGREEMENT_POINTS + 1)]
        caption_lines = max(
            len(pdf.multi_cell(column - 2, line_height(_CAPTION_PT), c, dry_run=True, output="LINES")) for c in captions
        )
        number_h = line_height(_OPTION_PT)
        height = number_h + 1 + caption_lines * line_height(_CAPTION_PT)
        if draw:
            top = pdf.get_y()
            for index, caption in enumerate(captions):
                x = self.left + _INDENT_MM + index * column
                centre = x + column / 2
                pdf.set_font(FONT, "B", _OPTION_PT)
                label = str(index + 1)
                width = pdf.get_string_width(label)
                start = centre - (_BOX_MM + 1.5 + width) / 2
                self._box(start, top + (number_h - _BOX_MM) / 2)
                pdf.set_xy(start + _BOX_MM + 1.5, top)
                pdf.cell(width + 0.5, number_h, label)
                pdf.set_font(FONT, "I", _CAPTION_PT)
                pdf.set_xy(x + 1, top + number_h + 1)
                pdf.multi_cell(
                    column - 2, line_height(_CAPTION_PT), caption, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT
                )
            pdf.set_y(top + height)
        return height

    def _lines(self, *, draw: bool) -> float:
        """Dotted lines to write on."""
        pdf = self.pdf
        height = _WRITING_LINES * _WRITING_GAP_MM
        if draw:
            top = pdf.get_y()
            pdf.set_line_width(0.2)
            pdf.set_dash_pattern(dash=0.4, gap=1.2)
            for index in range(1, _WRITING_LINES + 1):
                y = top + index * _WRITING_GAP_MM
                pdf.line(self.left + _INDENT_MM, y, self.left + self.width, y)
            pdf.set_dash_pattern()
            pdf.set_y(top + height)
        return height

    def heading(self, text: str, *, draw: bool) -> float:
        height = 2.0 + self._text(text, "B", L.BODY_PT, self.left, self.width, draw=False) + 1.5
        if draw:
            self.pdf.set_y(self.pdf.get_y() + 2.0)
            self._text(text, "B", L.BODY_PT, self.left, self.width, draw=True)
            self.pdf.set_y(self.pdf.get_y() + 1.5)
        return height

    def __call__(self) -> None:
        pdf = self.pdf
        number = 0
        for section in self.questionnaire.sections:
            for index, question in enumerate(section.questions):
                number += 1
                needed = self.question(number, question, draw=False)
                title = L.plain(section.title).upper()
                if index == 0 and title:
                    ensure_room(pdf, self.heading(title, draw=False) + needed)
                    self.heading(title, draw=True)
                else:
                    ensure_room(pdf, needed)
                self.question(number, question, draw=True)
        t = self.t
        ensure_room(pdf, 4 * line_height(_FORM_PT))
        pdf.set_y(pdf.get_y() + 4)
        self._text(t("survey_results.form.thanks"), "BI", _FORM_PT, self.left, self.width, draw=True, align=Align.C)
        pdf.set_y(pdf.get_y() + 2)
        self._text(
            t("survey_results.form.footer", id=self.questionnaire.id, version=self.questionnaire.version),
            "I",
            _CAPTION_PT,
            self.left,
            self.width,
            draw=True,
            align=Align.C,
        )


def render_questionnaire_pdf(
    questionnaire: Questionnaire,
    settings: ServerSettings,
    *,
    officers: Sequence[tuple[str, str]] = (),
    campaign: Campaign | None = None,
) -> bytes:
    """The paper questionnaire: the Front committee's header, «PHIẾU KHẢO
    SÁT» and its title, the introduction and how to fill it in, then every
    section and question with boxes to tick (an officer question lists
    ``officers``, (id, name) pairs, by name) or lines to write on."""
    t = translator("vi")
    head = letterhead(settings)
    blocks: list[Block] = []
    if campaign is not None:
        blocks.append(Paragraph(t("survey_results.form.campaign", title=campaign.title, dates=_period_words(campaign))))
    if questionnaire.intro:
        blocks.append(Paragraph(questionnaire.intro))
    required = any(q.required for q in questionnaire.questions)
    blocks.append(
        Paragraph(t("survey_results.form.how") + (" " + t("survey_results.form.required") if required else ""))
    )
    doc = AdministrativeDocument(
        issuer=front_issuer(settings),
        number="",
        place="",
        day=date.today(),
        kind=t("survey_results.form.kind"),
        subject=questionnaire.title,
        blocks=tuple(blocks),
        signature=Signature(capacity="", title=""),
        author=head.commune,
        keywords=(t("survey_results.form.kind"), questionnaire.title),
    )

    def body(pdf: FPDF) -> None:
        _Form(pdf, questionnaire, officers, t)()

    return render_pdf(doc, body=body)
