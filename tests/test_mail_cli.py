"""`crm mail …`: welcome messages queued, sent to .eml files, status, retry, preview."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.config import load_config
from crm_store.errors import CrmError
from crm_store.mail import outbox
from crm_store.models import OutboxMessage, User
from crm_store.staff.tokens import make_token, verify_token


def test_new_users_are_welcomed_and_mail_send_writes_eml_files(crm, env, session: Session) -> None:  # noqa: ANN001
    crm("users", "add", "amy@example.com", "--name", "Amy Chen")
    crm("users", "add", "wang@example.com", "--name", "王小明", "--language", "zh_Hant")
    users = session.scalars(select(User)).all()
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.template == "welcome")).all()
    session.commit()
    assert sorted(r.recipient for r in rows) == sorted(u.email for u in users)
    assert len(rows) == 2
    assert all(r.status == "queued" and r.to_staff for r in rows)
    sent = crm("mail", "send").output
    assert f"{len(users)} sent" in sent and "files under" in sent
    status = crm("mail", "status").output
    assert "CRM_SMTP_URL is unset" in status
    assert f"sent: {len(users)}" in status
    files = sorted(Path(env["CRM_DATA_DIR"], "outbox").glob("*-welcome.eml"))
    assert [f.name for f in files] == [f"{r.id:08d}-welcome.eml" for r in sorted(rows, key=lambda r: r.id)]
    message = next(
        m for m in (email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files)
        if "wang@example.com" in str(m["To"])
    )
    assert any("\u4e00" <= ch <= "\u9fff" for ch in str(message["Subject"]))
    text = message.get_body(("plain",)).get_content()
    assert "wang@example.com" in text
    assert "nothing was due" in crm("mail", "send").output  # each message is sent once
    assert len(list(Path(env["CRM_DATA_DIR"], "outbox").glob("*.eml"))) == len(users)


def test_status_failed_and_retry(crm, session: Session) -> None:  # noqa: ANN001
    outbox.enqueue(session, "test_message", "amy@example.com", key="t1", context={}, to_staff=True)
    (row,) = outbox.claim_due(session, now=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1))[0]
    outbox.mark_failed(session, row.id, "550 5.1.1 mailbox unavailable")
    session.commit()
    listed = crm("mail", "status", "--failed").output
    assert "550 5.1.1 mailbox unavailable" in listed and "amy@example.com" in listed
    assert f"Message {row.id} to amy@example.com is queued again." in crm("mail", "retry", str(row.id)).output
    session.expire_all()
    again = session.get_one(OutboxMessage, row.id)
    assert (again.status, again.attempts, again.last_error) == ("queued", 0, None)
    session.commit()
    assert "550 5.1.1" not in crm("mail", "status", "--failed").output  # no longer listed as failed
    missing = crm("mail", "retry", "9999", ok=False)
    assert missing.exit_code == 1 and "no outbox message 9999" in missing.stderr


@pytest.mark.parametrize("lang", ["en", "zh_Hant"])
def test_preview_writes_a_file_a_person_can_open(crm, tmp_path: Path, lang: str) -> None:  # noqa: ANN001
    out = tmp_path / "digest.eml"
    crm("mail", "preview", "daily_digest", "--lang", lang, "--out", str(out))
    message = email.message_from_bytes(out.read_bytes(), policy=email.policy.default)
    assert message.get_body(("html",)) is not None
    assert out.with_suffix(".html").read_text().lstrip().lower().startswith("<!doctype html")


def test_set_password_token_round_trip(env) -> None:  # noqa: ANN001
    secret = load_config().secret_key
    now = dt.datetime.now(dt.UTC)
    token = make_token(secret, "set_password", "42", now + dt.timedelta(days=7))
    assert verify_token(secret, "set_password", token, now) == "42"
    with pytest.raises(CrmError, match="expired"):
        verify_token(secret, "set_password", token, now + dt.timedelta(days=8))
    with pytest.raises(CrmError, match="not valid"):
        verify_token(secret, "reset_password", token, now)
    with pytest.raises(CrmError, match="not valid"):
        verify_token("other secret", "set_password", token, now)
