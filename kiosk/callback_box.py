"""Encrypting a citizen's call-back number for the commune server, at the tap.

The tablet must be able to send the number but never to read it back: it is
encrypted with a fresh key of its own (NaCl ``SecretBox``), and that key is
sealed to the server's public key (NaCl ``SealedBox``, received with pairing
or the roster). The chained details record carries only the ciphertext
(``callback_box``, format 3); the sealed key travels beside the records,
outside the chain, so the server can destroy it and the number with it
(crypto-shredding) while the chain still verifies. The per-record key and
the number exist in clear only in memory, for the moment of the tap.

Nothing here imports Kivy.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from nacl.exceptions import CryptoError
from nacl.public import PublicKey, SealedBox
from nacl.secret import SecretBox
from nacl.utils import random

__all__ = ["SealedNumber", "seal_number", "read_public_key"]


@dataclass(frozen=True)
class SealedNumber:
    """A number made unreadable to the tablet: the ciphertext for the record
    and its key sealed to the server."""

    box: str
    """The number under its own key, standard base64 (the record's ``callback_box``)."""
    sealed_key: bytes
    """That key in a sealed box only the server's private key opens (80 bytes)."""


def read_public_key(text: str | None) -> bytes | None:
    """The server's public key from its wire text (base64), or None when
    absent or not a 32-byte key."""
    if not text:
        return None
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return key if len(key) == PublicKey.SIZE else None


def seal_number(number: str, server_key: bytes) -> SealedNumber:
    """Encrypt ``number`` for the server holding the private half of ``server_key``."""
    record_key = random(SecretBox.KEY_SIZE)
    try:
        box = SecretBox(record_key).encrypt(number.encode("ascii"))
        sealed = SealedBox(PublicKey(server_key)).encrypt(record_key)
    except CryptoError as exc:  # a malformed key: the caller keeps no number
        raise ValueError(f"cannot seal to this key: {exc}") from None
    return SealedNumber(box=base64.b64encode(bytes(box)).decode("ascii"), sealed_key=bytes(sealed))
