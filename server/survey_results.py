"""The results of a survey campaign and the comparison of two, free of SQL and HTTP.

The Fatherland Front reads a campaign's answer sets question by question:

* how many answered each question; for a ``single`` question the count and
  share of each option among those who answered it; for a ``multiple`` one
  the count and share of the respondents who ticked each option (shares may
  add up to more than 100%);
* for a ``scale`` question (1–5) the distribution, the mean and the share
  agreeing (4 or 5) with its 95% Wilson interval and the n it rests on
  (:class:`server.scores.Rate`, as every rate of the dashboard);
* for a ``text`` question the answers themselves (a summary shows only their
  number; :func:`masked_text` hides phone numbers and e-mail addresses typed
  into them before anyone reads them);
* for an ``officer`` question how many named each officer;
* the answer sets by channel (kiosk, phone, paper) and over time, by local
  week or month of the commune's time zone (:func:`over_time`).

A questionnaire changes by new versions; an answer set keeps the version it
was given under, and :func:`campaign_results` shows it under that version's
own questions (:class:`VersionResults`, newest version first).

:func:`compare` sets two campaigns side by side (the baseline before the
model started against the latest, say): questions matched by key (or, when
the key changed, by the same wording), and for each share both intervals and
whether the difference is beyond their overlap — only then is it called a
change rather than chance.

Answer sets come from the store as any object with the attributes of
:class:`AnswerSet`.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from server.scores import Bucket, Grain, Period, Rate
from sync.survey import AGREEMENT_POINTS, CHANNELS, Campaign, Question, Questionnaire

__all__ = [
    "AGREE_FROM",
    "Answered",
    "AnswerSet",
    "OptionCount",
    "ScaleSummary",
    "TextAnswer",
    "OfficerCount",
    "QuestionResult",
    "SectionResults",
    "VersionResults",
    "CampaignResults",
    "TimeBucket",
    "ShareChange",
    "QuestionComparison",
    "Comparison",
    "masked_text",
    "local_day",
    "question_result",
    "campaign_results",
    "pooled_results",
    "over_time",
    "compare",
    "MASK",
    "CampaignReport",
    "natural_grain",
    "campaign_report",
    "CampaignComparison",
    "compare_campaigns",
]

AGREE_FROM = 4
"""The scale points that count as agreeing: 4 (đồng ý) and 5 (hoàn toàn đồng ý)."""


class Answered(Protocol):
    """What the results need of a stored answer set."""

    channel: str
    answered_at: datetime | str
    questionnaire_version: int
    answers: Mapping[str, Any]
    complete: bool


@dataclass(frozen=True)
class AnswerSet:
    """One citizen's answers: where and when they were given, under which
    version of the questionnaire, and whether every required question was answered."""

    channel: str
    answered_at: datetime
    questionnaire_version: int
    answers: Mapping[str, Any]
    complete: bool = True


# -- what a question's answers come to -------------------------------------------------


@dataclass(frozen=True)
class OptionCount:
    """An option of a choice question: how many chose it, out of ``rate.n``
    who answered the question (``rate.share`` its share, with its interval)."""

    key: str
    text: str
    rate: Rate

    @property
    def count(self) -> int:
        return self.rate.satisfied

    @property
    def share(self) -> float | None:
        return self.rate.share


@dataclass(frozen=True)
class ScaleSummary:
    """A 1–5 scale's answers: ``distribution[point]`` for points 1 to 5, the
    mean and the agreeing share (4–5) as a :class:`Rate`."""

    distribution: tuple[tuple[int, int], ...]
    mean: float | None
    agreeing: Rate

    def count(self, point: int) -> int:
        """How many answered ``point``."""
        return dict(self.distribution).get(point, 0)

    def share(self, point: int) -> float | None:
        """The share of those who answered that answered ``point``."""
        return self.count(point) / self.agreeing.n if self.agreeing.n else None


@dataclass(frozen=True)
class TextAnswer:
    """A free text a citizen typed, with where and when."""

    answered_at: datetime
    channel: str
    text: str


@dataclass(frozen=True)
class OfficerCount:
    """How many named an officer, out of ``answered``."""

    officer_id: str
    count: int
    answered: int

    @property
    def share(self) -> float | None:
        return self.count / self.answered if self.answered else None


@dataclass(frozen=True)
class QuestionResult:
    """A question and what its answers come to (the parts of its kind)."""

    question: Question
    answered: int
    options: tuple[OptionCount, ...] = ()
    scale: ScaleSummary | None = None
    texts: tuple[TextAnswer, ...] = ()
    officers: tuple[OfficerCount, ...] = ()


@dataclass(frozen=True)
class SectionResults:
    """A section's title and its questions' results."""

    title: str
    questions: tuple[QuestionResult, ...]


@dataclass(frozen=True)
class VersionResults:
    """The answer sets given under one version of the questionnaire, read
    against that version's own questions."""

    questionnaire: Questionnaire
    respondents: int
    complete: int
    sections: tuple[SectionResults, ...]

    @property
    def version(self) -> int:
        return self.questionnaire.version

    @property
    def questions(self) -> tuple[QuestionResult, ...]:
        return tuple(q for s in self.sections for q in s.questions)

    def question(self, key: str) -> QuestionResult | None:
        """The result of the question with that key, or None."""
        return next((q for q in self.questions if q.question.key == key), None)


@dataclass(frozen=True)
class CampaignResults:
    """A campaign's results: every version answered (newest first), the
    answer sets by channel, under the channel filter ``channel`` (None: all)."""

    versions: tuple[VersionResults, ...]
    respondents: int
    complete: int
    by_channel: tuple[tuple[str, int], ...]
    channel: str | None
    first_answer: datetime | None
    last_answer: datetime | None

    @property
    def latest(self) -> VersionResults:
        """The newest version's results."""
        return self.versions[0]

    def channel_count(self, channel: str) -> int:
        """How many answer sets came through ``channel``."""
        return dict(self.by_channel).get(channel, 0)


# -- personal data in free text --------------------------------------------------------

# A run of 7 or more digits, with the spaces, dots and dashes people type in a
# phone number; and an e-mail address. Both are personal data nobody acts on here.
_PHONE = re.compile(r"(?<!\w)\+?\d(?:[\s.\-]?\d){6,}(?!\w)")
_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
MASK = "•••"


def masked_text(text: str) -> str:
    """``text`` with phone numbers and e-mail addresses replaced by ``•••``.

    A survey's free text is the citizen's opinion; a number typed into it is
    not asked for, has no consent behind it and is shown to nobody."""
    return _PHONE.sub(MASK, _EMAIL.sub(MASK, text))


# -- counting --------------------------------------------------------------------------


def _when(value: datetime | str) -> datetime:
    """An answer set's time as an aware datetime (text in ISO 8601; naive is UTC)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def local_day(value: datetime | str, zone: ZoneInfo) -> date:
    """The commune's local day of an answer set's time."""
    return _when(value).astimezone(zone).date()


def question_result(question: Question, answer_sets: Iterable[Answered]) -> QuestionResult:
    """What the answer sets' answers to ``question`` come to (an answer set
    that leaves it unanswered does not count towards it)."""
    given = [(a, a.answers[question.key]) for a in answer_sets if question.key in a.answers]
    answered = len(given)
    kind = question.kind
    if kind in ("single", "multiple"):
        chosen: Counter[str] = Counter()
        for _a, value in given:
            for key in dict.fromkeys([value] if isinstance(value, str) else list(value)):
                chosen[key] += 1
        options = tuple(OptionCount(o.key, o.text, Rate(answered, chosen.get(o.key, 0))) for o in question.options)
        return QuestionResult(question, answered, options=options)
    if kind == "scale":
        points = Counter(int(value) for _a, value in given)
        distribution = tuple((p, points.get(p, 0)) for p in range(1, AGREEMENT_POINTS + 1))
        total = sum(p * n for p, n in distribution)
        agreeing = sum(n for p, n in distribution if p >= AGREE_FROM)
        mean = total / answered if answered else None
        return QuestionResult(question, answered, scale=ScaleSummary(distribution, mean, Rate(answered, agreeing)))
    if kind == "text":
        texts = sorted(
            (TextAnswer(_when(a.answered_at), a.channel, str(v)) for a, v in given), key=lambda x: x.answered_at
        )
        return QuestionResult(question, answered, texts=tuple(texts))
    # officer: most named first, then by id
    named = Counter(str(value) for _a, value in given)
    officers = tuple(OfficerCount(oid, n, answered) for oid, n in sorted(named.items(), key=lambda i: (-i[1], i[0])))
    return QuestionResult(question, answered, officers=officers)


def _version_results(questionnaire: Questionnaire, answer_sets: Sequence[Answered]) -> VersionResults:
    sections = tuple(
        SectionResults(s.title, tuple(question_result(q, answer_sets) for q in s.questions))
        for s in questionnaire.sections
    )
    return VersionResults(questionnaire, len(answer_sets), sum(1 for a in answer_sets if a.complete), sections)


def _by_version(questionnaires: Questionnaire | Iterable[Questionnaire]) -> dict[int, Questionnaire]:
    found = [questionnaires] if isinstance(questionnaires, Questionnaire) else list(questionnaires)
    if not found:
        raise ValueError("no questionnaire")
    return {q.version: q for q in found}


def campaign_results(
    questionnaires: Questionnaire | Iterable[Questionnaire],
    answer_sets: Iterable[Answered],
    *,
    channel: str | None = None,
) -> CampaignResults:
    """A campaign's results: each version that has answer sets (and always
    the newest) read against its own questions, newest first.

    ``channel`` keeps only the answer sets of that channel (the counts by
    channel are of all of them). An answer set of a version not given is
    left out: the caller passes every version its answer sets name."""
    versions = _by_version(questionnaires)
    every = list(answer_sets)
    by_channel = Counter(a.channel for a in every)
    kept = [a for a in every if channel is None or a.channel == channel]
    grouped: dict[int, list[Answered]] = {}
    for a in kept:
        if a.questionnaire_version in versions:
            grouped.setdefault(a.questionnaire_version, []).append(a)
    newest = max(versions)
    shown = sorted(set(grouped) | {newest}, reverse=True)
    moments = [_when(a.answered_at) for a in kept]
    return CampaignResults(
        versions=tuple(_version_results(versions[v], grouped.get(v, [])) for v in shown),
        respondents=sum(len(g) for g in grouped.values()),
        complete=sum(1 for g in grouped.values() for a in g if a.complete),
        by_channel=tuple((c, by_channel.get(c, 0)) for c in CHANNELS)
        + tuple((c, n) for c, n in sorted(by_channel.items()) if c not in CHANNELS),
        channel=channel,
        first_answer=min(moments) if moments else None,
        last_answer=max(moments) if moments else None,
    )


def _same_question(a: Question, b: Question) -> bool:
    return a.key == b.key and a.kind == b.kind and a.text == b.text


def pooled_results(
    questionnaires: Questionnaire | Iterable[Questionnaire], answer_sets: Iterable[Answered]
) -> VersionResults:
    """The newest version's questions, each counting the answers of every
    version that asks it the same way (same key, kind and wording; options
    by key). What a comparison reads: a campaign as one set of figures."""
    versions = _by_version(questionnaires)
    newest = versions[max(versions)]
    every = [a for a in answer_sets if a.questionnaire_version in versions]
    sections = []
    for section in newest.sections:
        results = []
        for question in section.questions:
            asking = {
                v for v, q in versions.items() if (old := q.question(question.key)) and _same_question(old, question)
            }
            results.append(question_result(question, [a for a in every if a.questionnaire_version in asking]))
        sections.append(SectionResults(section.title, tuple(results)))
    return VersionResults(newest, len(every), sum(1 for a in every if a.complete), tuple(sections))


# -- over time -------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeBucket:
    """A week or a month of local days: the answer sets in it, by channel,
    and the agreeing share of each scale question (by key)."""

    bucket: Bucket
    respondents: int
    by_channel: tuple[tuple[str, int], ...]
    agreeing: tuple[tuple[str, Rate], ...]

    def rate(self, key: str) -> Rate:
        """The agreeing share of the scale question ``key`` in this bucket."""
        return dict(self.agreeing).get(key, Rate(0, 0))


def over_time(
    questionnaires: Questionnaire | Iterable[Questionnaire],
    answer_sets: Iterable[Answered],
    *,
    zone: ZoneInfo,
    grain: Grain | str = Grain.WEEK,
    first: date | None = None,
    last: date | None = None,
) -> list[TimeBucket]:
    """The answer sets by local week (Monday to Sunday) or month, from
    ``first`` to ``last`` (by default the first and last answer's day), cut
    at those ends. Each bucket holds the agreeing share of the newest
    version's scale questions, counting the versions that ask them alike."""
    grain = Grain(grain)
    versions = _by_version(questionnaires)
    newest = versions[max(versions)]
    every = [(local_day(a.answered_at, zone), a) for a in answer_sets if a.questionnaire_version in versions]
    if first is None or last is None:
        if not every:
            return []
        first = first or min(d for d, _a in every)
        last = last or max(d for d, _a in every)
    if last < first:
        return []
    scales = [q for q in newest.questions if q.kind == "scale"]
    asking = {
        q.key: {v for v, old in versions.items() if (o := old.question(q.key)) and _same_question(o, q)} for q in scales
    }
    buckets = Period.between(first, last, zone).buckets(grain)
    starts = [b.first for b in buckets]
    grouped: list[list[Answered]] = [[] for _ in buckets]
    for day, answer_set in every:
        if first <= day <= last:
            grouped[bisect_right(starts, day) - 1].append(answer_set)
    result = []
    for bucket, inside in zip(buckets, grouped, strict=True):
        channels = Counter(a.channel for a in inside)
        rates = []
        for q in scales:
            values = [
                int(a.answers[q.key]) for a in inside if a.questionnaire_version in asking[q.key] and q.key in a.answers
            ]
            rates.append((q.key, Rate(len(values), sum(1 for v in values if v >= AGREE_FROM))))
        result.append(TimeBucket(bucket, len(inside), tuple((c, channels.get(c, 0)) for c in CHANNELS), tuple(rates)))
    return result


# -- comparing two campaigns -----------------------------------------------------------


@dataclass(frozen=True)
class ShareChange:
    """One share in both campaigns (the agreeing share of a scale, or an
    option's share): ``before`` and ``after`` with their intervals."""

    label: str
    """The option's key, or ``agree`` for a scale's agreeing share."""
    text: str
    before: Rate
    after: Rate

    @property
    def difference(self) -> float | None:
        """``after`` minus ``before``, in shares (None when either has no answers)."""
        if self.before.share is None or self.after.share is None:
            return None
        return self.after.share - self.before.share

    @property
    def beyond_overlap(self) -> bool:
        """Whether the two 95% intervals do not overlap: a change too large
        to be put down to which citizens happened to answer."""
        if not self.before.n or not self.after.n:
            return False
        b_low, b_high = self.before.bounds or (0.0, 1.0)
        a_low, a_high = self.after.bounds or (0.0, 1.0)
        return a_low > b_high or a_high < b_low

    @property
    def direction(self) -> int:
        """1 up, -1 down beyond the overlap; 0 within it."""
        if not self.beyond_overlap:
            return 0
        return 1 if (self.difference or 0) > 0 else -1


@dataclass(frozen=True)
class QuestionComparison:
    """A question asked in both campaigns (``before`` or ``after`` None when
    asked in one only), how it was matched, and its shares side by side."""

    key: str
    before: QuestionResult | None
    after: QuestionResult | None
    matched_by: str
    """``key`` (same key and wording), ``key_reworded`` (same key, other
    words), ``text`` (same wording, another key), or ``none``."""
    changes: tuple[ShareChange, ...] = ()
    mean_before: float | None = None
    mean_after: float | None = None

    @property
    def question(self) -> Question:
        """The question as last asked."""
        found = self.after or self.before
        assert found is not None
        return found.question


@dataclass(frozen=True)
class Comparison:
    """Two campaigns' results question by question: first the questions of
    the later campaign in its order, then those asked only before."""

    before: VersionResults
    after: VersionResults
    questions: tuple[QuestionComparison, ...]

    def question(self, key: str) -> QuestionComparison | None:
        """The comparison of the question with that key, or None."""
        return next((q for q in self.questions if q.key == key), None)


def _match(
    before: VersionResults, question: Question, taken: set[str], after_keys: set[str]
) -> tuple[QuestionResult | None, str]:
    """The earlier result ``question`` matches and how: by key and kind, or
    by the same words and kind under a key the later campaign does not use."""
    found = before.question(question.key)
    if found is not None and found.question.kind == question.kind and found.question.key not in taken:
        return found, "key" if found.question.text == question.text else "key_reworded"
    for other in before.questions:
        q = other.question
        if q.text == question.text and q.kind == question.kind and q.key not in taken and q.key not in after_keys:
            return other, "text"
    return None, "none"


def _changes(before: QuestionResult, after: QuestionResult) -> tuple[ShareChange, ...]:
    kind = after.question.kind
    if kind == "scale" and before.scale and after.scale:
        return (ShareChange("agree", "", before.scale.agreeing, after.scale.agreeing),)
    if kind in ("single", "multiple"):
        old = {o.key: o for o in before.options}
        old_by_text = {o.text: o for o in before.options}
        changes = []
        for option in after.options:
            match = old.get(option.key) or old_by_text.get(option.text)
            previous = match.rate if match else Rate(before.answered, 0)
            changes.append(ShareChange(option.key, option.text, previous, option.rate))
        return tuple(changes)
    return ()


def compare(before: VersionResults, after: VersionResults) -> Comparison:
    """``before`` (e.g. the baseline) against ``after`` (e.g. the latest),
    question by question. A question is matched by its key and kind (noting
    when its words changed), or else by the same words and kind under another
    key. Scale questions compare their agreeing share and mean; choice
    questions each option's share (an option new in ``after`` counts 0 before);
    text and officer questions only how many answered."""
    after_keys = {q.question.key for q in after.questions}
    taken: set[str] = set()
    rows: list[QuestionComparison] = []
    for result in after.questions:
        question = result.question
        match, how = _match(before, question, taken, after_keys)
        if match is None:
            rows.append(QuestionComparison(question.key, None, result, how))
            continue
        taken.add(match.question.key)
        rows.append(
            QuestionComparison(
                question.key,
                match,
                result,
                how,
                _changes(match, result),
                mean_before=match.scale.mean if match.scale else None,
                mean_after=result.scale.mean if result.scale else None,
            )
        )
    for result in before.questions:
        if result.question.key not in taken:
            rows.append(QuestionComparison(result.question.key, result, None, "none"))
    return Comparison(before, after, tuple(rows))


# -- what the pages and files show -----------------------------------------------------


@dataclass(frozen=True)
class CampaignReport:
    """Everything a campaign's results page or file shows: the results (under
    the channel filter), each channel's figures, the answer sets over time."""

    campaign: Campaign
    results: CampaignResults
    channels: tuple[tuple[str, VersionResults], ...]
    """Each channel's pooled figures (all channels, whatever the filter)."""
    timeline: tuple[TimeBucket, ...]
    grain: Grain
    zone: ZoneInfo
    made_at: datetime

    @property
    def scale_questions(self) -> tuple[Question, ...]:
        """The newest version's scale questions, in order."""
        return tuple(q for q in self.campaign.questionnaire.questions if q.kind == "scale")


def natural_grain(first: date, last: date) -> Grain:
    """Weeks for a campaign of up to three months, months for a longer one."""
    return Grain.WEEK if (last - first).days < 92 else Grain.MONTH


def campaign_report(
    campaign: Campaign,
    questionnaires: Iterable[Questionnaire],
    answer_sets: Iterable[Answered],
    *,
    zone: ZoneInfo,
    made_at: datetime,
    channel: str | None = None,
    grain: Grain | str | None = None,
) -> CampaignReport:
    """A campaign's results, by channel and over its days (its first to its
    last day, or to the last answer's day when answers came in later).
    ``questionnaires`` are every version its answer sets name; the
    campaign's own version is added when missing."""
    versions = _by_version([*questionnaires, campaign.questionnaire])
    every = list(answer_sets)
    kept = [a for a in every if channel is None or a.channel == channel]
    days = [local_day(a.answered_at, zone) for a in every]
    first = min([campaign.starts_on, *days])
    last = max([min(campaign.ends_on, made_at.astimezone(zone).date()), *days])
    last = max(last, first)
    chosen = Grain(grain) if grain else natural_grain(first, last)
    return CampaignReport(
        campaign=campaign,
        results=campaign_results(versions.values(), every, channel=channel),
        channels=tuple((c, pooled_results(versions.values(), [a for a in every if a.channel == c])) for c in CHANNELS),
        timeline=tuple(over_time(versions.values(), kept, zone=zone, grain=chosen, first=first, last=last)),
        grain=chosen,
        zone=zone,
        made_at=made_at,
    )


@dataclass(frozen=True)
class CampaignComparison:
    """Two campaigns compared (``before`` e.g. the baseline, ``after`` the latest)."""

    before: Campaign
    after: Campaign
    comparison: Comparison
    made_at: datetime


def compare_campaigns(
    before: tuple[Campaign, Iterable[Questionnaire], Iterable[Answered]],
    after: tuple[Campaign, Iterable[Questionnaire], Iterable[Answered]],
    *,
    made_at: datetime,
) -> CampaignComparison:
    """Each campaign's answer sets pooled over the versions that ask alike
    (:func:`pooled_results`), then :func:`compare`."""
    pooled = []
    for campaign, questionnaires, answer_sets in (before, after):
        pooled.append(pooled_results([*questionnaires, campaign.questionnaire], answer_sets))
    return CampaignComparison(before[0], after[0], compare(pooled[0], pooled[1]), made_at)
