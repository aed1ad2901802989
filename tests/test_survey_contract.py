"""The survey contract both ends share: questionnaires, campaigns, answers."""

from datetime import date

import pytest

from sync.survey import (
    Campaign,
    Questionnaire,
    SurveyError,
    answers_of_text,
    answers_text,
    check_answers,
    missing_required,
)


def _plain(**changes):
    data = {
        "id": "khao-sat-1",
        "version": 1,
        "title": "Khảo sát mức độ hài lòng",
        "sections": [
            {
                "title": "Tiếp cận dịch vụ",
                "questions": [
                    {"key": "q1", "kind": "scale", "text": "Nơi ngồi chờ có đủ chỗ", "required": True},
                    {
                        "key": "q2",
                        "kind": "single",
                        "text": "Ông/Bà biết thủ tục qua đâu?",
                        "options": [{"key": "a", "text": "Cổng dịch vụ công"}, {"key": "b", "text": "Người quen"}],
                    },
                    {
                        "key": "q3",
                        "kind": "multiple",
                        "text": "Giấy tờ đã nộp",
                        "options": [{"key": "x", "text": "Bản sao"}, {"key": "y", "text": "Bản chính"}],
                    },
                ],
            },
            {"title": "Công chức", "questions": [{"key": "q4", "kind": "officer", "text": "Người đã phục vụ"}]},
            {"title": "Góp ý", "questions": [{"key": "q5", "kind": "text", "text": "Ý kiến khác"}]},
        ],
    }
    data.update(changes)
    return data


def test_a_questionnaire_round_trips_through_its_plain_form():
    questionnaire = Questionnaire.from_dict(_plain())
    assert [q.key for q in questionnaire.questions] == ["q1", "q2", "q3", "q4", "q5"]
    assert Questionnaire.from_dict(questionnaire.to_dict()) == questionnaire


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"version": 0}, "not_a_positive_integer"),
        ({"sections": []}, "empty"),
        ({"title": "  "}, "empty"),
    ],
)
def test_a_broken_questionnaire_is_refused_with_its_place(change, code):
    with pytest.raises(SurveyError) as caught:
        Questionnaire.from_dict(_plain(**change))
    assert caught.value.code == code


def test_a_question_key_used_twice_or_a_choice_with_one_option_is_refused():
    data = _plain()
    data["sections"][1]["questions"][0]["key"] = "q1"
    with pytest.raises(SurveyError) as caught:
        Questionnaire.from_dict(data)
    assert caught.value.code == "duplicate" and caught.value.path == "sections[1].questions[0].key"
    data = _plain()
    data["sections"][0]["questions"][1]["options"] = [{"key": "a", "text": "Một"}]
    with pytest.raises(SurveyError, match="too_few"):
        Questionnaire.from_dict(data)


def test_answers_are_normalised_and_checked_per_question():
    questionnaire = Questionnaire.from_dict(_plain())
    normal = check_answers(
        questionnaire, {"q3": ["y", "x"], "q1": "4", "q5": "  tốt ", "q2": "", "q4": "o1"}, frozenset({"o1"})
    )
    assert normal == {"q1": 4, "q3": ["x", "y"], "q4": "o1", "q5": "tốt"}
    assert list(normal) == ["q1", "q3", "q4", "q5"]
    assert missing_required(questionnaire, {"q2": "a"}) == ["q1"]
    for bad, code in [
        ({"q1": 6}, "outside_scale"),
        ({"q2": "z"}, "unknown_option"),
        ({"q3": "x"}, "not_a_list"),
        ({"q4": "o2"}, "unknown_officer"),
        ({"q5": "a" * 501}, "too_long"),
        ({"q9": 1}, "unknown_question"),
    ]:
        with pytest.raises(SurveyError) as caught:
            check_answers(questionnaire, bad, frozenset({"o1"}))
        assert caught.value.code == code


def test_the_answers_text_is_canonical_and_keeps_vietnamese():
    text = answers_text({"q5": "Rất tốt", "q1": 5})
    assert text == '{"q1":5,"q5":"Rất tốt"}'
    assert answers_of_text(text) == {"q1": 5, "q5": "Rất tốt"}
    with pytest.raises(SurveyError):
        answers_of_text("[1]")


def test_a_campaign_round_trips_and_knows_its_days():
    campaign = Campaign(
        "c1", "Khảo sát quý IV", date(2026, 10, 1), date(2026, 12, 31), Questionnaire.from_dict(_plain()), target=200
    )
    again = Campaign.from_dict(campaign.to_dict())
    assert again == campaign
    assert again.runs_on(date(2026, 12, 31)) and not again.runs_on(date(2027, 1, 1))
    data = campaign.to_dict()
    data["ends_on"] = "2026-09-30"
    with pytest.raises(SurveyError, match="before_start"):
        Campaign.from_dict(data)
