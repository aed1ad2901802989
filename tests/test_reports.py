"""The periodic reports from real ratings: made on a tablet, uploaded to a
real server and stored by the ingest, with follow-up cases taken through
their statuses, a comment, a suggestion and letters issued through the real
code. The report's figures, its XLSX and its PDF (read back with
``pdftotext``) are compared with counts worked out here from the tablet's
own records; the evidence archive verifies, and fails once a file is
altered; the reminder appears ahead of the deadlines until the archive is made."""

from __future__ import annotations

import io
import shutil
import subprocess
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from kiosk.desk import DeviceClock
from server.__main__ import main
from server.accounts import AccountBook, Role
from server.cases import CaseBook, CaseOutcome, CaseStatus
from server.comments import CommentBox
from server.evidence import ARCHIVE_FILES, MANIFEST, make_archive, verify_archive
from server.i18n import translator
from server.letters import LetterDesk
from server.report_files import render_report_pdf, report_document, write_xlsx
from server.reports import (
    REMINDER_DAYS_AFTER,
    REMINDER_DAYS_BEFORE,
    build_report,
    due_reminder,
    forget_counts,
    parse_period,
    period_code,
    reminder_for,
)
from server.roster import RosterStore
from server.scores import HEADINGS, REASON_HEADINGS, Exclusions, Period, PeriodKind, ReasonTally, wilson_interval
from server.settings import load_settings, save_setting
from sync.record import KIND_RATING
from tests.sync_support import Commune, ManualClock, Tablet

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
PHONE = "0912345678"
SUGGESTION_PHONE = "0987654321"
SUGGESTION_NAME = "Trần Thị Bích"
COMMENT = "Cán bộ hướng dẫn rất tận tình, cảm ơn chị."
SUGGESTION = "Đề nghị bố trí thêm ghế ngồi chờ ở bộ phận một cửa."
SATISFIED = {"satisfied", "very_satisfied"}
MARCH = Period.of(PeriodKind.MONTH, date(2026, 3, 1), HANOI)

# (local time, officer index, score, simulated, reasons, call-back phone)
TAPS = [
    (datetime(2026, 2, 27, 8, 0), 2, 3, False, (), None),
    (datetime(2026, 3, 2, 8, 0), 0, 3, False, ("fast", "friendly"), None),
    (datetime(2026, 3, 2, 9, 0), 1, 1, False, ("waited_long", "not_listening"), PHONE),
    (datetime(2026, 3, 3, 6, 30), 0, 2, False, (), None),  # 23:30 UTC on the 2nd: the 3rd locally
    (datetime(2026, 3, 3, 10, 0), 2, 3, False, ("respectful",), None),
    (datetime(2026, 3, 3, 10, 0, 2), 2, 3, False, (), None),  # 2 s later: a burst
    (datetime(2026, 3, 5, 14, 0), 1, 2, True, (), None),  # simulated
    (datetime(2026, 3, 10, 8, 0), 0, 1, False, ("disrespectful",), None),
    (datetime(2026, 3, 12, 11, 0), 2, 1, False, (), None),
    (datetime(2026, 3, 16, 9, 0), 2, 2, False, ("clear_guidance",), None),
    (datetime(2026, 3, 31, 16, 45), 1, 3, False, (), None),
    (datetime(2026, 4, 1, 7, 0), 0, 3, False, (), None),
    (datetime(2026, 4, 2, 9, 0), 1, 1, False, (), None),
]
REPORT_TIME = datetime(2026, 6, 1, 9, 0)  # local: within the reminder of the 15 June deadline


@dataclass
class Rated:
    """A rating as the tablet wrote it: local day, officer, level, flags, reasons."""

    uuid: str
    day: date
    officer_id: str
    level: str
    burst: bool
    simulated: bool
    reasons: tuple[str, ...] = ()


@dataclass
class Seeded:
    """A commune with the ratings of :data:`TAPS`, its follow-up and letters."""

    commune: Commune
    clock: ManualClock
    officers: list[str]
    names: dict[str, str]
    ratings: list[Rated]
    tablet: Tablet
    time: Steered
    cases: dict[str, int] = field(default_factory=dict)


class Steered:
    """The tablet's wall and monotonic clocks and the server's clock, moved together."""

    def __init__(self, server: ManualClock):
        self.server = server
        self.local = TAPS[0][0].replace(tzinfo=HANOI)
        self.mono = 7 * 10**12

    def to(self, local: datetime) -> None:
        when = local.replace(tzinfo=HANOI)
        if when > self.local:
            self.mono += int((when - self.local).total_seconds() * 1e9)
        self.local = when
        self.server.now = when.astimezone(UTC)

    def device_clock(self) -> DeviceClock:
        return DeviceClock(now=lambda: self.local, monotonic_ns=lambda: self.mono, boot=lambda: "boot-r")


def _tablet_tree(tree: dict) -> None:
    tree["attribution"] = {"mode": "choose"}
    tree["rating"]["burst_interval_s"] = 5
    tree["working_hours"]["enforce"] = False


def seed(tmp_path: Path, commune: Commune, clock: ManualClock) -> Seeded:
    """Rate :data:`TAPS` on a real tablet (uploading after each), comment,
    suggest, take cases through their statuses and issue letters; the
    server's clock ends at :data:`REPORT_TIME`."""
    time = Steered(clock)
    tablet = Tablet(tmp_path / "tablet", commune.url, clock=time.device_clock(), tree_changes=_tablet_tree)
    tablet.pair(commune)
    RosterStore(commune.engine).import_file(tablet.config_path)
    save_setting(commune.engine, "rank_min_ratings", 2)
    save_setting(commune.engine, "commune_name", "UBND xã Hòa Bình")
    officers = [o.id for o in tablet.settings.active_officers][:3]
    names = {o.id: o.name for o in tablet.settings.active_officers}
    made = []
    for local, who, score, simulated, reasons, phone in TAPS:
        time.to(local)
        record = tablet.desk.rate(officers[who], score, simulated=simulated)
        if reasons or phone:
            tablet.desk.add_details(record, list(reasons), phone, consent=phone is not None)
        made.append(record)
        assert tablet.uploader().run_once().pending == 0
    stored = {r.uuid: r for r in tablet.store.ratings() if r.kind == KIND_RATING}
    ratings = [Rated(r.uuid, datetime.fromisoformat(stored[r.uuid].device_time).astimezone(HANOI).date(),
                     r.officer_id, r.level, bool(stored[r.uuid].burst), bool(r.simulated), tap[4])
               for r, tap in zip(made, TAPS, strict=True)]
    assert sum(r.burst for r in ratings) == 1 and sum(r.simulated for r in ratings) == 1

    engine = commune.engine
    accounts = AccountBook(engine, clock=clock)
    leader = accounts.create("chu-tich", "chu-tich-mật-khẩu-đủ-dài", Role.LEADER, display_name="Chủ tịch xã")
    book = CaseBook(engine, accounts, clock=clock)
    desk = LetterDesk(engine, accounts, book, clock=clock)
    seeded = Seeded(commune, clock, officers, names, ratings, tablet, time)
    opened, _ = book.cases()
    by_rating = {c.rating_uuid: c.id for c in opened}
    seeded.cases["callback"] = by_rating[made[2].uuid]
    seeded.cases["rude"] = by_rating[made[7].uuid]
    seeded.cases["left_open"] = by_rating[made[8].uuid]

    # A comment on the 16 March rating, and a signed suggestion with a number (it opens a case).
    comments = CommentBox(engine, clock=clock)
    time.to(datetime(2026, 3, 16, 10, 0))
    token = next(r.comment_token for r in tablet.store.ratings() if r.uuid == made[9].uuid)
    assert token
    comments.comment_on_rating(made[9].uuid, token, text=COMMENT, phone=None, consent=False, address="10.0.0.5")
    time.to(datetime(2026, 3, 20, 15, 0))
    suggestion = comments.suggest(text=SUGGESTION, name=SUGGESTION_NAME, phone=SUGGESTION_PHONE, consent=True,
                                  address="10.0.0.6")

    # The call-back case resolved on time, with an apology letter; the rude one (Tuesday the 10th, due on
    # Thursday the 12th) late; the one of the 12th left open. The suggestion is thanked.
    time.to(datetime(2026, 3, 2, 10, 0))
    case = seeded.cases["callback"]
    book.assign(case, leader.id, leader)
    book.set_outcome(case, CaseOutcome.APOLOGY_SENT, leader)
    time.to(datetime(2026, 3, 3, 11, 0))
    book.move(case, CaseStatus.CONTACTED, leader)
    book.move(case, CaseStatus.RESOLVED, leader)
    desk.apology(case, leader)
    time.to(datetime(2026, 3, 30, 9, 0))
    case = seeded.cases["rude"]
    book.assign(case, leader.id, leader)
    book.set_outcome(case, CaseOutcome.OFFICER_REMINDED, leader)
    book.move(case, CaseStatus.RESOLVED, leader)
    desk.thanks(suggestion, leader)
    time.to(REPORT_TIME)
    return seeded


@pytest.fixture
def seeded(tmp_path):
    clock = ManualClock()
    with Commune(tmp_path, clock=clock) as commune:
        seeded = seed(tmp_path, commune, clock)
        yield seeded
        seeded.tablet.close()


def expected_levels(ratings: list[Rated], period: Period, exclusions: Exclusions,
                    officer: str | None = None) -> Counter:
    """Counted ratings by level, worked out from the tablet's records."""
    return Counter(r.level for r in ratings
                   if period.first <= r.day <= period.last and (officer is None or r.officer_id == officer)
                   and not (exclusions.simulated and r.simulated) and not (exclusions.burst and r.burst))


def satisfied_of(levels: Counter) -> int:
    return sum(n for level, n in levels.items() if level in SATISFIED)


def test_the_report_counts_what_the_tablet_recorded(seeded) -> None:
    engine = seeded.commune.engine
    for exclusions in (Exclusions(), Exclusions.all(), Exclusions.none()):
        report = build_report(engine, MARCH, exclusions=exclusions, now=seeded.clock())
        want = expected_levels(seeded.ratings, MARCH, exclusions)
        assert report.figures.levels == dict(want)
        n, satisfied = sum(want.values()), satisfied_of(want)
        assert (report.figures.rate.n, report.figures.rate.satisfied) == (n, satisfied)
        assert report.figures.rate.bounds == wilson_interval(satisfied, n)
        in_march = [r for r in seeded.ratings if r.day.month == 3]
        assert report.figures.total == len(in_march)
        assert report.figures.apart["burst"] == 1 and report.figures.apart["simulated"] == 1
        for officer in seeded.officers:
            mine = expected_levels(seeded.ratings, MARCH, exclusions, officer)
            assert report.officers[officer].levels == dict(mine)
    report = build_report(engine, MARCH, now=seeded.clock())
    # Reasons under the plans' headings: "fast" and "waited_long" speak to «Nhanh hơn».
    faster = next(h for h in report.headings if h.heading == "aim_faster")
    assert (faster.praised, faster.faulted) == (1, 1)
    assert report.reasons["disrespectful"].faulted == 1 and report.reasons["clear_guidance"].praised == 1
    # Follow-up: 4 cases opened in March: 3 by low ratings (one resolved on time, one late, one left
    # overdue) and the call-back suggestion of the 20th, overdue too.
    follow = report.follow_up
    assert (follow.opened, follow.resolved, follow.resolved_on_time, follow.still_open, follow.overdue) == (
        4, 2, 1, 2, 2)
    assert follow.by_cause["low_rating"] == 3
    assert follow.by_outcome["apology_sent"] == 1 and follow.by_outcome["officer_reminded"] == 1
    assert follow.letters == {"apology": 1, "thanks": 1}
    assert (report.comments.on_ratings, report.comments.suggestions) == (1, 1)
    assert report.comments.texts == ()  # only the leaders' version carries them
    # April's low rating opened a case in April, not March; February's rating is in no March figure.
    april = build_report(engine, Period.of(PeriodKind.MONTH, date(2026, 4, 1), HANOI), now=seeded.clock())
    assert april.follow_up.opened == 1 and april.figures.total == 2 and april.follow_up.letters == {
        "apology": 0, "thanks": 0}


def test_a_report_again_adds_only_what_arrived_since(seeded) -> None:
    engine = seeded.commune.engine
    half = parse_period("2026-H1", HANOI)
    forget_counts()
    before = build_report(engine, half, now=seeded.clock())
    again = build_report(engine, half, now=seeded.clock())
    assert again.figures == before.figures and again.reasons == before.reasons
    # New ratings arrive (one with reasons, one simulated): the next report adds them to what it kept.
    seeded.time.to(REPORT_TIME + timedelta(hours=1))
    low = seeded.tablet.desk.rate(seeded.officers[0], 1)
    seeded.tablet.desk.add_details(low, ["waited_long", "come_back"])
    seeded.time.to(REPORT_TIME + timedelta(hours=2))
    seeded.tablet.desk.rate(seeded.officers[1], 3, simulated=True)
    assert seeded.tablet.uploader().run_once().pending == 0
    added = build_report(engine, half, now=seeded.clock())
    forget_counts(engine)
    fresh = build_report(engine, half, now=seeded.clock())
    assert added.figures == fresh.figures and added.reasons == fresh.reasons and added.officers == fresh.officers
    assert added.figures.total == before.figures.total + 2
    assert added.figures.levels["dissatisfied"] == before.figures.levels["dissatisfied"] + 1
    assert added.reasons["come_back"].faulted == before.reasons.get("come_back", ReasonTally()).faulted + 1
    assert added.figures.apart["simulated"] == before.figures.apart["simulated"] + 1


def test_an_officers_report_holds_only_their_figures(seeded) -> None:
    officer = seeded.officers[1]
    report = build_report(seeded.commune.engine, MARCH, officer_id=officer, with_comment_texts=True,
                          now=seeded.clock())
    want = expected_levels(seeded.ratings, MARCH, Exclusions(), officer)
    assert report.figures.levels == dict(want) and report.officers == {} and report.ranking is None
    assert report.officer_name == seeded.names[officer]
    assert report.follow_up.opened == 1 and report.follow_up.letters is None
    assert report.comments.texts == () and report.comments.suggestions == 0  # the comment is about officer 3


def _cells(path_or_stream) -> dict[str, list[list]]:
    book = load_workbook(path_or_stream)
    return {sheet.title: [list(row) for row in sheet.iter_rows(values_only=True)] for sheet in book.worksheets}


def test_the_xlsx_holds_the_figures_as_numbers(seeded, tmp_path) -> None:
    engine = seeded.commune.engine
    t = translator("vi")
    report = build_report(engine, MARCH, with_comment_texts=True, now=seeded.clock())
    out = tmp_path / "report.xlsx"
    write_xlsx(report, out, commune="UBND xã Hòa Bình")
    sheets = _cells(out)
    assert list(sheets) == ["Tổng hợp", "Cán bộ", "Lý do", "Theo dõi xử lý", "Ý kiến người dân"]
    summary = {row[0]: row[1] for row in sheets["Tổng hợp"][1:]}
    want = expected_levels(seeded.ratings, MARCH, Exclusions())
    n, satisfied = sum(want.values()), satisfied_of(want)
    assert summary[t("reports.field.counted")] == n and isinstance(summary[t("reports.field.counted")], int)
    assert summary[t("reports.field.satisfied")] == satisfied
    assert summary[t("reports.field.rate")] == pytest.approx(satisfied / n)
    low, high = wilson_interval(satisfied, n)
    assert summary[t("reports.field.low")] == pytest.approx(low)
    assert summary[t("reports.field.high")] == pytest.approx(high)
    for level, count in want.items():
        assert summary[t("reports.field.level", level=t(f"board.level.{level}"))] == count
    assert summary[t("reports.field.total")] == sum(1 for r in seeded.ratings if r.day.month == 3)
    officers = sheets["Cán bộ"]
    header = officers[0]
    for officer in seeded.officers:
        row = next(r for r in officers[1:] if r[1] == officer)
        mine = expected_levels(seeded.ratings, MARCH, Exclusions(), officer)
        assert row[2] == seeded.names[officer]
        assert row[header.index(t("reports.col.n"))] == sum(mine.values())
        assert row[header.index(t("reports.col.satisfied"))] == satisfied_of(mine)
    # The reasons sheet, worked out from the tablet's records: a reason given with a satisfied
    # rating is praise, with any other a fault; each of the plans' headings sums its reasons.
    praised, faulted = Counter(), Counter()
    for rated in seeded.ratings:
        if MARCH.first <= rated.day <= MARCH.last and not rated.simulated:
            (praised if rated.level in SATISFIED else faulted).update(rated.reasons)
    assert sum(praised.values()) >= 3 and sum(faulted.values()) >= 3  # both kinds are in the data
    rows = sheets["Lý do"]
    split = rows.index([None, None, None, None])
    by_heading = {row[1]: (row[2], row[3]) for row in rows[1:split]}
    for group, headings in HEADINGS.items():
        for heading in headings:
            mine = [r for r, under in REASON_HEADINGS.items() if heading in under]
            assert by_heading[t(f"scores.heading.{heading}")] == (
                sum(praised[r] for r in mine), sum(faulted[r] for r in mine)), heading
    by_reason = {row[0]: (row[2], row[3]) for row in rows[split + 2:]}
    assert len(by_reason) == len(praised | faulted)
    for reason in praised | faulted:
        assert by_reason[t(f"roster.reason.{reason}")] == (praised[reason], faulted[reason]), reason
    follow = {row[0]: row[1] for row in sheets["Theo dõi xử lý"][1:]}
    assert follow[t("reports.follow.opened")] == 4 and follow[t("reports.follow.overdue")] == 2
    assert follow[t("reports.follow.letters_apology")] == 1 and follow[t("reports.follow.letters_thanks")] == 1
    texts = [row[4] for row in sheets["Ý kiến người dân"][1:]]
    assert texts == [COMMENT, SUGGESTION]
    everything = repr(sheets)
    assert PHONE not in everything and SUGGESTION_PHONE not in everything and SUGGESTION_NAME not in everything
    # Without the texts (observers, the archive): no sheet of comments, the counts stay.
    plain = tmp_path / "plain.xlsx"
    write_xlsx(build_report(engine, MARCH, now=seeded.clock()), plain, commune="x")
    assert "Ý kiến người dân" not in _cells(plain) and COMMENT not in repr(_cells(plain))


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed")
def test_the_pdf_reads_back_in_vietnamese(seeded, tmp_path) -> None:
    settings = load_settings(seeded.commune.engine)
    report = build_report(seeded.commune.engine, Period.of(PeriodKind.HALF, date(2026, 1, 1), HANOI),
                          with_comment_texts=True, now=seeded.clock())
    document = report_document(report, settings, day=date(2026, 6, 1))
    assert document.number == "Số:     /BC-UBND" and document.kind == "BÁO CÁO"
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(render_report_pdf(report, settings, day=date(2026, 6, 1)))
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True,
                          text=True).stdout
    flat = " ".join(text.split())
    for words in ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "BÁO CÁO",
                  "6 tháng đầu năm 2026", "KẾT QUẢ ĐÁNH GIÁ", "KẾT QUẢ THEO TỪNG CÁN BỘ", "Biết nghe dân nói",
                  "THEO DÕI, XỬ LÝ PHẢN ÁNH", "Nơi nhận", "ngày 01 tháng 6 năm 2026", COMMENT):
        assert words in flat, words
    want = expected_levels(seeded.ratings, report.period, Exclusions())
    n, satisfied = sum(want.values()), satisfied_of(want)
    share = f"{100 * satisfied / n:.1f}".replace(".", ",") + "%"
    assert f"{satisfied} lượt từ mức hài lòng trở lên, đạt tỷ lệ {share}" in flat
    for officer in seeded.officers:
        assert seeded.names[officer] in flat
    assert PHONE not in flat and SUGGESTION_PHONE not in flat and SUGGESTION_NAME not in flat


def _unpack(data: bytes, folder: Path) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        archive.extractall(folder)


def test_the_evidence_archive_verifies_and_fails_once_altered(seeded, tmp_path) -> None:
    engine = seeded.commune.engine
    half = parse_period("2026-H1", HANOI)
    out = tmp_path / "archive.zip"
    made = make_archive(engine, half, out, actor="chu-tich", clock=seeded.clock)
    assert made.code == "2026-H1" and made.ratings == len(seeded.ratings)
    check = verify_archive(out)
    assert check.ok and set(check.checked) == set(ARCHIVE_FILES)
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        csv_text = archive.read("ratings.csv").decode("utf-8-sig")
        devices = archive.read("devices.json").decode("utf-8")
    assert names == {*ARCHIVE_FILES, MANIFEST}
    assert csv_text.count("\n") == len(seeded.ratings) + 1 and PHONE not in csv_text
    assert '"result": "intact"' in devices and '"sequence_complete": true' in devices
    if shutil.which("sha256sum"):
        folder = tmp_path / "unpacked"
        _unpack(out.read_bytes(), folder)
        done = subprocess.run(["sha256sum", "-c", MANIFEST], cwd=folder, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    # The CLI agrees, and both fail once one byte of the ratings changes.
    assert main(["verify-archive", str(out)]) == 0
    altered = tmp_path / "altered.zip"
    with zipfile.ZipFile(out) as source, zipfile.ZipFile(altered, "w") as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "ratings.csv":
                data = data.replace(b"very_satisfied", b"dissatisfied", 1)
            target.writestr(info, data)
    check = verify_archive(altered)
    assert not check.ok and check.checked["ratings.csv"] is False and check.checked["report.pdf"] is True
    assert main(["verify-archive", str(altered)]) == 1
    # A file slipped in, or one taken out, fails it too.
    added = tmp_path / "added.zip"
    shutil.copy(out, added)
    with zipfile.ZipFile(added, "a") as archive:
        archive.writestr("extra.txt", "x")
    assert not verify_archive(added).ok
    # Making it was audited and noted for the reminder.
    entries, _ = AccountBook(engine).audit_entries()
    assert any(e.action == "report.archive" and e.target == "2026-H1" and made.sha256 in e.detail for e in entries)
    assert reminder_for(engine, seeded.clock()) is None


def test_the_archive_command(seeded, tmp_path, capsys) -> None:
    out = tmp_path / "year.zip"
    db = str(seeded.commune.db_path)
    assert main(["archive", "--db", db, "--period", "2026-03", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "2026-03" in said and verify_archive(out).ok
    with pytest.raises(SystemExit):
        main(["archive", "--db", db, "--period", "next spring", "--out", str(out)])


def test_period_codes_round_trip() -> None:
    for code in ("2026", "2026-H1", "2026-H2", "2026-Q3", "2026-03", "2026-W10", "2026-03-05",
                 "2026-03-01..2026-03-15"):
        assert period_code(parse_period(code, HANOI)) == code
    assert parse_period("2026-H2", HANOI).first == date(2026, 7, 1)
    assert parse_period("2026-W10", HANOI).first == date(2026, 3, 2)
    with pytest.raises(ValueError):
        parse_period("2026-H3", HANOI)


def test_the_reminder_days() -> None:
    june = date(2026, 6, 15)
    assert due_reminder(june - timedelta(days=REMINDER_DAYS_BEFORE + 1), HANOI, frozenset()) is None
    first = due_reminder(june - timedelta(days=REMINDER_DAYS_BEFORE), HANOI, frozenset())
    assert first is not None and first.code == "2026-H1" and first.days_left == REMINDER_DAYS_BEFORE
    assert due_reminder(june, HANOI, frozenset()).days_left == 0
    late = due_reminder(june + timedelta(days=3), HANOI, frozenset())
    assert late.late and late.code == "2026-H1"
    assert due_reminder(june + timedelta(days=REMINDER_DAYS_AFTER + 1), HANOI, frozenset()) is None
    assert due_reminder(june - timedelta(days=5), HANOI, frozenset({"2026-H1"})) is None
    december = due_reminder(date(2026, 12, 1), HANOI, frozenset({"2026-H1"}))
    assert december.code == "2026" and december.period.kind == PeriodKind.YEAR
    # Early January: last year's December report, still missing, is late.
    january = due_reminder(date(2027, 1, 10), HANOI, frozenset())
    assert january.code == "2026" and january.late
    assert due_reminder(date(2026, 9, 1), HANOI, frozenset()) is None
