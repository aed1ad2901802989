"""Start the kiosk: ``python main.py [--config config.yaml]``.

The settings are read and checked before Kivy is imported, because Kivy's own
configuration (fullscreen, cursor, closing) has to be set before its import.
A broken config.yaml stops here with one line naming the key and the problem.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python main.py",
        description="The Hài Lòng kiosk. Example: python main.py --config config.yaml",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=Path(os.environ.get("HAILONG_CONFIG", HERE / "config.yaml")),
        help="the tablet's settings (default: config.yaml beside this file)",
    )
    args = parser.parse_args(argv)

    from kiosk.config import ConfigError, load_settings
    from kiosk.store import StoreError

    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(exc.line(), file=sys.stderr)
        return 2

    os.environ["KIVY_NO_ARGS"] = "1"  # our arguments are ours, not Kivy's
    from kivy.config import Config

    Config.set("kivy", "exit_on_escape", "0")
    Config.set("graphics", "allow_screensaver", "0")
    Config.set("graphics", "fullscreen", "auto" if settings.fullscreen else "0")
    Config.set("graphics", "show_cursor", "0" if settings.fullscreen else "1")
    if not settings.fullscreen:
        portrait = settings.orientation == "portrait"
        Config.set("graphics", "width", "800" if portrait else "1280")
        Config.set("graphics", "height", "1280" if portrait else "800")
    Config.set("input", "mouse", "mouse,multitouch_on_demand")

    from kiosk.app import EXIT_BY_TECHNICIAN, KioskApp

    try:
        app = KioskApp(settings)
    except StoreError as exc:
        print(f"Không mở được cơ sở dữ liệu (cannot open the database): {exc}", file=sys.stderr)
        return 3
    app.run()
    return EXIT_BY_TECHNICIAN if app.exited_by_technician else 0


if __name__ == "__main__":
    sys.exit(main())
