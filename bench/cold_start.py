"""Cold start: from a new Python process to the idle screen drawn, headless.

    python bench/cold_start.py [--runs 5]

Target: under 3 s on the development machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHILD = """
import sys, time, dataclasses, tempfile
from pathlib import Path
sys.path.insert(0, {root!r})
from kiosk.headless import configure
configure()
from kiosk.config import load_settings
from kiosk.headless import HeadlessKiosk
settings = load_settings({config!r})
settings = dataclasses.replace(settings, database=Path(tempfile.mkdtemp()) / "cold.db")
kiosk = HeadlessKiosk(settings)
assert kiosk.screen.name in ("choose", "rate", "closed")
print(time.time())
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    code = _CHILD.format(root=str(ROOT), config=str(ROOT / "config.yaml"))
    times = []
    for _ in range(args.runs):
        env = dict(os.environ, KIVY_HOME=tempfile.mkdtemp(prefix="hailong-cold-"))
        start = time.time()
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
        shown = float(out.stdout.strip().splitlines()[-1])
        times.append(shown - start)
    print(f"cold start to idle     median {statistics.median(times):.2f} s, "
          f"worst {max(times):.2f} s over {args.runs} runs   (target < 3 s)")


if __name__ == "__main__":
    main()
