"""The dashboard's accounts without a browser: password hashing, sessions,
the login rate limit, roles, the audit log, create-admin, and the two
languages' word lists."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import timedelta

import pytest

from server.accounts import (
    USERNAME_FAILURES,
    AccountBook,
    AccountError,
    LoginRefused,
    Role,
    hash_password,
    lockout_until,
    password_matches,
    token_digest,
)
from server.i18n import LANGUAGES, catalogue, translate
from server.store import open_engine, tables
from tests.sync_support import ManualClock

PASSWORD = "một-mật-khẩu-dài"


def about(when, expected) -> bool:
    """Equal to the millisecond the database keeps."""
    return when is not None and abs((when - expected).total_seconds()) < 0.002


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def book(tmp_path, clock) -> AccountBook:
    engine = open_engine(tmp_path / "server.db")
    yield AccountBook(engine, clock=clock)
    engine.dispose()


def test_passwords_are_hashed_with_argon2id_and_never_stored(book):
    digest = hash_password(PASSWORD)
    assert digest.startswith("$argon2id$") and PASSWORD not in digest
    assert password_matches(digest, PASSWORD) and not password_matches(digest, PASSWORD + "x")
    assert not password_matches("not a hash", PASSWORD)
    book.create("Admin", PASSWORD, Role.ADMIN)
    with book.engine.begin() as conn:
        stored = conn.execute(tables.accounts.select()).mappings().one()
        everything = " ".join(str(v) for table in (tables.accounts, tables.audit_log, tables.login_attempts)
                              for row in conn.execute(table.select()) for v in row)
    assert stored["username"] == "admin" and stored["password_hash"].startswith("$argon2id$")
    assert PASSWORD not in everything


def test_account_rules(book):
    with pytest.raises(AccountError) as short:
        book.create("a", "short", Role.LEADER)
    assert short.value.code == "short_password"
    with pytest.raises(AccountError) as accented:
        book.create("nguyễn", PASSWORD, Role.LEADER)
    assert accented.value.code == "bad_username"
    with pytest.raises(AccountError) as untied:
        book.create("an", PASSWORD, Role.OFFICER)
    assert untied.value.code == "officer_needed"
    officer = book.create("an", PASSWORD, Role.OFFICER, officer_id="nguyen-van-an", display_name="Nguyễn Văn An")
    assert officer.officer_id == "nguyen-van-an" and officer.name == "Nguyễn Văn An"
    # Only an officer's account is tied to the roster.
    assert book.create("lead", PASSWORD, Role.LEADER, officer_id="nguyen-van-an").officer_id is None
    with pytest.raises(AccountError) as taken:
        book.create("AN", PASSWORD, Role.OBSERVER)
    assert taken.value.code == "username_taken"
    admin = book.create("admin", PASSWORD, Role.ADMIN)
    with pytest.raises(AccountError) as last:
        book.deactivate(admin.id)
    assert last.value.code == "last_admin"


def test_sessions_are_stored_as_digests_and_end(book, clock):
    account = book.create("lead", PASSWORD, Role.LEADER)
    session, token = book.login("LEAD ", PASSWORD, "10.0.0.5")
    assert session.account == account and len(session.csrf) >= 32
    with book.engine.begin() as conn:
        row = conn.execute(tables.sessions.select()).mappings().one()
    assert row["token_digest"] == token_digest(token) and token not in row.values()
    assert book.session(token).account.role is Role.LEADER
    assert book.session("forged") is None and book.session(None) is None
    # A session lasts one working day.
    clock.advance(11 * 3600)
    assert book.session(token) is not None
    clock.advance(3600)
    assert book.session(token) is None
    # Logout, a new password and closing the account each end the sessions.
    session, token = book.login("lead", PASSWORD, "10.0.0.5")
    book.logout(session)
    assert book.session(token) is None
    _, token = book.login("lead", PASSWORD, "10.0.0.5")
    book.set_password(account.id, PASSWORD + "!")
    assert book.session(token) is None
    _, token = book.login("lead", PASSWORD + "!", "10.0.0.5")
    book.create("admin", PASSWORD, Role.ADMIN)
    book.deactivate(account.id)
    assert book.session(token) is None
    with pytest.raises(LoginRefused):
        book.login("lead", PASSWORD + "!", "10.0.0.5")


def test_wrong_passwords_lock_the_username_for_a_growing_while(book, clock):
    book.create("an", PASSWORD, Role.OBSERVER)
    for _ in range(USERNAME_FAILURES - 1):
        with pytest.raises(LoginRefused) as refused:
            book.login("an", "wrong password", "10.0.0.7")
        assert refused.value.locked_until is None
    with pytest.raises(LoginRefused) as refused:
        book.login("an", "wrong password", "10.0.0.7")
    assert about(refused.value.locked_until, clock() + timedelta(minutes=1))
    assert refused.value.minutes_left(clock()) == 1
    # Locked: even the right password, from anywhere.
    with pytest.raises(LoginRefused) as refused:
        book.login("an", PASSWORD, "10.0.0.8")
    assert refused.value.locked_until is not None
    # After the lock, one more failure locks for twice as long.
    clock.advance(61)
    with pytest.raises(LoginRefused) as refused:
        book.login("an", "wrong again", "10.0.0.7")
    assert about(refused.value.locked_until, clock() + timedelta(minutes=2))
    clock.advance(121)
    book.login("an", PASSWORD, "10.0.0.7")  # a success clears the count
    with pytest.raises(LoginRefused) as refused:
        book.login("an", "wrong", "10.0.0.7")
    assert refused.value.locked_until is None
    entries, total = book.audit_entries()
    actions = [e.action for e in entries]
    assert actions.count("login.failure") == 7 and actions.count("login.success") == 1
    assert "login.locked" in actions and total == len(entries)
    assert entries[0].action == "login.failure"  # newest first


def test_one_address_trying_many_usernames_is_locked_too(book):
    for i in range(20):
        with pytest.raises(LoginRefused):
            book.login(f"user{i}", "guess", "10.0.0.9")
    with pytest.raises(LoginRefused) as refused:
        book.login("anyone", "guess", "10.0.0.9")
    assert refused.value.locked_until is not None
    assert book.locked_until("anyone", "10.0.0.10") is None


def test_lockout_rule():
    clock = ManualClock()
    assert lockout_until(4, clock(), 5) is None
    assert lockout_until(5, clock(), 5) == clock() + timedelta(minutes=1)
    assert lockout_until(7, clock(), 5) == clock() + timedelta(minutes=4)
    assert lockout_until(30, clock(), 5) == clock() + timedelta(hours=1)


def test_roles():
    assert [r.value for r in Role] == ["admin", "leader", "officer", "observer"]
    assert Role("leader") is Role.LEADER


def test_create_admin_command(tmp_path):
    db = tmp_path / "server.db"
    run = [sys.executable, "-m", "server", "create-admin", "--db", str(db), "--username", "Kỹ_thuật",
           "--password-stdin"]
    refused = subprocess.run(run, input=PASSWORD + "\n", capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "username" in refused.stderr
    run[run.index("Kỹ_thuật")] = "kythuat"
    made = subprocess.run(run, input=PASSWORD + "\n", capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    engine = open_engine(db)
    session, _ = AccountBook(engine).login("kythuat", PASSWORD, "127.0.0.1")
    assert session.account.role is Role.ADMIN
    engine.dispose()


def test_both_languages_have_the_same_keys_and_placeholders():
    vi, en = catalogue("vi"), catalogue("en")
    assert set(vi) == set(en)
    placeholder = re.compile(r"\{(\w+)\}")
    for key in vi:
        assert vi[key].strip() and en[key].strip(), key
        assert set(placeholder.findall(vi[key])) == set(placeholder.findall(en[key])), key
    assert LANGUAGES[0] == "vi"
    assert translate("vi", "login.error.locked", minutes=3).endswith("3 phút.")
    assert translate("fr", "nav.home") == "Trang chủ" and translate("en", "no.such.key") == "no.such.key"
