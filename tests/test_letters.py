"""The letters and the two writers, without a browser: a case's apology and a
comment's thank-you read back from the PDF (pdftotext, pdffonts) and from
the DOCX (python-docx) with their Vietnamese intact; numbers per kind and per
local year, the same letter given back on a second download; who may issue
them; the audit (no personal data); a commune's template replacing the
shipped one, and a broken one refused with its line before a number is used;
tables over several pages with their header repeated; the command that
writes the templates out."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from docx import Document
from sqlalchemy import select

from server.accounts import AccountBook, Role
from server.batches import BatchIngest
from server.cases import CaseBook, CaseView
from server.comments import CommentBox
from server.documents.model import (
    NATIONAL_MOTTO,
    NATIONAL_TITLE,
    AdministrativeDocument,
    Heading,
    Issuer,
    Paragraph,
    Signature,
    Table,
)
from server.documents.pdf import render_pdf
from server.documents.word import render_docx
from server.letters import (
    SHIPPED_TEMPLATES,
    LetterDesk,
    LetterError,
    LetterTemplates,
    TemplateError,
    count_issued,
    parse_letter,
    write_shipped_templates,
)
from server.settings import save_setting
from server.store import open_engine, tables
from tests.test_cases import Clock, Device

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
PASSWORD = "mật-khẩu-đủ-dài-lắm"
PHONE = "0912345678"
CITIZEN = "Nguyễn Thị Mỹ Dung"

needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils (make browser)")


def pdf_text(content: bytes, tmp_path: Path, *, first: int | None = None, last: int | None = None) -> str:
    path = tmp_path / f"{uuid.uuid4().hex}.pdf"
    path.write_bytes(content)
    pages = (["-f", str(first)] if first else []) + (["-l", str(last)] if last else [])
    return subprocess.run(["pdftotext", *pages, str(path), "-"], check=True, capture_output=True,
                          text=True).stdout


def pdf_pages(content: bytes, tmp_path: Path) -> int:
    path = tmp_path / "count.pdf"
    path.write_bytes(content)
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def docx_text(content: bytes) -> str:
    """Every paragraph of the DOCX, tables' included, one a line."""
    document = Document(io.BytesIO(content))
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            for cell in row.cells:
                lines.extend(p.text for p in cell.paragraphs)
    return "\n".join(lines)


def flat(text: str) -> str:
    """Text with its line breaks and spacing made single spaces (a PDF wraps lines)."""
    return " ".join(text.split())


@pytest.fixture
def world(tmp_path):
    """A commune on Friday 6 March 2026, 15:00 in Hanoi: a lowest-level
    rating (with a call-back) that opened a case, a good rating with a
    comment, a low one with a comment, and a signed suggestion."""
    engine = open_engine(tmp_path / "commune.db")
    clock = Clock(datetime(2026, 3, 6, 15, 0, tzinfo=HANOI).astimezone(UTC))
    book = AccountBook(engine, clock=clock)
    accounts = {role: book.create(role.value, PASSWORD, role, display_name=f"TK {role.value}",
                                  officer_id="nguyen-van-an" if role is Role.OFFICER else None) for role in Role}
    save_setting(engine, "commune_name", "Xã Hòa Bình")
    save_setting(engine, "leader_name", "Trần Thị Hạnh")
    device = Device(engine)
    low = device.rate(1)
    device.details(low, PHONE)
    good = device.rate(3)
    other_low = device.rate(1)
    BatchIngest(engine).receive(device.batch(device.records), clock())
    box = CommentBox(engine, clock=clock)
    good_comment = box.comment_on_rating(good.uuid, "t" * 16, text="Cán bộ rất tận tình", phone=None,
                                         consent=False, address="10.0.0.1")
    low_comment = box.comment_on_rating(other_low.uuid, "t" * 16, text="Chờ quá lâu", phone=None, consent=False,
                                        address="10.0.0.2")
    suggestion = box.suggest(text="Nên có thêm ghế chờ", name=CITIZEN, phone=None, consent=False,
                             address="10.0.0.3")
    cases = CaseBook(engine, book, clock=clock)
    case = next(c for c in cases.cases(CaseView.ALL)[0] if c.rating_uuid == low.uuid)
    desk = LetterDesk(engine, book, cases, clock=clock)
    yield {"engine": engine, "clock": clock, "accounts": accounts, "desk": desk, "cases": cases, "case": case,
           "good_comment": good_comment, "low_comment": low_comment, "suggestion": suggestion, "book": book,
           "low": low}
    engine.dispose()


def audit_rows(engine, prefix: str = "letter.") -> list[dict]:
    with engine.begin() as conn:
        rows = conn.execute(select(tables.audit_log).order_by(tables.audit_log.c.id)).mappings()
        return [dict(r) for r in rows if r["action"].startswith(prefix)]


@needs_poppler
def test_an_apology_reads_back_from_the_pdf_and_the_docx(world, tmp_path):
    engine, desk, leader = world["engine"], world["desk"], world["accounts"][Role.LEADER]
    letter = desk.apology(world["case"].id, leader, "10.1.1.1")
    assert letter.new and letter.issued.number == 1 and letter.issued.year == 2026
    content = render_pdf(letter.document)
    assert content.startswith(b"%PDF")
    text = flat(pdf_text(content, tmp_path))
    # The visit's local day, from the stored rating, independently of the letter's code.
    with engine.begin() as conn:
        stored_time = conn.execute(select(tables.records.c.corrected_time)
                                   .where(tables.records.c.uuid == world["low"].uuid)).scalar_one()
    visit = datetime.fromisoformat(stored_time).astimezone(HANOI).date()
    for expected in (NATIONAL_TITLE, NATIONAL_MOTTO, "ỦY BAN NHÂN DÂN", "XÃ HÒA BÌNH", "Số: 1/TXL-UBND",
                     "Hòa Bình, ngày 06 tháng 3 năm 2026", "THƯ XIN LỖI", "Kính gửi: Ông/Bà",
                     "Ủy ban nhân dân xã Hòa Bình chân thành xin lỗi Ông/Bà",
                     f"ngày {visit.day:02d}/{visit.month}/{visit.year}", "TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH",
                     "Trần Thị Hạnh", "Nơi nhận:", "Trân trọng./."):
        assert expected in text, expected
    assert PHONE not in text and PHONE[1:] not in text.replace(" ", "")

    fonts = subprocess.run(["pdffonts", "-"], input=content, capture_output=True).stdout.decode()
    embedded = [line for line in fonts.splitlines() if "LiberationSerif" in line]
    assert len(embedded) >= 3, fonts  # regular, bold, italic at least
    assert all(line.split()[-5:-2] == ["yes", "yes", "yes"] for line in embedded), fonts  # embedded, subset, unicode

    # The DOCX holds the same words, Times New Roman named, A4 with the decree's margins.
    docx = render_docx(letter.document)
    words = flat(docx_text(docx))
    for expected in (NATIONAL_TITLE, NATIONAL_MOTTO, "Số: 1/TXL-UBND", "Hòa Bình, ngày 06 tháng 3 năm 2026",
                     "THƯ XIN LỖI", "Trần Thị Hạnh", "Nơi nhận:"):
        assert expected in words, expected
    for block in letter.document.blocks:
        assert flat(block.text) in words
        assert flat(block.text) in text
    document = Document(io.BytesIO(docx))
    section = document.sections[0]
    assert round(section.page_width.mm) == 210 and round(section.page_height.mm) == 297
    assert [round(m.mm) for m in (section.top_margin, section.bottom_margin, section.left_margin,
                                  section.right_margin)] == [20, 20, 30, 15]
    assert document.styles["Normal"].font.name == "Times New Roman"
    assert document.core_properties.title.startswith("THƯ XIN LỖI")
    assert PHONE not in words


@needs_poppler
def test_numbers_run_per_kind_and_local_year_and_a_second_download_gives_the_same_letter(world, tmp_path):
    engine, desk, clock = world["engine"], world["desk"], world["clock"]
    leader = world["accounts"][Role.LEADER]
    first = desk.apology(world["case"].id, leader)
    again = desk.apology(world["case"].id, leader)
    assert not again.new and again.issued == first.issued
    assert again.document.number == "Số: 1/TXL-UBND"
    thanks = desk.thanks(world["suggestion"], leader)
    assert thanks.issued.number == 1 and thanks.document.number == "Số: 1/TCƠ-UBND"
    second_thanks = desk.thanks(world["good_comment"], leader)
    assert second_thanks.issued.number == 2

    # A day later the re-download still bears the first day's date and number.
    clock.now += timedelta(days=1)
    later = desk.apology(world["case"].id, leader)
    assert later.document.day == date(2026, 3, 6) and later.issued.number == 1

    # New Year's Day at 00:30 in Hanoi is still 31 December in UTC: the number starts again at 1 for 2027.
    clock.now = datetime(2027, 1, 1, 0, 30, tzinfo=HANOI).astimezone(UTC)
    case = world["cases"].get(_new_case(world))
    new_year = desk.apology(case.id, leader)
    assert (new_year.issued.year, new_year.issued.number) == (2027, 1)
    assert "ngày 01 tháng 01 năm 2027" in flat(pdf_text(render_pdf(new_year.document), tmp_path))

    year_2026 = count_issued(engine, datetime(2025, 12, 31, 17, tzinfo=UTC), datetime(2026, 12, 31, 17, tzinfo=UTC))
    assert year_2026 == {"apology": 1, "thanks": 2}
    everything = count_issued(engine, datetime(2020, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC))
    assert everything == {"apology": 2, "thanks": 2}

    # Audit: one issue per letter, one download per repeat; ids and numbers only.
    entries = audit_rows(engine)
    assert [e["action"] for e in entries].count("letter.issue") == 4
    assert [e["action"] for e in entries].count("letter.download") == 2
    assert entries[0]["target"] == f"case {world['case'].id}" and "1/TXL-UBND 2026" in entries[0]["detail"]
    assert entries[0]["actor"] == "leader"
    for entry in entries:
        assert CITIZEN not in str(entry) and PHONE not in str(entry) and "ghế" not in str(entry)


def _new_case(world) -> int:
    """Another lowest-level rating, uploaded now: its case's id."""
    device = Device(world["engine"], name=f"tablet-{uuid.uuid4().hex[:6]}")
    rating = device.rate(1)
    BatchIngest(world["engine"]).receive(device.batch(device.records), world["clock"]())
    return next(c.id for c in world["cases"].cases(CaseView.ALL, per_page=100)[0] if c.rating_uuid == rating.uuid)


def test_who_may_issue_letters(world):
    desk, accounts, case = world["desk"], world["accounts"], world["case"]
    for role in (Role.OFFICER, Role.OBSERVER, Role.ADMIN):
        with pytest.raises(LetterError) as refused:
            desk.apology(case.id, accounts[role])
        assert refused.value.code == "not_allowed"
    for role in (Role.OFFICER, Role.OBSERVER, Role.ADMIN):
        with pytest.raises(LetterError) as refused:
            desk.thanks(world["suggestion"], accounts[role])
        assert refused.value.code == "not_allowed"
    # The admin the case is given to may issue its apology.
    world["cases"].assign(case.id, accounts[Role.ADMIN].id, accounts[Role.LEADER])
    assert desk.apology(case.id, accounts[Role.ADMIN]).issued.issued_by == "admin"
    # A thank-you answers a suggestion or a satisfied rating's comment, not a complaint.
    with pytest.raises(LetterError) as refused:
        desk.thanks(world["low_comment"], accounts[Role.LEADER])
    assert refused.value.code == "not_positive"
    with pytest.raises(LetterError) as refused:
        desk.thanks(99999, accounts[Role.LEADER])
    assert refused.value.code == "no_comment"
    with pytest.raises(LetterError) as refused:
        desk.apology(99999, accounts[Role.LEADER])
    assert refused.value.code == "no_case"
    assert audit_rows(world["engine"])[-1]["action"] == "letter.issue"
    assert len(audit_rows(world["engine"])) == 1


@needs_poppler
def test_a_thank_you_names_the_citizen_who_signed(world, tmp_path):
    leader = world["accounts"][Role.LEADER]
    signed = world["desk"].thanks(world["suggestion"], leader)
    assert signed.document.recipients == (f"Ông/Bà {CITIZEN}",)
    text = flat(pdf_text(render_pdf(signed.document), tmp_path))
    assert f"Kính gửi: Ông/Bà {CITIZEN}" in text and "THƯ CẢM ƠN" in text and "hòm thư góp ý" in text
    assert "Nên có thêm ghế chờ" not in text  # never the comment's own text
    unsigned = world["desk"].thanks(world["good_comment"], leader)
    assert unsigned.document.recipients[0].startswith("Ông/Bà …")
    assert "đã dành thời gian đánh giá" in flat(docx_text(render_docx(unsigned.document)))


def test_a_communes_template_replaces_the_shipped_one(world, tmp_path):
    own = tmp_path / "mau-thu"
    written = write_shipped_templates(own)
    assert sorted(p.name for p in written) == ["apology.vi.txt", "thanks.vi.txt"]
    assert (own / "apology.vi.txt").read_bytes() == (SHIPPED_TEMPLATES / "apology.vi.txt").read_bytes()
    assert write_shipped_templates(own) == []  # kept unless told to replace
    (own / "apology.vi.txt").write_text(
        "Loại văn bản: THƯ XIN LỖI CÔNG DÂN\nTrích yếu: V/v phục vụ tại {{ commune }}\n"
        "Kính gửi: Ông/Bà {{ citizen or blank }}\nNơi nhận: - Lưu: VT, VP.\n\n"
        "## I. Nội dung\n\nChúng tôi thành thật xin lỗi Ông/Bà,\nngười đã đến ngày {{ visit_date }}.\n",
        encoding="utf-8")
    desk = LetterDesk(world["engine"], world["book"], world["cases"], clock=world["clock"],
                      templates=LetterTemplates(own))
    leader = world["accounts"][Role.LEADER]
    letter = desk.apology(world["case"].id, leader)
    assert letter.document.kind == "THƯ XIN LỖI CÔNG DÂN"
    assert letter.document.subject == "V/v phục vụ tại Xã Hòa Bình"
    assert letter.document.copies_to == ("- Lưu: VT, VP.",)
    assert letter.document.blocks[0] == Heading("I. Nội dung")
    assert isinstance(letter.document.blocks[1], Paragraph)
    assert letter.document.blocks[1].text.startswith("Chúng tôi thành thật xin lỗi Ông/Bà, người đã đến ngày ")
    # The thank-you still comes from the shipped template (no file of that name there).
    (own / "thanks.vi.txt").unlink()
    assert desk.thanks(world["suggestion"], leader).document.kind == "THƯ CẢM ƠN"


@pytest.mark.parametrize(("source", "fault"), [
    ("Loại văn bản: THƯ\n\n{% if citizen %}không đóng\n", "line"),
    ("Loại văn bản: THƯ\n\nKính chào {{ ten_khong_co }}.\n", "ten_khong_co"),
    ("Loại văn bản: THƯ\nNgười nhận: ai đó\n\nĐoạn văn.\n", "Người nhận"),
    ("Trích yếu: thiếu loại\n\nĐoạn văn.\n", "Loại văn bản"),
    ("Loại văn bản: THƯ\n\n", "no paragraph"),
    ("Loại văn bản: {{ ''.__class__.__mro__ }}\n\nĐoạn.\n", "unsafe"),
])
def test_a_broken_template_is_refused_with_its_fault_and_costs_no_number(world, tmp_path, source, fault):
    own = tmp_path / "mau-loi"
    own.mkdir()
    (own / "apology.vi.txt").write_text(source, encoding="utf-8")
    desk = LetterDesk(world["engine"], world["book"], world["cases"], clock=world["clock"],
                      templates=LetterTemplates(own))
    with pytest.raises(TemplateError) as refused:
        desk.apology(world["case"].id, world["accounts"][Role.LEADER])
    assert refused.value.template == "apology.vi.txt" and fault in refused.value.detail
    assert count_issued(world["engine"], datetime(2020, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC)) == {
        "apology": 0, "thanks": 0}
    # Fixed, the first letter still gets number 1.
    (own / "apology.vi.txt").unlink()
    assert desk.apology(world["case"].id, world["accounts"][Role.LEADER]).issued.number == 1


def test_the_letter_parser_reads_headers_and_paragraphs():
    parsed = parse_letter("x", "\n\nLoại văn bản: THƯ\nKính gửi: A\nKính gửi: B\nNơi nhận: - Như trên;\n\n"
                               "Dòng một\n  dòng hai\n\n\n## Mục\n\nCuối./.\n")
    assert parsed.kind == "THƯ" and parsed.recipients == ("A", "B") and parsed.copies_to == ("- Như trên;",)
    assert parsed.blocks == (Paragraph("Dòng một dòng hai"), Heading("Mục"), Paragraph("Cuối./."))


def _report(rows: int, *, long_names: bool = False) -> AdministrativeDocument:
    commune = "XÃ HÒA BÌNH TRUNG THƯỢNG ĐÔNG NAM BẮC" if long_names else "XÃ HÒA BÌNH"
    citizen = "Ông/Bà Nguyễn Thị Phương Thảo Hoàng Lê Nhất Thống Chí Minh Khai Phóng Trường Giang"
    return AdministrativeDocument(
        issuer=Issuer(name=f"ỦY BAN NHÂN DÂN\n{commune}", parent="UBND TỈNH LÂM ĐỒNG" if long_names else ""),
        number="Số: 12/BC-UBND", place="Hòa Bình", day=date(2026, 6, 10), kind="BÁO CÁO",
        subject="Kết quả đánh giá mức độ hài lòng 6 tháng đầu năm 2026",
        recipients=(citizen, "Ủy ban nhân dân tỉnh") if long_names else (),
        blocks=(Heading("I. KẾT QUẢ CHUNG"),
                Paragraph("Trong kỳ, Bộ phận Một cửa tiếp nhận và giải quyết hồ sơ; người dân đánh giá như sau."),
                Table(header=("STT", "Cán bộ", "Lượt", "Tỷ lệ (%)"),
                      rows=tuple((i, f"Cán bộ Đặng Thị Ngọc Ánh số {i}" + (" Vĩnh" * 12 if i == 7 else ""),
                                  1000 * i, i / 3) for i in range(1, rows + 1)) + (
                          (rows + 1, "Tên" + "x" * 90, 1, 0.5),),
                      widths=(1, 5, 2, 2), numeric=(0, 2, 3))),
        signature=Signature("TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH", "Phạm Văn Đồng Khởi Nghĩa"),
        copies_to=("- UBND tỉnh;", "- Lưu: VT."), author="UBND xã Hòa Bình")


@needs_poppler
def test_a_long_table_breaks_over_pages_with_its_header_repeated(tmp_path):
    content = render_pdf(_report(150))
    pages = pdf_pages(content, tmp_path)
    assert pages >= 4
    for number in range(2, pages + 1):
        page_text = pdf_text(content, tmp_path, first=number, last=number)
        assert page_text.split()[0] == str(number)  # the page number at the top, from page 2
        if number < pages:
            assert "STT" in page_text and "Cán bộ" in page_text and "Tỷ lệ (%)" in page_text
    first = pdf_text(content, tmp_path, first=1, last=1)
    assert first.split()[0] != "1"
    every = flat(pdf_text(content, tmp_path))
    assert "150.000" in every and "50,0" in every and "Cán bộ Đặng Thị Ngọc Ánh số 150" in every
    assert "Phạm Văn Đồng Khởi Nghĩa" in every  # the signature block after the table
    # The DOCX: every row, the header row marked to repeat.
    document = Document(io.BytesIO(render_docx(_report(150))))
    table = document.tables[1]
    assert len(table.rows) == 152
    assert table.rows[0]._tr.trPr.xpath("./w:tblHeader")
    assert table.rows[150].cells[2].text == "150.000"


@needs_poppler
def test_long_names_wrap_inside_the_page(tmp_path):
    content = render_pdf(_report(3, long_names=True))
    text = flat(pdf_text(content, tmp_path))
    for words in ("XÃ HÒA BÌNH TRUNG THƯỢNG ĐÔNG NAM BẮC", "UBND TỈNH LÂM ĐỒNG",
                  "Nguyễn Thị Phương Thảo Hoàng Lê Nhất Thống Chí Minh Khai Phóng Trường Giang"):
        assert all(word in text for word in words.split()), words
    # Nothing printed past the right margin: every word's box ends inside the page (210 - 15 mm).
    path = tmp_path / "long.pdf"
    path.write_bytes(content)
    boxes = subprocess.run(["pdftotext", "-bbox", str(path), "-"], check=True, capture_output=True,
                           text=True).stdout
    right_edges = [float(part.split('"')[1]) for line in boxes.splitlines() if "<word " in line
                   for part in line.split() if part.startswith("xMax=")]
    assert right_edges and max(right_edges) <= (210 - 15) / 25.4 * 72 + 1.0


@needs_poppler
def test_the_closing_sentence_goes_over_with_the_signature(tmp_path):
    # Tables of lengths that end page 2 around the closing sentence: wherever
    # the page breaks, the page with the signer's name carries it too (20 and
    # 21 rows left the signature alone on page 3 before).
    closing = "Trên đây là báo cáo kết quả đánh giá mức độ hài lòng KẾT-THÚC./."
    for rows in range(17, 24):
        base = _report(rows)
        document = replace(base, blocks=(*base.blocks, Paragraph(closing)))
        path = tmp_path / f"closing-{rows}.pdf"
        path.write_bytes(render_pdf(document))
        pages = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True,
                               text=True).stdout.split("\f")
        signed = [page for page in pages if "Phạm Văn Đồng Khởi Nghĩa" in page]
        assert len(signed) == 1, rows
        assert "KẾT-THÚC" in signed[0] and "Nơi nhận" in signed[0], rows
    # Word keeps it with the block that follows.
    last = [p for p in Document(io.BytesIO(render_docx(document))).paragraphs if "KẾT-THÚC" in p.text]
    assert last and last[0].paragraph_format.keep_with_next


def test_the_command_writes_the_templates_out(tmp_path):
    out = tmp_path / "mau"
    done = subprocess.run([sys.executable, "-m", "server", "letter-templates", "--out", str(out)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["apology.vi.txt", "thanks.vi.txt"]
    assert "Trân trọng" in (out / "thanks.vi.txt").read_text(encoding="utf-8")
