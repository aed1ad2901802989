"""A survey answered on a real tablet reaches the commune server over loopback:
the campaign fetched by the tablet's link, the answers chained as a format 4
``survey`` record, uploaded with the ratings through the outbox, verified
(chain and seal) and stored, and the answer set added to the survey's
answers with ``add_response`` in the batch's transaction, once however often
it is sent. No rating figure counts it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from kiosk.link.credentials import load_credentials
from kiosk.link.surveys import SurveyFetch
from kiosk.link.transport import ServerLink
from kiosk.survey_desk import SurveyDesk
from server.export import export_rows
from server.store import surveys, tables
from sync.record import KIND_RATING, KIND_SURVEY, verify_chain
from sync.survey import SurveyError, answers_of_text
from tests.sync_support import findings, post, server_records, stored, wait_for


def _campaign(commune, *, starts_in_days: int = -1) -> str:
    today = datetime.now(UTC).date()
    plain = {
        "title": "Phiếu khảo sát",
        "sections": [
            {
                "title": "Chung",
                "questions": [
                    {"key": "q1", "kind": "scale", "text": "Nơi chờ sạch sẽ", "required": True},
                    {
                        "key": "q2",
                        "kind": "single",
                        "text": "Biết thủ tục qua đâu?",
                        "options": [{"key": "a", "text": "Cổng dịch vụ công"}, {"key": "b", "text": "Người quen"}],
                    },
                    {"key": "q3", "kind": "text", "text": "Góp ý"},
                    {"key": "q4", "kind": "officer", "text": "Công chức tiếp nhận", "required": True},
                ],
            }
        ],
    }
    with commune.engine.begin() as conn:
        qid = surveys.save_questionnaire(conn, plain, by_account=None).id
        return surveys.create_campaign(
            conn,
            title="Khảo sát năm 2026",
            questionnaire_id=qid,
            starts_on=today + timedelta(days=starts_in_days),
            ends_on=today + timedelta(days=30),
            kiosk=True,
            public_link=False,
            paper=False,
            target=100,
            by_account=None,
            device_ids=None,
        )


def _fetched_desk(tablet) -> SurveyDesk:
    link = ServerLink(tablet.server_url, load_credentials(tablet.store.device_secret_path))
    fetched = SurveyFetch(link).fetch()
    assert fetched is not None
    desk = SurveyDesk(tablet.desk)
    desk.keep_campaigns(fetched[0])
    # Unchanged since: the server says so (304) and the kept campaigns stay.
    assert SurveyFetch(link).fetch(fetched[1]) is None
    link.close()
    return desk


def _responses(commune) -> list[dict]:
    with commune.engine.begin() as conn:
        return [dict(r) for r in conn.execute(select(tables.survey_responses)).mappings()]


def test_a_survey_record_lands_once_in_the_survey_answers_and_never_in_the_ratings(commune, tablet):
    campaign_id = _campaign(commune)
    desk = _fetched_desk(tablet)
    campaign = desk.campaign_today()
    assert campaign is not None and campaign.id == campaign_id
    rating = tablet.rate(1)[0]
    draft = desk.begin(campaign)
    questions = {q.key: q for q in campaign.questionnaire.questions}
    draft = desk.answer(draft, questions["q1"], 4)
    draft = desk.answer(draft, questions["q3"], "Nên có thêm ghế chờ")
    draft = desk.answer(draft, questions["q4"], "tran-van-hung")
    record = desk.finish(draft)
    assert record.kind == KIND_SURVEY and record.v == 4 and record.complete is True
    assert record.seal  # sealed like any record of a paired tablet

    status = tablet.uploader().run_once()
    assert status.state == "idle" and status.pending == 0
    device = tablet.store.device_id
    received = server_records(commune, device)
    # Rebuilt from its columns, the survey record is the very record the tablet chained and sealed.
    assert received == tablet.store.records()
    assert verify_chain(received) == [] and findings(commune, device) == []
    row = stored(commune, device)[record.seq]
    assert row["kind"] == KIND_SURVEY and row["flags"] == ""
    assert tablet.store.acks()[-1]["status"] == "stored"

    responses = _responses(commune)
    assert len(responses) == 1
    answer = responses[0]
    assert (answer["campaign_id"], answer["channel"], answer["device_id"], answer["record_uuid"]) == (
        campaign_id,
        "kiosk",
        device,
        record.uuid,
    )
    assert json.loads(answer["answers"]) == {"q1": 4, "q3": "Nên có thêm ghế chờ", "q4": "tran-van-hung"}
    assert answer["complete"] and answer["questionnaire_version"] == record.questionnaire_version

    # The ratings' figures and export know one rating only.
    with commune.engine.begin() as conn:
        kinds = dict(conn.execute(select(tables.records.c.kind, func.count()).group_by(tables.records.c.kind)).all())
    assert kinds == {KIND_RATING: 1, KIND_SURVEY: 1}
    exported = list(export_rows(commune.engine))
    assert len(exported) == 1 and rating.level in exported[0] and rating.officer_id in exported[0]

    # The same batch again (a lost answer): stored once, one answer set.
    assert tablet.uploader().run_once().sent_this_session == 0
    assert len(_responses(commune)) == 1


def test_a_replayed_and_a_forged_survey_record_add_no_answer_set(commune, tablet):
    _campaign(commune)
    desk = _fetched_desk(tablet)
    campaign = desk.campaign_today()
    draft = desk.begin(campaign)
    draft = desk.answer(draft, campaign.questionnaire.questions[0], 2)
    record = desk.finish(draft)
    assert record.complete is False  # q4 is required and unanswered
    assert tablet.uploader().run_once().pending == 0
    assert len(_responses(commune)) == 1

    # The same record under a new batch key: a duplicate, no second answer set.
    credentials = load_credentials(tablet.store.device_secret_path)
    body = {
        "protocol": 1,
        "device_id": credentials.device_id,
        "idempotency_key": "replay-of-a-survey-1",
        "sent_at": record.device_time,
        "sent_monotonic_ns": record.monotonic_ns,
        "boot_id": record.boot_id,
        "app_version": "0.1.0",
        "pending": 0,
        "records": [record.to_dict()],
    }
    answer = post(commune, credentials.device_id, credentials.secret, json.dumps(body).encode())
    assert answer.json()["results"][0]["status"] == "duplicate"
    assert len(_responses(commune)) == 1

    # An edited answer under the same hash, at the next place: kept as evidence, not counted.
    forged = {
        **record.to_dict(),
        "uuid": "00000000-0000-4000-8000-00000000f00d",
        "seq": record.seq + 1,
        "prev_hash": record.hash,
        "answers": '{"q1":5}',
    }
    body.update(idempotency_key="forged-survey-2", records=[forged])
    result = post(commune, credentials.device_id, credentials.secret, json.dumps(body).encode()).json()["results"][0]
    assert result["status"] == "stored" and "survey_not_counted" in result["flags"] and "bad_hash" in result["flags"]
    responses = _responses(commune)
    assert len(responses) == 1 and answers_of_text(responses[0]["answers"]) == {"q1": 2}


def test_the_tablet_fetches_its_campaigns_with_the_roster_and_keeps_them_offline(commune, tablet):
    from kiosk.navigator import CatalogueWords
    from kiosk.sync_control import SyncControl
    from kiosk.visit import VisitFlow
    from tests.kiosk_fakes import FakeNavigator

    campaign_id = _campaign(commune)
    desk = SurveyDesk(tablet.desk)
    handed: list = []
    visits = VisitFlow(tablet.desk, FakeNavigator(), CatalogueWords("vi"))
    sync = SyncControl(
        tablet.store,
        lambda: tablet.settings,
        CatalogueWords("vi"),
        visits,
        lambda _own: None,
        show_status=lambda _text: None,
        hand_over=handed.append,
        keep_campaigns=desk.keep_campaigns,
    )
    assert desk.campaign_today() is None
    sync.refresh_roster()  # on a worker thread; what it found comes back through hand_over
    assert wait_for(lambda: handed, timeout=10)
    handed.pop()()
    assert desk.campaign_today().id == campaign_id
    # Kept in the tablet's database: a tablet started afresh, offline, still asks it.
    assert SurveyDesk(tablet.desk).campaign_today().id == campaign_id
    sync.close()


def test_a_tablet_whose_date_is_wrong_asks_the_campaign_of_the_servers_date(commune, tmp_path):
    """A tablet five days behind would ask nothing in the campaign's first
    days (and ask after it ended): once it has heard from the server, the
    campaign it asks is the one running on the server's date, and the rest
    screen shows it at once."""
    from kiosk.navigator import CatalogueWords
    from kiosk.sync_control import SyncControl
    from kiosk.visit import VisitFlow
    from tests.kiosk_fakes import FakeNavigator
    from tests.sync_support import Tablet, shifted_clock

    tablet = Tablet(tmp_path / "late", commune.url, clock=shifted_clock(-5 * 86400))
    tablet.pair(commune)
    campaign_id = _campaign(commune, starts_in_days=0)  # from the server's today
    desk = SurveyDesk(tablet.desk)
    navigator = FakeNavigator()
    navigator.current = "choose"  # the tablet rests
    visits = VisitFlow(tablet.desk, navigator, CatalogueWords("vi"))
    rests: list = []
    visits.go_idle = lambda **options: rests.append(options)
    handed: list = []
    sync = SyncControl(tablet.store, lambda: tablet.settings, CatalogueWords("vi"), visits, lambda _own: None,
                       show_status=lambda _text: None, hand_over=handed.append,
                       keep_campaigns=desk.keep_campaigns, keep_server_offset=desk.keep_server_offset)

    sync.refresh_roster()  # the roster, the campaigns and the server's clock, on a worker thread
    assert wait_for(lambda: handed, timeout=10)
    handed.pop()()
    assert desk.server_offset_s is not None and abs(desk.server_offset_s - 5 * 86400) < 60
    assert desk.campaign_today().id == campaign_id
    # By its own date the tablet would ask nothing (a desk that has not heard from the server).
    assert SurveyDesk(tablet.desk).campaign_today() is None
    # Shown again twice: the campaigns arrived, then the server's date made one of them run.
    assert len(rests) == 2

    sync.refresh_roster()  # nothing new: the campaigns unchanged (304), the same offset
    assert wait_for(lambda: handed, timeout=10)
    handed.pop()()
    assert len(rests) == 2 and desk.campaign_today().id == campaign_id
    sync.close()
    tablet.close()


def test_answers_given_outside_the_campaigns_days_are_kept_but_not_counted(commune, tablet):
    """A tablet that kept an ended campaign offline (or one whose dates were
    moved since) may still hold answers given after its last day: they reach
    the server as evidence, flagged, and the survey does not count them."""
    campaign_id = _campaign(commune)
    desk = _fetched_desk(tablet)
    campaign = desk.campaign_today()
    draft = desk.answer(desk.begin(campaign), campaign.questionnaire.questions[0], 5)
    record = desk.finish(draft)
    ended_on = (datetime.now(UTC) - timedelta(days=2)).date().isoformat()  # before today wherever the commune is
    with commune.engine.begin() as conn:  # the leader ends the campaign before the tablet uploads
        conn.execute(tables.survey_campaigns.update().where(tables.survey_campaigns.c.id == campaign_id)
                     .values(ends_on=ended_on))
    assert tablet.uploader().run_once().pending == 0
    row = stored(commune, tablet.store.device_id)[record.seq]
    assert row["kind"] == KIND_SURVEY and row["flags"] == "survey_not_counted"
    assert _responses(commune) == []


def test_a_kiosk_answer_falls_on_the_communes_day_not_on_utcs(commune):
    """Campaign days are the commune's: 00:30 in Hà Nội on the first day is
    still the day before in UTC."""
    with commune.engine.begin() as conn:
        qid = surveys.save_questionnaire(conn, {"title": "Phiếu", "sections": [{"title": "Chung", "questions": [
            {"key": "q1", "kind": "scale", "text": "Nơi chờ sạch sẽ", "required": True}]}]}, by_account=None).id
        campaign_id = surveys.create_campaign(
            conn, title="Khảo sát tháng 3", questionnaire_id=qid, starts_on=date(2026, 3, 2),
            ends_on=date(2026, 3, 31), kiosk=True, public_link=False, paper=False, target=10, by_account=None,
            device_ids=None)

    def add(when: datetime, zone) -> int:
        with commune.engine.begin() as conn:
            return surveys.add_response(conn, campaign_id=campaign_id, questionnaire_id=qid, questionnaire_version=1,
                                        channel="kiosk", answered_at=when, answers={"q1": 4}, complete=True,
                                        days_in=zone)

    first_minutes = datetime(2026, 3, 1, 17, 30, tzinfo=UTC)  # 00:30 on 2 March in Hà Nội
    assert add(first_minutes, ZoneInfo("Asia/Ho_Chi_Minh")) > 0
    with pytest.raises(SurveyError) as refused:
        add(first_minutes, UTC)
    assert refused.value.code == "outside_the_campaign"
    with pytest.raises(SurveyError):
        add(datetime(2026, 3, 31, 17, 30, tzinfo=UTC), ZoneInfo("Asia/Ho_Chi_Minh"))  # 00:30 on 1 April
    assert len(_responses(commune)) == 1
