"""The questionnaire designer's form without a browser: the draft read back
from its fields, the steps of its buttons, options keeping their keys, and
the SIPAS template in both languages."""

from __future__ import annotations

import json

import pytest

from server.i18n import translator
from server.survey_design import apply_action, draft_of_form, plain_of_draft, was_of
from server.surveys import answers_of_form, template_questionnaire
from sync.survey import Questionnaire


def _fields(draft: dict) -> dict[str, str]:
    """The fields a browser posts for a draft (as the template names them)."""
    fields = {"id": draft.get("id", ""), "title": draft["title"], "intro": draft.get("intro", "")}
    for i, section in enumerate(draft["sections"]):
        fields[f"s{i}.present"] = "1"
        fields[f"s{i}.title"] = section["title"]
        for j, q in enumerate(section["questions"]):
            f = f"s{i}.q{j}"
            fields.update(
                {
                    f"{f}.present": "1",
                    f"{f}.key": q["key"],
                    f"{f}.kind": q["kind"],
                    f"{f}.text": q["text"],
                    f"{f}.options": "\n".join(o["text"] for o in q["options"]),
                    f"{f}.was": was_of(q),
                }
            )
            if q["required"]:
                fields[f"{f}.required"] = "1"
    return fields


def _read(fields: dict[str, str]) -> dict:
    return draft_of_form(lambda name: fields.get(name, ""))


@pytest.mark.parametrize("language", ["vi", "en"])
def test_the_template_is_a_valid_questionnaire_on_the_five_sipas_aspects(language):
    template = template_questionnaire(translator(language))
    questionnaire = Questionnaire.from_dict({**template, "id": "mau"})
    assert len(questionnaire.sections) == 5
    assert {q.kind for q in questionnaire.questions} == {"scale", "single", "officer", "text"}
    assert all(q.text and not q.text.startswith("survey_template.") for q in questionnaire.questions)
    assert sum(q.required for q in questionnaire.questions) >= 4
    if language == "vi":
        assert questionnaire.sections[2].title == "III. Sự phục vụ của công chức"


def test_the_draft_round_trips_through_its_fields():
    template = template_questionnaire(translator("vi"))
    assert plain_of_draft(_read(_fields(template))) == {**template, "id": ""}


def test_an_option_keeps_its_key_when_corrected_or_moved_and_a_new_one_gets_a_new_key():
    draft = template_questionnaire(translator("vi"))
    fields = _fields(draft)
    # tc4's options: keys niem-yet, cong-dvc, can-bo, nguoi-quen, khac.
    lines = fields["s0.q3.options"].splitlines()
    lines[0] = "Bảng niêm yết tại trụ sở xã"  # corrected in place
    lines[1], lines[2] = lines[2], lines[1]  # swapped
    lines.insert(4, "Mạng xã hội (Zalo, Facebook)")  # a new one
    fields["s0.q3.options"] = "\n".join(lines)
    options = _read(fields)["sections"][0]["questions"][3]["options"]
    assert [o["key"] for o in options] == ["niem-yet", "can-bo", "cong-dvc", "nguoi-quen", "o1", "khac"]
    assert options[0]["text"] == "Bảng niêm yết tại trụ sở xã"


def test_the_buttons_add_move_and_remove_without_losing_anything():
    draft = _read(_fields(template_questionnaire(translator("vi"))))
    keys = lambda d: [[q["key"] for q in s["questions"]] for s in d["sections"]]  # noqa: E731
    before = keys(draft)
    apply_action(draft, "q_add:0")
    assert keys(draft)[0] == [*before[0], "q1"]
    apply_action(draft, "q_up:0:4")
    assert keys(draft)[0][3] == "q1"
    apply_action(draft, "q_up:1:0")  # the first question of a section moves to the end of the one above
    assert keys(draft)[0][-1] == before[1][0] and keys(draft)[1] == before[1][1:]
    apply_action(draft, "q_down:0:5")  # and back
    assert keys(draft)[1] == before[1]
    apply_action(draft, "q_remove:0:3")
    assert keys(draft)[0] == before[0]
    apply_action(draft, "s_down:0")
    assert keys(draft)[1] == before[0]
    apply_action(draft, "s_up:1")
    apply_action(draft, "s_add")
    assert len(draft["sections"]) == 6 and keys(draft)[5] == ["q1"]
    apply_action(draft, "s_remove:5")
    assert keys(draft) == before
    # Out of range or unknown: nothing changes; the last section and question stay.
    for action in ("q_remove:9:0", "s_up:0", "nonsense", "q_up:0:99", "s_remove:x"):
        apply_action(draft, action)
    assert keys(draft) == before
    single = {
        "id": "",
        "title": "t",
        "sections": [
            {"title": "", "questions": [{"key": "q1", "kind": "text", "text": "", "required": False, "options": []}]}
        ],
    }
    apply_action(single, "q_remove:0:0")
    apply_action(single, "s_remove:0")
    assert len(single["sections"]) == 1 and len(single["sections"][0]["questions"]) == 1


def test_a_duplicate_or_missing_question_key_gets_a_fresh_one():
    fields = _fields(template_questionnaire(translator("vi")))
    fields["s0.q1.key"] = "tc1"
    fields["s0.q2.key"] = ""
    questions = _read(fields)["sections"][0]["questions"]
    assert [q["key"] for q in questions[:3]] == ["tc1", "q1", "q2"]


def test_answers_are_read_from_the_forms_fields():
    questionnaire = Questionnaire.from_dict({**template_questionnaire(translator("vi")), "id": "mau"})
    posted = {
        "a.tc1": ["4"],
        "a.tc4": ["cong-dvc"],
        "a.cc0": [""],
        "a.gy4": ["  "],
        "a.kq3": ["hai-lan"],
        "a.unknown": ["x"],
    }
    assert answers_of_form(questionnaire, lambda name: posted.get(name, [])) == {
        "tc1": "4",
        "tc4": "cong-dvc",
        "kq3": "hai-lan",
    }
    assert json.dumps(answers_of_form(questionnaire, lambda name: []), ensure_ascii=False) == "{}"


def test_a_key_an_earlier_version_gave_is_never_given_again():
    fields = _fields(template_questionnaire(translator("vi")))
    fields["reserved"] = "tc1,q1,q2"  # q1 and q2 were questions of an earlier version, since removed
    draft = apply_action(_read(fields), "q_add:0")
    assert draft["sections"][0]["questions"][-1]["key"] == "q3"
    fields["s0.q1.key"] = ""
    assert _read(fields)["sections"][0]["questions"][1]["key"] == "q3"
    assert "reserved" not in plain_of_draft(draft)
