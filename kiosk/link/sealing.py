"""Handing the server the tablet's first sealing key (forward integrity of
the journal, :mod:`sync.seal`).

Right after pairing, the tablet makes a random first key for the record
after its last one (:meth:`kiosk.store.sealing.SealKeys.start`) and sends it
to its server in a signed ``POST /api/v1/seal-key``. From then on every
record is sealed as it is written. The first key stays in the tablet's
database only until the server has confirmed it; if the server cannot be
reached at pairing, the uploader sends it before its next batch.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from kiosk.link import transport
from kiosk.link.credentials import DeviceCredentials
from kiosk.link.transport import ServerLink, TransportError
from kiosk.store import Store
from sync import wire
from sync.protocol import API_PREFIX, ErrorCode

__all__ = ["register_seal_key", "seal_after_pairing", "SEAL_KEY_PATH"]

log = logging.getLogger("hailong.sync")

SEAL_KEY_PATH = f"{API_PREFIX}/seal-key"
_REFUSALS = (transport.REFUSED, transport.TOO_LARGE, transport.STALE_BATCH)


def register_seal_key(store: Store, link: ServerLink, credentials: DeviceCredentials) -> str:
    """Start sealing if the tablet does not yet, and give the server the
    first key if it does not have it. Returns ``"registered"`` (now or
    before), ``"refused"`` (the server will never take it: it has another
    key for this device, or holds records past its first sealed one; the
    first key is forgotten anyway) or ``"not_now"`` (an older server without
    the route, or another refusal: tried again later).

    Transient failures and refusals of the device itself (not reachable,
    unauthorized, revoked) raise :class:`TransportError`, as a batch would."""
    try:
        first_seq, key = store.seal_keys.start()
    except LookupError:
        return "registered"
    request = wire.SealKeyRequest(device_id=credentials.device_id, first_seq=first_seq, key=key.hex())
    body = json.dumps(wire.to_wire(request)).encode("utf-8")
    try:
        answer = link.post_signed(SEAL_KEY_PATH, body)
    except TransportError as exc:
        if exc.kind not in _REFUSALS:
            raise
        if exc.code == ErrorCode.SEAL_KEY_REFUSED:
            log.error("the server refused this tablet's sealing key: %s", exc.detail)
            store.seal_keys.registered()  # it never will take it: do not keep the key lying around
            store.set_outbox_state("seal_error", exc.detail)
            return "refused"
        log.warning("sealing key not registered yet: %s", exc.detail)
        return "not_now"
    try:
        taken = wire.parse(wire.SealKeyAnswer, answer)
    except wire.WireError:
        taken = None
    if taken is None or taken.first_seq != first_seq:
        raise TransportError(transport.RETRY, "the server's answer to the sealing key is malformed")
    store.seal_keys.registered()
    return "registered"


def seal_after_pairing(database: str | Path, credentials: DeviceCredentials, server_url: str) -> str:
    """What a tablet does right after it saved its new secret: start sealing
    and register the first key. A failure to reach the server leaves the
    registration owed (the uploader finishes it) and is not raised: pairing
    itself succeeded."""
    store = Store(database)
    link = ServerLink(server_url or credentials.server_url, credentials)
    try:
        if credentials.callback_key:
            # From now on the tablet may offer the call-back (kiosk.callback_box).
            store.callback_keys.set_server_key(credentials.callback_key)
        return register_seal_key(store, link, credentials)
    except TransportError as exc:
        log.warning("sealing key not registered at pairing: %s", exc.detail)
        return "not_now"
    finally:
        link.close()
        store.close()
