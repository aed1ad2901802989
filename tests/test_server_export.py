"""The server's export of ratings: CSV with a BOM that keeps Vietnamese names,
XLSX that opens with openpyxl and sums right, local times, a chosen range,
and never a citizen's phone number."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import date, datetime

import pytest
from openpyxl import load_workbook

from server.__main__ import main
from server.export import EXPORT_COLUMNS, ExportRange, csv_chunks, write_csv, write_xlsx
from server.roster import RosterStore
from sync.record import KIND_RATING
from tests.sync_support import Commune, ManualClock, Tablet, sqlite_only
from tests.test_ratings_queries import SteeredTime, _tablet_changes

PHONE = "0912345678"
TAPS = [datetime(2026, 3, 4, 16, 0), datetime(2026, 3, 5, 6, 30), datetime(2026, 3, 5, 10, 0),
        datetime(2026, 3, 6, 8, 0), datetime(2026, 3, 6, 8, 0, 1), datetime(2026, 3, 7, 9, 0)]


def _commune_with_ratings(tmp_path):
    server_clock = ManualClock()
    time = SteeredTime(server_clock)
    commune = Commune(tmp_path, clock=server_clock).__enter__()
    tablet = Tablet(tmp_path / "tablet", commune.url, clock=time.device_clock(), tree_changes=_tablet_changes)
    tablet.pair(commune)
    RosterStore(commune.engine).import_file(tablet.config_path)
    officers = [o.id for o in tablet.settings.active_officers]
    for i, tap in enumerate(TAPS):
        time.to(tap)
        record = tablet.desk.rate(officers[i % 3], 1 + i % 3)
        if record.score == 1:
            tablet.desk.add_details(record, ["waited_long", "extra_money"], PHONE, consent=True)
    assert tablet.uploader().run_once().pending == 0
    return commune, tablet


def test_csv_and_xlsx_carry_names_local_times_and_no_phone(tmp_path) -> None:
    commune, tablet = _commune_with_ratings(tmp_path)
    try:
        ratings = [r for r in tablet.store.ratings() if r.kind == KIND_RATING]
        names = {o.id: o.name for o in tablet.settings.officers}
        out = io.BytesIO()
        assert write_csv(commune.engine, out) == len(TAPS)
        raw = out.getvalue()
        assert raw.startswith(b"\xef\xbb\xbf") and PHONE.encode() not in raw
        assert raw == b"".join(csv_chunks(commune.engine))
        rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
        assert list(rows[0]) == list(EXPORT_COLUMNS)
        by_uuid = {row["uuid"]: row for row in rows}
        for record in ratings:
            row = by_uuid[record.uuid]
            assert row["officer_name"] == names[record.officer_id]  # diacritics intact
            assert row["local_time"] == record.device_time[:19].replace("T", " ")
            assert row["callback_requested"] == ("yes" if record.score == 1 else "no")
            assert row["reasons"] == ("waited_long extra_money" if record.score == 1 else "")
            assert row["counter_name"] == tablet.settings.counter_name
        assert any(not name.isascii() for name in (r["officer_name"] for r in rows))
        assert rows[1]["local_time"] == "2026-03-05 06:30:00"  # 23:30 UTC on the 4th
        assert "burst" in rows[4]["flags"]

        path = tmp_path / "ratings.xlsx"
        assert write_xlsx(commune.engine, path) == len(TAPS)
        book = load_workbook(path, read_only=True)
        sheet = [tuple(r) for r in book.worksheets[0].iter_rows(values_only=True)]
        book.close()
        column = {name: i for i, name in enumerate(sheet[0])}
        body = sheet[1:]
        assert sum(row[column["score"]] for row in body) == sum(r.score for r in ratings)
        assert all(isinstance(row[column["seq"]], int) for row in body)
        assert body[1][column["local_time"]] == datetime(2026, 3, 5, 6, 30)
        assert Counter(row[column["officer_name"]] for row in body) == Counter(names[r.officer_id] for r in ratings)
        assert not any(PHONE in str(cell) for row in sheet for cell in row)
    finally:
        tablet.close()
        commune.__exit__(None, None, None)


def test_a_chosen_range_of_local_days_and_the_command(tmp_path, capsys) -> None:
    commune, tablet = _commune_with_ratings(tmp_path)
    try:
        out = io.BytesIO()
        assert write_csv(commune.engine, out, ExportRange(date(2026, 3, 5), date(2026, 3, 6))) == 4
        assert write_csv(commune.engine, io.BytesIO(), ExportRange(last=date(2026, 3, 4))) == 1
        assert write_csv(commune.engine, io.BytesIO(), ExportRange(first=date(2026, 3, 7))) == 1
        path = tmp_path / "march-5.xlsx"
        assert main(["export", "--db", str(commune.db_path), "--format", "xlsx", "--out", str(path),
                     "--from", "2026-03-05", "--to", "2026-03-05"]) == 0
        assert "2 ratings written" in capsys.readouterr().err
        book = load_workbook(path, read_only=True)
        assert len(list(book.worksheets[0].iter_rows(values_only=True))) == 3
        book.close()
        with pytest.raises(SystemExit) as refused:  # an unknown time zone is refused before serving
            main(["--timezone", "Nowhere/Land", "--db", str(tmp_path / "x.db")])
        assert refused.value.code == 2
    finally:
        tablet.close()
        commune.__exit__(None, None, None)


@sqlite_only  # the writers share a SQLite file; other databases are written by one process
def test_a_long_export_split_across_processes_writes_the_same_file(tmp_path) -> None:
    """The command line's export of a long range is written by forked
    processes, each a stretch of row ids: the file is the one a single
    process writes, byte for byte, whatever the range."""
    from server.store import open_engine

    commune, tablet = _commune_with_ratings(tmp_path)
    tablet.close()
    commune.__exit__(None, None, None)
    engine = open_engine(commune.db_path)
    try:
        ranges = (ExportRange(), ExportRange(date(2026, 3, 5), date(2026, 3, 6)), ExportRange(last=date(2026, 3, 4)))
        for chosen in ranges:
            alone, split = io.BytesIO(), io.BytesIO()
            count = write_csv(engine, alone, chosen)
            assert write_csv(engine, split, chosen, workers=3, split_from=0) == count
            assert split.getvalue() == alone.getvalue()
        assert count == 1
    finally:
        engine.dispose()
