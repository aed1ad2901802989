"""The app's side of sync without a window: the server's roster waits for a
visit's end, is laid over the tablet's own settings, and the sync state is
put in words."""

from __future__ import annotations

import pytest

from kiosk.navigator import CatalogueWords
from kiosk.sync_control import SyncControl, with_roster
from kiosk.visit import VisitFlow
from tests.kiosk_fakes import Counter, open_counter

ROSTER = {
    "commune": {"name": "UBND xã Tân Lập"},
    "officers": [{"id": "dinh-van-nam", "name": "Đinh Văn Nam", "title": "Công chức Tư pháp - Hộ tịch"}],
}


class Linked:
    """A counter, its visit flow and its sync control, wired as the app wires them."""

    def __init__(self, counter: Counter):
        self.counter = counter
        self.statuses: list[str] = []
        self.handed_over: list = []
        self.visits = VisitFlow(
            counter.desk, counter.navigator, CatalogueWords("vi"),
            on_idle=lambda _keep: self.sync.apply_pending_roster(),
        )
        self.sync = SyncControl(
            counter.store, lambda: counter.settings, CatalogueWords("vi"), self.visits,
            # The app lays the roster in force over the settings it is given.
            lambda own: counter.apply_settings(with_roster(own, self.sync.roster)),
            show_status=self.statuses.append,
            hand_over=self.handed_over.append,
        )


@pytest.fixture
def linked(tmp_path, demo_tree):
    counter = open_counter(tmp_path, demo_tree)
    yield Linked(counter)
    counter.store.close()


def test_a_roster_arriving_during_a_visit_waits_for_its_end(linked):
    counter = linked.counter
    linked.visits.choose_officer(counter.settings.officer("nguyen-thi-lan"))
    linked.visits.rate(1)
    linked.sync.roster_arrived(ROSTER)
    assert counter.applied == [] and linked.sync.pending_roster == ROSTER
    assert not linked.sync.roster_from_server
    linked.visits.reasons_done([], thank=False)  # the visit ends
    assert linked.sync.pending_roster is None and linked.sync.roster_from_server
    assert counter.settings.commune_name == "UBND xã Tân Lập"
    assert [o.id for o in counter.settings.officers] == ["dinh-van-nam"]
    assert counter.actions() == [("roster_applied", "server")]


def test_a_roster_arriving_at_rest_applies_and_shows_idle_again(linked):
    counter, nav = linked.counter, linked.counter.navigator
    linked.visits.go_idle()
    linked.sync.roster_arrived(ROSTER)
    assert [o.id for o in counter.settings.officers] == ["dinh-van-nam"]
    assert nav.shown == ["choose", "choose"]  # the idle screen, drawn again


def test_a_roster_arriving_after_the_app_stopped_is_ignored(linked):
    linked.sync.close()
    linked.sync.roster_arrived(ROSTER)
    assert linked.counter.applied == [] and not linked.sync.roster_from_server


def test_a_roster_waits_while_config_yaml_does_not_load(linked, tmp_path):
    (tmp_path / "config.yaml").write_text("officers: [", encoding="utf-8")
    linked.sync.roster_arrived(ROSTER)
    assert linked.sync.roster == ROSTER  # kept for when the file is fixed
    assert linked.counter.applied == [] and linked.counter.actions() == []


def test_a_roster_that_does_not_fit_leaves_the_tablets_own_settings(linked):
    own = linked.counter.settings
    misfit = {"officers": [{"id": "Not A Slug!", "name": "", "title": ""}]}
    assert with_roster(own, misfit) is own
    assert with_roster(own, ROSTER).commune_name == "UBND xã Tân Lập"


def test_an_unpaired_tablet_starts_no_uploader_and_says_so(linked):
    words = CatalogueWords("vi")
    linked.sync.start()
    assert linked.sync.credentials() is None
    assert linked.statuses == [
        words.tr("tech.sync_state_unpaired") + "\n" + words.tr("tech.sync_pending", count=0)
    ]
    linked.sync.refresh_roster()  # nothing to ask without a pairing
    assert linked.handed_over == []
    linked.sync.stop()
    linked.sync.close()


def test_the_sync_state_in_words(linked):
    from types import SimpleNamespace

    words = CatalogueWords("vi")
    status = SimpleNamespace(state="idle", pending=3, last_success="", last_error="timed out")
    assert linked.sync.status_words(status).splitlines() == [
        words.tr("tech.sync_state_idle"),
        words.tr("tech.sync_pending", count=3),
        words.tr("tech.sync_last_success", when=words.tr("tech.sync_never")),
        words.tr("tech.sync_last_error", error="timed out"),
    ]
