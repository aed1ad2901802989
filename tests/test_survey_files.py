"""A survey's results, a comparison and the paper questionnaire written
out: the workbooks read back with openpyxl, the PDFs with pdftotext."""

from __future__ import annotations

import re
import subprocess
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from server.settings import ServerSettings
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
from server.survey_results import campaign_report, compare_campaigns
from tests.survey_samples import BASELINE, COMMENTS, LATEST, OFFICERS, QUESTIONNAIRE, baseline_sets, latest_sets

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)
SETTINGS = ServerSettings(commune_name="UBND phường Hòa Bình")


def pdf_pages(content: bytes, tmp_path: Path) -> list[str]:
    """Each page's text (pdftotext's layout), in order."""
    path = tmp_path / f"{uuid.uuid4().hex}.pdf"
    path.write_bytes(content)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout
    return text.split("\f")[:-1]


def flat(text: str) -> str:
    return " ".join(text.split())


def _agree(sets, key):
    values = [s.answers[key] for s in sets if key in s.answers]
    return sum(1 for v in values if v >= 4), len(values)


@pytest.fixture(scope="module")
def report():
    return campaign_report(LATEST, [QUESTIONNAIRE], latest_sets(), zone=ZONE, made_at=NOW)


@pytest.fixture(scope="module")
def compared():
    return compare_campaigns(
        (BASELINE, [QUESTIONNAIRE], baseline_sets()), (LATEST, [QUESTIONNAIRE], latest_sets()), made_at=NOW
    )


def test_the_results_workbook_reads_back_with_the_numbers(report, tmp_path):
    path = tmp_path / results_filename(LATEST, "xlsx")
    write_results_xlsx(report, path, commune=SETTINGS.commune_name, names=OFFICERS, with_texts=True)
    book = load_workbook(path)
    assert book.sheetnames == ["Tổng hợp", "Kết quả từng câu", "Theo kênh", "Theo thời gian", "Ý kiến người dân"]
    summary = {row[0]: row[1] for row in book["Tổng hợp"].iter_rows(values_only=True)}
    sets = latest_sets()
    assert summary["Số phiếu trả lời"] == 180
    assert summary["Số phiếu qua kênh: Phiếu giấy"] == sum(1 for s in sets if s.channel == "paper")
    assert summary["Từ ngày"] == datetime(2026, 4, 1)
    rows = list(book["Kết quả từng câu"].iter_rows(min_row=2, values_only=True))
    agreeing = next(r for r in rows if r[3] == "wait" and r[6] == "Đồng ý (mức 4–5)")
    satisfied, n = _agree(sets, "wait")
    assert agreeing[7:9] == (satisfied, n)
    assert agreeing[9] == pytest.approx(satisfied / n)
    assert agreeing[10] < agreeing[9] < agreeing[11]
    assert agreeing[12] == pytest.approx(sum(s.answers["wait"] for s in sets) / n)
    friend = next(r for r in rows if r[3] == "heard" and r[6] == "Người quen, hàng xóm")
    assert friend[7] == sum(1 for s in sets if s.answers.get("heard") == "friend")
    officer = next(r for r in rows if r[3] == "who" and r[6] == "Nguyễn Thị Lan")
    assert officer[7] == sum(1 for s in sets if s.answers.get("who") == "lan")
    cell = book["Kết quả từng câu"].cell(row=2 + rows.index(agreeing), column=10)
    assert cell.number_format == "0.0%"
    texts = list(book["Ý kiến người dân"].iter_rows(min_row=2, values_only=True))
    assert len(texts) == sum(1 for s in sets if "idea" in s.answers)
    assert any("Liên hệ •••" in r[4] for r in texts) and not any("0912" in r[4] for r in texts)
    weeks = list(book["Theo thời gian"].iter_rows(min_row=2, values_only=True))
    assert sum(w[2] for w in weeks) == 180 and weeks[0][0] == datetime(2026, 4, 1)


def test_without_texts_the_workbook_has_their_number_only(report, tmp_path):
    path = tmp_path / "r.xlsx"
    write_results_xlsx(report, path, commune="x", names=OFFICERS, with_texts=False, lang="en")
    book = load_workbook(path)
    assert "Citizens' comments" not in book.sheetnames and "Summary" in book.sheetnames
    cells = [c for row in book["Questions"].iter_rows(values_only=True) for c in row if isinstance(c, str)]
    assert not any(comment in cells for comment in ("Cần thêm ghế chờ vào buổi sáng thứ Hai.",))


def test_the_comparison_workbook_has_both_intervals_and_the_verdict(compared, tmp_path):
    path = tmp_path / comparison_filename(BASELINE, LATEST, "xlsx")
    assert path.name == "so-sanh-khao-sat-dot-goc-dot-q2.xlsx"
    write_comparison_xlsx(compared, path, commune=SETTINGS.commune_name, zone=ZONE)
    rows = list(load_workbook(path)["So sánh"].iter_rows(min_row=2, values_only=True))
    wait = next(r for r in rows if r[0] == "wait")
    before, after = _agree(baseline_sets(), "wait"), _agree(latest_sets(), "wait")
    assert (wait[4], wait[5], wait[9], wait[10]) == (before[0], before[1], after[0], after[1])
    assert wait[14] == pytest.approx(after[0] / after[1] - before[0] / before[1])
    assert wait[8] < wait[12]  # the baseline's upper bound under the latest's lower bound
    assert wait[15] == "Có"
    attitude = next(r for r in rows if r[0] == "attitude")
    assert attitude[15] == "Không"


def test_the_results_pdf_reads_back_in_vietnamese(report, tmp_path):
    content = render_results_pdf(report, SETTINGS, day=date(2026, 6, 1), names=OFFICERS, with_texts=True)
    pages = pdf_pages(content, tmp_path)
    text = flat(" ".join(pages))
    assert "ỦY BAN MTTQ VIỆT NAM" in text and "PHƯỜNG HÒA BÌNH" in text
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text and "Số: /BC-MTTQ" in text
    assert "Kết quả đợt khảo sát «Khảo sát quý II năm 2026»" in text
    assert "Ủy ban MTTQ Việt Nam phường Hòa Bình" in text and "UBND phường" not in text
    sets = latest_sets()
    satisfied, n = _agree(sets, "wait")
    share = f"{100 * satisfied / n:.1f}".replace(".", ",") + "%"
    assert f"Câu 1. Thời gian chờ đợi đến lượt được giải quyết là hợp lý (n = {n})" in text
    assert f"Đồng ý (mức 4–5) {satisfied} {share}" in text
    assert "Nguyễn Thị Lan" in text and "Cần thêm ghế chờ vào buổi sáng thứ Hai." in text
    assert "0912" not in text
    assert "TM. BAN THƯỜNG TRỰC" in text and "Nơi nhận:" in text
    _no_heading_at_a_page_foot(pages)


def test_the_results_pdf_without_texts_gives_their_number(report, tmp_path):
    content = render_results_pdf(report, SETTINGS, day=date(2026, 6, 1), names=OFFICERS, with_texts=False)
    text = flat(" ".join(pdf_pages(content, tmp_path)))
    count = sum(1 for s in latest_sets() if "idea" in s.answers)
    assert f"Số ý kiến ghi thêm: {count}." in text
    assert "Cần thêm ghế" not in text


def test_the_comparison_pdf_says_which_changes_are_beyond_chance(compared, tmp_path):
    pages = pdf_pages(render_comparison_pdf(compared, SETTINGS, day=date(2026, 6, 1)), tmp_path)
    text = flat(" ".join(pages))
    assert "So sánh kết quả hai đợt khảo sát «Khảo sát đầu kỳ (trước khi áp dụng mô hình)»" in text
    wait = text[text.index("Câu 1. Thời gian chờ") : text.index("Câu 2.")]
    assert "Tăng rõ rệt" in wait and "n=60" in wait and "n=180" in wait
    attitude = text[text.index("Câu 4.") : text.index("Câu 5.")]
    assert "Chưa khác" in attitude and "rõ rệt" not in attitude  # «Chưa khác biệt rõ», wrapped in its cell
    _no_heading_at_a_page_foot(pages)


def test_the_paper_questionnaire_lists_every_question_option_and_officer(tmp_path):
    content = render_questionnaire_pdf(QUESTIONNAIRE, SETTINGS, officers=list(OFFICERS.items()), campaign=LATEST)
    assert questionnaire_filename(QUESTIONNAIRE) == "phieu-khao-sat-ks-mttq-v1.pdf"
    pages = pdf_pages(content, tmp_path)
    text = flat(" ".join(pages))
    assert "ỦY BAN MTTQ VIỆT NAM" in text and "PHIẾU KHẢO SÁT" in text and "Độc lập - Tự do - Hạnh phúc" in text
    assert "Số:" not in text  # a form has no number
    assert "Đợt khảo sát: Khảo sát quý II năm 2026 (01/04/2026 – 15/05/2026)." in text
    for number, question in enumerate(QUESTIONNAIRE.questions, start=1):
        assert f"Câu {number}. {question.text}" in text
        for option in question.options:
            assert option.text in text
    for name in OFFICERS.values():
        assert name in text
    for words in ("Hoàn toàn không", "Không đồng ý", "Bình thường", "Hoàn toàn đồng ý"):
        assert words in text
    assert "Mã phiếu: ks-mttq, phiên bản 1." in text
    assert "Ký tên" not in text and "CHỦ TỊCH" not in text
    _no_heading_at_a_page_foot(pages, headings=[s.title.upper() for s in QUESTIONNAIRE.sections])


def test_a_long_paper_questionnaire_keeps_each_question_on_one_page(tmp_path):
    from sync.survey import Questionnaire

    questions = [
        {
            "key": f"q{i}",
            "kind": "single" if i % 3 else "scale",
            "text": f"Câu hỏi thử số {i} về dịch vụ",
            "options": [{"key": "a", "text": "Có"}, {"key": "b", "text": "Không"}] if i % 3 else [],
        }
        for i in range(1, 31)
    ]
    sections = [{"title": f"Phần {n}", "questions": questions[n * 6 : (n + 1) * 6]} for n in range(5)]
    long = Questionnaire.from_dict({"id": "dai", "version": 1, "title": "Phiếu dài", "sections": sections})
    pages = pdf_pages(render_questionnaire_pdf(long, SETTINGS), tmp_path)
    assert len(pages) >= 3
    for page in pages:
        lines = [line.strip() for line in page.splitlines() if line.strip()]
        # A question's words and its boxes share a page: the page never ends on a question line.
        assert not re.match(r"^Câu \d+\.", lines[-1]), lines[-3:]
        assert not lines[-1].startswith("PHẦN"), lines[-3:]


def _no_heading_at_a_page_foot(pages: list[str], headings: list[str] = ()) -> None:
    """No page but the last ends on a heading (a section's title or a question's line)."""
    for page in pages[:-1]:
        lines = [line.strip() for line in page.splitlines() if line.strip()]
        last = lines[-1]
        assert not re.match(r"^(Câu \d+\.|[IVX]+\. )", last), lines[-3:]
        # A question's heading ends «(n = 180)»; a table row has its cells apart.
        assert not (re.search(r"\(n = [\d.]+\)$", last) and "   " not in last), lines[-3:]
        assert last not in headings, lines[-3:]


def test_a_campaign_without_answers_still_writes_its_files(tmp_path):
    empty = campaign_report(LATEST, [QUESTIONNAIRE], [], zone=ZONE, made_at=NOW)
    assert empty.results.respondents == 0 and sum(b.respondents for b in empty.timeline) == 0
    assert (empty.timeline[0].bucket.first, empty.timeline[-1].bucket.last) == (LATEST.starts_on, LATEST.ends_on)
    path = tmp_path / "empty.xlsx"
    write_results_xlsx(empty, path, commune="x", names=OFFICERS, with_texts=True)
    summary = {r[0]: r[1] for r in load_workbook(path)["Tổng hợp"].iter_rows(values_only=True)}
    assert summary["Số phiếu trả lời"] == 0
    text = flat(
        " ".join(
            pdf_pages(
                render_results_pdf(empty, SETTINGS, day=date(2026, 6, 1), names=OFFICERS, with_texts=True), tmp_path
            )
        )
    )
    assert "Tổng số phiếu thu về: 0" in text and "(n = 0)" in text
    nothing = compare_campaigns((BASELINE, [QUESTIONNAIRE], []), (LATEST, [QUESTIONNAIRE], latest_sets()), made_at=NOW)
    assert "Chưa khác" in flat(
        " ".join(pdf_pages(render_comparison_pdf(nothing, SETTINGS, day=date(2026, 6, 1)), tmp_path))
    )


def test_a_long_list_of_texts_is_cut_in_the_pdf_and_whole_in_the_workbook(report, tmp_path, monkeypatch):
    import server.survey_files as files

    monkeypatch.setattr(files, "PDF_TEXTS", 4)
    count = sum(1 for s in latest_sets() if "idea" in s.answers)
    assert count > 4
    text = flat(
        " ".join(
            pdf_pages(
                files.render_results_pdf(report, SETTINGS, day=date(2026, 6, 1), names=OFFICERS, with_texts=True),
                tmp_path,
            )
        )
    )
    assert f"Dưới đây là 4 ý kiến đầu tiên trong tổng số {count} ý kiến" in text
    listed = sum(text.count(comment.replace("0912 345 678", "•••")) for comment in COMMENTS)
    assert listed == 4
    path = tmp_path / "all.xlsx"
    files.write_results_xlsx(report, path, commune="x", names=OFFICERS, with_texts=True)
    assert load_workbook(path)["Ý kiến người dân"].max_row == count + 1
