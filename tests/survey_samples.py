"""A realistic survey for the results tests: the Front's questionnaire on
the one-stop counter, a baseline campaign before the model started and a
later one, and answer sets drawn with a fixed seed."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from server.survey_results import AnswerSet
from sync.survey import Campaign, Questionnaire

OFFICERS = {
    "lan": "Nguyễn Thị Lan",
    "binh": "Trần Văn Bình",
    "an": "Lê Hoàng An",
    "cuong": "Phạm Quốc Cường",
    "hoa": "Đỗ Thị Hòa",
    "duc": "Vũ Minh Đức",
}

COMMENTS = (
    "Cần thêm ghế chờ vào buổi sáng thứ Hai.",
    "Cán bộ hướng dẫn tận tình, cảm ơn. Liên hệ 0912 345 678.",
    "Nên niêm yết rõ lệ phí từng thủ tục và thời hạn trả kết quả để người dân theo dõi.",
)


def plain_questionnaire(version: int = 1) -> dict[str, Any]:
    """The questionnaire's plain form."""
    return {
        "id": "ks-mttq",
        "version": version,
        "title": "Khảo sát sự hài lòng của người dân đối với Bộ phận một cửa",
        "intro": "Nhằm đánh giá việc thực hiện mô hình «Chính quyền thân thiện vì Nhân dân phục vụ», Ủy ban MTTQ "
        "Việt Nam phường Hòa Bình trân trọng đề nghị Ông/Bà cho biết ý kiến.",
        "sections": [
            {
                "title": "Tiếp cận dịch vụ",
                "questions": [
                    {
                        "key": "wait",
                        "kind": "scale",
                        "required": True,
                        "text": "Thời gian chờ đợi đến lượt được giải quyết là hợp lý",
                    },
                    {"key": "place", "kind": "scale", "text": "Nơi ngồi chờ sạch sẽ, đủ chỗ, có nước uống"},
                    {
                        "key": "heard",
                        "kind": "single",
                        "text": "Ông/Bà biết đến thủ tục hành chính qua nguồn nào?",
                        "options": [
                            {"key": "portal", "text": "Cổng dịch vụ công quốc gia"},
                            {"key": "friend", "text": "Người quen, hàng xóm"},
                            {"key": "board", "text": "Bảng niêm yết tại trụ sở"},
                            {"key": "loa", "text": "Loa phát thanh, tổ dân phố"},
                        ],
                    },
                ],
            },
            {
                "title": "Thái độ của công chức",
                "questions": [
                    {
                        "key": "attitude",
                        "kind": "scale",
                        "required": True,
                        "text": "Công chức tiếp nhận hồ sơ có thái độ lịch sự, tôn trọng, gần gũi",
                    },
                    {
                        "key": "money",
                        "kind": "single",
                        "text": "Ông/Bà có bị gợi ý nộp thêm tiền ngoài quy định không?",
                        "options": [{"key": "no", "text": "Không"}, {"key": "yes", "text": "Có"}],
                    },
                    {
                        "key": "papers",
                        "kind": "multiple",
                        "text": "Ông/Bà đã phải bổ sung những giấy tờ nào ngoài danh mục niêm yết?",
                        "options": [
                            {"key": "copy", "text": "Bản sao chứng thực giấy tờ tùy thân"},
                            {"key": "confirm", "text": "Giấy xác nhận của tổ dân phố"},
                            {"key": "none", "text": "Không phải bổ sung gì"},
                        ],
                    },
                    {"key": "who", "kind": "officer", "text": "Công chức đã trực tiếp giải quyết hồ sơ của Ông/Bà"},
                ],
            },
            {
                "title": "Góp ý",
                "questions": [
                    {"key": "idea", "kind": "text", "text": "Ông/Bà có góp ý gì để Bộ phận một cửa phục vụ tốt hơn?"}
                ],
            },
        ],
    }


QUESTIONNAIRE = Questionnaire.from_dict(plain_questionnaire())
BASELINE = Campaign(
    "dot-goc", "Khảo sát đầu kỳ (trước khi áp dụng mô hình)", date(2026, 1, 5), date(2026, 2, 15), QUESTIONNAIRE
)
LATEST = Campaign("dot-q2", "Khảo sát quý II năm 2026", date(2026, 4, 1), date(2026, 5, 15), QUESTIONNAIRE)


def answer_sets(seed: int, count: int, first: date, days: int, agree_wait: float) -> list[AnswerSet]:
    """``count`` answer sets over ``days`` days from ``first``; ``agree_wait``
    is the chance that the wait question is answered 5 (else 1–3)."""
    rng = random.Random(seed)
    sets = []
    for _ in range(count):
        answers: dict[str, Any] = {
            "wait": 5 if rng.random() < agree_wait else rng.choice([1, 2, 3]),
            "attitude": rng.choice([3, 4, 5, 5]),
            "place": rng.choice([2, 3, 4, 5]),
            "heard": rng.choice(["portal", "friend", "board", "loa"]),
            "money": "no" if rng.random() < 0.95 else "yes",
        }
        if rng.random() < 0.6:
            answers["papers"] = [k for k in ("copy", "confirm", "none") if rng.random() < 0.5] or ["none"]
        if rng.random() < 0.8:
            answers["who"] = rng.choice(list(OFFICERS))
        if rng.random() < 0.15:
            answers["idea"] = rng.choice(COMMENTS)
        moment = datetime.combine(first, datetime.min.time(), UTC) + timedelta(minutes=rng.randrange(60 * 24 * days))
        sets.append(
            AnswerSet(rng.choice(["kiosk", "kiosk", "phone", "paper"]), moment, 1, answers, rng.random() < 0.97)
        )
    return sets


def baseline_sets() -> list[AnswerSet]:
    """60 answer sets of the baseline: about a third agree the wait is reasonable."""
    return answer_sets(1, 60, BASELINE.starts_on, 40, 0.35)


def latest_sets() -> list[AnswerSet]:
    """180 answer sets of the latest campaign: about four in five agree."""
    return answer_sets(2, 180, LATEST.starts_on, 44, 0.8)
