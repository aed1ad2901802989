"""The server's own writers to a SQLite database take turns in the server
(several tablets uploading at once): the next one begins its transaction
once the one before has committed, instead of polling SQLite's lock with
ever longer sleeps; one that does not get its turn in time fails as a
locked database does. On a real SQLite file, with real threads."""

from __future__ import annotations

import re
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, insert
from sqlalchemy.exc import OperationalError

from server.registry import DeviceRegistry
from server.store import open_engine, tables, write_transaction


def _receipt(conn: Any, key: str) -> None:
    conn.execute(insert(tables.receipts).values(device_id="tablet-1", batch_key=key,
                                                received_at="2026-12-03T08:00:00.000+00:00"))


def _traced(engine: Any) -> list[tuple[str, str]]:
    """The write transactions' beginnings and commits the engine's
    connections ask SQLite to run from now on, in the order SQLite gets
    them, each with the name of the thread asking."""
    statements: list[tuple[str, str]] = []

    @event.listens_for(engine, "connect")
    def trace(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        def seen(sql: str) -> None:
            kind = "BEGIN" if sql.startswith("BEGIN IMMEDIATE") else "COMMIT" if sql.startswith("COMMIT") else None
            if kind is not None:
                statements.append((threading.current_thread().name, kind))
        dbapi_connection.set_trace_callback(seen)

    engine.dispose()  # the connections made before the listener go
    return statements


def _first_writer(engine: Any) -> tuple[threading.Thread, threading.Event]:
    """A writer on its own thread (named "first") that stores a receipt and
    holds its transaction until the returned event is set; started, and
    holding, when this returns."""
    holding, release = threading.Event(), threading.Event()

    def work(conn: Any) -> None:
        _receipt(conn, "first")
        holding.set()
        release.wait(5)

    writer = threading.Thread(target=lambda: write_transaction(engine, work), name="first")
    writer.start()
    assert holding.wait(5)
    return writer, release


def test_a_writer_begins_only_once_the_one_before_it_has_committed(tmp_path):
    engine = open_engine(tmp_path / "commune.db")
    statements = _traced(engine)
    writer, release = _first_writer(engine)
    second = threading.Thread(target=lambda: write_transaction(engine, lambda conn: _receipt(conn, "second")),
                              name="second")
    second.start()
    # The second writer is waiting: give it time to reach SQLite, were it going to.
    second.join(0.3)
    assert second.is_alive()
    release.set()
    writer.join(5)
    second.join(5)
    assert not second.is_alive()
    # The second writer asked SQLite for the write lock only after the first had committed.
    assert statements == [("first", "BEGIN"), ("first", "COMMIT"), ("second", "BEGIN"), ("second", "COMMIT")]
    with engine.connect() as conn:
        assert [row.batch_key for row in conn.execute(tables.receipts.select().order_by(tables.receipts.c.id))] \
            == ["first", "second"]
    engine.dispose()


def test_a_writer_that_does_not_get_its_turn_in_time_fails_as_a_locked_database(tmp_path):
    engine = open_engine(tmp_path / "commune.db", wait_s=0.2)
    writer, release = _first_writer(engine)
    try:
        with pytest.raises(OperationalError, match="database is locked"):
            write_transaction(engine, lambda conn: _receipt(conn, "second"))
        assert writer.is_alive(), "the second writer gave up while the first still held its turn"
    finally:
        release.set()
        writer.join(5)
    # Nothing of the one that gave up was written; the next writer goes through.
    write_transaction(engine, lambda conn: _receipt(conn, "third"))
    with engine.connect() as conn:
        assert [row.batch_key for row in conn.execute(tables.receipts.select().order_by(tables.receipts.c.id))] \
            == ["first", "third"]
    engine.dispose()


def test_the_servers_other_writes_wait_for_their_turn_too(tmp_path):
    """A leader's click (here: revoking a tablet) while an upload holds the
    writers' turn queues behind it like another upload, instead of polling
    SQLite's lock."""
    engine = open_engine(tmp_path / "commune.db")
    registry = DeviceRegistry(engine)
    code = registry.request_code("tablet-9", "quầy 1", "0.1.0")
    registry.decide(code.user_code, approve=True)
    statements = _traced(engine)
    writer, release = _first_writer(engine)
    revoke = threading.Thread(target=lambda: registry.revoke("tablet-9", "lost"), name="revoke")
    revoke.start()
    revoke.join(0.3)
    assert revoke.is_alive(), "the revocation did not wait for the upload's turn"
    release.set()
    writer.join(5)
    revoke.join(5)
    assert statements == [("first", "BEGIN"), ("first", "COMMIT"), ("revoke", "BEGIN"), ("revoke", "COMMIT")]
    assert registry.credentials("tablet-9")[1] == "revoked"
    engine.dispose()


def test_the_servers_code_opens_no_write_transaction_of_its_own():
    """Every write of the server's goes through write_transaction (and so
    takes the writers' turn): only the store's own modules (the migrations at
    start, the statistics' hourly refresh) open one with the engine."""
    server = Path(__file__).resolve().parents[1] / "server"
    offenders = [f"{path.relative_to(server.parent)}:{number}"
                 for path in sorted(server.rglob("*.py")) if "store" not in path.relative_to(server).parts[:1]
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if re.search(r"\bengine\.begin\(", line)]
    assert offenders == []
