"""A picture of the product that anyone can regenerate:

    python -m kiosk.tour OUT_DIR [--config config.yaml]

drives the real app, headless, through every screen with simulated touches,
in 1280x800 landscape and 800x1280 portrait, and saves one PNG per screen.
The data goes to a temporary database, never to the tablet's own.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from kiosk.headless import configure

SIZES = {"landscape": (1280, 800), "portrait": (800, 1280)}


def _find(screen, cls):
    return [w for w in screen.walk() if isinstance(w, cls)]


def _sample_day(desk, officer_id: str) -> None:
    """A plausible day for the officer's view: mostly satisfied, a few reasons."""
    for score in (3, 3, 2, 3, 1, 3, 2, 3, 3, 1, 3, 2):
        record = desk.rate(officer_id, score)
        if score == 1:
            desk.add_details(record, ["waited_long", "unclear_guidance"], "0912345678", consent=True)


def tour(settings, out_dir: Path, orientation: str) -> list[Path]:
    """Walk every screen in one orientation; return the PNGs written."""
    from kiosk.config import AttributionMode
    from kiosk.desk import DeviceClock
    from kiosk.headless import HeadlessKiosk
    from kiosk.widgets.hidden import LongPressArea

    size = SIZES[orientation]
    shots: list[Path] = []
    work = Path(tempfile.mkdtemp(prefix="hailong-tour-"))

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
        kiosk.tap(kiosk.screen.chips()[0])
        kiosk.tap(kiosk.screen.chips()[2])
        shot(kiosk, "reasons-low")
        kiosk.tap(kiosk.screen.ids.callback)
        kiosk.type_digits(kiosk.screen.ids.keypad, "0912345678")
        kiosk.tap(kiosk.screen.ids.send)
        shot(kiosk, "callback-needs-consent")
        kiosk.tap(kiosk.screen.ids.consent)
        shot(kiosk, "callback-ready")
        kiosk.tap(kiosk.screen.ids.send)
        shot(kiosk, "thanks")
        kiosk.app.visits.go_idle()
        kiosk.pump(2)
        kiosk.tap(kiosk.screen.faces()[0])
        kiosk.tap(kiosk.screen.chips()[1])
        shot(kiosk, "reasons-high")
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
        _sample_day(kiosk.app.desk, settings.officers[0].id)
        kiosk.app.staff.open_staff()
        kiosk.pump(2)
        shot(kiosk, "staff-menu")
        kiosk.tap(kiosk.screen.ids.my_day)
        kiosk.tap(kiosk.screen.cards()[0])
        kiosk.type_digits(kiosk.screen.ids.pin, "2468")
        kiosk.tap(kiosk.screen.ids.submit)
        shot(kiosk, "officer-day")
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
        description="Save a PNG of every kiosk screen in both orientations. "
        "Example: python -m kiosk.tour tour",
    )
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--config", type=Path, default=Path("config.yaml"))
    parser.add_argument("--orientation", choices=[*SIZES, "both"], default="both")
    args = parser.parse_args(argv)

    configure()
    from kiosk.config import ConfigError, load_settings

    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(exc.line(), file=sys.stderr)
        return 2
    args.out_dir.mkdir(parents=True, exist_ok=True)
    orientations = list(SIZES) if args.orientation == "both" else [args.orientation]
    count = sum(len(tour(settings, args.out_dir, o)) for o in orientations)
    print(f"{count} screens saved in {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
