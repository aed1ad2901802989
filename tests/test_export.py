"""Exporting the tablet's ratings to CSV and Excel: as many rows as the store
holds ratings, details merged in, Vietnamese intact, progress reported, and
nothing that looks complete left behind when the export fails."""

from __future__ import annotations

import csv
import errno
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from openpyxl import load_workbook

from kiosk import export
from kiosk.config import Settings, load_settings
from kiosk.desk import DeviceClock, RatingDesk
from kiosk.export import COLUMNS, ExportError, export_ratings
from kiosk.i18n import catalogue
from kiosk.store import Store
from sync.record import KIND_RATING
from tests.callback_support import give_server_key
from tests.conftest import write_config

ICT = timezone(timedelta(hours=7))
NOW = datetime(2026, 3, 12, 9, 15, tzinfo=ICT)
OFFICERS = ("nguyen-thi-lan", "tran-van-hung", "le-thi-thu-ha")


@pytest.fixture
def settings(tmp_path: Path, demo_tree: dict) -> Settings:
    demo_tree["attribution"] = {"mode": "choose"}
    demo_tree["working_hours"]["enforce"] = False
    return load_settings(write_config(tmp_path / "tablet", demo_tree))


@pytest.fixture
def usb(tmp_path: Path) -> Path:
    folder = tmp_path / "usb"
    folder.mkdir()
    return folder


def _fill(settings: Settings, n: int, *, simulated_every: int = 0) -> None:
    """``n`` ratings through the desk, some with reasons and a call-back."""
    wall = [datetime(2026, 3, 1, 8, 0, tzinfo=ICT)]
    mono = [10**9]

    def tick() -> None:
        wall[0] += timedelta(minutes=7)
        mono[0] += 420 * 10**9

    store = Store(settings.database)
    desk = RatingDesk(settings, store, DeviceClock(now=lambda: wall[0], monotonic_ns=lambda: mono[0], boot=lambda: "b"))
    give_server_key(store)  # the tablet may take call-back numbers
    try:
        for i in range(n):
            tick()
            score = (1, 2, 3, 3)[i % 4]
            record = desk.rate(
                OFFICERS[i % 3], score, simulated=bool(simulated_every) and i % simulated_every == 0
            )
            if score == 1:
                phone = "0912345678" if i % 8 == 0 else None
                desk.add_details(record, ("waited_long", "extra_money"), phone, consent=phone is not None)
    finally:
        store.close()


def _ratings_in_store(settings: Settings) -> int:
    store = Store(settings.database)
    try:
        return store.count(KIND_RATING)
    finally:
        store.close()


def _csv_rows(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


def _xlsx_rows(path: Path) -> list[tuple]:
    book = load_workbook(path, read_only=True)
    try:
        return [tuple(row) for row in book.worksheets[0].iter_rows(values_only=True)]
    finally:
        book.close()


def test_row_count_equals_the_stores(settings: Settings, usb: Path) -> None:
    _fill(settings, 57, simulated_every=10)
    result = export_ratings(settings.database, usb, now=NOW)
    expected = _ratings_in_store(settings)
    assert expected == 57
    assert result.rows == expected
    csv_path, xlsx_path = result.paths
    assert csv_path.name == "hailong-quay-1-20260312-0915.csv"
    assert xlsx_path.name == "hailong-quay-1-20260312-0915.xlsx"
    csv_rows, xlsx_rows = _csv_rows(csv_path), _xlsx_rows(xlsx_path)
    assert len(csv_rows) - 1 == expected  # one header row
    assert len(xlsx_rows) - 1 == expected
    assert sorted(p.name for p in usb.iterdir()) == sorted(p.name for p in result.paths)


def test_rows_carry_the_records_with_details_merged(settings: Settings, usb: Path) -> None:
    _fill(settings, 12, simulated_every=5)
    result = export_ratings(settings.database, usb, now=NOW)
    store = Store(settings.database)
    try:
        ratings = store.ratings()
        details = {r.uuid: store.details_for(r.uuid) for r in ratings}
    finally:
        store.close()
    csv_rows = _csv_rows(result.paths[0])[1:]
    xlsx_rows = _xlsx_rows(result.paths[1])[1:]
    col = {name: i for i, name in enumerate(COLUMNS)}
    for record, crow, xrow in zip(ratings, csv_rows, xlsx_rows, strict=True):
        merged = [reason for d in details[record.uuid] for reason in d.reasons]
        asked = any(d.callback_consent for d in details[record.uuid])
        assert crow[col["uuid"]] == xrow[col["uuid"]] == record.uuid
        assert int(crow[col["seq"]]) == xrow[col["seq"]] == record.seq
        assert crow[col["hash"]] == xrow[col["hash"]] == record.hash
        assert crow[col["officer_id"]] == xrow[col["officer_id"]] == record.officer_id
        assert crow[col["counter_id"]] == xrow[col["counter_id"]] == record.counter_id
        assert crow[col["level"]] == xrow[col["level"]] == record.level
        assert int(crow[col["score"]]) == xrow[col["score"]] == record.score
        assert int(crow[col["scale"]]) == xrow[col["scale"]] == record.scale
        assert crow[col["device_time"]] == xrow[col["device_time"]] == record.device_time
        assert crow[col["reasons"]] == "; ".join(merged)
        assert (xrow[col["reasons"]] or "") == "; ".join(merged)
        # Yes or no, never the number.
        assert crow[col["callback_requested"]] == xrow[col["callback_requested"]] == ("có" if asked else "không")
        assert crow[col["simulated"]] == ("1" if record.simulated else "0")
        assert xrow[col["simulated"]] is record.simulated
        assert xrow[col["burst"]] is record.burst
    # The data exercised what was checked.
    assert any(r[col["reasons"]] for r in csv_rows)
    assert any(r[col["callback_requested"]] == "có" for r in csv_rows)
    assert any(r[col["simulated"]] == "1" for r in csv_rows)


def test_a_corrected_rating_is_exported_at_the_level_chosen_again(settings: Settings, usb: Path) -> None:
    settings = settings.__class__(**{**settings.__dict__, "correction_window_s": 30.0})
    wall = [datetime(2026, 3, 1, 8, 0, tzinfo=ICT)]
    mono = [10**9]
    store = Store(settings.database)
    desk = RatingDesk(settings, store, DeviceClock(now=lambda: wall[0], monotonic_ns=lambda: mono[0], boot=lambda: "b"))
    try:
        kept = desk.rate(OFFICERS[0], 3)
        wall[0] += timedelta(minutes=5)
        mono[0] += 300 * 10**9
        mistap = desk.rate(OFFICERS[1], 1)  # the frown, by mistake
        mono[0] += 2 * 10**9
        desk.correct(mistap, 3)  # chosen again within the window
    finally:
        store.close()
    result = export_ratings(settings.database, usb, now=NOW)
    labels = catalogue("vi")
    col = {name: i for i, name in enumerate(COLUMNS)}
    for rows in (_csv_rows(result.paths[0])[1:], _xlsx_rows(result.paths[1])[1:]):
        assert len(rows) == 2  # the correction is not a rating of its own
        by_uuid = {row[col["uuid"]]: row for row in rows}
        assert by_uuid[mistap.uuid][col["level"]] == "very_satisfied"
        assert str(by_uuid[mistap.uuid][col["score"]]) == "3"
        assert by_uuid[mistap.uuid][col["tapped_level_label"]] == labels.get("level.dissatisfied")
        assert by_uuid[kept.uuid][col["level"]] == "very_satisfied"
        assert by_uuid[kept.uuid][col["tapped_level_label"]] in ("", None)


def test_vietnamese_survives_in_both_files(settings: Settings, usb: Path) -> None:
    _fill(settings, 4)
    result = export_ratings(settings.database, usb, now=NOW)
    vi = catalogue("vi")
    header = vi.get("export.col_uuid")
    assert header == "Mã lượt đánh giá"
    csv_path, xlsx_path = result.paths
    assert csv_path.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel reads the file as UTF-8
    csv_rows, xlsx_rows = _csv_rows(csv_path), _xlsx_rows(xlsx_path)
    assert header in csv_rows[0] and header in xlsx_rows[0]
    labels = {row[COLUMNS.index("level_label")] for row in csv_rows[1:]}
    assert "Rất hài lòng" in labels and "Không hài lòng" in labels
    assert labels == {row[COLUMNS.index("level_label")] for row in xlsx_rows[1:]}
    book = load_workbook(xlsx_path, read_only=True)
    assert book.sheetnames == ["Đánh giá"]
    book.close()
    english = export_ratings(settings.database, usb, now=NOW, language="en", formats=("csv",))
    assert "Very satisfied" in {r[COLUMNS.index("level_label")] for r in _csv_rows(english.paths[0])[1:]}


def test_progress_is_reported(settings: Settings, usb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fill(settings, 23)
    monkeypatch.setattr(export, "PROGRESS_EVERY", 5)
    calls: list[tuple[int, int]] = []
    result = export_ratings(settings.database, usb, now=NOW, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(0, 23), (5, 23), (10, 23), (15, 23), (20, 23), (23, 23)]
    assert result.rows == 23
    # The last call comes once the files are in place.
    assert all(p.exists() for p in result.paths)


def test_an_export_is_one_snapshot_while_citizens_keep_rating(
    settings: Settings, usb: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill(settings, 20)
    monkeypatch.setattr(export, "PROGRESS_EVERY", 5)
    kiosk_store = Store(settings.database)  # the kiosk's own connection, on with its work
    desk = RatingDesk(settings, kiosk_store)

    def rate_meanwhile(done: int, total: int) -> None:
        if 0 < done < total:
            desk.rate("tran-van-hung", 3)

    try:
        result = export_ratings(settings.database, usb, now=NOW, progress=rate_meanwhile)
        assert kiosk_store.count(KIND_RATING) == 23  # three taps committed during the export
    finally:
        kiosk_store.close()
    assert result.rows == 20
    assert len(_csv_rows(result.paths[0])) - 1 == 20
    assert len(_xlsx_rows(result.paths[1])) - 1 == 20


def test_one_format_only(settings: Settings, usb: Path) -> None:
    _fill(settings, 3)
    result = export_ratings(settings.database, usb, formats=("xlsx",), now=NOW)
    assert [p.suffix for p in result.paths] == [".xlsx"]
    assert [p.name for p in usb.iterdir()] == [result.paths[0].name]
    with pytest.raises(ValueError):
        export_ratings(settings.database, usb, formats=("pdf",), now=NOW)


def test_an_empty_tablet_exports_headers_only(settings: Settings, usb: Path) -> None:
    Store(settings.database).close()
    result = export_ratings(settings.database, usb, now=NOW)
    assert result.rows == 0
    assert len(_csv_rows(result.paths[0])) == 1 and len(_xlsx_rows(result.paths[1])) == 1
    assert result.paths[0].name.startswith("hailong-device-")


def test_two_exports_in_one_minute_keep_both(settings: Settings, usb: Path) -> None:
    _fill(settings, 3)
    first = export_ratings(settings.database, usb, now=NOW)
    second = export_ratings(settings.database, usb, now=NOW)
    stem = "hailong-quay-1-20260312-0915-2"
    assert [p.name for p in second.paths] == [f"{stem}.csv", f"{stem}.xlsx"]
    assert all(p.exists() for p in first.paths + second.paths)


@pytest.mark.parametrize("where", ["missing", "a file"])
def test_no_folder_is_an_export_error(settings: Settings, tmp_path: Path, where: str) -> None:
    _fill(settings, 2)
    target = tmp_path / "not-there"
    if where == "a file":
        target.write_text("x")
    with pytest.raises(ExportError) as caught:
        export_ratings(settings.database, target, now=NOW)
    assert caught.value.problem == "no_folder"
    assert str(target) in caught.value.message("vi") and str(target) in caught.value.message("en")


def test_no_database_is_an_export_error_and_none_is_made(tmp_path: Path, usb: Path) -> None:
    db = tmp_path / "nothing.db"
    with pytest.raises(ExportError) as caught:
        export_ratings(db, usb, now=NOW)
    assert caught.value.problem == "no_database"
    assert not db.exists()
    assert list(usb.iterdir()) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="file permissions do not bind root")
def test_a_read_only_folder_is_an_export_error(settings: Settings, usb: Path) -> None:
    _fill(settings, 2)
    usb.chmod(0o500)
    try:
        with pytest.raises(ExportError) as caught:
            export_ratings(settings.database, usb, now=NOW)
    finally:
        usb.chmod(0o700)
    assert caught.value.problem == "not_writable"
    assert list(usb.iterdir()) == []


@pytest.mark.parametrize(
    ("code", "problem"),
    [(errno.ENOSPC, "disk_full"), (errno.EROFS, "not_writable"), (errno.EIO, "not_writable")],
)
def test_a_write_failure_half_way_leaves_no_file(
    settings: Settings, usb: Path, monkeypatch: pytest.MonkeyPatch, code: int, problem: str
) -> None:
    """The stick fills up (or is pulled out) in the middle of the export."""
    _fill(settings, 30)
    original = export._CsvWriter.write
    written = [0]

    def failing_write(self, row):
        written[0] += 1
        if written[0] == 17:
            raise OSError(code, os.strerror(code))
        original(self, row)

    monkeypatch.setattr(export._CsvWriter, "write", failing_write)
    with pytest.raises(ExportError) as caught:
        export_ratings(settings.database, usb, now=NOW)
    assert caught.value.problem == problem
    assert str(usb) in str(caught.value)
    assert list(usb.iterdir()) == []  # neither a finished-looking file nor a partial one
    # The database is untouched and still usable.
    assert _ratings_in_store(settings) == 30


def test_a_failure_while_saving_the_workbook_publishes_neither_file(
    settings: Settings, usb: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill(settings, 5)

    def full(self) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(export._XlsxWriter, "_close", full)
    with pytest.raises(ExportError) as caught:
        export_ratings(settings.database, usb, now=NOW)
    assert caught.value.problem == "disk_full"
    assert list(usb.iterdir()) == []


def test_export_messages_are_filled_in_both_languages() -> None:
    cases = {
        "no_database": {"file": "a.db"},
        "no_folder": {"folder": "/media/usb"},
        "not_writable": {"folder": "/media/usb"},
        "disk_full": {"folder": "/media/usb"},
        "failed": {"folder": "/media/usb", "problem": "I/O error"},
        "mismatch": {"written": 3, "expected": 4},
    }
    for problem, values in cases.items():
        error = ExportError(problem, **values)
        for language in ("vi", "en"):
            assert "{" not in error.message(language)
        assert error.message("vi") != error.message("en")
