"""The survey store: questionnaires and their versions, campaigns and the
tablets that ask them, and answer sets of the three channels (on SQLite, or
on PostgreSQL with ``HAILONG_TEST_DATABASE_URL``)."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from server.store import surveys
from server.store.database import open_engine
from sync.survey import SurveyError
from tests.sync_support import TEST_DATABASE_URL, ScratchDatabase

NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


def _plain(title: str = "Khảo sát trước khi áp dụng", extra_question: bool = False) -> dict:
    questions = [
        {"key": "cho-ngoi", "kind": "scale", "text": "Nơi ngồi chờ có đủ chỗ", "required": True},
        {
            "key": "biet-qua",
            "kind": "single",
            "text": "Ông/Bà biết thủ tục qua đâu?",
            "options": [{"key": "cong", "text": "Cổng dịch vụ công"}, {"key": "nguoi-quen", "text": "Người quen"}],
        },
        {"key": "can-bo", "kind": "officer", "text": "Người đã tiếp Ông/Bà"},
    ]
    if extra_question:
        questions.append({"key": "gop-y", "kind": "text", "text": "Ý kiến khác"})
    return {"title": title, "sections": [{"title": "Tiếp cận dịch vụ", "questions": questions}]}


@pytest.fixture
def engine(tmp_path: Path):
    scratch = ScratchDatabase(TEST_DATABASE_URL) if TEST_DATABASE_URL else None
    made = open_engine(scratch.url if scratch else tmp_path / "commune.db")
    yield made
    made.dispose()
    if scratch is not None:
        scratch.drop()


def _campaign(conn, qid: str, **changes) -> str:
    values = dict(
        title="Khảo sát quý I",
        questionnaire_id=qid,
        starts_on=date(2026, 3, 1),
        ends_on=date(2026, 3, 31),
        kiosk=True,
        device_ids=["tab-1"],
        public_link=True,
        paper=True,
        target=100,
        by_account=None,
    )
    values.update(changes)
    return surveys.create_campaign(conn, **values)


def test_the_tables_are_made_for_a_new_database(engine):
    names = set(inspect(engine).get_table_names())
    assert {"questionnaires", "survey_campaigns", "survey_responses"} <= names


@pytest.mark.skipif(TEST_DATABASE_URL is not None, reason="the older database is a SQLite file")
def test_the_tables_appear_in_an_older_database(tmp_path: Path):
    path = tmp_path / "old.db"
    shutil.copyfile(Path(__file__).parent / "data" / "server-0.1.db", path)
    assert "questionnaires" not in inspect(create_engine(f"sqlite:///{path}")).get_table_names()
    upgraded = open_engine(path)
    try:
        with upgraded.begin() as conn:
            qid = surveys.save_questionnaire(conn, _plain(), by_account=None, now=NOW).id
            assert surveys.questionnaire(conn, qid).version == 1
    finally:
        upgraded.dispose()


def test_a_questionnaire_without_answers_is_edited_in_place(engine):
    with engine.begin() as conn:
        first = surveys.save_questionnaire(conn, _plain(), by_account=None, now=NOW)
        assert first.version == 1 and first.id
        edited = surveys.save_questionnaire(conn, {**_plain("Khảo sát đã sửa"), "id": first.id}, by_account=None)
        assert edited.version == 1
        assert surveys.questionnaire(conn, first.id).title == "Khảo sát đã sửa"
        assert [q.id for q in surveys.questionnaires(conn)] == [first.id]
        assert [v["version"] for v in surveys.questionnaire_versions(conn, first.id)] == [1]


def test_a_questionnaire_a_begun_campaign_asks_gets_a_new_version_even_before_any_answer(engine):
    """Tablets and phones may already hold the wording of a campaign that has
    begun: an answer to it must still check against that wording, so an edit
    makes a new version; a campaign that begins later does not stop an edit
    in place."""
    with engine.begin() as conn:
        later = surveys.save_questionnaire(conn, _plain(), by_account=None, now=NOW)
        _campaign(conn, later.id, starts_on=date(2026, 4, 1), ends_on=date(2026, 4, 30))
        kept = surveys.save_questionnaire(conn, {**_plain("Sửa trước ngày bắt đầu"), "id": later.id}, by_account=None,
                                          now=NOW)
        assert kept.version == 1
        begun = surveys.save_questionnaire(conn, _plain(), by_account=None, now=NOW)
        campaign_id = _campaign(conn, begun.id)  # 1–31 March; NOW is 2 March
        again = surveys.save_questionnaire(
            conn, {**_plain(extra_question=True), "id": begun.id}, by_account=None, now=NOW
        )
        assert again.version == 2
        assert surveys.questionnaire(conn, begun.id, 1).question("gop-y") is None
        assert surveys.campaign(conn, campaign_id).questionnaire.version == 2
        # A tablet's answer to the wording it fetched is still taken.
        surveys.add_response(
            conn, campaign_id=campaign_id, questionnaire_id=begun.id, questionnaire_version=1, channel="kiosk",
            answered_at=NOW, answers={"cho-ngoi": 5}, complete=True, device_id="tab-1", record_uuid="u-1",
        )
        assert [r.questionnaire_version for r in surveys.responses(conn, campaign_id)] == [1]


def test_editing_an_answered_questionnaire_makes_a_new_version_and_old_answers_keep_theirs(engine):
    with engine.begin() as conn:
        first = surveys.save_questionnaire(conn, _plain(), by_account=None, now=NOW)
        campaign_id = _campaign(conn, first.id)
        surveys.add_response(
            conn,
            campaign_id=campaign_id,
            questionnaire_id=first.id,
            questionnaire_version=1,
            channel="phone",
            answered_at=NOW,
            answers={"cho-ngoi": "4", "biet-qua": "cong"},
            complete=True,
        )
        second = surveys.save_questionnaire(
            conn, {**_plain(extra_question=True), "id": first.id}, by_account=None, now=NOW
        )
        assert second.version == 2
        assert surveys.questionnaire(conn, first.id, 1).question("gop-y") is None
        assert surveys.questionnaire(conn, first.id).question("gop-y") is not None
        # The running campaign asks the new version from now on.
        assert surveys.campaign(conn, campaign_id).questionnaire.version == 2
        surveys.add_response(
            conn,
            campaign_id=campaign_id,
            questionnaire_id=first.id,
            questionnaire_version=2,
            channel="paper",
            answered_at=NOW,
            answers={"gop-y": " Tốt "},
            complete=False,
            entered_by=7,
        )
        listed = surveys.responses(conn, campaign_id)
    assert [(r.questionnaire_version, r.channel) for r in listed] == [(1, "phone"), (2, "paper")]
    assert listed[0].answers == {"cho-ngoi": 4, "biet-qua": "cong"}  # the normal form
    assert listed[1].answers == {"gop-y": "Tốt"} and listed[1].entered_by == 7 and not listed[1].complete
    assert listed[0].answered_at == NOW


def test_an_ended_campaign_keeps_the_version_it_asked(engine):
    with engine.begin() as conn:
        first = surveys.save_questionnaire(conn, _plain(), by_account=None, now=NOW)
        old = _campaign(conn, first.id, starts_on=date(2026, 1, 1), ends_on=date(2026, 1, 31))
        surveys.add_response(
            conn,
            campaign_id=old,
            questionnaire_id=first.id,
            questionnaire_version=1,
            channel="kiosk",
            answered_at=NOW,
            answers={},
            complete=False,
            device_id="tab-1",
            record_uuid="u-1",
        )
        surveys.save_questionnaire(conn, {**_plain(extra_question=True), "id": first.id}, by_account=None, now=NOW)
        assert surveys.campaign(conn, old).questionnaire.version == 1


def test_answers_are_checked_against_their_version(engine):
    with engine.begin() as conn:
        first = surveys.save_questionnaire(conn, _plain(), by_account=None, now=NOW)
        campaign_id = _campaign(conn, first.id)
        base = dict(
            campaign_id=campaign_id,
            questionnaire_id=first.id,
            questionnaire_version=1,
            channel="phone",
            answered_at=NOW,
            complete=True,
        )
        with pytest.raises(SurveyError) as refused:
            surveys.add_response(conn, **base, answers={"gop-y": "x"})
        assert refused.value.code == "unknown_question"
        with pytest.raises(SurveyError) as refused:
            surveys.add_response(conn, **base, answers={"cho-ngoi": 9})
        assert refused.value.code == "outside_scale"
        with pytest.raises(SurveyError) as refused:
            surveys.add_response(conn, **{**base, "questionnaire_version": 3}, answers={})
        assert refused.value.code == "unknown_version"
        with pytest.raises(SurveyError) as refused:
            surveys.add_response(conn, **{**base, "channel": "email"}, answers={})
        assert refused.value.code == "unknown_channel"
        with pytest.raises(SurveyError) as refused:
            surveys.add_response(conn, **base, answers={"can-bo": "ai-do"}, officer_ids=frozenset({"lan"}))
        assert refused.value.code == "unknown_officer"
        with pytest.raises(SurveyError) as refused:
            surveys.add_response(conn, **{**base, "answered_at": "2026-03-02T10:00:00"}, answers={})
        assert refused.value.code == "no_utc_offset"
        assert surveys.responses(conn, campaign_id) == []


def test_a_tablets_answer_set_is_stored_once(engine):
    with engine.begin() as conn:
        first = surveys.save_questionnaire(conn, _plain(), by_account=None, now=NOW)
        campaign_id = _campaign(conn, first.id)
    kept = dict(
        campaign_id=campaign_id,
        questionnaire_id=first.id,
        questionnaire_version=1,
        channel="kiosk",
        answered_at="2026-03-02T10:00:00+07:00",
        answers={"cho-ngoi": 5},
        complete=False,
        device_id="tab-1",
        record_uuid="rec-1",
    )
    with engine.begin() as conn:
        one = surveys.add_response(conn, **kept)
    with engine.begin() as conn:
        again = surveys.add_response(conn, **kept)
        other_device = surveys.add_response(conn, **{**kept, "device_id": "tab-2"})
        counts = surveys.response_counts(conn)
    assert one == again != other_device
    assert counts == {campaign_id: {"kiosk": 2}}


def test_a_tablet_gets_the_campaigns_it_asks_until_they_end(engine):
    with engine.begin() as conn:
        qid = surveys.save_questionnaire(conn, _plain(), by_account=None, now=NOW).id
        mine = _campaign(conn, qid, device_ids=["tab-1"])
        everyone = _campaign(conn, qid, device_ids=None, starts_on=date(2026, 4, 1), ends_on=date(2026, 4, 30))
        _campaign(conn, qid, device_ids=["tab-2"])
        _campaign(conn, qid, kiosk=False, device_ids=None)
        ended = _campaign(conn, qid, device_ids=None, starts_on=date(2026, 2, 1), ends_on=date(2026, 2, 28))
        assert [c.id for c in surveys.campaigns_for_device(conn, "tab-1", date(2026, 3, 2))] == [mine, everyone]
        assert [c.id for c in surveys.campaigns_for_device(conn, "tab-3", date(2026, 3, 2))] == [everyone]
        assert [c.id for c in surveys.campaigns_for_device(conn, "tab-3", date(2026, 2, 28))] == [ended, everyone]
        assert surveys.campaigns_for_device(conn, "tab-1", date(2026, 5, 1)) == []
        stored = surveys.campaign(conn, mine)
        assert stored.device_ids == ("tab-1",) and stored.public_link and stored.paper
        assert surveys.campaign_by_token(conn, stored.public_token).id == mine
        assert len(surveys.campaigns(conn)) == 5


def test_a_campaign_is_checked_by_the_contract(engine):
    with engine.begin() as conn:
        qid = surveys.save_questionnaire(conn, _plain(), by_account=None, now=NOW).id
        with pytest.raises(SurveyError) as refused:
            _campaign(conn, qid, ends_on=date(2026, 2, 1))
        assert refused.value.code == "before_start"
        with pytest.raises(SurveyError) as refused:
            _campaign(conn, "no-such")
        assert refused.value.code == "unknown_questionnaire"
        with pytest.raises(SurveyError) as refused:
            _campaign(conn, qid, target=-1)
        assert refused.value.code == "not_a_count"
        campaign_id = _campaign(conn, qid)
        token = surveys.campaign(conn, campaign_id).public_token
        assert surveys.update_campaign(
            conn,
            campaign_id,
            title="Đợt 2",
            questionnaire_id=qid,
            starts_on=date(2026, 3, 1),
            ends_on=date(2026, 3, 15),
            kiosk=False,
            device_ids=None,
            public_link=False,
            paper=True,
            target=0,
        )
        changed = surveys.campaign(conn, campaign_id)
        assert changed.contract.title == "Đợt 2" and not changed.contract.kiosk and not changed.public_link
        assert changed.public_token == token
