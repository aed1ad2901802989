"""The server's garbage-collector settings (server.runner.keep_out_of_collections),
checked in a process of their own: they are global to an interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Start-up objects frozen out of the collector, then a batch's worth of
# short-lived objects: how many young collections they cost.
_PROBE = """
import gc, json
from server.runner import YOUNG_COLLECTION_EVERY, keep_out_of_collections

young = []
gc.callbacks.append(lambda phase, info: phase == "start" and info["generation"] == 0 and young.append(1))
before = []
for _ in range(20_000):
    before.append({"uuid": "x", "seq": 1})
default_collections = len(young)
before.clear()
young.clear()

keep_out_of_collections()
batch = []
for _ in range(20_000):
    batch.append({"uuid": "x", "seq": 1})
print(json.dumps({"default": default_collections, "kept": len(young), "frozen": gc.get_freeze_count(),
                  "threshold": gc.get_threshold()[0], "every": YOUNG_COLLECTION_EVERY}))
"""


def test_a_batch_worth_of_objects_costs_no_young_collection_once_start_up_is_frozen():
    done = subprocess.run([sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["default"] >= 20  # Python's default threshold collects every 700 allocations
    assert seen["kept"] == 0
    assert seen["frozen"] > 10_000  # modules, classes and functions made at start
    assert seen["threshold"] == seen["every"] > 20_000
