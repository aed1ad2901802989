"""The recorded screen's "Chọn lại" and the hand-over prompt on the real Kivy
app, headless: simulated touches, a USB scanner simulated as keyboard input,
and the records uploaded to a real server over loopback."""

from __future__ import annotations

from kiosk.headless import HeadlessKiosk
from sync.record import KIND_CORRECTION, KIND_RATING
from tests.sync_support import Commune, Tablet, stored


def _counter(window_s: float, **handover):
    def change(tree: dict) -> None:
        tree["attribution"]["mode"] = "counter"
        tree["correction"] = {"window_s": window_s}
        if handover:
            tree["handover"] = handover
    return change


def _kiosk(tmp_path, commune: Commune, window_s: float, **handover) -> tuple[Tablet, HeadlessKiosk]:
    tablet = Tablet(tmp_path / "tablet", commune.url, tree_changes=_counter(window_s, **handover))
    tablet.desk.sign_in("tran-van-hung")
    kiosk = HeadlessKiosk(tablet.settings, store=tablet.store)
    kiosk.app.visits.go_idle()
    kiosk.pump(2)
    return tablet, kiosk


def _scan(kiosk: HeadlessKiosk, code: str) -> None:
    """A keyboard-emulating scanner: the code's characters, then Enter, within milliseconds."""
    for ch in code:
        kiosk.window.dispatch("on_key_down", ord(ch.lower()), 0, ch, [])
    kiosk.window.dispatch("on_key_down", 13, 40, None, [])
    kiosk.pump(2)


def test_choose_again_within_the_window_records_a_correction(tmp_path, commune):
    tablet, kiosk = _kiosk(tmp_path, commune, window_s=30)
    try:
        kiosk.tap(kiosk.screen.faces()[-1])  # the frown, by mistake
        assert kiosk.screen.name == "recorded" and kiosk.screen.level == "dissatisfied"
        again = kiosk.screen.ids.again
        assert again.opacity == 1 and not again.disabled
        kiosk.tap(again)
        assert kiosk.screen.name == "prompt" and kiosk.screen.purpose == "again"
        kiosk.tap(kiosk.screen.faces()[0])  # the smile meant
        rating = tablet.store.last_rating()
        correction = tablet.store.journal.correction_of(rating.uuid)
        assert rating.level == "dissatisfied" and correction.level == "very_satisfied"
        assert [r.kind for r in tablet.store.records()] == [KIND_RATING, KIND_CORRECTION]
        assert kiosk.screen.name in ("reasons", "thanks") and not getattr(kiosk.screen, "low", False)
    finally:
        kiosk.close()
        tablet.close()


def test_after_the_window_the_button_is_gone(tmp_path, commune):
    tablet, kiosk = _kiosk(tmp_path, commune, window_s=1)
    try:
        kiosk.tap(kiosk.screen.faces()[0])
        recorded = kiosk.screen
        assert recorded.name == "recorded" and recorded.ids.again.opacity == 1
        assert kiosk.wait_until(lambda: kiosk.screen.name != "recorded", timeout=4)
        assert recorded.ids.again.opacity == 0 and recorded.ids.again.disabled
        assert tablet.store.count(KIND_CORRECTION) == 0
    finally:
        kiosk.close()
        tablet.close()


def test_a_scanned_receipt_prompts_and_a_second_rating_of_it_is_flagged(tmp_path, commune):
    tablet, kiosk = _kiosk(tmp_path, commune, window_s=0)
    try:
        tablet.pair(commune)
        made = []
        for _ in range(2):
            _scan(kiosk, "H12-260105-0042")
            assert kiosk.screen.name == "prompt" and kiosk.screen.purpose == "handover"
            assert kiosk.screen.dossier_code == "H12-260105-0042"
            kiosk.tap(kiosk.screen.faces()[0])
            made.append(tablet.store.last_rating())
            kiosk.app.visits.go_idle()
            kiosk.pump(2)
        assert [r.dossier_code for r in made] == ["H12-260105-0042"] * 2
        # A person typing is not a scanner: nothing is prompted.
        for ch in "abc":
            kiosk.window.dispatch("on_key_down", ord(ch), 0, ch, [])
            kiosk.wait(0.12)
        kiosk.window.dispatch("on_key_down", 13, 40, None, [])
        kiosk.pump(2)
        assert kiosk.screen.name == "rate"
        assert tablet.uploader().run_once().pending == 0
        flags = {row["uuid"]: row["flags"] for row in stored(commune, tablet.store.device_id).values()}
        assert "repeat_dossier" not in flags[made[0].uuid] and "repeat_dossier" in flags[made[1].uuid]
        assert {row["dossier_code"] for row in stored(commune, tablet.store.device_id).values()} == {"H12-260105-0042"}
    finally:
        kiosk.close()
        tablet.close()


def test_ratings_may_need_a_hand_over(tmp_path, commune):
    tablet, kiosk = _kiosk(tmp_path, commune, window_s=0, without_trigger=False, key="f9")
    try:
        assert kiosk.screen.name == "prompt" and kiosk.screen.purpose == "waiting"
        assert kiosk.screen.faces() == []
        kiosk.window.dispatch("on_key_down", 290, 0, None, [])  # F9: a foot switch
        kiosk.pump(2)
        assert kiosk.screen.purpose == "handover" and len(kiosk.screen.faces()) == 3
        kiosk.tap(kiosk.screen.faces()[1])
        assert tablet.store.last_rating().dossier_code is None and tablet.store.count(KIND_RATING) == 1
    finally:
        kiosk.close()
        tablet.close()
