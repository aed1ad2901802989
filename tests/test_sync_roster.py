"""The roster push: fetched with ETag / 304, portraits checked, kept on disk
and used when the server is away."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from kiosk.link.credentials import load_credentials
from kiosk.link.roster import RosterSync, roster_directory
from kiosk.link.transport import ServerLink, TransportError
from server.roster import RosterStore
from tests.sync_support import Commune, Tablet, roster_file


def test_fetch_then_304_then_change_then_offline(tmp_path):
    with Commune(tmp_path) as commune:
        tablet = Tablet(tmp_path / "tablet", commune.url)
        tablet.pair(commune)
        link = ServerLink(commune.url, load_credentials(tablet.store.device_secret_path))
        sync = RosterSync(roster_directory(tablet.db_path), link)
        rosters = RosterStore(commune.engine)
        rosters.import_file(roster_file(tablet))

        roster = sync.fetch()
        assert roster is not None and len(roster["officers"]) == 6 and len(roster["counters"]) == 2
        assert roster["settings"]["rating"]["scale"] == 3
        for officer in roster["officers"]:
            photo = Path(officer["photo_file"])
            assert photo.parent.parent == roster_directory(tablet.db_path)
            assert hashlib.sha256(photo.read_bytes()).hexdigest() == officer["photo"]["sha256"]

        assert sync.fetch() is None  # 304: unchanged

        rosters.import_file(roster_file(tablet, counters=3))
        changed = sync.fetch()
        assert changed is not None and len(changed["counters"]) == 3

    # The server is gone: the last copy is still there.
    with pytest.raises(TransportError):
        sync.fetch()
    cached = RosterSync(roster_directory(tablet.db_path), link).cached()
    assert cached is not None and len(cached["counters"]) == 3
    assert all(Path(o["photo_file"]).is_file() for o in cached["officers"])
    tablet.close()


def test_no_roster_yet_is_a_clear_error(tmp_path):
    with Commune(tmp_path) as commune:
        tablet = Tablet(tmp_path / "tablet", commune.url)
        tablet.pair(commune)
        link = ServerLink(commune.url, load_credentials(tablet.store.device_secret_path))
        with pytest.raises(TransportError) as failure:
            RosterSync(roster_directory(tablet.db_path), link).fetch()
        assert failure.value.status == 404 and failure.value.code == "no_roster"
        assert RosterSync(roster_directory(tablet.db_path), link).cached() is None
        tablet.close()
