"""Format 4 of the record: the ``survey`` kind, added without changing a single
byte of format 1, 2 and 3 records, and written only for survey records."""

from __future__ import annotations

import pytest

from sync.record import (
    FORMAT_VERSION,
    GENESIS_HASH,
    KIND_CORRECTION,
    KIND_DETAILS,
    KIND_RATING,
    KIND_SURVEY,
    MAX_SURVEY_ANSWERS_CHARS,
    Record,
    RecordError,
    canonical_bytes,
    kind_fields,
    seal,
    verify_chain,
    written_version,
)
from sync.seal import next_key, record_seal_matches, seal_record
from sync.survey import answers_text

DEVICE = "5b0c9a52-3a1e-4f0e-9d8e-2f1f6a0c0b11"


def _rating(**changes: object) -> Record:
    values: dict = dict(
        kind=KIND_RATING,
        uuid="00000000-0000-4000-8000-000000000001",
        device_id=DEVICE,
        seq=1,
        prev_hash=GENESIS_HASH,
        device_time="2026-01-05T08:00:00.000+07:00",
        monotonic_ns=10**9,
        boot_id="boot-1",
        app_version="0.1.0",
        officer_id="nguyen-thi-lan",
        counter_id="quay-1",
        score=1,
        scale=3,
        level="unsatisfied",
        burst=False,
        comment_token="tok",
    )
    values.update(changes)
    return seal(Record(**values))


def _survey(previous: Record | None = None, **changes: object) -> Record:
    values: dict = dict(
        kind=KIND_SURVEY,
        uuid="00000000-0000-4000-8000-000000000009",
        device_id=DEVICE,
        seq=previous.seq + 1 if previous else 1,
        prev_hash=previous.hash if previous else GENESIS_HASH,
        device_time="2026-01-05T08:01:00.000+07:00",
        monotonic_ns=61 * 10**9,
        boot_id="boot-1",
        app_version="0.1.0",
        campaign_id="mttq-2026-q1",
        questionnaire_id="sipas",
        questionnaire_version=2,
        answers=answers_text({"q1": 5, "q2": "a", "q5": "Chờ hơi lâu"}),
        complete=True,
        v=written_version(KIND_SURVEY),
    )
    values.update(changes)
    return seal(Record(**values))


def test_ratings_are_still_written_in_format_3_and_surveys_in_format_4() -> None:
    assert FORMAT_VERSION == 3
    assert [written_version(k) for k in (KIND_RATING, KIND_DETAILS, KIND_CORRECTION, KIND_SURVEY)] == [3, 3, 3, 4]
    # A rating made without naming a version is format 3, as before.
    assert _rating().v == 3


def test_a_survey_record_is_pinned_byte_for_byte() -> None:
    record = _survey()
    assert canonical_bytes(record) == (
        '{"answers":"{\\"q1\\":5,\\"q2\\":\\"a\\",\\"q5\\":\\"Chờ hơi lâu\\"}","app_version":"0.1.0",'
        '"boot_id":"boot-1","campaign_id":"mttq-2026-q1","complete":true,'
        '"device_id":"5b0c9a52-3a1e-4f0e-9d8e-2f1f6a0c0b11","device_time":"2026-01-05T08:01:00.000+07:00",'
        '"kind":"survey","monotonic_ns":61000000000,"prev_hash":"' + GENESIS_HASH + '",'
        '"questionnaire_id":"sipas","questionnaire_version":2,"seq":1,"simulated":false,'
        '"uuid":"00000000-0000-4000-8000-000000000009","v":4}'
    ).encode("utf-8")
    # No officer, no counter: the survey record is anonymous.
    assert "officer_id" not in record.to_dict() and "counter_id" not in record.to_dict()
    assert Record.from_dict(record.to_dict()) == record


@pytest.mark.parametrize("version", [1, 2, 3])
def test_a_survey_record_exists_only_from_format_4(version: int) -> None:
    with pytest.raises(RecordError, match="^kind: a survey record needs format version 4"):
        _survey(v=version)


@pytest.mark.parametrize("version", [1, 2, 3])
def test_older_records_keep_exactly_their_fields_and_bytes(version: int) -> None:
    old = _rating(v=version)
    assert not {"answers", "campaign_id", "complete"} & set(old.to_dict())
    assert Record.from_dict(old.to_dict()) == old
    assert kind_fields(KIND_RATING, 4) == kind_fields(KIND_RATING, 3)
    assert verify_chain([old]) == []


def test_a_chain_of_format_3_ratings_and_a_format_4_survey_verifies_and_seals() -> None:
    rating = _rating()
    survey = _survey(rating)
    assert verify_chain([rating, survey]) == []
    key = bytes(range(32))
    sealed = Record.from_dict({**survey.to_dict(), "seal": seal_record(next_key(key), survey)})
    assert record_seal_matches(next_key(key), sealed) and not record_seal_matches(key, sealed)
    # An edited answer breaks the hash, as for any record.
    forged = Record.from_dict({**survey.to_dict(), "answers": answers_text({"q1": 1})})
    assert [f.problem for f in verify_chain([rating, forged])] == ["bad_hash"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"answers": '{"q2":"a", "q1":5}'}, "answers"),  # not canonical: another text would hash otherwise
        ({"answers": "[1,2]"}, "answers"),
        ({"answers": "not json"}, "answers"),
        ({"answers": answers_text({"q": "x" * MAX_SURVEY_ANSWERS_CHARS})}, "answers"),
        ({"campaign_id": ""}, "campaign_id"),
        ({"questionnaire_id": "a\nb"}, "questionnaire_id"),
        ({"questionnaire_version": 0}, "questionnaire_version"),
        ({"complete": 1}, "complete"),
        ({"questionnaire_version": True}, "questionnaire_version"),
    ],
)
def test_a_bad_survey_record_names_its_field(change: dict, field: str) -> None:
    with pytest.raises(RecordError, match=f"^{field}:"):
        _survey(**change)


def test_a_survey_record_on_the_wire_must_carry_every_survey_field_and_nothing_else() -> None:
    data = _survey().to_dict()
    with pytest.raises(RecordError, match="^complete: missing"):
        Record.from_dict({k: v for k, v in data.items() if k != "complete"})
    with pytest.raises(RecordError, match="^officer_id: unknown field"):
        Record.from_dict({**data, "officer_id": "nguyen-thi-lan"})
