"""Placeholder portraits for a roster without photos: a drawn bust on a
coloured ground with the officer's initials, so the demo looks like the real
thing and every officer is told apart by colour and letters.

``python -m kiosk.portraits --config config.yaml`` (re)draws the portrait file
of every officer whose ``photo`` path does not exist yet.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import sys
from pathlib import Path

from ruamel.yaml import YAML

__all__ = ["draw_portrait", "main"]

_GROUNDS = [
    (46, 125, 150), (121, 85, 160), (196, 98, 54), (52, 140, 92),
    (170, 62, 96), (60, 96, 170), (150, 120, 40), (90, 110, 120),
]


def draw_portrait(name: str, path: Path, size: int = 512) -> None:
    """Draw a placeholder portrait for ``name`` into a PNG at ``path``."""
    from PIL import Image, ImageDraw

    digest = hashlib.sha256(name.encode("utf-8")).digest()
    ground = _GROUNDS[digest[0] % len(_GROUNDS)]
    image = Image.new("RGB", (size, size), ground)
    draw = ImageDraw.Draw(image)
    light = tuple(min(255, c + 90) for c in ground)
    # Shoulders, then the head above them.
    draw.ellipse((size * 0.12, size * 0.62, size * 0.88, size * 1.25), fill=light)
    draw.ellipse((size * 0.3, size * 0.16, size * 0.7, size * 0.6), fill=light)
    words = name.split()
    initials = "".join(w[0] for w in words[-2:]).upper()
    font = _font(int(size * 0.16))
    box = draw.textbbox((0, 0), initials, font=font)
    w, h = box[2] - box[0], box[3] - box[1]
    draw.text(((size - w) / 2 - box[0], size * 0.38 - h / 2 - box[1]), initials, fill=ground, font=font)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, "PNG", optimize=True)


def _font(px: int):
    from PIL import ImageFont

    # Kivy ships Roboto, which covers Vietnamese letters. Found without
    # importing kivy, which would parse this command's arguments.
    spec = importlib.util.find_spec("kivy")
    try:
        package_dir = Path(list(spec.submodule_search_locations)[0])
        return ImageFont.truetype(str(package_dir / "data" / "fonts" / "Roboto-Bold.ttf"), px)
    except (AttributeError, TypeError, IndexError, OSError):
        return ImageFont.load_default(px)


def main(argv: list[str] | None = None) -> int:
    """Command line: draw the missing portraits of a config's roster."""
    parser = argparse.ArgumentParser(
        prog="python -m kiosk.portraits",
        description="Draw placeholder portraits for officers whose photo file is missing. "
        "Example: python -m kiosk.portraits --config config.yaml",
    )
    parser.add_argument("--config", default="config.yaml", type=Path)
    parser.add_argument("--force", action="store_true", help="redraw existing files too")
    args = parser.parse_args(argv)
    with open(args.config, encoding="utf-8") as fh:
        tree = YAML(typ="safe").load(fh)
    for officer in tree.get("officers") or []:
        photo = officer.get("photo")
        if not photo:
            continue
        path = args.config.parent / photo
        if args.force or not path.exists():
            draw_portrait(officer["name"], path)
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
