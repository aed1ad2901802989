"""Call-back numbers from the tablets: kept encrypted, read only by the
server, erased by destroying their key (crypto-shredding).

How a number travels (Decree 13/2023/NĐ-CP on personal data protection:
consent, purpose, retention, erasure):

* The server makes one key pair once (:func:`public_key`, a NaCl Curve25519
  pair kept in the ``server_keys`` table; the private half never leaves the
  database) and hands the public key to every tablet: in the pairing answer
  and in the roster.
* At the tap the tablet encrypts the number with a fresh key of its own
  (NaCl ``SecretBox``). The chained details record (format 3) carries only
  that ciphertext, ``callback_box``; the record's key travels beside the
  records in the batch (``callback_keys``), sealed to the server's public key
  (NaCl ``SealedBox``), and is kept in the ``callback_keys`` table, outside
  the chain. The tablet cannot open either and forgets the sealed key once
  the server has acknowledged the record.
* :func:`number_for_rating` opens the newest number of a rating for the case
  page (:class:`server.cases.CaseBook` decides who may see it: the case's
  owner and leaders, while the case is open).
* Erasure destroys the record's key (:func:`erase_for_rating`, at the
  citizen's request; :func:`erase_expired`, ``callback_retention_months``
  after the case was resolved). The ciphertext stays in the record, which
  still hashes, links and verifies on both ends, but nothing can open it.
  The key's row stays, emptied, so a batch sent again cannot restore it.
  Both are audited, never with the number.

Records of formats 1 and 2 carried the number in clear inside the hashed
record; it cannot be removed without breaking the chain. Erasing such a
request hides it from every page (its row is marked erased), and the
documentation says so.
"""

from __future__ import annotations

import base64
import binascii
import logging
import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.secret import SecretBox
from nacl.utils import random
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from server.accounts import AccountBook
from server.clock import Clock, utc_now, utc_text
from server.settings import load_settings
from server.store import callback_keys as stored
from server.store import read_transaction, write_transaction
from sync import wire

__all__ = [
    "KEY_NAME", "public_key", "public_key_text", "seal_number", "store_sealed_keys", "number_for_rating",
    "erase_for_rating", "erase_expired", "months_before",
]

log = logging.getLogger("hailong.server.callback_numbers")

KEY_NAME = "callback"
REQUEST = "request"
RETENTION = "retention"


def _key_pair(engine: Engine) -> tuple[bytes, bytes]:
    """The server's call-back key pair, made the first time it is asked for
    (and then read without the write lock)."""
    with read_transaction(engine) as conn:
        found = stored.key_pair(conn, KEY_NAME)
    if found is not None:
        return found
    private = PrivateKey.generate()
    made = (bytes(private.public_key), bytes(private))
    try:
        write_transaction(engine, lambda conn: stored.add_key_pair(conn, KEY_NAME, *made, utc_text(utc_now())))
    except IntegrityError:
        pass  # another process made it at the same moment: theirs stands
    with read_transaction(engine) as conn:
        found = stored.key_pair(conn, KEY_NAME)
    assert found is not None
    return found


def public_key(engine: Engine) -> bytes:
    """The public key tablets seal call-back numbers to (32 bytes)."""
    return _key_pair(engine)[0]


def public_key_text(engine: Engine) -> str:
    """The public key as the wire carries it (standard base64)."""
    return base64.b64encode(public_key(engine)).decode("ascii")


def seal_number(engine: Engine, number: str) -> tuple[str, str]:
    """Encrypt a number the way a tablet does at the tap, for a details
    record the server writes itself (a rating given at home): under a fresh
    key of its own, that key sealed to the server's public key. Returns the
    record's ``callback_box`` and the sealed key (both base64), which then
    travel and are kept, erased and expired exactly as a tablet's; the
    fresh key is not kept in clear anywhere."""
    record_key = random(SecretBox.KEY_SIZE)
    box = SecretBox(record_key).encrypt(number.encode("ascii"))
    sealed = SealedBox(PublicKey(public_key(engine))).encrypt(record_key)
    return base64.b64encode(bytes(box)).decode("ascii"), base64.b64encode(bytes(sealed)).decode("ascii")


def store_sealed_keys(conn: Connection, device_id: str, keys: Sequence[wire.CallbackKey] | None, stamp: str) -> int:
    """Keep the sealed keys a batch carried, inside its transaction: only for
    this device's details records that are stored and carry an encrypted
    number, and never over a key already kept or erased. How many were kept."""
    if not keys:
        return 0
    sealed = {}
    for key in keys:
        try:
            sealed[key.record_uuid] = base64.b64decode(key.sealed_key, validate=True)
        except (binascii.Error, ValueError):
            continue
    boxes = stored.details_with_box(conn, device_id, sealed)
    return stored.add_sealed_keys(conn, device_id, [(uuid, boxes[uuid], sealed[uuid]) for uuid in boxes], stamp)


def number_for_rating(engine: Engine, rating_uuid: str) -> str | None:
    """The number the citizen left on the tablet for a call-back about this
    rating, opened with the server's key; None when there is none, it was
    erased, or its key never arrived."""
    with read_transaction(engine) as conn:
        row = stored.newest_callback(conn, rating_uuid)
    if row is None or row["erased_at"] is not None or not row["callback_consent"]:
        return None
    if row["callback_box"] is None:
        phone = row["callback_phone"]  # formats 1 and 2: in the record, in clear
        return phone if isinstance(phone, str) and phone else None
    if row["sealed_key"] is None:
        return None
    try:
        private = PrivateKey(_key_pair(engine)[1])
        record_key = SealedBox(private).decrypt(bytes(row["sealed_key"]))
        number = SecretBox(record_key).decrypt(base64.b64decode(row["callback_box"], validate=True))
        return number.decode("ascii")
    except (CryptoError, binascii.Error, ValueError, UnicodeDecodeError):
        # A box or key that does not open (sealed to another server's key):
        # said without the record's content.
        log.warning("a call-back number of rating %s does not open with this server's key", rating_uuid)
        return None


def erase_for_rating(engine: Engine, rating_uuid: str, actor: str | None, *, address: str | None = None,
                     clock: Clock = utc_now) -> int:
    """Erase the call-back numbers left for a rating, at the citizen's
    request; audited as ``callback.erase`` (the rating, never the number).
    How many numbers were erased now."""
    stamp = utc_text(clock())

    def work(conn: Connection) -> int:
        _zero_what_is_deleted(conn)
        return stored.erase_for_ratings(conn, [rating_uuid], at=stamp, by=actor, reason=REQUEST)

    count = write_transaction(engine, work)
    if count:
        _checkpoint(engine)
    AccountBook(engine, clock=clock).audit(actor, "callback.erase", f"rating {rating_uuid}",
                                           f"{count} numbers", address)
    return count


def _zero_what_is_deleted(conn: Connection) -> None:
    """On SQLite, have this connection overwrite what it deletes with zeros
    (``secure_delete``), so a destroyed key does not linger in the page's
    free space."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA secure_delete=ON")


def _checkpoint(engine: Engine) -> None:
    """On SQLite, copy the write-ahead log into the database and empty it:
    the log still holds the pages as they were before the key was
    destroyed. Best effort: a reader holding an old snapshot makes SQLite
    keep the log for now (the next checkpoint overwrites it)."""
    if engine.dialect.name != "sqlite":
        return
    raw = engine.raw_connection()  # outside any transaction: a checkpoint cannot run inside one
    try:
        raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.OperationalError as exc:
        log.info("write-ahead log not emptied after an erasure (%s); a later checkpoint will", exc)
    finally:
        raw.close()


def months_before(now: datetime, months: int) -> datetime:
    """The same moment ``months`` calendar months earlier (the day clipped
    to the month's length)."""
    month_index = now.year * 12 + now.month - 1 - months
    year, month = divmod(month_index, 12)
    month += 1
    for day in range(now.day, 0, -1):
        try:
            return now.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    return now - timedelta(days=30 * months)  # not reached: day 1 always exists


def erase_expired(engine: Engine, now: datetime) -> int:
    """Erase the numbers of call-backs whose case was resolved more than
    ``callback_retention_months`` before ``now``; audited as
    ``callback.erase_expired`` with the count (when there was any). How
    many numbers were erased."""
    months = load_settings(engine).callback_retention_months
    before = utc_text(months_before(now, months))
    stamp = utc_text(now)

    def work(conn: Connection) -> int:
        ratings = stored.ratings_resolved_before(conn, before)
        if not ratings:
            return 0
        _zero_what_is_deleted(conn)
        return stored.erase_for_ratings(conn, ratings, at=stamp, by=None, reason=RETENTION)

    count = write_transaction(engine, work)
    if count:
        _checkpoint(engine)
        AccountBook(engine, clock=lambda: now).audit(None, "callback.erase_expired", None,
                                                     f"{count} numbers of cases resolved over {months} months ago")
    return count
