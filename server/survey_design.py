"""The questionnaire designer's form, free of HTTP: reading the draft back
from the posted fields, and the editing steps its buttons ask for.

The designer is one server-rendered form holding the whole draft; every
button (add a question, move a section up, remove an option list…) posts
it with ``action`` naming the step, and the page comes back with the step
applied and nothing typed lost. Only ``save`` stores it
(:meth:`server.surveys.SurveyDesk.save_questionnaire`), where the contract
checks it.

Fields (``i`` a section's place, ``j`` a question's place in it, from 0):
``id``, ``title``, ``intro``; ``s{i}.title``; ``s{i}.q{j}.key`` (hidden),
``.kind``, ``.text``, ``.required`` (a checkbox), ``.options`` (one option
per line) and ``.was`` (hidden: the options' keys and texts as last shown,
so an option keeps its key while its text is corrected); ``reserved``
(hidden: the question keys of the questionnaire's stored versions, never
given to a new question).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from sync.survey import MAX_OPTIONS, MAX_QUESTIONS

__all__ = [
    "ACTIONS",
    "draft_of_form",
    "apply_action",
    "empty_draft",
    "new_question",
    "options_text",
    "plain_of_draft",
    "was_of",
]

ACTIONS = ("refresh", "save", "s_add", "s_remove", "s_up", "s_down", "q_add", "q_remove", "q_up", "q_down")
"""The steps a designer's button asks for (``s_*`` with a section's place,
``q_*`` with a section's and a question's place: ``q_up:1:3``)."""

_MAX_SECTIONS = 20
_NUMBERED = re.compile(r"^(?:q|o)(\d+)$")


def empty_draft() -> dict[str, Any]:
    """A new questionnaire: one section with one question."""
    return {"id": "", "title": "", "intro": "", "sections": [{"title": "", "questions": [new_question(set())]}]}


def new_question(taken: set[str]) -> dict[str, Any]:
    """A blank agreement-scale question with a key no other question has."""
    return {"key": _next_key("q", taken), "kind": "scale", "text": "", "required": False, "options": []}


def options_text(question: Mapping[str, Any]) -> str:
    """A question's options as the designer's text area shows them, one per line."""
    return "\n".join(o["text"] for o in question.get("options", []))


def draft_of_form(field: Callable[[str], str]) -> dict[str, Any]:
    """The draft in the posted fields (``field(name)`` gives a field's value,
    ``""`` when absent), in the plain form of :class:`sync.survey.Questionnaire`
    less its version. Blank texts are kept (the contract refuses them on save)."""
    # A key an earlier version gave a question is never given to a new one:
    # results compare versions by key.
    reserved = sorted({k.strip() for k in field("reserved").split(",") if k.strip()})[:1000]
    draft: dict[str, Any] = {
        "id": field("id").strip()[:64],
        "title": field("title"),
        "intro": field("intro"),
        "sections": [],
        "reserved": reserved,
    }
    taken: set[str] = set()
    for i in range(_MAX_SECTIONS):
        prefix = f"s{i}"
        if not field(f"{prefix}.present"):
            break
        section: dict[str, Any] = {"title": field(f"{prefix}.title"), "questions": []}
        for j in range(MAX_QUESTIONS):
            q = f"{prefix}.q{j}"
            if not field(f"{q}.present"):
                break
            key = field(f"{q}.key").strip()
            if not key or key in taken:
                key = _next_key("q", taken | set(reserved))
            taken.add(key)
            kind = field(f"{q}.kind")
            question: dict[str, Any] = {
                "key": key,
                "kind": kind,
                "text": field(f"{q}.text"),
                "required": bool(field(f"{q}.required")),
            }
            # Kept whatever the kind, so switching it back and forth loses
            # nothing; saving drops them from the kinds without options.
            question["options"] = _options(field(f"{q}.options"), field(f"{q}.was"))
            section["questions"].append(question)
        draft["sections"].append(section)
    return draft


def apply_action(draft: dict[str, Any], action: str) -> dict[str, Any]:
    """The draft after one of the :data:`ACTIONS` (an unknown or out-of-range
    step changes nothing)."""
    name, _, rest = action.partition(":")
    places = [int(p) for p in rest.split(":") if p.isdigit()]
    sections = draft["sections"]
    taken = {q["key"] for s in sections for q in s["questions"]} | set(draft.get("reserved", ()))
    if name == "s_add" and len(sections) < _MAX_SECTIONS:
        sections.append({"title": "", "questions": [new_question(taken)]})
    elif name in ("s_remove", "s_up", "s_down") and places and 0 <= places[0] < len(sections):
        i = places[0]
        if name == "s_remove" and len(sections) > 1:
            del sections[i]
        elif name == "s_up" and i > 0:
            sections[i - 1], sections[i] = sections[i], sections[i - 1]
        elif name == "s_down" and i < len(sections) - 1:
            sections[i + 1], sections[i] = sections[i], sections[i + 1]
    elif name == "q_add" and places and 0 <= places[0] < len(sections) and _count(sections) < MAX_QUESTIONS:
        sections[places[0]]["questions"].append(new_question(taken))
    elif name in ("q_remove", "q_up", "q_down") and len(places) == 2 and 0 <= places[0] < len(sections):
        questions = sections[places[0]]["questions"]
        j = places[1]
        if not 0 <= j < len(questions):
            return draft
        if name == "q_remove" and len(questions) > 1:
            del questions[j]
        elif name == "q_up":
            if j > 0:
                questions[j - 1], questions[j] = questions[j], questions[j - 1]
            elif places[0] > 0 and len(questions) > 1:  # to the end of the section above
                sections[places[0] - 1]["questions"].append(questions.pop(j))
        elif name == "q_down":
            if j < len(questions) - 1:
                questions[j + 1], questions[j] = questions[j], questions[j + 1]
            elif places[0] < len(sections) - 1 and len(questions) > 1:  # to the start of the section below
                sections[places[0] + 1]["questions"].insert(0, questions.pop(j))
    return draft


def plain_of_draft(draft: Mapping[str, Any]) -> dict[str, Any]:
    """The draft as :meth:`sync.survey.Questionnaire.from_dict` reads it:
    options only on the kinds that have them."""
    return {
        "id": draft.get("id") or "",
        "version": 1,
        "title": draft.get("title", ""),
        "intro": draft.get("intro", ""),
        "sections": [
            {
                "title": s["title"],
                "questions": [
                    {
                        "key": q["key"],
                        "kind": q["kind"],
                        "text": q["text"],
                        "required": q["required"],
                        "options": q["options"] if q["kind"] in ("single", "multiple") else [],
                    }
                    for q in s["questions"]
                ],
            }
            for s in draft["sections"]
        ],
    }


def _options(text: str, was: str) -> list[dict[str, str]]:
    """The options typed one per line. A line whose text was already an
    option keeps that option's key; a line changed in place keeps the key of
    the line that was there; a new line gets a new key."""
    lines = [line.strip() for line in text.splitlines() if line.strip()][:MAX_OPTIONS]
    try:
        before = [(str(k), str(v)) for k, v in json.loads(was)] if was else []
    except (ValueError, TypeError):
        before = []
    by_text = {v: k for k, v in before}
    keys: list[str | None] = [by_text.get(line) for line in lines]
    used = {k for k in keys if k}
    for index, key in enumerate(keys):
        if key is None and index < len(before) and before[index][0] not in used and before[index][1] not in lines:
            keys[index] = before[index][0]
            used.add(before[index][0])
    taken = used | {k for k, _ in before}
    result = []
    for line, key in zip(lines, keys, strict=True):
        if key is None:
            key = _next_key("o", taken)
            taken.add(key)
        result.append({"key": key, "text": line})
    return result


def was_of(question: Mapping[str, Any]) -> str:
    """The hidden ``.was`` field of a question: its options' keys and texts."""
    return json.dumps([[o["key"], o["text"]] for o in question.get("options", [])], ensure_ascii=False)


def _count(sections: list[dict[str, Any]]) -> int:
    return sum(len(section["questions"]) for section in sections)


def _next_key(prefix: str, taken: set[str]) -> str:
    """The next numbered key (``q12``, ``o3``) after the highest taken one."""
    highest = max((int(m.group(1)) for k in taken if (m := _NUMBERED.match(k)) and k.startswith(prefix)), default=0)
    return f"{prefix}{highest + 1}"
