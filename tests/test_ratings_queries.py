"""The dashboard's figures from real ratings: made on a tablet through the
rating desk, uploaded to a real server and stored by the ingest, then counted
by local day in the commune's time zone and compared with counts worked out
here from the tablet's own records."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from zoneinfo import ZoneInfo

from kiosk.desk import DeviceClock
from server.figures import board, officer_history
from server.roster import RosterStore
from server.scores import SATISFIED_LEVELS, Exclusions, Grain, Period, PeriodKind, Rate, wilson_interval
from server.settings import load_settings, save_setting
from server.store import ratings as stored_ratings
from sync.record import KIND_RATING
from tests.sync_support import Commune, ManualClock, Tablet

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
# Local times of the taps: 06:30 on the 5th is 23:30 UTC on the 4th.
TAPS = [
    datetime(2026, 3, 4, 16, 0), datetime(2026, 3, 4, 23, 59),
    datetime(2026, 3, 5, 6, 30), datetime(2026, 3, 5, 7, 0), datetime(2026, 3, 5, 9, 15),
    datetime(2026, 3, 5, 9, 15, 2),  # 2 s after the last: a burst
    datetime(2026, 3, 5, 14, 0), datetime(2026, 3, 5, 23, 30), datetime(2026, 3, 6, 0, 10),
    datetime(2026, 3, 9, 8, 0), datetime(2026, 3, 31, 16, 45), datetime(2026, 4, 1, 6, 0),
]


class SteeredTime:
    """The tablet's wall clock and monotonic clock, and the server's clock, moved together."""

    def __init__(self, server: ManualClock):
        self.server = server
        self.local = TAPS[0].replace(tzinfo=HANOI)
        self.mono = 10**12

    def to(self, local: datetime) -> None:
        local = local.replace(tzinfo=HANOI)
        self.mono += int((local - self.local).total_seconds() * 1e9)
        self.local = local
        self.server.now = local.astimezone(ZoneInfo("UTC"))

    def device_clock(self) -> DeviceClock:
        return DeviceClock(now=lambda: self.local, monotonic_ns=lambda: self.mono, boot=lambda: "boot-1")


def _tablet_changes(tree: dict) -> None:
    tree["attribution"] = {"mode": "choose"}
    tree["rating"]["burst_interval_s"] = 5
    tree["working_hours"]["enforce"] = False


def test_figures_match_counts_from_the_tablets_records(tmp_path) -> None:
    server_clock = ManualClock()
    time = SteeredTime(server_clock)
    with Commune(tmp_path, clock=server_clock) as commune:
        tablet = Tablet(tmp_path / "tablet", commune.url, clock=time.device_clock(), tree_changes=_tablet_changes)
        tablet.pair(commune)
        RosterStore(commune.engine).import_file(tablet.config_path)
        officers = [o.id for o in tablet.settings.active_officers]
        made = []
        for i, tap in enumerate(TAPS):
            time.to(tap)
            record = tablet.desk.rate(officers[i % 2], 1 + (i * 2) % 3, simulated=i == 9)
            if record.score == 1:
                tablet.desk.add_details(record, ["waited_long", "not_listening"], "0912345678", consent=True)
            elif i % 4 == 0:
                tablet.desk.add_details(record, ["fast"])
            made.append(record)
        assert tablet.uploader().run_once().pending == 0

        # Independently: the local day of each tap as the tablet wrote it.
        ratings = [r for r in tablet.store.ratings() if r.kind == KIND_RATING]
        assert len(ratings) == len(TAPS)
        day_of = {r.uuid: datetime.fromisoformat(r.device_time).astimezone(HANOI).date() for r in ratings}
        assert day_of[made[2].uuid] == date(2026, 3, 5)  # 06:30 local on the 5th
        burst = {r.uuid for r in ratings if r.burst}
        simulated = {r.uuid for r in ratings if r.simulated}
        assert len(burst) == 1 and len(simulated) == 1

        def expected(day: date, exclusions: Exclusions, officer: str | None = None) -> Counter:
            counted = Counter()
            for r in ratings:
                if day_of[r.uuid] != day or (officer and r.officer_id != officer):
                    continue
                if (exclusions.burst and r.uuid in burst) or (exclusions.simulated and r.uuid in simulated):
                    continue
                counted[r.level] += 1
            return counted

        settings = load_settings(commune.engine)
        for day in (date(2026, 3, 4), date(2026, 3, 5), date(2026, 3, 6), date(2026, 3, 9)):
            for exclusions in (Exclusions(), Exclusions.none(), Exclusions.all()):
                figures = board(commune.engine, Period.of(PeriodKind.DAY, day, HANOI), exclusions, settings=settings)
                assert figures.commune.levels == {k: v for k, v in expected(day, exclusions).items() if v}, (day,)
                for officer in officers:
                    want = expected(day, exclusions, officer)
                    got = figures.officers.get(officer)
                    assert (got.levels if got else {}) == {k: v for k, v in want.items() if v}
                    rate = got.rate if got else Rate(0, 0)
                    satisfied = sum(v for k, v in want.items() if k in SATISFIED_LEVELS)
                    assert rate == Rate(sum(want.values()), satisfied)
                    if rate.n:
                        assert (rate.low, rate.high) == wilson_interval(satisfied, rate.n)

        on_the_5th = board(commune.engine, Period.of(PeriodKind.DAY, date(2026, 3, 5), HANOI))
        assert on_the_5th.commune.apart["burst"] == 1 and on_the_5th.commune.total == 6
        assert on_the_5th.ranking.too_few and not on_the_5th.ranking.ranked  # 30 needed to rank
        assert set(on_the_5th.names) >= set(officers)

        # Reasons: each given once per details record, under its headings.
        month = board(commune.engine, Period.of(PeriodKind.MONTH, date(2026, 3, 5), HANOI), Exclusions.none())
        low = [r for r in ratings if r.score == 1 and day_of[r.uuid].month == 3]
        assert month.reasons["waited_long"].faulted == len(low)
        faster = next(h for h in month.headings if h.heading == "aim_faster")
        assert faster.faulted == len(low)
        assert month.commune.total == sum(1 for r in ratings if day_of[r.uuid].month == 3)

        # An officer's history: by local day and in weekly buckets.
        officer = officers[0]
        history = officer_history(commune.engine, officer, Period.of(PeriodKind.MONTH, date(2026, 3, 1), HANOI),
                                  Exclusions.none(), grain=Grain.WEEK)
        mine = Counter(day_of[r.uuid] for r in ratings if r.officer_id == officer and day_of[r.uuid].month == 3)
        assert {d: f.total for d, f in history.days.items()} == dict(mine)
        for bucket, figures in history.trend:
            assert figures.total == sum(n for d, n in mine.items() if bucket.first <= d <= bucket.last)
        assert history.name and history.name != officer

        # A gap in the chain: the device's ratings count apart as "chain" until it closes.
        conn = tablet.store.db.conn
        conn.execute("DROP TRIGGER journal_no_delete")
        time.to(datetime(2026, 4, 1, 9, 0))
        tablet.desk.rate(officers[0], 3)
        time.to(datetime(2026, 4, 1, 9, 5))
        tablet.desk.rate(officers[0], 3)
        last_seq = conn.execute("SELECT max(seq) FROM journal").fetchone()[0]
        conn.execute("DELETE FROM journal WHERE seq = ?", (last_seq - 1,))
        assert tablet.uploader().run_once().pending == 0
        with commune.engine.begin() as db:
            assert stored_ratings.open_chain_devices(db) == {tablet.store.device_id}
        april = board(commune.engine, Period.of(PeriodKind.DAY, date(2026, 4, 1), HANOI), Exclusions(chain=True))
        assert april.commune.apart["chain"] == april.commune.total == 2 and april.commune.counted == 0
        tablet.close()


def test_a_dst_zone_groups_by_its_own_local_days(tmp_path) -> None:
    paris = ZoneInfo("Europe/Paris")
    server_clock = ManualClock()
    time = SteeredTime(server_clock)
    with Commune(tmp_path, clock=server_clock) as commune:
        save_setting(commune.engine, "timezone", "Europe/Paris")
        tablet = Tablet(tmp_path / "tablet", commune.url, clock=time.device_clock(), tree_changes=_tablet_changes)
        tablet.pair(commune)
        officer = tablet.settings.active_officers[0].id
        # Hanoi wall times whose Paris day differs around the spring change (29 March 2026).
        taps = [datetime(2026, 3, 29, 6, 30), datetime(2026, 3, 29, 8, 30), datetime(2026, 3, 30, 4, 30),
                datetime(2026, 3, 30, 5, 30), datetime(2026, 3, 28, 7, 30)]
        for tap in taps:
            time.to(tap)
            tablet.desk.rate(officer, 3)
        assert tablet.uploader().run_once().pending == 0
        expected = Counter(t.replace(tzinfo=HANOI).astimezone(paris).date() for t in taps)
        history = officer_history(commune.engine, officer,
                                  Period.between(date(2026, 3, 27), date(2026, 3, 31), paris), Exclusions.none())
        assert {d: f.total for d, f in history.days.items()} == dict(expected)
        tablet.close()
