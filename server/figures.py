"""The dashboard's figures, ready for a page: the commune's board for a period
(every officer, ranked), an officer's history with its trend, and the
reasons under the plans' headings.

The rules are :mod:`server.scores`'; the queries :mod:`server.store.ratings`';
the time zone and ranking threshold come from :mod:`server.settings`. Pages
draw what these return and compute nothing themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TypeVar

from sqlalchemy import Engine

from server.scores import (
    Bucket,
    Exclusions,
    Figures,
    Grain,
    HeadingCount,
    Period,
    Place,
    Ranking,
    RatingGroup,
    ReasonGroup,
    ReasonTally,
    heading_counts,
    rank,
    reason_counts,
    tally,
    tally_by,
)
from server.settings import ServerSettings, load_settings
from server.store import ratings as stored_ratings
from server.store import read_transaction

__all__ = ["Board", "History", "board", "officer_history"]

G = TypeVar("G", RatingGroup, ReasonGroup)


@dataclass(frozen=True)
class Board:
    """Every officer's figures over a period, and the commune's."""

    period: Period
    exclusions: Exclusions
    commune: Figures
    officers: dict[str, Figures]
    """By officer id: every officer of the roster (zero ratings included) and any other rated."""
    names: dict[str, str]
    """Officers' names by id, from the roster (an id missing here is shown as it is)."""
    ranking: Ranking
    reasons: dict[str, ReasonTally]
    headings: list[HeadingCount]


@dataclass(frozen=True)
class History:
    """One officer's figures over a period, by trend bucket and by local day."""

    officer_id: str
    name: str
    period: Period
    exclusions: Exclusions
    total: Figures
    trend: list[tuple[Bucket, Figures]]
    days: dict[date, Figures]
    """By local day, only the days with ratings."""
    reasons: dict[str, ReasonTally]
    headings: list[HeadingCount]


def board(engine: Engine, period: Period, exclusions: Exclusions = Exclusions(), *,
          settings: ServerSettings | None = None, place: Place = Place.ALL) -> Board:
    """The board of ``period`` (``Period.today(settings.zone)`` for today's),
    of the ratings given at ``place`` (every place by default)."""
    settings = settings or load_settings(engine)
    with read_transaction(engine) as conn:
        chained = stored_ratings.open_chain_devices(conn)
        groups = _at(place, stored_ratings.rating_groups(conn, period, chained=chained))
        reasons = _at(place, stored_ratings.reason_groups(conn, period, chained=chained, by_day=False))
        names = stored_ratings.officer_names(conn)
    officers = {oid: Figures() for oid in names}
    officers.update(tally_by(groups, lambda g: g.officer_id, exclusions))
    counts = reason_counts(reasons, exclusions)
    return Board(
        period=period, exclusions=exclusions, commune=tally(groups, exclusions), officers=officers, names=names,
        ranking=rank({oid: f.rate for oid, f in officers.items()}, settings.rank_min_ratings),
        reasons=counts, headings=heading_counts(counts),
    )


def officer_history(engine: Engine, officer_id: str, period: Period, exclusions: Exclusions = Exclusions(),
                    *, grain: Grain | None = None, place: Place = Place.ALL) -> History:
    """An officer's figures over ``period``, with the trend in ``grain``-wide
    buckets (the period's natural one by default), of the ratings given at
    ``place`` (every place by default)."""
    with read_transaction(engine) as conn:
        chained = stored_ratings.open_chain_devices(conn)
        groups = _at(place, stored_ratings.rating_groups(conn, period, officer_id=officer_id, chained=chained))
        reasons = _at(place, stored_ratings.reason_groups(conn, period, officer_id=officer_id, chained=chained,
                                                          by_day=False))
        names = stored_ratings.officer_names(conn)
    buckets = period.buckets(grain)
    starts = {day: bucket for bucket in buckets for day in _days(bucket)}
    by_bucket = tally_by(groups, lambda g: starts.get(g.day), exclusions)
    counts = reason_counts(reasons, exclusions)
    return History(
        officer_id=officer_id, name=names.get(officer_id, officer_id), period=period, exclusions=exclusions,
        total=tally(groups, exclusions),
        trend=[(bucket, by_bucket.get(bucket, Figures())) for bucket in buckets],
        days=tally_by(groups, lambda g: g.day, exclusions),
        reasons=counts, headings=heading_counts(counts),
    )


def _at(place: Place, groups: list[G]) -> list[G]:
    """The groups of ratings given at ``place`` (every group for every place)."""
    if place is Place.ALL:
        return groups
    return [group for group in groups if place.admits(group.categories)]


def _days(bucket: Bucket) -> list[date]:
    return [bucket.first + timedelta(days=i) for i in range((bucket.last - bucket.first).days + 1)]
