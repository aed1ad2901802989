"""A commune server's call-back key pair for tests of the tablet alone, and
opening what the tablet sealed with it (as :mod:`server.callback_numbers` does)."""

from __future__ import annotations

import base64

from nacl.public import PrivateKey, SealedBox
from nacl.secret import SecretBox

from kiosk.store import Store
from sync.record import Record

SERVER_PRIVATE = PrivateKey.generate()
SERVER_PUBLIC_TEXT = base64.b64encode(bytes(SERVER_PRIVATE.public_key)).decode("ascii")


def give_server_key(store: Store) -> None:
    """Let the tablet offer call-backs, as pairing would."""
    store.callback_keys.set_server_key(SERVER_PUBLIC_TEXT)


def open_number(details: Record, sealed_key: bytes, private: PrivateKey = SERVER_PRIVATE) -> str:
    """The number a details record carries, opened with the server's private key."""
    record_key = SealedBox(private).decrypt(sealed_key)
    return SecretBox(record_key).decrypt(base64.b64decode(details.callback_box)).decode("ascii")
