"""The Fatherland Front's survey on the real Kivy app, headless, answered with
simulated touches: the invitation after the thank-you screen, every kind of
question, skipping, leaving, the timeout, a survey tablet's rest screen, and
a kill in the middle of a survey (a real process killed) losing no answer."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest

from kiosk.config import load_settings
from kiosk.headless import HeadlessKiosk
from kiosk.widgets.letters import TONES, with_tone
from sync.record import KIND_RATING, KIND_SURVEY, written_version
from sync.survey import answers_of_text
from tests.conftest import write_config

SEVEN_INCH = ((1024, 600), 170.0)


def campaign(**changes) -> dict:
    """A running campaign with one question of every kind."""
    today = date.today()
    data = {
        "id": "mttq-2026",
        "title": "Khảo sát sự hài lòng năm 2026",
        "kiosk": True,
        "target": 300,
        "starts_on": (today - timedelta(days=2)).isoformat(),
        "ends_on": (today + timedelta(days=20)).isoformat(),
        "questionnaire": {
            "id": "sipas",
            "version": 3,
            "title": "Phiếu khảo sát",
            "intro": "Ủy ban MTTQ lắng nghe.",
            "sections": [
                {
                    "title": "Tiếp cận",
                    "questions": [
                        {"key": "q1", "kind": "scale", "text": "Nơi chờ sạch sẽ", "required": True},
                        {
                            "key": "q2",
                            "kind": "single",
                            "text": "Biết thủ tục qua đâu?",
                            "options": [
                                {"key": "a", "text": "Cổng dịch vụ công"},
                                {"key": "b", "text": "Người quen"},
                                {"key": "c", "text": "Loa phường"},
                            ],
                        },
                        {
                            "key": "q3",
                            "kind": "multiple",
                            "text": "Giấy tờ đã nộp",
                            "options": [
                                {"key": "x", "text": "Bản sao"},
                                {"key": "y", "text": "Bản chính"},
                                {"key": "z", "text": "Ảnh thẻ"},
                            ],
                        },
                    ],
                },
                {
                    "title": "Công chức",
                    "questions": [{"key": "q4", "kind": "officer", "text": "Ai đã tiếp nhận hồ sơ?", "required": True}],
                },
                {"title": "Góp ý", "questions": [{"key": "q5", "kind": "text", "text": "Ông/Bà có góp ý gì thêm?"}]},
            ],
        },
    }
    data.update(changes)
    return data


@pytest.fixture
def make_kiosk(tmp_path: Path, demo_tree: dict) -> Callable[..., HeadlessKiosk]:
    """The app on the demo config (``choose`` mode, no correction window)
    changed by ``change(tree)``, with the campaign kept as if fetched."""
    started: list[HeadlessKiosk] = []

    def start(change=None, size=(1280, 800), dpi=None, campaigns=None) -> HeadlessKiosk:
        demo_tree["correction"] = {"window_s": 0}
        if dpi is not None:
            demo_tree.setdefault("display", {})["dpi"] = dpi
        if change is not None:
            change(demo_tree)
        kiosk = HeadlessKiosk(load_settings(write_config(tmp_path, demo_tree)), size=size)
        started.append(kiosk)
        kiosk.app.sync.campaigns_arrived([campaign()] if campaigns is None else campaigns)
        kiosk.pump(2)
        return kiosk

    yield start
    for kiosk in started:
        if not getattr(kiosk, "closed", False):
            kiosk.close()


def rate_and_thank(kiosk: HeadlessKiosk) -> None:
    """A citizen rates an officer and leaves the thank-you screen with "Xong"."""
    kiosk.tap(kiosk.screen.cards()[0])
    kiosk.tap(kiosk.screen.faces()[0])
    if kiosk.screen.name == "reasons":
        kiosk.tap(kiosk.screen.ids.done)
    assert kiosk.screen.name == "thanks"
    kiosk.tap(kiosk.screen.ids.done)


def surveys(kiosk: HeadlessKiosk) -> list:
    return [r for r in kiosk.app.store.records() if r.kind == KIND_SURVEY]


def draft_answers(kiosk: HeadlessKiosk) -> dict:
    drafts = kiosk.app.store.survey_drafts.open_drafts()
    return drafts[0].answers if drafts else {}


@pytest.mark.parametrize("size", [(1280, 800), (800, 1280)])
def test_every_kind_of_question_answered_by_touch_becomes_one_chained_record(make_kiosk, size):
    kiosk = make_kiosk(size=size)
    rate_and_thank(kiosk)
    assert kiosk.screen.name == "survey_invite"
    kiosk.tap(kiosk.screen.ids.accept)
    screen = kiosk.screen
    assert screen.name == "survey_question" and screen.kind == "scale"
    buttons = screen.option_buttons()
    assert [b.point for b in buttons] == [1, 2, 3, 4, 5]
    assert "Hoàn toàn không đồng ý" in buttons[0].text and "Hoàn toàn đồng ý" in buttons[4].text
    kiosk.tap(buttons[3])
    assert draft_answers(kiosk) == {"q1": 4}  # kept the moment it was given
    assert screen.kind == "single"
    kiosk.tap(screen.option_buttons()[1])
    assert screen.kind == "multiple" and screen.ids.go_on.opacity == 1
    chips = screen.option_buttons()
    kiosk.tap(chips[2])
    kiosk.tap(chips[0])
    assert draft_answers(kiosk)["q3"] == ["x", "z"]  # each toggle kept, in the questionnaire's order
    kiosk.tap(screen.ids.go_on)
    assert screen.kind == "officer"
    cards = screen.option_buttons()
    assert [c.officer.id for c in cards] == [o.id for o in kiosk.app.settings.active_officers]
    kiosk.tap(cards[1])
    assert screen.kind == "text"
    keys = screen.letter_keys().keys()
    for key in ("c", "h", "ơ", TONES[1], "space", "l", "â", "u"):
        kiosk.tap(keys[key], frames=1)
    assert screen.typed == "chờ lâu"
    kiosk.tap(screen.ids.go_on)
    assert kiosk.screen.name == "survey_thanks" and kiosk.screen.answered

    [record] = surveys(kiosk)
    assert record.v == written_version(KIND_SURVEY) == 4
    assert (record.campaign_id, record.questionnaire_id, record.questionnaire_version) == ("mttq-2026", "sipas", 3)
    assert answers_of_text(record.answers) == {
        "q1": 4,
        "q2": "b",
        "q3": ["x", "z"],
        "q4": kiosk.app.settings.active_officers[1].id,
        "q5": "chờ lâu",
    }
    assert record.complete is True
    # Anonymous: no officer or counter on the record, and the draft is gone with its chaining.
    assert record.officer_id is None and record.counter_id is None
    assert kiosk.app.store.survey_drafts.open_drafts() == []
    assert kiosk.app.store.verify() == []
    assert kiosk.app.store.count(KIND_RATING) == 1
    kiosk.tap(kiosk.screen.ids.done)
    assert kiosk.screen.name == "choose"


def test_skipping_and_leaving_keep_what_was_answered_and_mark_it_incomplete(make_kiosk):
    kiosk = make_kiosk()
    rate_and_thank(kiosk)
    kiosk.tap(kiosk.screen.ids.accept)
    kiosk.tap(kiosk.screen.ids.skip)  # q1, required, skipped
    assert kiosk.screen.kind == "single"
    kiosk.tap(kiosk.screen.option_buttons()[0])
    kiosk.tap(kiosk.screen.option_buttons()[1])  # q3: a toggle, then skipped after all
    kiosk.tap(kiosk.screen.ids.skip)
    assert kiosk.screen.kind == "officer"
    kiosk.tap(kiosk.screen.ids.leave)
    assert kiosk.screen.name == "survey_thanks"
    [record] = surveys(kiosk)
    assert answers_of_text(record.answers) == {"q2": "a"}
    assert record.complete is False


def test_declining_or_ignoring_the_invitation_records_nothing(make_kiosk):
    kiosk = make_kiosk()
    rate_and_thank(kiosk)
    kiosk.tap(kiosk.screen.ids.decline)
    assert kiosk.screen.name == "choose"
    rate_and_thank(kiosk)
    invite = kiosk.screen
    assert invite.name == "survey_invite" and invite.timeout_s == kiosk.app.settings.timeouts.reasons
    invite.timeout_s = 0.3
    invite.restart_timer()
    assert kiosk.wait_until(lambda: kiosk.screen.name == "choose", timeout=5)
    # Accepting and leaving at once: nothing answered, nothing recorded, no draft left.
    rate_and_thank(kiosk)
    kiosk.tap(kiosk.screen.ids.accept)
    kiosk.tap(kiosk.screen.ids.leave)
    assert kiosk.screen.name == "survey_thanks" and not kiosk.screen.answered
    assert surveys(kiosk) == [] and kiosk.app.store.survey_drafts.open_drafts() == []


def test_an_idle_question_times_out_to_rest_keeping_its_answers(make_kiosk):
    kiosk = make_kiosk()
    rate_and_thank(kiosk)
    kiosk.tap(kiosk.screen.ids.accept)
    screen = kiosk.screen
    assert screen.timeout_s == kiosk.app.settings.timeouts.rating  # the rating's timeout
    kiosk.tap(screen.option_buttons()[4])
    kiosk.tap(screen.option_buttons()[2])
    assert screen.kind == "multiple"
    screen.timeout_s = 0.4
    screen.restart_timer()
    assert kiosk.wait_until(lambda: kiosk.screen.name == "choose", timeout=5)
    [record] = surveys(kiosk)
    assert answers_of_text(record.answers) == {"q1": 5, "q2": "c"} and record.complete is False


def test_a_text_question_keeps_what_was_typed_when_it_times_out(make_kiosk):
    kiosk = make_kiosk(
        campaigns=[
            campaign(
                questionnaire={
                    "id": "ykien",
                    "version": 1,
                    "title": "Ý kiến",
                    "sections": [
                        {"title": "", "questions": [{"key": "y", "kind": "text", "text": "Ý kiến của Ông/Bà"}]}
                    ],
                }
            )
        ]
    )
    rate_and_thank(kiosk)
    kiosk.tap(kiosk.screen.ids.accept)
    screen = kiosk.screen
    assert screen.timeout_s == kiosk.app.settings.timeouts.callback
    keys = screen.letter_keys().keys()
    for key in ("t", "ô", "t", TONES[0]):
        kiosk.tap(keys[key], frames=1)
    screen.timeout_s = 0.3
    screen.restart_timer()
    assert kiosk.wait_until(lambda: kiosk.screen.name == "choose", timeout=5)
    [record] = surveys(kiosk)
    assert answers_of_text(record.answers) == {"y": "tốt"} and record.complete is True


def test_a_survey_tablet_rests_on_the_invitation_and_asks_no_rating(make_kiosk):
    kiosk = make_kiosk(change=lambda tree: tree.update(survey={"invite": "only"}))
    assert kiosk.screen.name == "survey_invite" and kiosk.screen.timeout_s == 0
    assert kiosk.app.visits.at_rest
    kiosk.tap(kiosk.screen.ids.accept)
    kiosk.tap(kiosk.screen.option_buttons()[0])
    kiosk.tap(kiosk.screen.ids.leave)
    kiosk.tap(kiosk.screen.ids.done)
    assert kiosk.screen.name == "survey_invite"
    assert kiosk.app.store.count(KIND_RATING) == 0 and len(surveys(kiosk)) == 1
    # The campaign over (none kept now): the tablet rests as any tablet does.
    kiosk.app.sync.campaigns_arrived([])
    kiosk.pump(2)
    assert kiosk.screen.name == "choose"


def test_no_invitation_when_turned_off_or_no_campaign_runs_today(make_kiosk, tmp_path):
    kiosk = make_kiosk(change=lambda tree: tree.update(survey={"invite": "off"}))
    rate_and_thank(kiosk)
    assert kiosk.screen.name == "choose"
    kiosk.close()
    kiosk.closed = True
    ended = campaign(starts_on="2025-01-01", ends_on="2025-01-31")
    later = make_kiosk(change=lambda tree: tree.update(survey={"invite": "after_thanks"}), campaigns=[ended])
    rate_and_thank(later)
    assert later.screen.name == "choose"


def test_the_survey_screens_have_15_mm_targets_on_a_7_inch_tablet(make_kiosk):
    from tests.test_kiosk_screens_finished import _too_small

    (size, dpi) = SEVEN_INCH
    kiosk = make_kiosk(size=size, dpi=dpi)
    rate_and_thank(kiosk)
    problems = _too_small(kiosk)
    kiosk.tap(kiosk.screen.ids.accept)
    for _kind in ("scale", "single"):
        problems += _too_small(kiosk)
        kiosk.tap(kiosk.screen.option_buttons()[0])
    problems += _too_small(kiosk)  # multiple
    kiosk.tap(kiosk.screen.ids.go_on)
    problems += _too_small(kiosk)  # officer cards
    kiosk.tap(kiosk.screen.option_buttons()[0])
    assert kiosk.screen.kind == "text"
    keys = kiosk.screen.letter_keys()
    problems += [p for p in _too_small(kiosk) if "LetterKey" not in p]
    # The keyboard's five rows share the height under the band: close to 15 mm, never under 12 mm.
    assert min(min(k.width, k.height) for k in keys.keys().values()) >= 12 * kiosk.app.mm
    kiosk.tap(kiosk.screen.ids.go_on)
    problems += _too_small(kiosk)
    assert problems == []


def test_tone_keys_mark_the_right_vowel():
    sac, huyen, hoi, nga, nang = TONES
    assert with_tone("hoang", huyen) == "hoàng" and with_tone("mua", huyen) == "mùa"
    assert with_tone("nguơi", huyen) == "nguời" and with_tone("quy", sac) == "quý"
    assert with_tone("Cam on", sac) == "Cam ón" and with_tone("tốt", sac) == "tôt"  # the same mark again takes it off
    assert with_tone("nghi", hoi) == "nghỉ" and with_tone("", nga) == "" and with_tone("x b", nang) == "x b"


_KILLED_KIOSK = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from kiosk.headless import configure
    configure()
    from kiosk.config import load_settings
    from kiosk.headless import HeadlessKiosk
    from tests.test_kiosk_survey import campaign, rate_and_thank

    kiosk = HeadlessKiosk(load_settings(Path(sys.argv[1])), size=(1280, 800))
    kiosk.app.sync.campaigns_arrived([campaign()])
    kiosk.pump(2)
    rate_and_thank(kiosk)
    kiosk.tap(kiosk.screen.ids.accept)
    kiosk.tap(kiosk.screen.option_buttons()[1])   # q1: 2
    kiosk.tap(kiosk.screen.option_buttons()[2])   # q2: c
    kiosk.tap(kiosk.screen.option_buttons()[1])   # q3: y, toggled on
    print("answered", flush=True)
    while True:
        kiosk.pump()
        time.sleep(0.01)
""")


def test_a_kill_during_a_survey_loses_no_answered_question(tmp_path, demo_tree):
    demo_tree["correction"] = {"window_s": 0}
    config = write_config(tmp_path, demo_tree)
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_KIOSK, str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
        env={**os.environ, "KIVY_NO_CONSOLELOG": "1"},
    )
    try:
        assert child.stdout.readline().strip() == "answered"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    # The next start records the draft the kill left, before anything shows.
    kiosk = HeadlessKiosk(load_settings(config), size=(1280, 800))
    try:
        [record] = surveys(kiosk)
        assert json.loads(record.answers) == {"q1": 2, "q2": "c", "q3": ["y"]}
        assert record.complete is False  # cut short
        assert kiosk.app.store.survey_drafts.open_drafts() == []
        assert kiosk.app.store.verify() == []
        assert kiosk.screen.name == "choose"
    finally:
        kiosk.close()


def test_the_invitation_setting_is_in_the_technicians_panel_and_checked(tmp_path, demo_tree):
    from kiosk import settings_panel
    from kiosk.config import ConfigError
    from kiosk.config_file import ConfigFile

    config = write_config(tmp_path, demo_tree)
    item = settings_panel.item_for("counter", "survey_invite")
    assert item.path == "survey.invite" and item.options == ("after_thanks", "only", "off")
    assert settings_panel.values(load_settings(config))["counter"]["survey_invite"] == "after_thanks"
    written = ConfigFile(config).set_values(dict([settings_panel.to_change("counter", "survey_invite", "only")]))
    assert written.survey_invite == "only" and load_settings(config).survey_invite == "only"
    demo_tree["survey"] = {"invite": "sometimes"}
    with pytest.raises(ConfigError, match=r"survey\.invite"):
        load_settings(write_config(tmp_path, demo_tree))


def test_a_campaign_replaced_during_a_survey_keeps_the_answers_given_under_it(make_kiosk):
    kiosk = make_kiosk()
    rate_and_thank(kiosk)
    kiosk.tap(kiosk.screen.ids.accept)
    kiosk.tap(kiosk.screen.option_buttons()[0])  # q1: 1
    newer = campaign()
    newer["questionnaire"] = {**newer["questionnaire"], "version": 4}
    kiosk.app.sync.campaigns_arrived([newer])  # the server edited the questionnaire meanwhile
    kiosk.pump(2)
    assert kiosk.screen.name == "survey_question"  # never taken from under the citizen's fingers
    kiosk.tap(kiosk.screen.option_buttons()[2])  # q2: c
    kiosk.tap(kiosk.screen.ids.leave)
    [record] = surveys(kiosk)
    assert record.questionnaire_version == 3 and answers_of_text(record.answers) == {"q1": 1, "q2": "c"}


def test_the_next_citizens_hand_over_takes_over_from_an_unanswered_invitation(make_kiosk):
    def counter(tree: dict) -> None:
        tree["attribution"]["mode"] = "counter"

    kiosk = make_kiosk(change=counter)
    kiosk.app.desk.sign_in("tran-van-hung")
    kiosk.app.visits.go_idle()
    kiosk.pump(2)
    kiosk.tap(kiosk.screen.faces()[0])
    if kiosk.screen.name == "reasons":
        kiosk.tap(kiosk.screen.ids.done)
    kiosk.tap(kiosk.screen.ids.done)
    assert kiosk.screen.name == "survey_invite"
    assert kiosk.app.visits.hand_over("H12-260105-0042")
    kiosk.pump(2)
    assert kiosk.screen.name == "prompt" and kiosk.screen.dossier_code == "H12-260105-0042"
    # A survey under way is never interrupted by a scan.
    kiosk.app.visits.go_idle()
    kiosk.pump(2)
    kiosk.tap(kiosk.screen.faces()[0])
    if kiosk.screen.name == "reasons":
        kiosk.tap(kiosk.screen.ids.done)
    kiosk.tap(kiosk.screen.ids.done)
    kiosk.tap(kiosk.screen.ids.accept)
    assert not kiosk.app.visits.hand_over("H12-260105-0043")
    assert kiosk.screen.name == "survey_question"


def test_the_agreement_scale_reads_the_same_on_every_channel():
    """One scale, one wording: a point worded otherwise on the tablet than on
    the phone page or the paper form would make the channels' results differ
    by their words, not by what citizens think."""
    from kiosk.i18n import catalogue
    from server.i18n import translator

    for language in ("vi", "en"):
        t = translator(language)
        for point in range(1, 6):
            tablet = catalogue(language).get(f"survey.scale_{point}")
            assert tablet == t(f"survey_form.scale.{point}") == t(f"survey_results.point.{point}"), (language, point)
