"""Spoken prompts on the real Kivy app, headless: SDL's silent audio device
plays the real files, so what is said, in which language and how loud can be
read back from the sounds themselves."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from kiosk.config import ConfigError, load_settings
from kiosk.headless import HeadlessKiosk
from kiosk.settings_panel import ITEMS, to_change, values
from kiosk.voice import PLACEHOLDERS, PROMPTS
from tests.callback_support import give_server_key
from tests.conftest import write_config


def _voice(**voice) -> Callable[[dict], None]:
    def change(tree: dict) -> None:
        tree["attribution"]["mode"] = "counter"
        tree["voice"] = voice
    return change


@pytest.fixture
def start(tmp_path: Path, demo_tree: dict):
    started: list[HeadlessKiosk] = []

    def run(change: Callable[[dict], None]) -> HeadlessKiosk:
        change(demo_tree)
        kiosk = HeadlessKiosk(load_settings(write_config(tmp_path, demo_tree)))
        give_server_key(kiosk.app.store)
        kiosk.app.desk.sign_in("tran-van-hung")
        kiosk.app.visits.go_idle()
        kiosk.pump(2)
        started.append(kiosk)
        return kiosk

    yield run
    for kiosk in started:
        kiosk.close()


def _playing(kiosk: HeadlessKiosk):
    """The sound the voice plays now (prompt, file name, volume), or None."""
    voice = kiosk.app.voice
    if voice.speaking is None:
        return None
    sound = voice._playing[1]
    return voice.speaking, Path(sound.source).relative_to(Path(sound.source).parents[1]).as_posix(), sound.volume


def test_every_prompt_has_a_placeholder_in_both_languages():
    for language in ("vi", "en"):
        for prompt in PROMPTS:
            path = PLACEHOLDERS / language / f"{prompt}.wav"
            assert path.is_file() and path.stat().st_size > 10_000, path


def test_the_voice_is_off_by_default(start):
    kiosk = start(lambda tree: tree["attribution"].update(mode="counter"))
    assert kiosk.app.settings.voice.enabled is False
    kiosk.app.visits.hand_over("HS-1")
    kiosk.wait(1.2)
    kiosk.tap(kiosk.screen.faces()[-1])
    kiosk.wait_until(lambda: kiosk.screen.name == "reasons")
    assert kiosk.app.voice.speaking is None


def test_the_hand_over_chimes_then_asks_aloud_and_a_low_rating_hears_the_reasons_question(start):
    kiosk = start(_voice(enabled=True, volume=60))
    assert kiosk.app.visits.hand_over("HS-2")
    assert kiosk.screen.name == "prompt"
    assert _playing(kiosk) is None  # the chime first
    assert kiosk.wait_until(lambda: _playing(kiosk) is not None, timeout=3)
    assert _playing(kiosk) == ("question", "vi/question.wav", pytest.approx(0.6))
    kiosk.tap(kiosk.screen.faces()[-1])  # the frown
    kiosk.wait_until(lambda: kiosk.screen.name == "reasons", timeout=10)
    assert _playing(kiosk) == ("reasons_low", "vi/reasons_low.wav", pytest.approx(0.6))


def test_the_thanks_is_spoken_in_the_language_the_citizen_chose(start):
    kiosk = start(_voice(enabled=True))
    kiosk.app.set_language("en")
    kiosk.tap(kiosk.screen.faces()[0])  # the broad smile
    kiosk.wait_until(lambda: kiosk.screen.name in ("reasons", "thanks"), timeout=10)
    if kiosk.screen.name == "reasons":
        assert _playing(kiosk)[:2] == ("reasons_high", "en/reasons_high.wav")
        kiosk.tap(kiosk.screen.ids.skip)
    assert kiosk.wait_until(lambda: kiosk.screen.name == "thanks", timeout=10)
    assert _playing(kiosk) == ("thanks", "en/thanks.wav", pytest.approx(0.8))
    kiosk.tap(kiosk.screen.ids.done)  # "Xong" cuts the thanks short
    assert kiosk.screen.name != "thanks" and kiosk.app.voice.speaking is None


def test_a_communes_own_recording_is_played_before_the_placeholder(tmp_path, start):
    own = tmp_path / "giong-xa"
    (own / "vi").mkdir(parents=True)
    chime = Path(__file__).resolve().parents[1] / "assets" / "sounds" / "chime.wav"
    shutil.copy(chime, own / "vi" / "thanks.wav")
    kiosk = start(_voice(enabled=True, directory=str(own)))
    voice = kiosk.app.voice
    assert voice.file_for("thanks", "vi") == own / "vi" / "thanks.wav"
    assert voice.file_for("question", "vi") == PLACEHOLDERS / "vi" / "question.wav"  # not recorded: the placeholder
    assert voice.say("thanks", "vi")
    assert voice._playing[1].source == str(own / "vi" / "thanks.wav")


def test_no_file_or_no_volume_means_silence_not_an_error(tmp_path, start):
    kiosk = start(_voice(enabled=True, volume=0))
    assert kiosk.app.voice.say("thanks", "vi") is False
    from kiosk.voice import Voice

    empty = Voice(kiosk.app.settings.voice.__class__(enabled=True), placeholders=tmp_path / "nothing")
    assert empty.file_for("thanks", "en") is None and empty.say("thanks", "en") is False


def test_a_volume_above_100_is_refused_with_its_key(tmp_path, demo_tree):
    demo_tree["voice"] = {"enabled": True, "volume": 150}
    with pytest.raises(ConfigError) as caught:
        load_settings(write_config(tmp_path, demo_tree))
    assert caught.value.path == "voice.volume"
    assert "0 đến 100" in caught.value.message("vi")


def test_the_technicians_panel_edits_the_voice_and_hand_over_settings(tmp_path, demo_tree):
    settings = load_settings(write_config(tmp_path, demo_tree))
    shown = values(settings)["counter"]
    assert shown["voice"] == "0" and shown["volume"] == "80"
    assert shown["correction_window"] == f"{settings.correction_window_s:g}"
    assert {item.path for item in ITEMS if item.panel == "counter"} >= {
        "voice.enabled", "voice.volume", "correction.window_s", "handover.scanner", "handover.key",
        "handover.without_trigger", "handover.prompt_s",
    }
    assert to_change("counter", "voice", "1") == ("voice.enabled", True)
    assert to_change("counter", "volume", "65") == ("voice.volume", 65)
    assert to_change("counter", "handover_key", "") == ("handover.key", None)
