"""Passwords and sign-in in the store, without Flask: hashing, rules, throttles, links, profile; and the CLI.

`crm users set-password` and `crm demo` run through click's CliRunner against the test database.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.errors import NotFound, ValidationError
from crm_store.models import OutboxMessage, User
from crm_store.models.people import SignInFailure
from crm_store.staff import passwords, profile, recovery, users
from crm_store.staff import sign_in as signing_in
from crm_store.staff.tokens import make_token

from .staff_support import PASSWORD, Staff

NOW = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
SECRET = "test secret"


@pytest.fixture
def rep(session: Session) -> User:
    user = users.add_user(session, "amy@leadline.test", "Amy Chen", welcome=False)
    passwords.set_password(session, user, PASSWORD)
    session.commit()
    return user


# -- hashing and rules ------------------------------------------------------------------------------


def test_a_hash_is_salted_scrypt_and_verifies_only_its_password() -> None:
    one, two = passwords.hash_password(PASSWORD), passwords.hash_password(PASSWORD)
    assert one != two and one.startswith("scrypt$ln=15,r=8,p=1$")
    assert passwords.verify_password(PASSWORD, one) and passwords.verify_password(PASSWORD, two)
    assert not passwords.verify_password(PASSWORD + " ", one)
    assert not passwords.verify_password(PASSWORD, None)  # no password yet: never right
    assert not passwords.verify_password(PASSWORD, "md5$abc")  # not ours: never right, never an error
    assert not passwords.needs_rehash(one) and passwords.needs_rehash("md5$abc")
    assert passwords.fingerprint(one) != passwords.fingerprint(two) and passwords.fingerprint(None) == "none"


def test_a_new_password_must_keep_the_rules(session: Session, rep: User) -> None:
    cases = {"short": ("password", "Use at least 10 characters."),
             "x" * 201: ("password", "Use at most 200 characters."),
             "AMY@leadline.test": ("password", "Do not use your email address as your password."),
             "aaaaaaaaaaaa": ("password", "Use more than one different character.")}
    before = rep.password_hash
    for password, (field, message) in cases.items():
        with pytest.raises(ValidationError) as caught:
            passwords.set_password(session, rep, password)
        assert (caught.value.field, caught.value.message) == (field, message)
    with pytest.raises(ValidationError) as caught:
        passwords.set_password(session, rep, "long enough now", "long enough n0w")
    assert caught.value.field == "password_again"
    with pytest.raises(ValidationError) as caught:
        passwords.change_password(session, rep, "not it", "long enough now", "long enough now")
    assert caught.value.field == "current_password"
    assert rep.password_hash == before  # nothing changed by a refusal


def test_an_older_hash_is_made_again_at_the_next_sign_in(session: Session, rep: User,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "COST_LOG2", 12)
    rep.password_hash = passwords.hash_password(PASSWORD)
    session.commit()
    monkeypatch.undo()
    assert passwords.needs_rehash(rep.password_hash)
    outcome = signing_in.sign_in(session, rep.email, PASSWORD, "192.0.2.1", now=NOW)
    assert outcome.user is not None and rep.password_hash.startswith("scrypt$ln=15,")
    assert passwords.verify_password(PASSWORD, rep.password_hash)


# -- throttles -------------------------------------------------------------------------------------


def test_the_throttle_grows_the_wait_then_locks_then_forgets() -> None:
    rule = signing_in.Throttle(lock_after=5, lock_for=dt.timedelta(minutes=15), max_delay=8)
    failures, lock = 0, None
    waits = []
    for _ in range(4):
        failures, lock = rule.count(failures, NOW, lock, NOW)
        waits.append(rule.wait(failures, NOW, lock, NOW))
    assert waits == [1, 2, 4, 8] and lock is None
    failures, lock = rule.count(failures, NOW, lock, NOW)
    assert failures == 5 and lock == NOW + dt.timedelta(minutes=15)
    assert rule.wait(failures, NOW, lock, NOW + dt.timedelta(minutes=14, seconds=30)) == 30
    after = NOW + dt.timedelta(minutes=15)
    assert rule.wait(failures, NOW, lock, after) == 0 and rule.count(failures, NOW, lock, after) == (1, None)
    assert rule.count(3, NOW, None, NOW + dt.timedelta(minutes=16)) == (1, None)  # old failures forgotten
    assert rule.wait(9, NOW, None, NOW + dt.timedelta(seconds=5)) == 3  # capped at max_delay


def test_an_attempt_counts_as_failed_before_the_password_is_checked(session: Session, rep: User) -> None:
    first = signing_in.begin(session, rep.email, "192.0.2.1", now=NOW)
    second = signing_in.begin(session, rep.email, "192.0.2.2", now=NOW)  # in parallel, another address
    assert first.refusal is None and second.refusal == signing_in.WAIT and second.wait_seconds == 1
    assert not signing_in.check(second, PASSWORD)  # refused attempts are never checked
    outcome = signing_in.conclude(session, first, signing_in.check(first, PASSWORD), now=NOW)
    assert outcome.user is not None and outcome.user.id == rep.id
    assert (rep.failed_sign_ins, rep.locked_until) == (0, None)
    place = session.scalar(select(SignInFailure).where(SignInFailure.address == "192.0.2.1"))
    assert place is not None and place.failures == 0  # the right password forgave its own count


def test_five_failures_lock_the_account_even_for_the_right_password(session: Session, rep: User) -> None:
    at = NOW
    for n in range(5):
        outcome = signing_in.sign_in(session, rep.email, "wrong", f"192.0.2.{n}", now=at)
        at += dt.timedelta(seconds=10)
    assert outcome.refusal == signing_in.LOCKED and outcome.wait_seconds == 15 * 60
    locked = signing_in.sign_in(session, rep.email, PASSWORD, "198.51.100.1", now=at)
    assert locked.user is None and locked.refusal == signing_in.LOCKED
    assert signing_in.sign_in(session, rep.email, PASSWORD, "198.51.100.1", now=NOW + dt.timedelta(minutes=16)).user


def test_a_deactivated_user_is_refused_like_a_wrong_password(session: Session, rep: User) -> None:
    users.deactivate_user(session, rep.email)
    outcome = signing_in.sign_in(session, rep.email, PASSWORD, "192.0.2.1", now=NOW)
    assert outcome.user is None and outcome.refusal == signing_in.WRONG


# -- links -----------------------------------------------------------------------------------------


def test_a_reset_link_works_until_the_password_changes(session: Session, rep: User) -> None:
    assert recovery.queue_reset(session, " AMY@leadline.test ", now=NOW)
    assert not recovery.queue_reset(session, "nobody@leadline.test", now=NOW)
    assert recovery.queue_reset(session, "amy@leadline.test", now=NOW + dt.timedelta(minutes=1))  # one email only
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.template == "password_reset")).all()
    assert len(rows) == 1 and rows[0].context["token"] == {"$signed": {
        "purpose": "reset_password", "subject": f"{rep.id}.{passwords.fingerprint(rep.password_hash)}",
        "expires_at": (NOW + dt.timedelta(hours=1)).isoformat()}}
    token = make_token(SECRET, "reset_password", rows[0].context["token"]["$signed"]["subject"],
                       NOW + dt.timedelta(hours=1))
    assert recovery.reset_user(session, SECRET, token, now=NOW).id == rep.id
    with pytest.raises(recovery.LinkRefused) as late:
        recovery.reset_user(session, SECRET, token, now=NOW + dt.timedelta(hours=2))
    assert late.value.message == recovery.EXPIRED_LINK
    passwords.set_password(session, rep, "a different one")
    with pytest.raises(recovery.LinkRefused) as used:
        recovery.reset_user(session, SECRET, token, now=NOW)
    assert used.value.message == recovery.INVALID_LINK


def test_a_welcome_link_works_while_the_user_has_no_password(session: Session) -> None:
    user = users.add_user(session, "new@leadline.test", "New Person", welcome=False)
    token = make_token(SECRET, "set_password", str(user.id), NOW + dt.timedelta(days=7))
    assert recovery.welcome_user(session, SECRET, token, now=NOW) is user
    with pytest.raises(recovery.LinkRefused):
        recovery.welcome_user(session, "another secret", token, now=NOW)
    passwords.set_password(session, user, "the first password")
    with pytest.raises(recovery.LinkRefused):
        recovery.welcome_user(session, SECRET, token, now=NOW)
    with pytest.raises(ValidationError):
        users.resend_welcome(session, user)


# -- profile ---------------------------------------------------------------------------------------


def test_out_of_office_days_are_whole_days_in_the_users_zone(session: Session, rep: User) -> None:
    profile.update_profile(session, rep, language="zh_Hant", time_zone="Asia/Taipei",
                           away_from=dt.date(2026, 2, 16), away_to=dt.date(2026, 2, 20))
    assert rep.out_of_office_from == dt.datetime(2026, 2, 15, 16, 0, tzinfo=dt.UTC)
    assert rep.out_of_office_to == dt.datetime(2026, 2, 20, 16, 0, tzinfo=dt.UTC)
    from zoneinfo import ZoneInfo

    assert profile.away_days(rep, ZoneInfo("Asia/Taipei")) == (dt.date(2026, 2, 16), dt.date(2026, 2, 20))
    for values, field in (({"language": "fr"}, "language"), ({"time_zone": "Nowhere/Land"}, "time_zone"),
                          ({"away_from": dt.date(2026, 3, 2), "away_to": dt.date(2026, 3, 1)}, "out_of_office_to")):
        kwargs = {"language": "en", "time_zone": None, "away_from": None, "away_to": None, **values}
        with pytest.raises(ValidationError) as caught:
            profile.update_profile(session, rep, **kwargs)
        assert caught.value.field == field
    assert (rep.language, rep.time_zone) == ("zh_Hant", "Asia/Taipei")  # nothing half-written


# -- the command line -------------------------------------------------------------------------------


def test_crm_users_set_password_takes_two_lines(crm, session: Session, rep: User) -> None:
    from click.testing import CliRunner

    from crm_store.cli import main

    runner = CliRunner()
    done = runner.invoke(main, ["users", "set-password", "AMY@leadline.test"], input="from the cli 1\nfrom the cli 1\n")
    assert done.exit_code == 0, done.output
    assert done.output.strip() == "Set the password of amy@leadline.test; their other sessions are signed out."
    for given, error in (("one\n", "give the new password twice"), ("short\nshort\n", "Use at least 10 characters."),
                         ("long enough 1\nlong enough 2\n", "The two passwords are not the same.")):
        refused = runner.invoke(main, ["users", "set-password", "amy@leadline.test"], input=given)
        assert refused.exit_code != 0 and error in refused.output + refused.stderr, given
    missing = runner.invoke(main, ["users", "set-password", "nobody@leadline.test"], input="x" * 12 + "\n" + "x" * 12)
    assert missing.exit_code != 0 and "no user with email" in missing.stderr
    session.expire_all()
    assert passwords.verify_password("from the cli 1", session.get(User, rep.id).password_hash)
    with pytest.raises(NotFound):
        users.find_user(session, "nobody@leadline.test")


@pytest.mark.parametrize("template", ["sqlite"], indirect=True)  # the demo itself runs on both in test_demo
def test_crm_demo_prints_the_password_the_demo_users_sign_in_with(crm, session: Session) -> None:
    from crm_store.config import load_config
    from webform import create_app

    out = crm("demo").output
    found = re.search(r"Password of each of them: (\S+) \(sign in at (\S+)\)", out)
    assert found is not None, out
    password, url = found[1], found[2]
    assert url.endswith("/auth/sign-in")
    session.expire_all()
    assert session.scalar(select(OutboxMessage.id).where(OutboxMessage.template == "welcome")) is None
    session.commit()
    app = create_app(load_config())
    try:
        for email in ("admin@example.com", "manager@example.com", "rep1@example.com"):
            staff = Staff(app.test_client())
            staff.sign_in(email, password)
            assert staff.status == 303 and staff.location == "/", email
    finally:
        app.extensions["leadline"].engine.dispose()
