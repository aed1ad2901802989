"""A mis-tap put right within the window, and the rating asked for at the
hand-over of a dossier: on the tablet's desk and visit flow, and through a
real upload to a real server (figures, flags, export, the chains)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from kiosk.desk import REPICK_S, CorrectionRefused
from kiosk.handover import HandOver, HandOverKeys
from kiosk.navigator import CatalogueWords
from kiosk.visit import VisitFlow
from server.export import write_csv
from server.figures import board
from server.scores import Exclusions, Period
from server.settings import load_settings as server_settings
from sync.record import KIND_CORRECTION, KIND_RATING, verify_chain
from tests.kiosk_fakes import FakeNavigator
from tests.sync_support import Commune, Tablet, findings, server_records, stored


def _window(seconds: float):
    def change(tree: dict) -> None:
        tree["correction"] = {"window_s": seconds}
        tree["attribution"]["mode"] = "counter"
    return change


class SteppedClock:
    """A monotonic clock the test moves on."""

    def __init__(self) -> None:
        self.ns = 10**12

    def __call__(self) -> int:
        return self.ns

    def advance(self, seconds: float) -> None:
        self.ns += int(seconds * 1e9)


def _tablet(tmp_path, commune: Commune, window: float = 5.0) -> tuple[Tablet, SteppedClock]:
    tablet = Tablet(tmp_path / "tablet", commune.url, tree_changes=_window(window))
    mono = SteppedClock()
    tablet.desk.clock.monotonic_ns = mono
    tablet.desk.sign_in("tran-van-hung")
    return tablet, mono


def _levels_today(commune: Commune) -> tuple[dict[str, int], dict[str, int]]:
    period = Period.today(server_settings(commune.engine).zone)
    figures = board(commune.engine, period, Exclusions.none()).commune
    return {k: v for k, v in figures.levels.items() if v}, figures.apart


# -- the scanner, as keys --------------------------------------------------------------


def test_a_scanner_is_told_from_a_person_typing():
    keys = HandOverKeys(scanner=True, key="f9", scan_gap_ms=50)
    t, found = 100.0, []
    for ch in "H12-0042":  # a scanner: 8 ms a character, then Enter
        found.append(keys.press(ch, ch, t))
        t += 0.008
    assert found == [None] * 8 and keys.press("enter", "\r", t) == HandOver("H12-0042")
    for ch in "abc":  # a person: a quarter of a second between keys
        t += 0.25
        assert keys.press(ch, ch, t) is None
    assert keys.press("enter", "\r", t + 0.25) is None
    assert keys.press("f9", None, t + 1) == HandOver(None)  # the foot switch
    assert HandOverKeys(scanner=False).press("enter", "\r", t + 2) is None


# -- the desk and the visit, on the tablet -------------------------------------------------


def test_a_correction_within_the_window_changes_the_tablets_figures(tmp_path, commune):
    tablet, mono = _tablet(tmp_path, commune)
    try:
        rating = tablet.desk.rate("tran-van-hung", 1)
        mono.advance(3)
        correction = tablet.desk.correct(rating, 3)
        assert (correction.kind, correction.rating_uuid, correction.level) == (KIND_CORRECTION, rating.uuid,
                                                                               "very_satisfied")
        with pytest.raises(CorrectionRefused):  # one correction per rating
            tablet.desk.correct(rating, 2)
        day = rating.device_time[:10]
        from datetime import date
        first = date.fromisoformat(day)
        counts = tablet.store.officer_days.levels_by_day("tran-van-hung", first, first + timedelta(days=1))
        assert [(c.level, c.count) for c in counts] == [("very_satisfied", 1)]
        # Both records stay in the chain, which holds.
        assert [r.kind for r in tablet.store.records()] == [KIND_RATING, KIND_CORRECTION]
        assert tablet.store.verify() == []
    finally:
        tablet.close()


def test_after_the_window_no_correction_is_recorded(tmp_path, commune):
    tablet, mono = _tablet(tmp_path, commune)
    try:
        rating = tablet.desk.rate("tran-van-hung", 1)
        mono.advance(5 + REPICK_S + 1)
        with pytest.raises(CorrectionRefused):
            tablet.desk.correct(rating, 3)
        later = tablet.desk.rate("tran-van-hung", 2)
        with pytest.raises(CorrectionRefused):  # only the latest rating
            tablet.desk.correct(rating, 3)
        assert tablet.store.journal.correction_of(rating.uuid) is None and later.kind == KIND_RATING
    finally:
        tablet.close()


def test_the_visit_offers_choose_again_then_goes_on_with_the_corrected_level(tmp_path, commune):
    tablet, _mono = _tablet(tmp_path, commune)
    try:
        navigator = FakeNavigator()
        flow = VisitFlow(tablet.desk, navigator, CatalogueWords("vi"))
        flow.go_idle()
        flow.rate(1)
        assert navigator.current == "recorded" and navigator.screen("recorded").can_correct
        flow.choose_again()
        assert navigator.current == "prompt" and navigator.screen("prompt").purpose == "again"
        flow.rate(3)
        # The reasons asked are those of the corrected (satisfied) level, not the frown's.
        assert navigator.current == "reasons" and navigator.screen("reasons").low is False
        assert tablet.store.journal.correction_of(flow.visit.rating.uuid).level == "very_satisfied"
        flow.choose_again()  # too late now: nothing more is recorded
        assert tablet.store.count(KIND_CORRECTION) == 1
    finally:
        tablet.close()


def test_a_hand_over_prompts_and_the_rating_carries_the_dossier_code(tmp_path, commune):
    tablet, _mono = _tablet(tmp_path, commune)
    try:
        navigator = FakeNavigator()
        flow = VisitFlow(tablet.desk, navigator, CatalogueWords("vi"))
        flow.go_idle()
        assert flow.hand_over("H12-0042")
        assert navigator.current == "prompt" and navigator.screen("prompt").dossier_code == "H12-0042"
        flow.rate(3)
        assert tablet.store.last_rating().dossier_code == "H12-0042"
        assert not flow.hand_over("H12-0043")  # not while a citizen's rating is under way
    finally:
        tablet.close()


# -- through a real server -----------------------------------------------------------------


def test_the_server_counts_the_corrected_level_and_flags_a_repeated_dossier(tmp_path, commune):
    tablet, mono = _tablet(tmp_path, commune)
    try:
        tablet.pair(commune)
        low = tablet.desk.rate("tran-van-hung", 1, dossier_code="H12-0042")
        mono.advance(4)
        tablet.desk.correct(low, 3)
        assert tablet.uploader().run_once().pending == 0
        levels, apart = _levels_today(commune)
        assert levels == {"very_satisfied": 1} and apart["corrected"] == 1
        # The correction comes in a later batch than its rating: still counted.
        mono.advance(60)
        plain = tablet.desk.rate("tran-van-hung", 3, dossier_code="H12-0042")  # the same dossier again
        assert tablet.uploader().run_once().pending == 0
        other = tablet.desk.rate("tran-van-hung", 3)
        mono.advance(2)
        tablet.desk.correct(other, 1)
        assert tablet.uploader().run_once().pending == 0
        levels, apart = _levels_today(commune)
        assert levels == {"very_satisfied": 2, "dissatisfied": 1}
        assert apart["corrected"] == 2 and apart["repeat_dossier"] == 1
        rows = stored(commune, tablet.store.device_id)
        flagged = {row["uuid"]: row["flags"] for row in rows.values()}
        assert "repeat_dossier" in flagged[plain.uuid] and "repeat_dossier" not in flagged[low.uuid]
        # Left out with the switch, as other flagged ratings are; corrections stay counted.
        figures = board(commune.engine, Period.today(server_settings(commune.engine).zone), Exclusions.all())
        assert figures.commune.levels.get("very_satisfied") == 1 and figures.commune.excluded == 1
        # Both ends hold both records of each correction, and the chains verify.
        device = tablet.store.device_id
        assert server_records(commune, device) == tablet.store.records()
        assert verify_chain(server_records(commune, device)) == [] and findings(commune, device) == []
        out = io.BytesIO()
        write_csv(commune.engine, out)
        export = {row["uuid"]: row for row in csv.DictReader(io.StringIO(out.getvalue().decode("utf-8-sig")))}
        assert len(export) == 3
        assert (export[low.uuid]["level"], export[low.uuid]["tapped_level"]) == ("very_satisfied", "dissatisfied")
        assert export[low.uuid]["dossier_code"] == export[plain.uuid]["dossier_code"] == "H12-0042"
        assert (export[plain.uuid]["tapped_level"], export[other.uuid]["level"]) == ("", "dissatisfied")
    finally:
        tablet.close()
