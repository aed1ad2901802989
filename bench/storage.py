"""Bytes the commune server stores per rating, after 1,000,000 ratings
(target: at most 600 bytes on SQLite, indexes and the idempotency cache
included), split by table and index, beside the bytes of the same ratings'
wire form as JSON.

The ratings are the dashboard bench's year (one in seven with a details
record of reasons, a few with a call-back), stored through the ingest's own
row builder; the idempotency cache holds one compact answer per batch of
500, as a tablet uploading them would leave it.

    python bench/storage.py [--ratings 1000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import dashboard  # noqa: E402

from server.answer_cache import compact_answer  # noqa: E402
from server.ingest import wire_text  # noqa: E402
from server.store import open_engine, tables  # noqa: E402
from server.store.records import FIELD_COLUMNS, record_of_row  # noqa: E402
from sync import wire  # noqa: E402
from sync.protocol import RecordStatus  # noqa: E402

TARGET_BYTES = 600
BATCH = 500


def fill_cache(db: Path) -> int:
    """One compact answer per :data:`BATCH` records, as the uploads would leave; returns how many."""
    engine = open_engine(db)
    with engine.begin() as conn:
        conn.execute(tables.batches.delete())
        rows = conn.execute(tables.records.select().with_only_columns(
            tables.records.c.device_id, tables.records.c.uuid, tables.records.c.seq, tables.records.c.flags)
            .order_by(tables.records.c.device_id, tables.records.c.seq)).all()
        answers = []
        for start in range(0, len(rows), BATCH):
            chunk = rows[start:start + BATCH]
            results = [wire.RecordResult(index=i, uuid=r.uuid, seq=r.seq, status=RecordStatus.STORED,
                                         http_status=201, error=None,
                                         detail="stored" if not r.flags else "stored, flagged: " + r.flags,
                                         flags=r.flags.split()) for i, r in enumerate(chunk)]
            answer = wire.BatchAnswer(device_id=chunk[0].device_id, idempotency_key=f"bench-{start}",
                                      received_at=dashboard.RECEIVED, clock_offset_s=0.0, replay=False,
                                      counts={s: 0 for s in RecordStatus.ALL} | {"stored": len(chunk)},
                                      results=results)
            answers.append(dict(device_id=chunk[0].device_id, idempotency_key=f"bench-{start}",
                                records_digest="0" * 64, answer=compact_answer(answer),
                                received_at=dashboard.RECEIVED))
        conn.execute(tables.batches.insert(), answers)
    engine.dispose()
    return len(answers)


def sizes(db: Path) -> tuple[int, dict[str, int], int, int]:
    """The file's bytes, bytes by table or index (SQLite's dbstat), the
    ratings and the records stored."""
    raw = sqlite3.connect(db)
    raw.execute("VACUUM")
    by_name = dict(raw.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC").fetchall())
    ratings = raw.execute("SELECT COUNT(*) FROM records WHERE kind = 'rating'").fetchone()[0]
    records = raw.execute("SELECT COUNT(*) FROM records").fetchone()[0]
    raw.close()
    return db.stat().st_size, by_name, ratings, records


def wire_bytes(db: Path, sample: int = 10_000) -> float:
    """The mean bytes of a stored record's wire form as JSON, over a sample."""
    engine = open_engine(db)
    with engine.begin() as conn:
        rows = conn.execute(tables.records.select().with_only_columns(*FIELD_COLUMNS).limit(sample)).mappings().all()
    engine.dispose()
    return sum(len(wire_text(record_of_row(r)).encode()) for r in rows) / max(len(rows), 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratings", type=int, default=1_000_000)
    parser.add_argument("--keep", help="build (or reuse) the database in this folder")
    args = parser.parse_args()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="hailong-storage-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "commune.db"
    if not db.exists():
        print(f"building {args.ratings:,} ratings …", flush=True)
        dashboard.build(db, args.ratings)
    answers = fill_cache(db)
    total, by_name, ratings, records = sizes(db)
    per_rating = total / ratings
    verdict = "ok" if per_rating <= TARGET_BYTES else "MISSED"
    print(f"{ratings:,} ratings ({records:,} records with their details), {answers:,} cached answers")
    print(f"file: {total / 1e6:,.0f} MB — {per_rating:,.0f} bytes per rating "
          f"(target ≤ {TARGET_BYTES}: {verdict})")
    print(f"the same records' wire form as JSON: {wire_bytes(db):,.0f} bytes per record")
    for name, size in by_name.items():
        if size >= total / 200:
            print(f"  {name:<45} {size / ratings:7.0f} B/rating  {size / 1e6:8.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
