"""A survey campaign's results and the comparison of two, against numbers
worked out by hand or counted again here in the plainest way."""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from server.survey_results import (
    AnswerSet,
    campaign_results,
    compare,
    masked_text,
    over_time,
    pooled_results,
    question_result,
)
from sync.survey import Questionnaire

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


def _questionnaire(version: int = 1, **changes) -> Questionnaire:
    wait_text = changes.get("wait_text", "Thời gian chờ đợi hợp lý")
    sections = [
        {
            "title": "Tiếp cận dịch vụ",
            "questions": [
                {"key": "wait", "kind": "scale", "text": wait_text, "required": True},
                {"key": "attitude", "kind": "scale", "text": "Công chức tiếp đón lịch sự"},
                {
                    "key": "heard",
                    "kind": "single",
                    "text": "Ông/Bà biết thủ tục qua đâu?",
                    "options": [
                        {"key": "portal", "text": "Cổng dịch vụ công"},
                        {"key": "friend", "text": "Người quen"},
                        {"key": "board", "text": "Bảng niêm yết"},
                    ],
                },
                {
                    "key": "papers",
                    "kind": "multiple",
                    "text": "Giấy tờ phải nộp thêm",
                    "options": [
                        {"key": "copy", "text": "Bản sao"},
                        {"key": "photo", "text": "Ảnh"},
                        {"key": "none", "text": "Không có"},
                    ],
                },
            ],
        },
        {"title": "Công chức", "questions": [{"key": "who", "kind": "officer", "text": "Người đã phục vụ"}]},
        {"title": "Góp ý", "questions": [{"key": "idea", "kind": "text", "text": "Ý kiến khác"}]},
    ]
    if version > 1:
        sections[0]["questions"].append({"key": "fee", "kind": "scale", "text": "Lệ phí được niêm yết rõ"})
    return Questionnaire.from_dict({"id": "ks", "version": version, "title": "Khảo sát", "sections": sections})


def _at(day: int, hour: int = 2) -> datetime:
    return datetime(2026, 3, day, hour, 0, tzinfo=UTC)


def _set(
    answers: dict, *, channel: str = "kiosk", at: datetime | None = None, version: int = 1, complete: bool = True
) -> AnswerSet:
    return AnswerSet(channel, at or _at(3), version, answers, complete)


# -- by hand ---------------------------------------------------------------------------------


def test_a_scale_question_by_hand():
    # 10 answers: 1, 3, 4×5, 5×3 → agreeing 8 of 10, mean 39/10.
    values = [5, 5, 4, 4, 4, 4, 5, 4, 3, 1]
    q = _questionnaire().question("wait")
    result = question_result(q, [_set({"wait": v}) for v in values] + [_set({})])
    assert result.answered == 10
    assert result.scale.distribution == ((1, 1), (2, 0), (3, 1), (4, 5), (5, 3))
    assert result.scale.mean == pytest.approx(3.9)
    assert (result.scale.agreeing.n, result.scale.agreeing.satisfied) == (10, 8)
    # The Wilson 95% interval of 8 out of 10, worked out on paper: 0.4902 to 0.9433.
    low, high = result.scale.agreeing.bounds
    assert low == pytest.approx(0.4902, abs=5e-5) and high == pytest.approx(0.9433, abs=5e-5)
    assert result.scale.share(4) == pytest.approx(0.5)


def test_choice_questions_by_hand():
    q = _questionnaire()
    sets = [
        _set({"heard": "portal", "papers": ["copy", "photo"]}),
        _set({"heard": "portal", "papers": ["copy"]}),
        _set({"heard": "friend", "papers": ["none"]}),
        _set({"heard": "portal"}),
        _set({}),
    ]
    single = question_result(q.question("heard"), sets)
    assert single.answered == 4
    assert [(o.key, o.count) for o in single.options] == [("portal", 3), ("friend", 1), ("board", 0)]
    assert [o.share for o in single.options] == [0.75, 0.25, 0.0]
    multiple = question_result(q.question("papers"), sets)
    # Shares of the 3 who answered: they add up to more than 100%.
    assert multiple.answered == 3
    assert [(o.key, o.count) for o in multiple.options] == [("copy", 2), ("photo", 1), ("none", 1)]
    assert sum(o.share for o in multiple.options) == pytest.approx(4 / 3)


def test_officers_are_counted_per_officer_and_texts_listed_in_time_order():
    q = _questionnaire()
    sets = [
        _set({"who": "lan"}),
        _set({"who": "binh"}),
        _set({"who": "lan"}),
        _set({"who": "an"}),
        _set({"idea": "Cần thêm ghế", "who": "lan"}, at=_at(5)),
        _set({"idea": "Nhanh hơn trước"}, at=_at(4), channel="paper"),
    ]
    officers = question_result(q.question("who"), sets)
    assert [(o.officer_id, o.count) for o in officers.officers] == [("lan", 3), ("an", 1), ("binh", 1)]
    assert officers.officers[0].share == pytest.approx(3 / 5)
    texts = question_result(q.question("idea"), sets)
    assert texts.answered == 2
    assert [(t.text, t.channel) for t in texts.texts] == [("Nhanh hơn trước", "paper"), ("Cần thêm ghế", "kiosk")]


def test_phone_numbers_and_addresses_typed_into_a_text_are_masked():
    assert masked_text("Gọi tôi 0912 345 678 nhé") == "Gọi tôi ••• nhé"
    assert masked_text("sđt: +84 912.345.678, mail an@example.vn") == "sđt: •••, mail •••"
    # Numbers a citizen may well mean to say stay.
    assert masked_text("Chờ 45 phút, 2 lần, năm 2026") == "Chờ 45 phút, 2 lần, năm 2026"


# -- a realistic campaign, counted again plainly --------------------------------------------


def _realistic(seed: int = 7, count: int = 240) -> list[AnswerSet]:
    rng = random.Random(seed)
    sets = []
    for i in range(count):
        answers: dict = {"wait": rng.choices([1, 2, 3, 4, 5], [1, 2, 3, 6, 4])[0]}
        if rng.random() < 0.9:
            answers["attitude"] = rng.choices([1, 2, 3, 4, 5], [1, 1, 2, 5, 7])[0]
        if rng.random() < 0.8:
            answers["heard"] = rng.choice(["portal", "friend", "friend", "board"])
        ticked = [k for k in ("copy", "photo", "none") if rng.random() < 0.4]
        if ticked:
            answers["papers"] = ticked
        if rng.random() < 0.7:
            answers["who"] = rng.choice(["lan", "binh", "an", "cuong"])
        if rng.random() < 0.2:
            answers["idea"] = f"Ý kiến số {i}"
        moment = datetime(2026, 3, 2, tzinfo=UTC) + timedelta(minutes=rng.randrange(0, 60 * 24 * 40))
        sets.append(
            AnswerSet(rng.choice(["kiosk", "kiosk", "phone", "paper"]), moment, 1, answers, rng.random() < 0.95)
        )
    return sets


def test_a_realistic_campaign_matches_a_plain_count():
    sets = _realistic()
    results = campaign_results([_questionnaire()], sets)
    latest = results.latest
    assert results.respondents == 240 == latest.respondents
    assert results.complete == sum(1 for s in sets if s.complete)
    for channel in ("kiosk", "phone", "paper"):
        assert results.channel_count(channel) == sum(1 for s in sets if s.channel == channel)
    for key in ("wait", "attitude"):
        values = [s.answers[key] for s in sets if key in s.answers]
        scale = latest.question(key).scale
        assert latest.question(key).answered == len(values)
        assert scale.mean == pytest.approx(sum(values) / len(values))
        agree = sum(1 for v in values if v >= 4)
        assert scale.agreeing.satisfied == agree
        # The Wilson interval, written out again.
        n, p, z = len(values), agree / len(values), 1.96
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        assert scale.agreeing.bounds == pytest.approx((centre - half, centre + half))
    heard = [s.answers["heard"] for s in sets if "heard" in s.answers]
    for option in latest.question("heard").options:
        assert option.count == heard.count(option.key)
        assert option.share == pytest.approx(heard.count(option.key) / len(heard))
    papers = [s.answers["papers"] for s in sets if "papers" in s.answers]
    for option in latest.question("papers").options:
        assert option.share == pytest.approx(sum(1 for p in papers if option.key in p) / len(papers))
    who = [s.answers["who"] for s in sets if "who" in s.answers]
    assert {o.officer_id: o.count for o in latest.question("who").officers} == {w: who.count(w) for w in set(who)}
    assert len(latest.question("idea").texts) == sum(1 for s in sets if "idea" in s.answers)


def test_the_channel_filter_keeps_one_channel_and_the_counts_by_channel_stay_whole():
    sets = _realistic()
    phone = campaign_results(_questionnaire(), sets, channel="phone")
    assert phone.channel == "phone"
    assert phone.respondents == sum(1 for s in sets if s.channel == "phone")
    assert phone.channel_count("kiosk") == sum(1 for s in sets if s.channel == "kiosk")
    values = [s.answers["wait"] for s in sets if s.channel == "phone"]
    assert phone.latest.question("wait").scale.agreeing.satisfied == sum(1 for v in values if v >= 4)


def test_over_time_cuts_local_weeks_and_months():
    q = _questionnaire()
    sets = [
        # Sunday 1 March 23:30 in Hà Nội (16:30 UTC): the week of 23 February.
        _set({"wait": 5}, at=datetime(2026, 3, 1, 16, 30, tzinfo=UTC)),
        # Sunday 1 March 17:30 UTC is Monday 2 March 00:30 there: the next week.
        _set({"wait": 1}, at=datetime(2026, 3, 1, 17, 30, tzinfo=UTC), channel="phone"),
        _set({"wait": 4}, at=_at(4)),
        _set({"attitude": 2}, at=_at(20)),
    ]
    weeks = over_time(q, sets, zone=ZONE, grain="week")
    assert [(w.bucket.first, w.bucket.last) for w in weeks] == [
        (date(2026, 3, 1), date(2026, 3, 1)),
        (date(2026, 3, 2), date(2026, 3, 8)),
        (date(2026, 3, 9), date(2026, 3, 15)),
        (date(2026, 3, 16), date(2026, 3, 20)),
    ]
    assert [w.respondents for w in weeks] == [1, 2, 0, 1]
    assert (weeks[1].rate("wait").n, weeks[1].rate("wait").satisfied) == (2, 1)
    assert dict(weeks[1].by_channel) == {"kiosk": 1, "phone": 1, "paper": 0}
    assert weeks[3].rate("wait").n == 0 and weeks[3].rate("attitude").n == 1
    months = over_time(q, sets, zone=ZONE, grain="month", first=date(2026, 2, 1), last=date(2026, 3, 31))
    assert [m.respondents for m in months] == [0, 4]


def test_answers_of_an_older_version_stay_under_their_own_questions():
    v1, v2 = _questionnaire(1), _questionnaire(2, wait_text="Thời gian chờ đợi ngắn")
    sets = [
        _set({"wait": 5}, version=1),
        _set({"wait": 2}, version=1),
        _set({"wait": 4, "fee": 5}, version=2),
        _set({"fee": 1}, version=2, complete=False),
    ]
    results = campaign_results([v1, v2], sets)
    assert [v.version for v in results.versions] == [2, 1]
    assert results.respondents == 4 and results.complete == 3
    new, old = results.versions
    assert new.question("fee").answered == 2 and old.question("fee") is None
    assert new.question("wait").question.text == "Thời gian chờ đợi ngắn"
    assert old.question("wait").question.text == "Thời gian chờ đợi hợp lý"
    assert (new.question("wait").answered, old.question("wait").answered) == (1, 2)
    # Pooled, a reworded question counts only its own version's answers; one asked alike counts both.
    pooled = pooled_results([v1, v2], sets)
    assert pooled.question("wait").answered == 1
    assert pooled.question("attitude").answered == 0
    same = pooled_results([v1, _questionnaire(2)], sets)
    assert same.question("wait").answered == 3
    # The newest version is shown even before anyone answered it.
    assert [v.version for v in campaign_results([v1, v2], sets[:2]).versions] == [2, 1]


# -- comparison ------------------------------------------------------------------------------


def test_a_baseline_against_the_latest_by_hand():
    q = _questionnaire()
    # Baseline: 3 of 10 agree the wait is reasonable; attitude 5 of 10.
    baseline = [_set({"wait": 5 if i < 3 else 2, "attitude": 4 if i < 5 else 3, "heard": "friend"}) for i in range(10)]
    # Latest: 36 of 40 agree; attitude 24 of 40 (60%): within the overlap.
    latest = [
        _set({"wait": 4 if i < 36 else 1, "attitude": 5 if i < 24 else 2, "heard": "portal" if i < 20 else "friend"})
        for i in range(40)
    ]
    comparison = compare(pooled_results(q, baseline), pooled_results(q, latest))
    wait = comparison.question("wait")
    assert wait.matched_by == "key"
    change = wait.changes[0]
    assert (change.before.satisfied, change.before.n, change.after.satisfied, change.after.n) == (3, 10, 36, 40)
    assert change.difference == pytest.approx(0.6)
    # 3/10 is 0.108–0.603, 36/40 is 0.769–0.960: apart.
    assert change.before.bounds[1] == pytest.approx(0.6032, abs=5e-4)
    assert change.after.bounds[0] == pytest.approx(0.7695, abs=5e-4)
    assert change.beyond_overlap and change.direction == 1
    attitude = comparison.question("attitude").changes[0]
    assert attitude.difference == pytest.approx(0.1)
    assert not attitude.beyond_overlap and attitude.direction == 0
    assert comparison.question("wait").mean_before == pytest.approx((3 * 5 + 7 * 2) / 10)
    heard = {c.label: c for c in comparison.question("heard").changes}
    assert heard["portal"].before.share == 0 and heard["portal"].after.share == 0.5
    assert heard["portal"].beyond_overlap  # 0/10 is 0–0.278, 20/40 is 0.352–0.648
    assert heard["friend"].direction == -1
    assert not comparison.question("who").changes and comparison.question("who").matched_by == "key"


def test_questions_are_matched_by_key_or_else_by_their_words():
    before = Questionnaire.from_dict(
        {
            "id": "a",
            "version": 1,
            "title": "A",
            "sections": [
                {
                    "title": "",
                    "questions": [
                        {"key": "q1", "kind": "scale", "text": "Thủ tục được hướng dẫn rõ ràng"},
                        {"key": "q2", "kind": "scale", "text": "Nơi chờ sạch sẽ"},
                        {"key": "q3", "kind": "scale", "text": "Chỉ hỏi trước đây"},
                    ],
                }
            ],
        }
    )
    after = Questionnaire.from_dict(
        {
            "id": "b",
            "version": 1,
            "title": "B",
            "sections": [
                {
                    "title": "",
                    "questions": [
                        {"key": "huong-dan", "kind": "scale", "text": "Thủ tục được hướng dẫn rõ ràng"},
                        {"key": "q2", "kind": "scale", "text": "Nơi ngồi chờ sạch sẽ, thoáng mát"},
                        {"key": "moi", "kind": "scale", "text": "Câu hỏi mới"},
                    ],
                }
            ],
        }
    )
    comparison = compare(
        pooled_results(before, [_set({"q1": 5, "q2": 4, "q3": 3})]),
        pooled_results(after, [_set({"huong-dan": 4, "q2": 2})]),
    )
    assert [(q.key, q.matched_by) for q in comparison.questions] == [
        ("huong-dan", "text"),
        ("q2", "key_reworded"),
        ("moi", "none"),
        ("q3", "none"),
    ]
    assert comparison.question("huong-dan").before.question.key == "q1"
    assert comparison.question("q3").after is None and comparison.question("moi").before is None
