"""A picture of the product that anyone can regenerate:

    python -m kiosk.tour OUT_DIR [--config config.yaml]

drives the real app, headless, through every screen with simulated touches,
in 1280x800 landscape, 800x1280 portrait and on a 7-inch 1024x600 tablet
(170 dots per inch, so that 15 mm targets are as large as they are there),
and saves one PNG per screen. The data goes to a temporary database, never
to the tablet's own.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import os
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from kiosk.headless import configure

SIZES = {"landscape": (1280, 800), "portrait": (800, 1280), "small": (1024, 600)}
"""Window sizes by name, as the PNGs are named."""

DPI = {"small": 170.0}
"""The display density of a size, where the default (Kivy's) would not be
the real one: a 7-inch 1024x600 tablet has about 170 dots per inch."""

# The sample call-back number: not the commune's hotline, so that nobody
# reading the pictures mistakes one for the other.
SAMPLE_CALLBACK = "0987654321"


def _find(screen, cls):
    return [w for w in screen.walk() if isinstance(w, cls)]


def sample_campaign(today) -> dict:
    """A survey campaign of the Fatherland Front running ``today``, with one
    question of every kind (the pictures' demo; a commune's come from its server)."""
    from datetime import timedelta

    return {
        "id": "mttq-2026-dot-1", "title": "Khảo sát sự hài lòng của người dân năm 2026", "kiosk": True,
        "target": 300, "starts_on": (today - timedelta(days=3)).isoformat(),
        "ends_on": (today + timedelta(days=27)).isoformat(),
        "questionnaire": {
            "id": "mttq-sipas", "version": 1, "title": "Phiếu lấy ý kiến người dân",
            "intro": "Ủy ban MTTQ phường lắng nghe ý kiến của Ông/Bà về bộ phận một cửa.",
            "sections": [
                {"title": "Tiếp cận dịch vụ", "questions": [
                    {"key": "cho-ngoi", "kind": "scale", "required": True,
                     "text": "Nơi ngồi chờ có đủ chỗ ngồi, sạch sẽ và thoáng mát"},
                    {"key": "biet-qua", "kind": "single", "text": "Ông/Bà biết đến thủ tục này qua đâu?",
                     "options": [{"key": "cong-dvc", "text": "Cổng dịch vụ công"},
                                 {"key": "nguoi-quen", "text": "Người thân, người quen"},
                                 {"key": "loa", "text": "Loa phát thanh của phường"},
                                 {"key": "can-bo", "text": "Cán bộ hướng dẫn tại quầy"}]},
                    {"key": "giay-to", "kind": "multiple", "text": "Ông/Bà đã phải nộp những giấy tờ nào?",
                     "options": [{"key": "ban-sao", "text": "Bản sao có chứng thực"},
                                 {"key": "ban-chinh", "text": "Bản chính để đối chiếu"},
                                 {"key": "to-khai", "text": "Tờ khai theo mẫu"},
                                 {"key": "anh", "text": "Ảnh thẻ"}]}]},
                {"title": "Công chức", "questions": [
                    {"key": "cong-chuc", "kind": "officer", "required": True,
                     "text": "Công chức nào đã tiếp nhận hồ sơ của Ông/Bà?"}]},
                {"title": "Góp ý", "questions": [
                    {"key": "gop-y", "kind": "text", "text": "Ông/Bà có góp ý gì để phường phục vụ tốt hơn?"}]},
            ],
        },
    }


def _sample_days(desk, officer_id: str) -> None:
    """A plausible fortnight for the officer's view: mostly satisfied, a few
    reasons, some days without ratings, and today."""
    import random
    from datetime import timedelta

    rng = random.Random(7)
    real_now = desk.clock.now
    today = real_now()
    try:
        for back in range(13, -1, -1):
            day = today - timedelta(days=back)
            if back and day.weekday() == 6:
                continue  # Sunday: closed
            for i in range(rng.randint(4, 12) if back else 12):
                at = day.replace(hour=8, minute=0) + timedelta(minutes=25 * i)
                desk.clock.now = lambda at=at: at
                score = rng.choices((3, 2, 1), (6, 3, 1))[0]
                record = desk.rate(officer_id, score)
                if score == 1:
                    desk.add_details(record, ["waited_long", "unclear_guidance"])
    finally:
        desk.clock.now = real_now


def tour(settings, out_dir: Path, orientation: str) -> list[Path]:
    """Walk every screen in one orientation; return the PNGs written."""
    from kiosk.config import AttributionMode
    from kiosk.desk import DeviceClock
    from kiosk.headless import HeadlessKiosk
    from kiosk.widgets.hidden import LongPressArea

    size = SIZES[orientation]
    shots: list[Path] = []
    work = Path(tempfile.mkdtemp(prefix="hailong-tour-"))
    settings = dataclasses.replace(settings, display_dpi=DPI.get(orientation, settings.display_dpi))

    def shot(kiosk, name: str) -> None:
        path = out_dir / f"{orientation}-{len(shots) + 1:02d}-{name}.png"
        shots.append(kiosk.screenshot(path))
        print(path, flush=True)

    # The counter mode: closed, officer sign-in, then a citizen's whole path.
    counter = dataclasses.replace(
        settings, mode=AttributionMode.COUNTER, mode_officer=None, database=work / "counter.db"
    )
    kiosk = HeadlessKiosk(counter, size=size)
    try:
        shot(kiosk, "closed-no-officer")
        kiosk.app.staff.open_signin()
        kiosk.pump(2)
        shot(kiosk, "signin-pick")
        kiosk.tap(kiosk.screen.cards()[0])
        shot(kiosk, "signin-pin")
        kiosk.type_digits(kiosk.screen.ids.pin, "1111")
        kiosk.tap(kiosk.screen.ids.submit)
        shot(kiosk, "signin-wrong-pin")
        kiosk.type_digits(kiosk.screen.ids.pin, "2468")
        kiosk.tap(kiosk.screen.ids.submit)
        shot(kiosk, "idle-officer-on-duty")
        low = kiosk.screen.faces()[-1]
        kiosk.tap(low)
        if kiosk.screen.name == "recorded":  # the correction window (correction.window_s)
            shot(kiosk, "recorded-choose-again")
            kiosk.tap(kiosk.screen.ids.go_on)
        kiosk.tap(kiosk.screen.chips()[0])
        kiosk.tap(kiosk.screen.chips()[2])
        shot(kiosk, "reasons-low")
        if kiosk.screen.ids.callback.disabled:
            # No call-back offer on this tablet (it cannot seal a number).
            kiosk.tap(kiosk.screen.ids.done)
        else:
            kiosk.tap(kiosk.screen.ids.callback)
            kiosk.type_digits(kiosk.screen.ids.keypad, SAMPLE_CALLBACK)
            kiosk.tap(kiosk.screen.ids.send)
            shot(kiosk, "callback-needs-consent")
            kiosk.tap(kiosk.screen.ids.consent)
            shot(kiosk, "callback-ready")
            kiosk.tap(kiosk.screen.ids.send)
        shot(kiosk, "thanks")
        kiosk.app.visits.go_idle()
        kiosk.pump(2)
        kiosk.tap(kiosk.screen.faces()[-1])
        if kiosk.screen.name == "recorded":
            kiosk.tap(kiosk.screen.ids.again)
            shot(kiosk, "choose-again")
            kiosk.tap(kiosk.screen.faces()[0])
        else:
            kiosk.app.visits.go_idle()
            kiosk.pump(2)
            kiosk.tap(kiosk.screen.faces()[0])
        kiosk.tap(kiosk.screen.chips()[1])
        shot(kiosk, "reasons-high")
        kiosk.app.visits.go_idle()
        kiosk.pump(2)
        # The officer hands a result over (a scanned receipt): the prompt for that dossier.
        kiosk.app.visits.hand_over("H12-260105-0042")
        kiosk.pump(2)
        shot(kiosk, "handover-prompt")
        kiosk.app.visits.go_idle()
        kiosk.pump(2)
        waiting = kiosk.app.navigator.screen("prompt")
        waiting.wait_for_handover(kiosk.app.desk.officer_on_duty())
        kiosk.app.navigator.show("prompt")
        kiosk.pump(2)
        shot(kiosk, "handover-waiting")
        kiosk.app.visits.go_idle()
        kiosk.pump(2)
        kiosk.app.toggle_language()
        kiosk.pump(2)
        shot(kiosk, "idle-english")
        kiosk.app.visits.go_idle()
        kiosk.pump(2)
        assert _find(kiosk.screen, LongPressArea), "the hidden entry must be on the idle screen"
    finally:
        kiosk.close()

    # Behind the hidden entry: the staff menu, an officer's day, the technician's panel.
    staff = dataclasses.replace(
        settings, mode=AttributionMode.COUNTER, mode_officer=None, database=work / "staff.db"
    )
    kiosk = HeadlessKiosk(staff, size=size)
    try:
        kiosk.app.desk.sign_in(settings.officers[0].id)
        _sample_days(kiosk.app.desk, settings.officers[0].id)
        kiosk.app.staff.open_staff()
        kiosk.pump(2)
        shot(kiosk, "staff-menu")
        kiosk.tap(kiosk.screen.ids.my_day)
        kiosk.tap(kiosk.screen.cards()[0])
        kiosk.type_digits(kiosk.screen.ids.pin, "2468")
        kiosk.tap(kiosk.screen.ids.submit)
        shot(kiosk, "officer-day")
        kiosk.tap(kiosk.screen.ids.days_30)
        shot(kiosk, "officer-day-30")
        kiosk.app.staff.open_staff()
        kiosk.pump(2)
        kiosk.tap(kiosk.screen.ids.technician)
        shot(kiosk, "technician-pin")
        kiosk.type_digits(kiosk.screen.ids.pin, "1357")
        kiosk.tap(kiosk.screen.ids.submit)
        for section in ("settings", "officers", "pairing", "sync", "data", "health", "exit"):
            kiosk.screen.open_section(section)
            if section == "health":
                kiosk.wait_until(lambda: "…" not in kiosk.screen.health_text, timeout=10)
            shot(kiosk, f"technician-{section}")
            if section == "settings":
                # The last panel too: the hand-over, the second choice and the voice.
                menu = kiosk.screen.ids.settings_holder.children[0].interface.menu
                kiosk.tap(menu.buttons_layout.children[0])  # the sidebar lists the last panel first
                shot(kiosk, "technician-settings-counter")
    finally:
        kiosk.close()

    # The shared tablet: the citizen first picks the officer.
    choose = dataclasses.replace(settings, mode=AttributionMode.CHOOSE, database=work / "choose.db")
    kiosk = HeadlessKiosk(choose, size=size)
    try:
        shot(kiosk, "choose-officer")
        kiosk.tap(kiosk.screen.cards()[2])
        shot(kiosk, "rate-chosen-officer")
    finally:
        kiosk.close()

    # The Fatherland Front's survey, after a rating's thank-you: every kind of question.
    survey = dataclasses.replace(settings, mode=AttributionMode.CHOOSE, database=work / "survey.db",
                                 survey_invite="after_thanks")
    kiosk = HeadlessKiosk(survey, size=size)
    try:
        kiosk.app.sync.campaigns_arrived([sample_campaign(kiosk.app.desk.clock.now().date())])
        kiosk.pump(2)
        kiosk.tap(kiosk.screen.cards()[0])
        kiosk.tap(kiosk.screen.faces()[0])
        if kiosk.screen.name == "recorded":
            kiosk.tap(kiosk.screen.ids.go_on)
        if kiosk.screen.name == "reasons":
            kiosk.tap(kiosk.screen.ids.done)
        kiosk.tap(kiosk.screen.ids.done)
        shot(kiosk, "survey-invite")
        kiosk.tap(kiosk.screen.ids.accept)
        shot(kiosk, "survey-scale")
        kiosk.tap(kiosk.screen.option_buttons()[3])
        shot(kiosk, "survey-single")
        kiosk.tap(kiosk.screen.option_buttons()[3])
        for chip in kiosk.screen.option_buttons()[:2]:
            kiosk.tap(chip)
        shot(kiosk, "survey-multiple")
        kiosk.tap(kiosk.screen.ids.go_on)
        shot(kiosk, "survey-officer")
        kiosk.tap(kiosk.screen.option_buttons()[1])
        keys = kiosk.screen.letter_keys().keys()
        from kiosk.widgets.letters import TONES

        for key in ("t", "h", "ê", "m", "space", "g", "h", "ê", TONES[0], "space", "c", "h", "ơ", TONES[1]):
            kiosk.tap(keys[key], frames=1)
        shot(kiosk, "survey-text")
        kiosk.tap(kiosk.screen.ids.go_on)
        shot(kiosk, "survey-thanks")
    finally:
        kiosk.close()

    # Outside working hours: a Sunday evening.
    hours = dataclasses.replace(
        settings,
        mode=AttributionMode.CHOOSE,
        database=work / "hours.db",
        working_hours=dataclasses.replace(settings.working_hours, enforce=True),
    )
    sunday_evening = datetime(2026, 11, 22, 19, 30).astimezone()
    kiosk = HeadlessKiosk(hours, size=size, clock=DeviceClock(now=lambda: sunday_evening))
    try:
        shot(kiosk, "closed-outside-hours")
    finally:
        kiosk.close()
    return shots


def main(argv: list[str] | None = None) -> int:
    """Command line: write the tour's PNGs into OUT_DIR."""
    parser = argparse.ArgumentParser(
        prog="python -m kiosk.tour",
        description="Save a PNG of every kiosk screen in both orientations and at 1024x600. "
        "Example: python -m kiosk.tour tour",
    )
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--config", type=Path, default=Path("config.yaml"))
    parser.add_argument("--orientation", choices=[*SIZES, "all", "both"], default="all",
                        help="one size, or all of them (both: the same as all)")
    args = parser.parse_args(argv)

    # No sound card is needed for pictures: SDL's silent driver, not ALSA's complaints.
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    configure()
    from kiosk.config import ConfigError, load_settings

    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(exc.line(), file=sys.stderr)
        return 2
    args.out_dir.mkdir(parents=True, exist_ok=True)
    orientations = list(SIZES) if args.orientation in ("all", "both") else [args.orientation]
    count = sum(len(tour(settings, args.out_dir, o)) for o in orientations)
    # The closed kiosks' widgets are collected now, while Kivy's module state
    # is whole: left to the interpreter's exit, each one's clean-up fails
    # with a KeyError traceback.
    gc.collect()
    print(f"{count} screens saved in {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
