"""Simulated citizens: record ratings through the same code path as a tap.

``python -m kiosk.simulate --config config.yaml --count 500`` records 500
ratings with :meth:`RatingDesk.rate` (and, like a citizen who answers the
follow-up screens, sometimes :meth:`RatingDesk.add_details`), for demos, load
tests and benchmarks. Every record it writes carries ``simulated: true``
inside the hashed record, so no report or score can mistake it for a real
citizen's opinion, and nobody can strip the flag without breaking the chain.

The simulator bypasses nothing silently:

* The officer is chosen the way the tablet would: a random active officer in
  ``choose`` mode, the tablet's own officer in ``officer`` mode, the officer on
  duty in ``counter`` mode. When nobody is signed in at the counter, the
  simulator signs an officer in (``--officer``, or the first active one), says
  so, and signs them out again at the end.
* A counter outside its working hours refuses ratings: the simulator prints
  why on one line and exits with status 1, unless ``--ignore-hours`` is given
  (which it also announces).
* Taps closer together than ``rating.burst_interval_s`` are flagged ``burst``
  exactly as real ones are. By default taps follow each other as fast as the
  disk allows, so all but the first are flagged; ``--interval`` waits that many
  real seconds between taps (use the burst interval or more for a demo without
  flags). The summary says how many were flagged.
* ``--days N`` spreads the ratings over the last N working days instead (the
  days ``working_hours`` opens, today's only up to now), at times a counter
  sees: inside the opening sessions, busier in the morning and early in each
  session, a citizen every few minutes at most. Each record carries its
  simulated time on a simulated clock (its own boot id), so the burst flag
  follows the simulated gaps, as on a real day.

``--seed`` makes the choice of officers, scores, reasons and call-back
requests reproducible; UUIDs, comment tokens and times are real, as on a
tablet.

Exit status: 0 done, 1 the counter is closed or the store failed, 2 a broken
config (the same one-line error the kiosk prints) or bad arguments, 130
interrupted (what was committed stays committed).
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import TextIO

from kiosk.config import WEEKDAYS, AttributionMode, ConfigError, Officer, Settings, WorkingHours, load_settings
from kiosk.desk import CounterClosed, DeviceClock, RatingDesk
from kiosk.i18n import catalogue
from kiosk.store import Store, StoreError
from sync.record import Record
from sync.scale import Level

__all__ = ["SimulatedClock", "Simulator", "SimulationResult", "main", "spread_times", "working_sessions"]

# How often each level is tapped, before an officer's own bias. Public
# one-stop reports show most citizens satisfied and a small, uneven tail of
# unhappy ones; scales without a level simply drop it and the rest are
# renormalised.
BASE_WEIGHTS = {
    "very_satisfied": 55.0,
    "satisfied": 30.0,
    "neutral": 7.0,
    "dissatisfied": 5.0,
    "very_dissatisfied": 3.0,
}
# An officer's low-level weights are multiplied by a factor drawn from this
# range, so the dashboards show officers who differ, as real ones do.
OFFICER_BIAS = (0.4, 2.5)
# Share of low ratings where the citizen picks reasons / asks for a call-back,
# and of high ratings (when the tablet asks) where they pick what went well.
LOW_REASONS_SHARE = 0.75
CALLBACK_SHARE = 0.2
HIGH_REASONS_SHARE = 0.35
# Simulated call-back numbers all share this prefix, so nobody mistakes one
# for a citizen's (the records are flagged simulated as well).
FAKE_PHONE_PREFIX = "0900000"
# Below this many ratings a progress line is noise.
PROGRESS_FROM = 200
# The hours of a commune office when the settings name none: Monday to Friday.
DEFAULT_SESSIONS = ((clock_time(7, 30), clock_time(11, 30)), (clock_time(13, 30), clock_time(17, 0)))
# Mornings bring more citizens than afternoons to a one-stop counter.
MORNING_WEIGHT = 1.4
# The least time between two simulated citizens at one counter.
MIN_GAP = timedelta(seconds=40)


def working_sessions(hours: WorkingHours, day: datetime) -> tuple[tuple[clock_time, clock_time], ...]:
    """The opening sessions of ``day``'s weekday; when the settings name no
    session on any day, Monday to Friday 07:30-11:30 and 13:30-17:00."""
    if any(hours.sessions.values()):
        return tuple(hours.sessions.get(WEEKDAYS[day.weekday()], ()))
    return DEFAULT_SESSIONS if day.weekday() < 5 else ()


def spread_times(hours: WorkingHours, days: int, count: int, rng: random.Random, now: datetime) -> list[datetime]:
    """``count`` moments over the last ``days`` working days up to ``now``
    (today's sessions only up to ``now``), oldest first: each day gets a share
    (some days busier than others), each moment falls inside a session,
    mornings and the first part of a session weigh more, and two moments are
    at least :data:`MIN_GAP` apart."""
    windows: list[list[tuple[datetime, datetime]]] = []
    day = now
    for _ in range(366 * 2):  # look back at most two years for enough working days
        if len(windows) == days:
            break
        spans = []
        for start, end in working_sessions(hours, day):
            a = day.replace(hour=start.hour, minute=start.minute, second=0, microsecond=0)
            b = min(day.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0), now)
            if b - a > MIN_GAP:
                spans.append((a, b))
        if spans:
            windows.append(spans)
        day -= timedelta(days=1)
    if not windows or count <= 0:
        return []
    windows.reverse()
    weights = [rng.uniform(0.7, 1.3) * sum((b - a).total_seconds() for a, b in spans) for spans in windows]
    per_day = [0] * len(windows)
    for index in rng.choices(range(len(windows)), weights, k=count):
        per_day[index] += 1
    moments: list[datetime] = []
    for spans, n in zip(windows, per_day, strict=True):
        span_weights = [(b - a).total_seconds() * (MORNING_WEIGHT if a.hour < 12 else 1.0) for a, b in spans]
        picked = []
        for a, b in rng.choices(spans, span_weights, k=n):
            # Busiest a third of the way into a session, quiet at its end.
            seconds = rng.triangular(0, (b - a).total_seconds(), (b - a).total_seconds() / 3)
            picked.append(a + timedelta(seconds=seconds))
        picked.sort()
        for i in range(1, len(picked)):
            picked[i] = max(picked[i], picked[i - 1] + MIN_GAP)
        moments += picked
    return moments


class SimulatedClock:
    """A :class:`kiosk.desk.DeviceClock` steered by the simulator: wall time
    and monotonic time both follow :attr:`at`, on a boot of their own."""

    def __init__(self, at: datetime):
        self.at = at
        self.boot = f"simulated-{random.getrandbits(64):016x}"

    def device_clock(self) -> DeviceClock:
        """The desk's clock, reading this one."""
        return DeviceClock(now=lambda: self.at, monotonic_ns=lambda: int(self.at.timestamp() * 1e9),
                           boot=lambda: self.boot)


@dataclasses.dataclass
class SimulationResult:
    """What a run recorded."""

    ratings: list[Record] = dataclasses.field(default_factory=list)
    details: list[Record] = dataclasses.field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def bursts(self) -> int:
        return sum(1 for r in self.ratings if r.burst)

    def by_level(self) -> Counter:
        return Counter(r.level for r in self.ratings)

    def by_officer(self) -> Counter:
        return Counter(r.officer_id for r in self.ratings)


class Simulator:
    """Plays citizens at one desk: picks the officer and the level, taps,
    and sometimes answers the reasons and call-back screens."""

    def __init__(self, desk: RatingDesk, *, seed: int | None = None, officer: Officer | None = None):
        self.desk = desk
        self.rng = random.Random(seed)
        settings = desk.settings
        if settings.mode == AttributionMode.CHOOSE:
            self.candidates = (officer,) if officer else settings.active_officers
        else:
            self.candidates = ()
        # Draw every officer's bias up front, in roster order, so a seed gives
        # the same figures whichever officers end up being rated.
        self.bias = {o.id: self.rng.uniform(*OFFICER_BIAS) for o in settings.officers}

    def pick_officer(self) -> Officer:
        """The officer this citizen rates, as the tablet would attribute it."""
        if self.candidates:
            return self.rng.choice(self.candidates)
        on_duty = self.desk.officer_on_duty()
        if on_duty is None:
            # The desk refuses the tap too; let it say why.
            raise CounterClosed(self.desk.closed_reason() or "no_officer")
        return on_duty

    def pick_level(self, officer: Officer) -> Level:
        levels = self.desk.scale.levels
        weights = [
            BASE_WEIGHTS[level.key] * (self.bias[officer.id] if level.low else 1.0)
            for level in levels
        ]
        return self.rng.choices(levels, weights)[0]

    def tap(self) -> tuple[Record, Record | None]:
        """One citizen: a rating, and the details they add, if any."""
        officer = self.pick_officer()
        level = self.pick_level(officer)
        rating = self.desk.rate(officer.id, level.score, simulated=True)
        settings = self.desk.settings
        reasons: list[str] = []
        phone = None
        if level.low:
            if self.rng.random() < LOW_REASONS_SHARE:
                reasons = self._some(settings.low_reasons, (1, 1, 2, 2, 3))
            if self.rng.random() < CALLBACK_SHARE:
                phone = FAKE_PHONE_PREFIX + f"{self.rng.randrange(1000):03d}"
        elif settings.reasons_on_high and self.rng.random() < HIGH_REASONS_SHARE:
            reasons = self._some(settings.high_reasons, (1, 1, 2))
        details = self.desk.add_details(rating, reasons, phone, consent=phone is not None)
        return rating, details

    def _some(self, reasons: Sequence, sizes: tuple[int, ...]) -> list[str]:
        if not reasons:
            return []
        k = min(len(reasons), self.rng.choice(sizes))
        return [r.id for r in self.rng.sample(list(reasons), k)]


class _Progress:
    """A progress line on stderr: redrawn in place on a terminal, a line per
    tenth otherwise (logs of a load test stay short)."""

    def __init__(self, total: int, stream: TextIO, enabled: bool):
        self.total = total
        self.stream = stream
        self.enabled = enabled and total >= PROGRESS_FROM
        self.tty = stream.isatty()
        self.started = time.perf_counter()
        self.last_draw = 0.0
        self.last_tenth = 0

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if self.tty:
            if now - self.last_draw < 0.2 and done < self.total:
                return
            self.last_draw = now
            self.stream.write("\r" + self._text(done, now))
            if done >= self.total:
                self.stream.write("\n")
        else:
            tenth = done * 10 // self.total
            if tenth == self.last_tenth:
                return
            self.last_tenth = tenth
            self.stream.write(self._text(done, now) + "\n")
        self.stream.flush()

    def close(self, done: int) -> None:
        # A run cut short leaves the cursor at the end of a redrawn line.
        if self.enabled and self.tty and done < self.total:
            self.stream.write("\n")
            self.stream.flush()

    def _text(self, done: int, now: float) -> str:
        elapsed = now - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        return f"{done}/{self.total} ratings ({done * 100 // self.total}%), {rate:.0f}/s"


def _closed_line(reason: str, settings: Settings, desk: RatingDesk) -> str:
    """Why the counter refuses ratings, in one line, in both languages."""
    vi, en = catalogue("vi"), catalogue("en")
    text = f"counter closed: {vi.get(f'closed.{reason}')} ({en.get(f'closed.{reason}')})"
    if reason == "outside_hours":
        today = settings.working_hours.describe(desk.clock.now()) or en.get("closed.no_hours")
        text += f"; today: {today}; use --ignore-hours to simulate anyway"
    return text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m kiosk.simulate",
        description="Record simulated ratings through the tablet's own code path "
        "(flagged simulated in every record). "
        "Example: python -m kiosk.simulate --config config.yaml --count 500 --seed 1",
    )
    parser.add_argument("--config", type=Path, default=Path("config.yaml"), help="the tablet's config file")
    parser.add_argument("--count", type=_non_negative_int, default=100, help="how many ratings (default 100)")
    parser.add_argument("--seed", type=int, help="make officers, scores and reasons reproducible")
    parser.add_argument(
        "--interval",
        type=_non_negative_float,
        default=0.0,
        help="real seconds to wait between taps (default 0: as fast as the disk "
        "allows, so taps closer than rating.burst_interval_s are flagged burst)",
    )
    parser.add_argument(
        "--officer",
        help="choose mode: rate only this officer; counter mode: the officer to "
        "sign in when nobody is on duty (default: the first active one)",
    )
    parser.add_argument(
        "--ignore-hours",
        action="store_true",
        help="record even outside working_hours (said aloud, never silently)",
    )
    parser.add_argument(
        "--days",
        type=_non_negative_int,
        default=0,
        help="spread the ratings over the last N working days at realistic times "
        "(default 0: all now, one after the other)",
    )
    parser.add_argument("--database", type=Path, help="write to this database file instead of storage.database")
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    return parser


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:  # also refuses NaN
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def main(argv: list[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Command line; returns the exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    args = _parser().parse_args(argv)

    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(exc.line(), file=err)
        return 2
    if args.database is not None:
        settings = dataclasses.replace(settings, database=args.database)
    if args.ignore_hours and settings.working_hours.enforce:
        settings = dataclasses.replace(
            settings, working_hours=WorkingHours(enforce=False, sessions=settings.working_hours.sessions)
        )
        print("note: working hours are not enforced for this run (--ignore-hours)", file=err)

    chosen: Officer | None = None
    if args.officer is not None:
        try:
            chosen = settings.officer(args.officer)
        except KeyError:
            print(f"error: --officer {args.officer}: not on the roster", file=err)
            return 2
        if not chosen.active:
            print(f"error: --officer {args.officer}: not active on the roster", file=err)
            return 2

    try:
        store = Store(settings.database)
    except StoreError as exc:
        print(f"error: cannot open the store: {exc}", file=err)
        return 1
    try:
        return _run(args, settings, store, chosen, out, err)
    finally:
        store.close()


def _run(
    args: argparse.Namespace,
    settings: Settings,
    store: Store,
    chosen: Officer | None,
    out: TextIO,
    err: TextIO,
) -> int:
    schedule: list[datetime] = []
    simulated_clock = None
    if args.days:
        if args.interval:
            print("error: --days spreads the ratings in simulated time; leave out --interval", file=err)
            return 2
        rng = random.Random(None if args.seed is None else args.seed + 1)
        schedule = spread_times(settings.working_hours, args.days, args.count, rng, DeviceClock().now())
        if len(schedule) < args.count:
            print("error: working_hours opens no session on any day to spread ratings over", file=err)
            return 2
        simulated_clock = SimulatedClock(schedule[0])
    desk = RatingDesk(settings, store, simulated_clock.device_clock() if simulated_clock else None)
    if not settings.working_hours.is_open(desk.clock.now()):
        print(_closed_line("outside_hours", settings, desk), file=err)
        return 1

    signed_in: Officer | None = None
    on_duty = desk.officer_on_duty()
    if settings.mode == AttributionMode.OFFICER and chosen is not None and chosen.id != settings.mode_officer:
        print(
            f"error: --officer {chosen.id}: this tablet belongs to {settings.mode_officer} (attribution.officer)",
            file=err,
        )
        return 2
    if settings.mode == AttributionMode.COUNTER:
        if on_duty is None:
            signed_in = chosen or settings.active_officers[0]
            desk.sign_in(signed_in.id)
            print(
                f"note: nobody was on duty at {settings.counter_id}; signed in {signed_in.id} "
                "for this run (signed out again at the end)",
                file=err,
            )
        elif chosen is not None and chosen.id != on_duty.id:
            print(
                f"error: {on_duty.id} is on duty at {settings.counter_id}; sign them out "
                f"on the tablet first, or leave out --officer",
                file=err,
            )
            return 1

    simulator = Simulator(desk, seed=args.seed, officer=chosen)
    result = SimulationResult()
    progress = _Progress(args.count, err, enabled=not args.quiet)
    status = 0
    started = time.perf_counter()
    try:
        for i in range(args.count):
            if i and args.interval:
                time.sleep(args.interval)
            if simulated_clock is not None:
                simulated_clock.at = schedule[i]
            rating, details = simulator.tap()
            result.ratings.append(rating)
            if details is not None:
                result.details.append(details)
            progress.update(i + 1)
    except CounterClosed as exc:
        progress.close(len(result.ratings))
        print(_closed_line(exc.reason, settings, desk), file=err)
        status = 1
    except KeyboardInterrupt:
        progress.close(len(result.ratings))
        print("interrupted: what was recorded so far is committed", file=err)
        status = 130
    finally:
        result.elapsed_s = time.perf_counter() - started
        if signed_in is not None:
            desk.sign_out()
    _summary(result, settings, store, desk, args, out)
    return status


def _summary(
    result: SimulationResult,
    settings: Settings,
    store: Store,
    desk: RatingDesk,
    args: argparse.Namespace,
    out: TextIO,
) -> None:
    count = len(result.ratings)
    rate = count / result.elapsed_s if result.elapsed_s > 0 else 0.0
    vi = catalogue("vi")
    print(
        f"simulated {count} ratings in {result.elapsed_s:.2f} s ({rate:.0f} per second) "
        f"into {settings.database}",
        file=out,
    )
    levels = result.by_level()
    print(
        "  by level: "
        + ", ".join(
            f"{vi.get(f'level.{level.key}')} ({level.key}) {levels.get(level.key, 0)}"
            for level in desk.scale.best_first
        ),
        file=out,
    )
    officers = result.by_officer()
    print(
        "  by officer: " + ", ".join(f"{oid} {n}" for oid, n in sorted(officers.items())),
        file=out,
    )
    callbacks = sum(1 for d in result.details if d.callback_consent)  # sealed: counted, never read
    print(
        f"  details: {len(result.details)} records ({callbacks} call-back requests)",
        file=out,
    )
    hint = "" if args.interval >= settings.burst_interval_s else (
        f"; taps closer than {settings.burst_interval_s:g} s are flagged, "
        f"--interval {settings.burst_interval_s:g} spaces them"
    )
    if args.days and result.ratings:
        hint = ""
        days = sorted({r.device_time[:10] for r in result.ratings})
        print(f"  spread over {len(days)} working days, {days[0]} to {days[-1]}, inside working hours", file=out)
    print(f"  burst-flagged: {result.bursts}{hint}", file=out)
    findings = store.verify()
    chain = "intact" if not findings else f"{len(findings)} problems, first: {findings[0]}"
    print(f"  chain: {chain} ({store.count()} records on this device)", file=out)


if __name__ == "__main__":
    sys.exit(main())
