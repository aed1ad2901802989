"""Follow-up cases, without a browser: which records open a case, through
the real batch ingest; a replayed or repeated upload opens nothing twice;
due dates in working days across a weekend in the commune's time zone; the
status flow, its events and audit (never a phone number); who sees the
citizen's number (each showing audited) and their comment; comments lead to
their cases; the e-mail alert, sent to a local SMTP server."""

from __future__ import annotations

import socket
import time
import uuid as uuid_module
from datetime import UTC, date, datetime, timedelta
from email.header import decode_header, make_header
from zoneinfo import ZoneInfo

import pytest

from server.accounts import Account, AccountBook, Role
from server.alerts import AlertSender, alert_message
from server.batches import Batch, BatchIngest
from server.cases import (
    CaseBook,
    CaseError,
    CaseOutcome,
    CaseStatus,
    CaseView,
    due_day,
    due_deadline,
    on_opened,
    opens_case,
)
from server.clock import utc_text
from server.comments import CommentBox, comment, erase_comment
from server.registry import DeviceRegistry
from server.settings import SettingError, load_settings, save_setting
from server.store import open_engine
from sync.record import GENESIS_HASH, KIND_DETAILS, KIND_RATING, Record, seal

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
PHONE = "0912345678"
PASSWORD = "mật-khẩu-đủ-dài-lắm"


class Clock:
    """The server's clock, moved by hand."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Device:
    """A paired device whose chain the test writes record by record."""

    def __init__(self, engine, name: str = "tablet-1"):
        registry = DeviceRegistry(engine)
        code = registry.request_code(name, "quầy 1", "0.1.0")
        registry.decide(code.user_code, approve=True)
        registry.poll(code.device_code)
        self.device_id = name
        self.records: list[Record] = []

    def _next(self, **fields) -> Record:
        prev = self.records[-1].hash if self.records else GENESIS_HASH
        seq = len(self.records) + 1
        record = seal(Record(uuid=str(uuid_module.uuid4()), device_id=self.device_id, seq=seq, prev_hash=prev,
                             device_time="2026-03-06T09:00:00.000+07:00", monotonic_ns=seq * 10**9,
                             boot_id="boot-1", app_version="0.1.0", **fields))
        self.records.append(record)
        return record

    def rate(self, score: int, scale: int = 3, officer: str = "nguyen-van-an") -> Record:
        from sync.scale import scale_for
        return self._next(kind=KIND_RATING, officer_id=officer, counter_id="quay-1", score=score, scale=scale,
                          level=scale_for(scale).level(score).key, burst=False, comment_token="t" * 16)

    def details(self, rating: Record, phone: str | None = None, reasons=("waited_long",)) -> Record:
        # A number in clear: format 2, as tablets wrote before format 3 sealed it (test_personal_data.py).
        return self._next(kind=KIND_DETAILS, rating_uuid=rating.uuid, reasons=tuple(reasons), callback_phone=phone,
                          callback_consent=phone is not None, v=2)

    def batch(self, records: list[Record], key: str | None = None) -> Batch:
        return Batch(device_id=self.device_id, idempotency_key=key or uuid_module.uuid4().hex,
                     sent_at=datetime(2026, 3, 6, 2, 0, tzinfo=UTC), sent_monotonic_ns=10**12, boot_id="boot-1",
                     app_version="0.1.0", pending=0, records=[r.to_dict() for r in records])


@pytest.fixture
def world(tmp_path):
    """A database, a device, the ingest, the accounts and the case book; the
    server's clock on Friday 6 March 2026, 15:00 in Hanoi."""
    engine = open_engine(tmp_path / "commune.db")
    clock = Clock(datetime(2026, 3, 6, 15, 0, tzinfo=HANOI).astimezone(UTC))
    book = AccountBook(engine, clock=clock)
    accounts = {role: book.create(role.value, PASSWORD, role, display_name=f"TK {role.value}",
                                  officer_id="nguyen-van-an" if role is Role.OFFICER else None) for role in Role}
    accounts["leader2"] = book.create("leader2", PASSWORD, Role.LEADER)
    yield engine, Device(engine), BatchIngest(engine), CaseBook(engine, book, clock=clock), accounts, clock
    engine.dispose()


def test_opening_rules_follow_the_lowest_levels_and_call_backs(world):
    engine, device, ingest, cases, _accounts, clock = world
    worst = device.rate(1)                   # the 3-level scale's lowest: a case
    fine = device.rate(3)                    # nothing
    second = device.rate(2, scale=5)         # second lowest of 5: not by default
    called = device.rate(3)
    device.details(called, PHONE)            # a call-back on a good rating: a case
    device.details(worst, PHONE)             # a call-back on a rating with a case: the same case
    device.details(fine)                     # reasons only: nothing
    ingest.receive(device.batch(device.records), clock())
    opened = {c.rating_uuid: c for c in cases.cases(CaseView.ALL)[0]}
    assert set(opened) == {worst.uuid, called.uuid}
    assert opened[worst.uuid].callback and opened[worst.uuid].cause == "low_rating"
    assert opened[called.uuid].cause == "callback" and opened[called.uuid].level == "very_satisfied"
    assert opened[worst.uuid].officer_id == "nguyen-van-an" and opened[worst.uuid].status is CaseStatus.NEW
    assert fine.uuid not in opened and second.uuid not in opened

    # Two levels from the bottom: the 5-level scale's "dissatisfied" now opens one; "satisfied" never does.
    save_setting(engine, "case_levels", 2)
    more = [device.rate(2, scale=5), device.rate(2, scale=3), device.rate(1, scale=4)]
    ingest.receive(device.batch(more), clock())
    levels = {c.rating_uuid: c.level for c in cases.cases(CaseView.ALL)[0]}
    assert levels.get(more[0].uuid) == "dissatisfied" and more[1].uuid not in levels
    assert levels.get(more[2].uuid) == "very_dissatisfied"
    assert opens_case(3, "dissatisfied", 1) and not opens_case(3, "satisfied", 4) and not opens_case(None, None, 1)


def test_a_replayed_or_repeated_upload_opens_nothing_twice(world):
    engine, device, ingest, cases, _accounts, clock = world
    heard: list[list[int]] = []
    on_opened(engine, heard.append)
    low = device.rate(1)
    batch = device.batch([low, device.details(low, PHONE)], key="key-1")
    ingest.receive(batch, clock())
    first = cases.cases(CaseView.ALL)[0]
    assert len(first) == 1 and heard == [[first[0].id]]
    assert ingest.receive(batch, clock()).replay
    # The same records under a new key (a tablet that lost the answer): stored already, nothing new.
    ingest.receive(device.batch(device.records, key="key-2"), clock())
    assert [c.id for c in cases.cases(CaseView.ALL)[0]] == [first[0].id]
    assert heard == [[first[0].id]]
    assert [e.action for e in cases.events(first[0].id)] == ["opened"]


def test_a_call_back_in_a_later_batch_joins_the_open_case(world):
    _engine, device, ingest, cases, _accounts, clock = world
    low = device.rate(1)
    ingest.receive(device.batch([low]), clock())
    ingest.receive(device.batch([device.details(low, PHONE)]), clock())
    (case,) = cases.cases(CaseView.ALL)[0]
    assert case.callback and [e.action for e in cases.events(case.id)] == ["opened", "callback"]


def test_due_dates_count_working_days_in_the_communes_time_zone():
    friday = date(2026, 3, 6)
    assert due_day(friday, 2) == date(2026, 3, 10)             # Mon, Tue
    assert due_day(date(2026, 3, 7), 2) == date(2026, 3, 10)   # Saturday: Mon, Tue
    assert due_day(date(2026, 3, 9), 2) == date(2026, 3, 11)   # Monday: Wednesday
    assert due_day(date(2026, 3, 5), 1) == date(2026, 3, 6)    # Thursday: Friday
    # Friday 23:30 in Hanoi is still Friday there (16:30 UTC): due at the end of Tuesday, Hanoi time.
    at, day = due_deadline(datetime(2026, 3, 6, 16, 30, tzinfo=UTC), 2, HANOI)
    assert day == "2026-03-10" and at == "2026-03-10T17:00:00.000+00:00"
    # Saturday 00:30 in Hanoi (Friday 17:30 UTC) counts from Saturday: the same Tuesday.
    assert due_deadline(datetime(2026, 3, 6, 17, 30, tzinfo=UTC), 2, HANOI)[1] == "2026-03-10"


def test_a_case_opened_on_friday_is_overdue_after_tuesday(world):
    _engine, device, ingest, cases, _accounts, clock = world
    ingest.receive(device.batch([device.rate(1)]), clock())
    (case,) = cases.cases(CaseView.OPEN)[0]
    assert case.due_on == "2026-03-10"
    assert cases.cases(CaseView.OVERDUE)[0] == []
    clock.now = datetime(2026, 3, 10, 23, 59, tzinfo=HANOI).astimezone(UTC)
    assert not case.overdue(clock.now) and cases.cases(CaseView.OVERDUE)[0] == []
    clock.now = datetime(2026, 3, 11, 0, 0, tzinfo=HANOI).astimezone(UTC)
    assert case.overdue(clock.now) and [c.id for c in cases.cases(CaseView.OVERDUE)[0]] == [case.id]


def test_days_off_are_not_working_days_for_a_case(world):
    engine, device, ingest, cases, _accounts, clock = world
    # Monday 9 and Tuesday 10 March off: a case opened on Friday the 6th is due on Thursday the 12th.
    assert due_day(date(2026, 3, 6), 2, ("2026-03-09", "2026-03-10")) == date(2026, 3, 12)
    assert due_day(date(2026, 3, 6), 2, ("2026-03-07",)) == date(2026, 3, 10)  # a Saturday off changes nothing
    # The admin types them as the page shows them; stored as ISO dates, in order, once each.
    assert save_setting(engine, "holidays", "10/03/2026, 9/3/2026;2026-03-10") == ["2026-03-09", "2026-03-10"]
    for wrong in ("31/02/2026", "9/3", "Tết", "01/01/1999", ["2026-13-01"]):
        with pytest.raises(SettingError, match="bad_date"):
            save_setting(engine, "holidays", wrong)
    assert load_settings(engine).holidays == ("2026-03-09", "2026-03-10")
    ingest.receive(device.batch([device.rate(1)]), clock())  # Friday 6 March, as the world's clock says
    (case,) = cases.cases(CaseView.OPEN)[0]
    assert case.due_on == "2026-03-12"
    clock.now = datetime(2026, 3, 11, 23, 0, tzinfo=HANOI).astimezone(UTC)
    assert cases.cases(CaseView.OVERDUE)[0] == []  # without the days off it would be overdue since Wednesday


def test_the_status_flow_its_events_and_audit(world):
    engine, device, ingest, cases, accounts, clock = world
    low = device.rate(1)
    ingest.receive(device.batch([low, device.details(low, PHONE)]), clock())
    (case,) = cases.cases()[0]
    leader, leader2, officer, admin = accounts[Role.LEADER], accounts["leader2"], accounts[Role.OFFICER], \
        accounts[Role.ADMIN]
    assert cases.count_new() == 1
    with pytest.raises(CaseError, match="no_owner"):
        cases.move(case.id, "assigned", leader)
    with pytest.raises(CaseError, match="bad_owner"):
        cases.assign(case.id, officer.id, leader)
    with pytest.raises(CaseError, match="not_allowed"):
        cases.assign(case.id, leader.id, officer)
    # The owner and leaders see the number while the case is open; nobody else.
    assert cases.callback_phone(case, leader) == PHONE
    assert cases.callback_phone(case, admin) is None and cases.callback_phone(case, officer) is None
    case = cases.assign(case.id, admin.id, leader)
    assert case.status is CaseStatus.ASSIGNED and cases.count_new() == 0
    assert cases.callback_phone(case, admin) == PHONE      # the admin owns it now
    case = cases.assign(case.id, leader2.id, admin)        # an owning admin may act
    with pytest.raises(CaseError, match="not_allowed"):
        cases.add_note(case.id, "không phải của tôi", admin)  # no longer the owner
    case = cases.move(case.id, "contacted", leader)
    with pytest.raises(CaseError, match="bad_step"):
        cases.move(case.id, "assigned", leader)
    with pytest.raises(CaseError, match="no_outcome"):
        cases.move(case.id, "resolved", leader)
    cases.add_note(case.id, f"Đã gọi số {PHONE}, người dân đồng ý.", leader2)
    case = cases.set_outcome(case.id, CaseOutcome.APOLOGY_SENT, leader2)
    clock.now += timedelta(hours=1)
    case = cases.move(case.id, "resolved", leader2)
    assert case.status is CaseStatus.RESOLVED and case.resolved_at and not case.is_open
    with pytest.raises(CaseError, match="resolved"):
        cases.set_outcome(case.id, "other", leader)
    # Resolved: the number is shown to nobody.
    assert cases.callback_phone(cases.get(case.id), leader) is None
    assert cases.cases(CaseView.RESOLVED)[0][0].id == case.id and cases.cases(CaseView.OPEN)[0] == []

    events = cases.events(case.id)
    assert [(e.actor, e.action, e.value) for e in events] == [
        (None, "opened", "low_rating"),
        ("leader", "assigned", "admin"), ("leader", "status", "assigned"),
        ("admin", "assigned", "leader2"),
        ("leader", "status", "contacted"),
        ("leader2", "note", None),
        ("leader2", "outcome", "apology_sent"),
        ("leader2", "status", "resolved"),
    ]
    audit, _total = AccountBook(engine).audit_entries(per_page=100)
    case_audit = [(e.actor, e.action) for e in reversed(audit) if e.action.startswith("case.")]
    assert case_audit == [(None, "case.open"), ("leader", "case.assign"), ("admin", "case.assign"),
                          ("leader", "case.status"), ("leader2", "case.note"), ("leader2", "case.outcome"),
                          ("leader2", "case.status")]
    digits = PHONE[1:]
    assert all(digits not in (e.detail or "") and digits not in (e.target or "") for e in audit)
    # Nothing of the number is in the cases' own tables either.
    with engine.begin() as conn:
        dump = " ".join(str(row) for table in ("cases", "case_events")
                        for row in conn.exec_driver_sql(f"SELECT * FROM {table}"))
    assert dump.count(digits) == 1  # only inside the leader's own note


def test_officers_lists_hold_only_their_own_cases(world):
    _engine, device, ingest, cases, accounts, clock = world
    ingest.receive(device.batch([device.rate(1), device.rate(1, officer="tran-thi-binh")]), clock())
    assert len(cases.cases()[0]) == 2
    mine = cases.cases(officer_id=accounts[Role.OFFICER].officer_id)[0]
    assert [c.officer_id for c in mine] == ["nguyen-van-an"]


def test_settings_of_follow_up_and_mail_are_checked(world):
    engine = world[0]
    assert save_setting(engine, "alert_to", "a@xa.vn; b@xa.vn") == ["a@xa.vn", "b@xa.vn"]
    assert load_settings(engine).alert_to == ("a@xa.vn", "b@xa.vn")
    for key, value in (("case_levels", 0), ("case_due_working_days", "x"), ("smtp_port", 70000),
                       ("alert_to", "không phải thư"), ("smtp_starttls", "yes")):
        with pytest.raises(SettingError):
            save_setting(engine, key, value)


def test_leaders_get_an_email_without_the_phone_number(world):
    aiosmtpd = pytest.importorskip("aiosmtpd.controller")
    from aiosmtpd.handlers import Message

    received = []

    class Inbox(Message):
        def handle_message(self, message) -> None:
            received.append(message)

    engine, device, ingest, cases, _accounts, clock = world
    with socket.socket() as probe:  # a free loopback port for the mail server
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = aiosmtpd.Controller(Inbox(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        for key, value in (("smtp_host", "127.0.0.1"), ("smtp_port", port), ("smtp_starttls", False),
                           ("smtp_from", "hailong@xa.vn"), ("alert_to", ["chu-tich@xa.vn", "pho-chu-tich@xa.vn"])):
            save_setting(engine, key, value)
        sender = AlertSender(engine, cases, public_url="https://hailong.xa-an-binh.vn/", retry_delays_s=(0.1,))
        on_opened(engine, sender.cases_opened)
        low = device.rate(1)
        ingest.receive(device.batch([low, device.details(low, PHONE)]), clock())
        (case,) = cases.cases()[0]
        deadline = datetime.now() + timedelta(seconds=10)
        while not received and datetime.now() < deadline:
            time.sleep(0.05)
        sender.stop()
    finally:
        controller.stop()
    assert len(received) == 1
    mail = received[0]
    body = mail.get_payload(decode=True).decode("utf-8")
    subject = str(mail["Subject"])
    subject = str(make_header(decode_header(subject)))
    assert f"https://hailong.xa-an-binh.vn/cases/{case.id}" in body
    assert f"Phản ánh mới số {case.id}" in subject and "nguyen-van-an" in subject
    assert "Mức đánh giá: Chưa hài lòng" in body and "Hạn xử lý: 10/03/2026" in body
    assert sorted(mail["X-RcptTo"].split(", ")) == ["chu-tich@xa.vn", "pho-chu-tich@xa.vn"]
    raw = mail.as_string()
    for text in (raw, body, subject):
        assert PHONE not in text and PHONE[1:] not in text and "091 234" not in text


def test_without_a_public_url_the_mail_says_where_to_find_the_case_instead_of_a_dead_link(world):
    """A link relative to nothing (``/cases/7``) leads nowhere from a mailbox:
    without the server's public address the mail names the case to look up."""
    engine, device, ingest, cases, _accounts, clock = world
    low = device.rate(1)
    ingest.receive(device.batch([low]), clock())
    (case,) = cases.cases()[0]
    settings = load_settings(engine)
    body = alert_message(case, None, settings, "").get_content()
    assert f"/cases/{case.id}" not in body and "Xem và giao xử lý tại" not in body
    assert f"Đăng nhập trang quản lý Hài Lòng của xã để xem và giao xử lý phản ánh số {case.id}." in body
    linked = alert_message(case, None, settings, "https://hailong.xa-an-binh.vn").get_content()
    assert f"Xem và giao xử lý tại:\nhttps://hailong.xa-an-binh.vn/cases/{case.id}\n" in linked


def test_a_failing_mail_server_is_retried_and_never_fails_the_upload(world, caplog):
    engine, device, ingest, cases, _accounts, clock = world
    save_setting(engine, "smtp_host", "127.0.0.1")
    save_setting(engine, "alert_to", ["chu-tich@xa.vn"])
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise ConnectionRefusedError("no mail server")

    sender = AlertSender(engine, cases, public_url=None, retry_delays_s=(0.05, 0.05), connect=refuse)
    on_opened(engine, sender.cases_opened)
    low = device.rate(1)
    ingest.receive(device.batch([low, device.details(low, PHONE)]), clock())
    deadline = datetime.now() + timedelta(seconds=5)
    while len(attempts) < 3 and datetime.now() < deadline:
        time.sleep(0.02)
    sender.stop()
    assert len(attempts) == 3 and sender.sent == 0
    assert PHONE not in caplog.text and "given up" in caplog.text


def test_comments_handed_over_open_or_join_cases(world):
    from server.cases import Cause, open_for_comment

    engine, device, ingest, cases, _accounts, clock = world
    low, good, other_good = device.rate(1), device.rate(3), device.rate(3)
    ingest.receive(device.batch(device.records), clock())
    (first,) = cases.cases()[0]
    # About a rating whose case is open: joins it, asking for a call-back marks it.
    assert open_for_comment(engine, 11, rating_uuid=low.uuid, callback=True, clock=clock) is None
    joined = cases.get(first.id)
    assert joined.comment_id == 11 and joined.callback and len(cases.cases()[0]) == 1
    # A good rating's comment without a call-back: nothing; with one: a case of its own.
    assert open_for_comment(engine, 12, rating_uuid=good.uuid, callback=False, clock=clock) is None
    new = open_for_comment(engine, 13, rating_uuid=other_good.uuid, callback=True, clock=clock)
    assert new is not None and cases.get(new).cause is Cause.COMMENT and cases.get(new).officer_id == "nguyen-van-an"
    # A suggestion (no rating) asking for a call-back; handed over twice, opened once.
    suggestion = open_for_comment(engine, 14, rating_uuid=None, callback=True, clock=clock)
    assert suggestion is not None and open_for_comment(engine, 14, rating_uuid=None, callback=True) is None
    assert len(cases.cases()[0]) == 3


def test_a_long_list_comes_a_page_at_a_time_most_urgent_first(world):
    engine, device, ingest, cases, _accounts, clock = world
    ratings = [device.rate(1) for _ in range(7)]
    ingest.receive(device.batch(ratings), clock())
    first, total = cases.cases(CaseView.OPEN, per_page=3)
    second, _ = cases.cases(CaseView.OPEN, page=2, per_page=3)
    last, _ = cases.cases(CaseView.OPEN, page=3, per_page=3)
    assert total == 7 and [len(first), len(second), len(last)] == [3, 3, 1]
    everyone = [c.id for c in first + second + last]
    assert sorted(everyone) == sorted({c.id for c in cases.cases(CaseView.ALL, per_page=50)[0]})
    assert [c.id for c in cases.new_cases(2)] == [c.id for c in cases.cases(CaseView.OPEN, per_page=2)[0]]


def test_the_citizens_comment_is_for_leaders_and_the_owner_while_open_never_the_officer(world):
    engine, device, ingest, cases, accounts, clock = world
    save_setting(engine, "case_levels", 2)
    low, second = device.rate(1), device.rate(2, scale=5)  # both open a case as they arrive
    ingest.receive(device.batch(device.records), clock())
    box = CommentBox(engine, clock=clock)
    said = box.comment_on_rating(low.uuid, "t" * 16, text="Chờ hai tiếng mới được gọi.", phone=None,
                                 consent=False, address="10.0.0.5")
    # The second-lowest of five is no "lowest", yet its comment joins the case its rating opened.
    joined = box.comment_on_rating(second.uuid, "t" * 16, text="Hướng dẫn chưa rõ.", phone=None, consent=False,
                                   address="10.0.0.5")
    by_rating = {c.rating_uuid: c for c in cases.cases()[0]}
    case = by_rating[low.uuid]
    assert case.comment_id == said and by_rating[second.uuid].comment_id == joined
    assert [e.action for e in cases.events(case.id)] == ["opened", "comment"]
    assert cases.cases_for_comments([comment(engine, said), comment(engine, joined)]) == {
        said: case, joined: by_rating[second.uuid]}

    leader, admin, officer, observer = (accounts[r] for r in (Role.LEADER, Role.ADMIN, Role.OFFICER, Role.OBSERVER))
    assert cases.citizen_comment(case, leader).text == "Chờ hai tiếng mới được gọi."
    for nobody in (officer, observer, admin):  # the officer it is about, the observer, an admin it is not given to
        assert cases.citizen_comment(case, nobody) is None, nobody.role
    # An account tied to the officer the case is about never reads it, whatever its role says.
    tied = Account(id=leader.id, username="leader", role=Role.LEADER, officer_id="nguyen-van-an")
    assert cases.citizen_comment(case, tied) is None and not cases.may_see_phone(case, tied)
    case = cases.assign(case.id, admin.id, leader)
    assert cases.citizen_comment(case, admin).text == "Chờ hai tiếng mới được gọi."  # the owner, while open
    cases.set_outcome(case.id, "explained", admin)
    cases.move(case.id, "contacted", admin)
    case = cases.move(case.id, "resolved", admin)
    assert cases.citizen_comment(case, admin) is None and cases.citizen_comment(case, leader) is not None
    # Erased at the citizen's request: the case still leads to it, saying so, with nothing left of the text.
    erase_comment(engine, said, "leader", clock=clock)
    gone = cases.citizen_comment(case, leader)
    assert gone.id == said and gone.erased_at and gone.text is None


def test_a_suggestion_s_case_opens_when_it_was_written(world):
    engine, _device, _ingest, cases, accounts, clock = world
    # The server's clock, not the wall's: a case opened by a comment is dated like the comment.
    suggestion = CommentBox(engine, clock=clock).suggest(text="Xin gọi lại về hồ sơ đất.", name="Lê Văn Tâm",
                                                         phone=PHONE, consent=True, address="10.0.0.6")
    (case,) = cases.cases()[0]
    assert case.comment_id == suggestion and case.opened_at == utc_text(clock()) and case.due_on == "2026-03-10"
    shown = cases.citizen_comment(case, accounts[Role.LEADER])
    assert (shown.kind, shown.name, shown.text) == ("suggestion", "Lê Văn Tâm", "Xin gọi lại về hồ sơ đất.")


def test_showing_the_number_is_audited_without_the_number(world):
    engine, device, ingest, cases, accounts, clock = world
    low = device.rate(1)
    ingest.receive(device.batch([low, device.details(low, PHONE)]), clock())
    (case,) = cases.cases()[0]

    def views() -> list:
        return [e for e in AccountBook(engine).audit_entries(per_page=100)[0] if e.action == "callback.view"]

    for nobody in (Role.OFFICER, Role.ADMIN, Role.OBSERVER):
        assert cases.show_phone(case, accounts[nobody]) is None
    assert views() == []  # nothing shown, nothing audited
    assert cases.show_phone(case, accounts[Role.LEADER], "10.0.0.7") == PHONE
    [entry] = views()
    assert (entry.actor, entry.target, entry.detail, entry.address) == ("leader", f"case {case.id}", "", "10.0.0.7")
    assert cases.callback_phone(case, accounts[Role.LEADER]) == PHONE and len(views()) == 1  # reading is not showing
