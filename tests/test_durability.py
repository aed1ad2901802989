"""Contract 1, a tap is never lost: kill the recording process with SIGKILL at
random moments, hundreds of times, and check after every kill that the file
is sound, the chain verifies, and every rating the process had reported as
committed is on disk.

How the recording processes are started matters for speed. Starting a fresh
interpreter per kill costs far more in imports than the recording itself, so
one small "fork server" process imports the desk once and forks a recorder on
demand (POSIX only: fork and SIGKILL). Each recorder is a real, separate OS process with its own SQLite
connection, killed with SIGKILL like any other; the fork server itself never
opens the database (a connection must not be carried across fork).

``HAILONG_KILLS`` sets how many kills (default 200); ``HAILONG_KILL_SEED``
replays a run's random moments (the seed is printed in every failure).
"""

from __future__ import annotations

import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sync.record import GENESIS_HASH, verify_chain
from tests.conftest import ROOT

KILLS = int(os.environ.get("HAILONG_KILLS", "200"))
FRESH_FILE_KILLS = 40
# How long the parent waits for a line before deciding the recorder is stuck.
LINE_TIMEOUT_S = 20.0

# -- the child side ------------------------------------------------------------


def _say(line: str) -> None:
    """Write one line to the pipe in a single system call: a pipe write this
    short is atomic, so a kill can never leave half a line (print() may write
    the text and the newline separately)."""
    os.write(1, (line + "\n").encode())


def _recorder(config_path: str, seed: int) -> None:
    """Record ratings forever, reporting each one right after it is committed.

    Runs in a forked child; never returns. A line ``rec <seq> <uuid>`` means
    :meth:`RatingDesk.rate` (or ``add_details``) has returned, i.e. the record
    is committed.
    """
    from kiosk.config import load_settings
    from kiosk.desk import RatingDesk
    from kiosk.store import Store

    try:
        rng = random.Random(seed)
        settings = load_settings(config_path)
        desk = RatingDesk(settings, Store(settings.database))
        officers = [o.id for o in settings.active_officers]
        while True:
            rating = desk.rate(rng.choice(officers), rng.randint(1, desk.scale.size))
            _say(f"rec {rating.seq} {rating.uuid}")
            if rating.score == 1:
                details = desk.add_details(rating, ["waited_long"], "0900000123", consent=True)
                _say(f"rec {details.seq} {details.uuid}")
    except BaseException as exc:  # noqa: BLE001 - report anything, then leave without cleanup
        print(f"recorder failed: {exc!r}", file=sys.stderr, flush=True)
        os._exit(3)


def fork_server() -> None:
    """Read ``go <config> <seed>`` lines; fork a recorder for each, report its
    pid, wait for it to die and report how. Imports are paid once, here."""
    import kiosk.desk  # noqa: F401 - warm the imports the recorders need
    import kiosk.store  # noqa: F401

    for line in sys.stdin:
        command, *args = line.split()
        if command != "go":
            break
        pid = os.fork()
        if pid == 0:
            _recorder(args[0], int(args[1]))
        _say(f"child {pid}")
        _, status = os.waitpid(pid, 0)
        _say(f"exit {pid} {status}")


# -- the parent side -------------------------------------------------------------


@dataclass
class Round:
    """What one recorder reported before it was killed."""

    committed: list[tuple[int, str]] = field(default_factory=list)
    status: int = 0


class ForkServer:
    """The parent's handle on the fork server process."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from tests.test_durability import fork_server; fork_server()"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.errors: list[str] = []
        # The recorder of the round in progress, to kill if a round fails
        # half-way (otherwise it would outlive the test).
        self.live_pid: int | None = None
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines), daemon=True).start()
        threading.Thread(target=self._collect, daemon=True).start()

    @staticmethod
    def _pump(stream, sink: queue.Queue) -> None:
        for line in stream:
            sink.put(line.rstrip("\n"))

    def _collect(self) -> None:
        for line in self.proc.stderr:
            self.errors.append(line.rstrip("\n"))

    def _next(self) -> str:
        try:
            return self.lines.get(timeout=LINE_TIMEOUT_S)
        except queue.Empty:
            raise AssertionError(f"no word from the recorder; stderr: {self.errors[-5:]}") from None

    def kill_one(self, config: Path, seed: int, after_commits: int, extra_delay_s: float) -> Round:
        """Start a recorder, let it commit ``after_commits`` records, wait
        ``extra_delay_s`` more, SIGKILL it, and return what it reported."""
        result = Round()
        self.proc.stdin.write(f"go {config} {seed}\n")
        self.proc.stdin.flush()
        pid = None
        # The child's lines and the server's "child <pid>" line may come in
        # either order: both write to the same pipe.
        while pid is None or len(result.committed) < after_commits:
            line = self._next()
            if line.startswith("child "):
                pid = self.live_pid = int(line.split()[1])
            elif line.startswith("rec "):
                _, seq, uuid = line.split()
                result.committed.append((int(seq), uuid))
            elif line.startswith("exit "):
                raise AssertionError(f"recorder died by itself: {line}; stderr: {self.errors[-5:]}")
        if extra_delay_s:
            time.sleep(extra_delay_s)
        os.kill(pid, signal.SIGKILL)
        while True:
            line = self._next()
            if line.startswith("rec "):
                _, seq, uuid = line.split()
                result.committed.append((int(seq), uuid))
            elif line.startswith(f"exit {pid} "):
                result.status = int(line.split()[2])
                self.live_pid = None
                return result

    def close(self) -> None:
        if self.live_pid is not None:
            try:
                os.kill(self.live_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc.poll() is None:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def fork_server_proc():
    server = ForkServer()
    yield server
    server.close()


def _check_after_kill(db_path: Path, verified: tuple[int, str], rnd: Round, where: str) -> tuple[int, str]:
    """Open the file as the restarted app would and check it; return the new
    trusted end of the chain (seq, hash)."""
    from kiosk.store import Store

    assert os.WIFSIGNALED(rnd.status) and os.WTERMSIG(rnd.status) == signal.SIGKILL, (
        f"{where}: the recorder was not killed by us (status {rnd.status})"
    )
    store = Store(db_path)
    try:
        assert store.integrity_ok(), f"{where}: integrity_check failed"
        last_seq, last_hash = verified
        new = store.records(after_seq=last_seq)
        findings = verify_chain(new, start_seq=last_seq + 1, start_prev_hash=last_hash)
        assert findings == [], f"{where}: {findings}"
        # Every record reported as committed is there, in the order reported...
        on_disk = [(r.seq, r.uuid) for r in new]
        assert on_disk[: len(rnd.committed)] == rnd.committed, f"{where}: a committed record is missing"
        # ...and at most one more: the one being tapped when the kill came,
        # committed but not yet reported.
        assert len(on_disk) - len(rnd.committed) in (0, 1), f"{where}: {on_disk[len(rnd.committed):]}"
        return (new[-1].seq, new[-1].hash) if new else verified
    finally:
        store.close()


def _kill_plan(rng: random.Random) -> tuple[int, float]:
    """Where to kill: a third of the time at a random moment from the start
    (opening the file, the first insert), otherwise after a random number of
    commits plus a random fraction of one more (mid-insert, mid-commit)."""
    if rng.random() < 1 / 3:
        return 0, rng.uniform(0, 0.006)
    return rng.randint(1, 6), rng.uniform(0, 0.0015)


@pytest.mark.slow
def test_sigkill_never_loses_a_committed_rating(tmp_path: Path, demo_tree: dict, fork_server_proc: ForkServer) -> None:
    from kiosk.store import Store
    from tests.conftest import write_config

    seed = int(os.environ.get("HAILONG_KILL_SEED", random.randrange(2**32)))
    rng = random.Random(seed)
    config = write_config(tmp_path, demo_tree)
    db_path = tmp_path / "data" / "hailong.db"
    verified: tuple[int, str] = (0, GENESIS_HASH)
    reported: list[tuple[int, str]] = []
    waited_for = 0
    started = time.perf_counter()
    for kill in range(KILLS):
        after, delay = _kill_plan(rng)
        waited_for += after
        rnd = fork_server_proc.kill_one(config, rng.randrange(2**31), after, delay)
        verified = _check_after_kill(db_path, verified, rnd, f"kill {kill + 1} of {KILLS} (seed {seed})")
        reported.extend(rnd.committed)
    elapsed = time.perf_counter() - started

    # One database across every kill: the chain grew across all restarts and
    # still verifies from the first record.
    store = Store(db_path)
    try:
        assert store.integrity_ok()
        assert store.verify() == [], f"seed {seed}"
        on_disk = {r.uuid: r.seq for r in store.records()}
        assert all(on_disk.get(uuid) == seq for seq, uuid in reported), f"seed {seed}"
        # The kills did land among the commits, not only before the first.
        assert len(on_disk) >= len(reported) >= waited_for > 0
        assert store.count() == verified[0]
    finally:
        store.close()
    print(f"{KILLS} kills, {len(reported)} committed records, {elapsed:.1f} s, seed {seed}")


@pytest.mark.slow
def test_sigkill_while_creating_the_database(tmp_path: Path, demo_tree: dict, fork_server_proc: ForkServer) -> None:
    """Killed while the file is being created and migrated, a tablet must
    still start: migrations are all-or-nothing, never half applied."""
    from kiosk.store import Store
    from kiosk.store.migrations import migrations
    from tests.conftest import write_config

    seed = int(os.environ.get("HAILONG_KILL_SEED", random.randrange(2**32)))
    rng = random.Random(seed)
    for attempt in range(FRESH_FILE_KILLS):
        folder = tmp_path / f"t{attempt}"
        folder.mkdir()
        config = write_config(folder, demo_tree)
        rnd = fork_server_proc.kill_one(config, rng.randrange(2**31), 0, rng.uniform(0, 0.008))
        where = f"fresh file {attempt} (seed {seed})"
        _check_after_kill(folder / "data" / "hailong.db", (0, GENESIS_HASH), rnd, where)
        store = Store(folder / "data" / "hailong.db")
        try:
            assert migrations().pending(store.db) == [], where
            assert store.db.execute("SELECT count(*) FROM device").fetchone()[0] == 1, where
        finally:
            store.close()
