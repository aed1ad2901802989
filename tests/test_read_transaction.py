"""Reading the dashboard's figures, a report or an export takes no write
lock on SQLite: it reads while a tablet's batch (or anything else) holds
the lock, where any other transaction waits for it."""

from __future__ import annotations

import sqlite3
import time

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from server.store import open_engine, read_transaction, tables


def test_a_read_transaction_reads_while_the_write_lock_is_held(tmp_path):
    engine = open_engine(tmp_path / "commune.db", wait_s=0.5)
    holder = sqlite3.connect(tmp_path / "commune.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # a writer in the middle of a batch
    try:
        started = time.perf_counter()
        with read_transaction(engine) as conn:
            assert conn.execute(select(func.count()).select_from(tables.records)).scalar_one() == 0
        assert time.perf_counter() - started < 0.4
        # Any other transaction takes the write lock first, and so waits, then gives up.
        with pytest.raises(OperationalError, match="locked"), engine.begin() as conn:
            conn.execute(select(func.count()).select_from(tables.records))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    # The connection went back to the pool as an ordinary one: it takes the write lock again.
    with engine.begin() as conn:
        assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1
        assert not conn.info.get("hailong_read_only")
    engine.dispose()
