"""Surveys: the questionnaire, its answers and the campaign a tablet runs.

The Fatherland Front (MTTQ) surveys the people who come to the one-stop
counter, periodically and before the model starts (a baseline). A survey is a
:class:`Questionnaire` — sections of questions, each of one
:data:`QUESTION_KINDS` — asked during a :class:`Campaign`. The commune server
designs them; a tablet receives the campaigns it runs and records each
citizen's answer set as a chained record; the server also takes answers from
the citizen's phone and from paper. Whatever the channel, an answer set is
checked here, by the same code, so an answer the tablet records is one the
server accepts.

A questionnaire is identified by ``id`` and ``version``: once answers exist,
editing it makes a new version and old answers keep theirs. Answers are a map
from question key to value (see :func:`check_answers`); a question left
unanswered is absent. Texts are the commune's own words, in Vietnamese; the
chrome around them (buttons, headings) lives in each end's catalogues.

Survey answers are never officer ratings: nothing here scores an officer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

__all__ = [
    "QUESTION_KINDS",
    "CHANNELS",
    "AGREEMENT_POINTS",
    "MAX_TEXT_ANSWER_CHARS",
    "SurveyError",
    "Option",
    "Question",
    "Section",
    "Questionnaire",
    "Campaign",
    "check_answers",
    "missing_required",
    "answers_text",
    "answers_of_text",
]

QUESTION_KINDS = ("single", "multiple", "scale", "text", "officer")
"""``single``: one option; ``multiple``: any options; ``scale``: a 1–5
agreement scale (1 = hoàn toàn không đồng ý … 5 = hoàn toàn đồng ý);
``text``: a short free text; ``officer``: "the officer who served you",
answered by choosing an officer of the roster (their id)."""

CHANNELS = ("kiosk", "phone", "paper")
"""Where an answer set came from."""

AGREEMENT_POINTS = 5
MAX_TEXT_ANSWER_CHARS = 500
MAX_OPTIONS = 20
MAX_QUESTIONS = 80
_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}\Z")


class SurveyError(ValueError):
    """A questionnaire, campaign or answer set that breaks a rule.

    ``path`` names the place (``sections[1].questions[0].options``, or a
    question key for answers) and ``code`` the problem, which each end words
    in its own catalogue."""

    def __init__(self, path: str, code: str, detail: str = "") -> None:
        super().__init__(f"{path}: {code}" + (f" ({detail})" if detail else ""))
        self.path = path
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Option:
    """One choice of a ``single`` or ``multiple`` question."""

    key: str
    text: str


@dataclass(frozen=True)
class Question:
    """One question. ``options`` only for ``single`` and ``multiple``."""

    key: str
    kind: str
    text: str
    required: bool = False
    options: tuple[Option, ...] = ()

    def option(self, key: str) -> Option | None:
        """The option with that key, or None."""
        return next((o for o in self.options if o.key == key), None)


@dataclass(frozen=True)
class Section:
    """A titled group of questions (e.g. one SIPAS aspect)."""

    title: str
    questions: tuple[Question, ...]


@dataclass(frozen=True)
class Questionnaire:
    """A versioned questionnaire: what is asked, in order."""

    id: str
    version: int
    title: str
    sections: tuple[Section, ...]
    intro: str = ""

    @property
    def questions(self) -> tuple[Question, ...]:
        """Every question, in the order asked."""
        return tuple(q for s in self.sections for q in s.questions)

    def question(self, key: str) -> Question | None:
        """The question with that key, or None."""
        return next((q for q in self.questions if q.key == key), None)

    def to_dict(self) -> dict[str, Any]:
        """The plain form stored by the server and sent to tablets."""
        return {
            "id": self.id,
            "version": self.version,
            "title": self.title,
            "intro": self.intro,
            "sections": [
                {
                    "title": s.title,
                    "questions": [
                        {
                            "key": q.key,
                            "kind": q.kind,
                            "text": q.text,
                            "required": q.required,
                            "options": [{"key": o.key, "text": o.text} for o in q.options],
                        }
                        for q in s.questions
                    ],
                }
                for s in self.sections
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Questionnaire:
        """Read and check the plain form; raises :class:`SurveyError`."""
        if not isinstance(data, Mapping):
            raise SurveyError("questionnaire", "not_a_mapping")
        qid = _text(data, "id", "id", required=True, limit=64)
        version = data.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise SurveyError("version", "not_a_positive_integer")
        sections_data = data.get("sections")
        if not isinstance(sections_data, list) or not sections_data:
            raise SurveyError("sections", "empty")
        sections = []
        keys: set[str] = set()
        for si, sdata in enumerate(sections_data):
            where = f"sections[{si}]"
            if not isinstance(sdata, Mapping):
                raise SurveyError(where, "not_a_mapping")
            questions = []
            qdatas = sdata.get("questions")
            if not isinstance(qdatas, list) or not qdatas:
                raise SurveyError(f"{where}.questions", "empty")
            for qi, qdata in enumerate(qdatas):
                question = _question(qdata, f"{where}.questions[{qi}]")
                if question.key in keys:
                    raise SurveyError(f"{where}.questions[{qi}].key", "duplicate", question.key)
                keys.add(question.key)
                questions.append(question)
            sections.append(Section(_text(sdata, "title", f"{where}.title", limit=200), tuple(questions)))
        if len(keys) > MAX_QUESTIONS:
            raise SurveyError("sections", "too_many_questions", str(MAX_QUESTIONS))
        return cls(
            id=qid,
            version=version,
            title=_text(data, "title", "title", required=True, limit=200),
            sections=tuple(sections),
            intro=_text(data, "intro", "intro", limit=1000),
        )


@dataclass(frozen=True)
class Campaign:
    """A questionnaire asked over a period. ``kiosk`` says whether tablets
    ask it (the server sends a tablet only the campaigns it runs)."""

    id: str
    title: str
    starts_on: date
    ends_on: date
    questionnaire: Questionnaire
    kiosk: bool = True
    target: int = 0
    """How many answer sets the campaign aims for (0: no target)."""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def runs_on(self, day: date) -> bool:
        """Whether the campaign is open on ``day`` (both ends included)."""
        return self.starts_on <= day <= self.ends_on

    def to_dict(self) -> dict[str, Any]:
        """The wire form a tablet receives."""
        return {
            "id": self.id,
            "title": self.title,
            "starts_on": self.starts_on.isoformat(),
            "ends_on": self.ends_on.isoformat(),
            "kiosk": self.kiosk,
            "target": self.target,
            "questionnaire": self.questionnaire.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Campaign:
        """Read and check the wire form; raises :class:`SurveyError`."""
        if not isinstance(data, Mapping):
            raise SurveyError("campaign", "not_a_mapping")
        try:
            starts = date.fromisoformat(str(data.get("starts_on")))
            ends = date.fromisoformat(str(data.get("ends_on")))
        except ValueError:
            raise SurveyError("starts_on", "not_a_date") from None
        if ends < starts:
            raise SurveyError("ends_on", "before_start")
        target = data.get("target", 0)
        if not isinstance(target, int) or isinstance(target, bool) or target < 0:
            raise SurveyError("target", "not_a_count")
        return cls(
            id=_text(data, "id", "id", required=True, limit=64),
            title=_text(data, "title", "title", required=True, limit=200),
            starts_on=starts,
            ends_on=ends,
            kiosk=bool(data.get("kiosk", True)),
            target=target,
            questionnaire=Questionnaire.from_dict(data.get("questionnaire") or {}),
        )


def check_answers(
    questionnaire: Questionnaire, answers: Mapping[str, Any], officer_ids: frozenset[str] | None = None
) -> dict[str, Any]:
    """The answer set in its normal form, or :class:`SurveyError` naming the
    question. Values: ``single`` an option key; ``multiple`` a non-empty list
    of option keys (kept in the questionnaire's order); ``scale`` an integer
    1–5; ``text`` a non-blank string of at most :data:`MAX_TEXT_ANSWER_CHARS`
    (trimmed); ``officer`` an officer id (one of ``officer_ids`` when given).
    Empty values count as unanswered and are dropped. Required questions are
    not enforced here (a citizen may leave half-way): see :func:`missing_required`."""
    if not isinstance(answers, Mapping):
        raise SurveyError("answers", "not_a_mapping")
    normal: dict[str, Any] = {}
    for key, value in answers.items():
        question = questionnaire.question(key) if isinstance(key, str) else None
        if question is None:
            raise SurveyError(str(key), "unknown_question")
        if value is None or value == "" or value == []:
            continue
        normal[key] = _answer(question, value, officer_ids)
    return {q.key: normal[q.key] for q in questionnaire.questions if q.key in normal}


def missing_required(questionnaire: Questionnaire, answers: Mapping[str, Any]) -> list[str]:
    """Keys of the required questions ``answers`` leaves unanswered, in order."""
    return [q.key for q in questionnaire.questions if q.required and q.key not in answers]


def answers_text(answers: Mapping[str, Any]) -> str:
    """The canonical text of an answer set (sorted keys, no spaces, UTF-8
    characters kept): what a survey record carries and hashes."""
    return json.dumps(dict(answers), ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def answers_of_text(text: str) -> dict[str, Any]:
    """The answer set of :func:`answers_text`; raises :class:`SurveyError`."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        raise SurveyError("answers", "not_json") from None
    if not isinstance(value, dict):
        raise SurveyError("answers", "not_a_mapping")
    return value


def _answer(question: Question, value: Any, officer_ids: frozenset[str] | None) -> Any:
    kind = question.kind
    if kind == "single":
        if not isinstance(value, str) or question.option(value) is None:
            raise SurveyError(question.key, "unknown_option", str(value)[:40])
        return value
    if kind == "multiple":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SurveyError(question.key, "not_a_list")
        chosen = set(value)
        unknown = [v for v in value if question.option(v) is None]
        if unknown:
            raise SurveyError(question.key, "unknown_option", unknown[0][:40])
        return [o.key for o in question.options if o.key in chosen]
    if kind == "scale":
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= AGREEMENT_POINTS:
            raise SurveyError(question.key, "outside_scale", str(value)[:40])
        return value
    if kind == "text":
        if not isinstance(value, str):
            raise SurveyError(question.key, "not_text")
        text = value.strip()
        if len(text) > MAX_TEXT_ANSWER_CHARS:
            raise SurveyError(question.key, "too_long", str(MAX_TEXT_ANSWER_CHARS))
        return text
    # officer
    if not isinstance(value, str) or not value or (officer_ids is not None and value not in officer_ids):
        raise SurveyError(question.key, "unknown_officer", str(value)[:40])
    return value


def _question(data: Any, where: str) -> Question:
    if not isinstance(data, Mapping):
        raise SurveyError(where, "not_a_mapping")
    key = data.get("key")
    if not isinstance(key, str) or not _KEY.match(key):
        raise SurveyError(f"{where}.key", "bad_key", str(key)[:40])
    kind = data.get("kind")
    if kind not in QUESTION_KINDS:
        raise SurveyError(f"{where}.kind", "unknown_kind", str(kind)[:40])
    options: list[Option] = []
    raw_options = data.get("options") or []
    if not isinstance(raw_options, list):
        raise SurveyError(f"{where}.options", "not_a_list")
    if kind in ("single", "multiple"):
        if len(raw_options) < 2:
            raise SurveyError(f"{where}.options", "too_few")
        if len(raw_options) > MAX_OPTIONS:
            raise SurveyError(f"{where}.options", "too_many", str(MAX_OPTIONS))
        seen: set[str] = set()
        for oi, odata in enumerate(raw_options):
            owhere = f"{where}.options[{oi}]"
            if not isinstance(odata, Mapping):
                raise SurveyError(owhere, "not_a_mapping")
            okey = odata.get("key")
            if not isinstance(okey, str) or not _KEY.match(okey) or okey in seen:
                raise SurveyError(f"{owhere}.key", "bad_key", str(okey)[:40])
            seen.add(okey)
            options.append(Option(okey, _text(odata, "text", f"{owhere}.text", required=True, limit=200)))
    elif raw_options:
        raise SurveyError(f"{where}.options", "not_for_this_kind")
    return Question(
        key=key,
        kind=kind,
        text=_text(data, "text", f"{where}.text", required=True, limit=500),
        required=bool(data.get("required", False)),
        options=tuple(options),
    )


def _text(data: Mapping[str, Any], name: str, where: str, *, required: bool = False, limit: int) -> str:
    value = data.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise SurveyError(where, "not_text")
    value = value.strip()
    if required and not value:
        raise SurveyError(where, "empty")
    if len(value) > limit:
        raise SurveyError(where, "too_long", str(limit))
    return value
