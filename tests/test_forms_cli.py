"""`crm forms`: add, list, show, edit, disable, the spam quarantine and IP pruning; `crm users deactivate`."""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from crm_store.capture import forms as webforms
from crm_store.capture import submissions as capture
from crm_store.cli import main
from crm_store.errors import ValidationError
from crm_store.models import Lead, OutboxMessage, User, WebForm, WebFormAssignee, WebSubmission, utcnow
from crm_store.records import lifecycle as records
from crm_store.settings import company
from crm_store.staff import users
from tests.conftest import ALLOWED_ORIGIN
from tests.fifo import run_beside

ROOT = Path(__file__).resolve().parent.parent


# -- helpers -----------------------------------------------------------------------------------


def done(session: Session) -> None:
    """End the test's read transaction (SQLite: the CLI would wait on it) without expiring objects."""
    session.expunge_all()
    session.rollback()


def form_named(session: Session, name: str) -> WebForm:
    form = session.scalar(select(WebForm).where(WebForm.name == name).execution_options(populate_existing=True))
    assert form is not None, f"no form {name!r}"
    _ = form.assignees  # loaded while attached
    done(session)
    return form


def count(session: Session, model: Any, *where: Any) -> int:
    n = session.scalar(select(func.count()).select_from(model).where(*where))
    done(session)
    return int(n or 0)


def write_yaml(tmp_path: Path, data: Any, name: str = "form.yaml") -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return str(path)


def one_line_error(result: Any) -> str:
    """The error of a failed command: exit 1, one line on stderr, no traceback."""
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in result.output
    return lines[0]


def submit(session: Session, form: WebForm, email: str, *, spam: str | None = None, ip: str = "203.0.113.9",
           last_name: str = "Chen") -> str:
    """Store one submission through the capture module (committed); return its public id."""
    receipt = capture.receive(session, capture.Inbound(
        form=session.get(WebForm, form.id), client_key=uuid.uuid4().hex, raw={"email": email, "last_name": last_name},
        values={"last_name": last_name, "email": email}, ip=ip, spam_reason=spam,
    ))
    session.commit()
    done(session)
    return receipt.public_id


# -- add ---------------------------------------------------------------------------------------


def test_add_with_options_stores_the_form_and_prints_how_to_embed_it(crm, session, reps) -> None:
    out = crm(
        "forms", "add", "Contact us", "--fields", "first_name,last_name*,email*,phone,company,message",
        "--round-robin", reps[0].email, "--round-robin", reps[2].email,
        "--allowed-origin", "https://WWW.Example.com/", "--allowed-origin", "http://shop.example.com:8080",
        "--return-url", "https://www.example.com/thanks", "--consent-text", "You may store my data.",
        "--hidden", "lead_source=Web Site", "--hidden", "rating=Active", "--thank-you", "Talk soon!",
        "--auto-reply", "--no-notify-owner",
    ).output
    assert "Added web form 'Contact us'." in out
    form = form_named(session, "Contact us")
    assert f"/forms/{form.public_id}" in out and f"/api/forms/{form.public_id}/submissions" in out
    assert f'<script src="http://127.0.0.1:8000/forms/{form.public_id}/embed.js" async></script>' in out
    assert form.integration_key in out and "X-Form-Key" in out
    assert form.enabled and form.language == "en"
    assert [f["name"] for f in form.fields] == ["first_name", "last_name", "email", "phone", "company", "message"]
    assert [f["name"] for f in form.fields if f["required"]] == ["last_name", "email"]
    assert form.owner_kind == "round_robin" and [a.user_id for a in form.assignees] == [reps[0].id, reps[2].id]
    assert form.allowed_origins == ["https://www.example.com", "http://shop.example.com:8080"]
    assert form.return_url == "https://www.example.com/thanks" and form.consent_text == "You may store my data."
    assert form.hidden == {"lead_source": "Web Site", "rating": "Active"} and form.thank_you == "Talk soon!"
    assert form.auto_reply is True and form.notify_owner is False


def test_add_without_origins_warns_that_only_the_hosted_page_works(crm, session, reps) -> None:
    out = crm("forms", "add", "Bare form", "--owner", reps[1].email).output
    assert "no --allowed-origin" in out
    form = form_named(session, "Bare form")
    assert form.owner_kind == "user" and form.owner_user_id == reps[1].id
    assert form.hidden == {"lead_source": "Web Site"} and form.auto_reply is False and form.notify_owner is True


def test_add_from_file_in_traditional_chinese_with_a_hidden_campaign(crm, session, reps, tmp_path) -> None:
    campaign = records.create(session, "campaigns", {"name": "春季展覽"})
    session.commit()
    path = write_yaml(tmp_path, {
        "name": "聯絡我們", "language": "zh_Hant",
        "fields": ["first_name", {"name": "last_name"}, {"name": "email", "required": True}, "phone",
                   {"name": "message", "label": "您的問題"}],
        "hidden": {"campaign": campaign.campaign_no, "lead_source": "Trade Show"},
        "team": None, "round_robin": [r.email for r in reps],
        "allowed_origins": ["https://www.example.com.tw"], "thank_you": "謝謝！",
    })
    out = crm("forms", "add", "--from-file", path).output
    assert "Added web form '聯絡我們'." in out
    form = form_named(session, "聯絡我們")
    assert form.language == "zh_Hant"
    labels = {f["name"]: f["label"] for f in form.fields}
    assert labels == {
        "first_name": "名字", "last_name": "姓氏", "email": "電子郵件", "phone": "電話", "message": "您的問題",
    }
    assert form.hidden == {"campaign_id": campaign.id, "lead_source": "Trade Show"}
    assert [a.user_id for a in form.assignees] == [r.id for r in reps]


def test_add_from_file_by_campaign_name_and_language_alias(crm, session, reps, tmp_path) -> None:
    campaign = records.create(session, "campaigns", {"name": "Spring Expo"})
    session.commit()
    path = write_yaml(tmp_path, {"name": "Expo", "language": "zh-TW", "hidden": {"campaign": "Spring Expo"}})
    crm("forms", "add", "--from-file", path)
    form = form_named(session, "Expo")
    assert form.language == "zh_Hant" and form.hidden["campaign_id"] == campaign.id


def test_add_options_override_the_file(crm, session, reps, tmp_path) -> None:
    path = write_yaml(tmp_path, {"name": "From file", "language": "zh_Hant", "owner": reps[0].email,
                                 "hidden": {"lead_source": "Web Site", "rating": "Shutdown"}})
    crm("forms", "add", "Renamed", "--from-file", path, "--language", "en", "--hidden", "rating=Active")
    form = form_named(session, "Renamed")
    assert form.language == "en" and form.hidden == {"lead_source": "Web Site", "rating": "Active"}
    assert form.owner_user_id == reps[0].id
    assert count(session, WebForm, WebForm.name == "From file") == 0


def test_the_shipped_example_definition_loads(crm, session, tmp_path) -> None:
    for i in (1, 2):
        users.add_user(session, f"rep{i}@example.com", f"Example Rep {i}", welcome=False)
    session.commit()
    crm("forms", "add", "--from-file", str(ROOT / "docs" / "forms" / "contact-us.yaml"))
    form = form_named(session, "Contact us")
    industry = next(f for f in form.fields if f["name"] == "industry")
    assert industry["type"] == "select" and industry["choices"] == ["Manufacturing", "Retail", "Shipping", "Other"]
    assert form.consent_text and form.return_url == "https://www.example.com/thank-you"


BAD_DEFINITIONS = [
    pytest.param({"allowed_origins": ["https://www.example.com/contact"]}, "allowed_origins[0]",
                 id="origin-with-path"),
    pytest.param({"allowed_origins": ["https://ok.example", "ftp://files.example"]}, "allowed_origins[1]",
                 id="origin-ftp"),
    pytest.param({"fields": ["last_name", {"name": "favourite_colour"}]}, "fields[1].name", id="unknown-field"),
    pytest.param({"fields": ["last_name", "email", "last_name"]}, "fields[2].name", id="field-twice"),
    pytest.param({"fields": ["email", "phone"]}, "fields", id="no-last_name"),
    pytest.param({"fields": ["last_name", {"name": "email", "type": "password"}]}, "fields[1].type", id="bad-type"),
    pytest.param({"fields": ["last_name", {"name": "email", "colour": "red"}]}, "fields[1].colour", id="bad-field-key"),
    pytest.param({"fields": ["last_name", {"name": "industry", "choices": ["Piracy"]}]}, "fields[1].choices",
                 id="bad-choice"),
    pytest.param({"owner": "nobody@example.com"}, "owner", id="unknown-owner"),
    pytest.param({"round_robin": ["rep1@leadline.test", "ghost@example.com"]}, "round_robin[1]", id="unknown-rr-user"),
    pytest.param({"round_robin": ["rep1@leadline.test", "rep1@leadline.test"]}, "round_robin", id="rr-user-twice"),
    pytest.param({"team": "No Such Team"}, "team", id="unknown-team"),
    pytest.param({"owner": "rep1@leadline.test", "team": "Sales"}, "team", id="owner-and-team"),
    pytest.param({"language": "fr"}, "language", id="bad-language"),
    pytest.param({"colour": "red"}, "colour", id="unknown-key"),
    pytest.param({"hidden": {"campaign": "CAM999"}}, "hidden.campaign", id="unknown-campaign"),
    pytest.param({"hidden": {"owner_id": 1}}, "hidden.owner_id", id="hidden-not-allowed"),
    pytest.param({"hidden": {"rating": "Lukewarm"}}, "hidden.rating", id="hidden-bad-picklist"),
    pytest.param({"return_url": "javascript:alert(1)"}, "return_url", id="return-url-javascript"),
    pytest.param({"auto_reply": "maybe"}, "auto_reply", id="bad-flag"),
    pytest.param({"name": ""}, "name", id="empty-name"),
]


@pytest.mark.parametrize(("changes", "key"), BAD_DEFINITIONS)
def test_bad_definition_fails_with_one_line_naming_the_key_and_writes_nothing(
    crm, session, reps, tmp_path, changes, key
) -> None:
    path = write_yaml(tmp_path, {"name": "Broken", **changes})
    line = one_line_error(crm("forms", "add", "--from-file", path, ok=False))
    assert line.startswith(f"error: {key}: "), line
    assert count(session, WebForm) == 0
    assert count(session, WebFormAssignee) == 0


def test_unknown_owner_error_names_the_address(crm, session, reps) -> None:
    line = one_line_error(crm("forms", "add", "X", "--owner", "nobody@example.com", ok=False))
    assert "owner" in line and "nobody@example.com" in line


def test_inactive_owner_is_refused(crm, session, reps) -> None:
    session.get(User, reps[0].id).active = False
    session.commit()
    line = one_line_error(crm("forms", "add", "X", "--owner", reps[0].email, ok=False))
    assert line.startswith("error: owner: ") and "inactive" in line


def test_bad_yaml_file_names_the_file(crm, session, tmp_path) -> None:
    path = write_yaml(tmp_path, "name: [unclosed\n")
    result = crm("forms", "add", "--from-file", path, ok=False)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.startswith(f"error: from_file: {path}: ")
    list_path = write_yaml(tmp_path, "- a\n- b\n", "list.yaml")
    assert "mapping" in one_line_error(crm("forms", "add", "--from-file", list_path, ok=False))
    assert count(session, WebForm) == 0


def test_bad_yaml_error_is_one_line(crm, session, tmp_path) -> None:
    """Every user mistake is shown as one line (CrmError's promise); YAML's own message spans several."""
    path = write_yaml(tmp_path, "name: [unclosed\n")
    line = one_line_error(crm("forms", "add", "--from-file", path, ok=False))
    assert line.startswith("error: from_file: ") and "form.yaml" in line


LAUGHS = "".join(
    f"{level}: &{level} [{', '.join(['lol'] * 9) if level == 'a' else ', '.join([f'*{chr(ord(level) - 1)}'] * 9)}]\n"
    for level in "abcdefghi"
)  # 350 bytes; nine levels of nine aliases each expand to 9**9 strings


def test_a_billion_laughs_is_refused_before_anything_expands(tmp_path) -> None:
    assert len(LAUGHS.encode()) < 400
    path = write_yaml(tmp_path, f"name: Laughs\n{LAUGHS}")
    with pytest.raises(ValidationError) as err:
        webforms.load_file(path)
    assert str(err.value) == (
        f"from_file: {path}: line 3, column 8: YAML aliases (*a) are not allowed; write the value out"
    )


@pytest.mark.parametrize("text", [
    "name: Laughs\nconsent_text: &x I agree\nthank_you: *x\n",
    "name: Laughs\n" + LAUGHS.split("f:")[0] + "consent_text: *e\n",  # 9**5 strings, 400 kB as text
    "base: &base {notify_owner: true}\nname: Merge\n<<: *base\n",
])
def test_aliases_are_refused_in_one_line_and_nothing_is_written(crm, session, tmp_path, text) -> None:
    path = write_yaml(tmp_path, text)
    line = one_line_error(crm("forms", "add", "--from-file", path, ok=False))
    assert line.startswith(f"error: from_file: {path}: line ") and "YAML aliases" in line, line
    assert count(session, WebForm) == 0


@pytest.mark.parametrize("shape", ["flow", "block"])
def test_deep_nesting_is_a_one_line_error_not_a_traceback(crm, session, tmp_path, shape) -> None:
    if shape == "flow":  # 5000 deep: the YAML composer itself recursed past Python's limit
        text = "name: Deep\nconsent_text: " + "[" * 5000 + "]" * 5000 + "\n"
    else:  # 200 deep, 40 kB: under the size limit
        text = "name: Deep\nhidden:\n" + "".join(f"{'  ' * (i + 1)}k{i}:\n" for i in range(200))
    path = write_yaml(tmp_path, text)
    line = one_line_error(crm("forms", "add", "--from-file", path, ok=False))
    assert line.startswith(f"error: from_file: {path}: line ") and line.endswith("nested deeper than 10 levels")
    assert count(session, WebForm) == 0


def test_the_nesting_a_definition_needs_loads(tmp_path) -> None:
    definition = {"name": "Nested", "fields": [{"name": "industry", "choices": ["Retail"]}], "hidden": {}}
    assert webforms.load_file(write_yaml(tmp_path, definition)) == definition


def test_a_file_larger_than_a_definition_needs_is_refused(crm, session, reps, tmp_path) -> None:
    path = write_yaml(tmp_path, "name: Big\n# " + "x" * 70_000 + "\n")
    line = one_line_error(crm("forms", "add", "--from-file", path, ok=False))
    assert line == f"error: from_file: {path}: is larger than 64 KB, more than any form definition needs"
    assert count(session, WebForm) == 0


def test_a_file_that_is_not_utf8_is_a_one_line_error(crm, session, tmp_path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: Café\n".encode("latin-1"))
    line = one_line_error(crm("forms", "add", "--from-file", str(path), ok=False))
    assert line == f"error: from_file: {path}: is not UTF-8 text (byte 10)"


def test_a_fifo_is_refused_at_once(crm, session, tmp_path) -> None:
    fifo = tmp_path / "form.yaml"
    os.mkfifo(fifo)
    result = run_beside(fifo, lambda: crm("forms", "add", "--from-file", str(fifo), ok=False))
    assert one_line_error(result) == f"error: from_file: {fifo}: is not a regular file"
    assert count(session, WebForm) == 0


def test_duplicate_name_is_refused(crm, session, reps) -> None:
    crm("forms", "add", "Twice")
    line = one_line_error(crm("forms", "add", "Twice", ok=False))
    assert line.startswith("error: name: ")
    assert count(session, WebForm) == 1


def test_hidden_option_needs_field_equals_value(crm, session) -> None:
    line = one_line_error(crm("forms", "add", "X", "--hidden", "lead_source", ok=False))
    assert line.startswith("error: hidden: ")


# -- list and show -----------------------------------------------------------------------------


def test_list_shows_each_form_with_counts(crm, session, web_form, reps) -> None:
    crm("forms", "add", "Zeta form", "--owner", reps[1].email, "--language", "zh_Hant")
    submit(session, web_form, "a@example.com")
    submit(session, web_form, "b@example.com", spam="honeypot filled in")
    lines = crm("forms", "list").output.splitlines()
    assert lines[0].split()[:3] == ["NAME", "PUBLIC", "ID"]
    website = next(line for line in lines if line.startswith("Website inquiry"))
    zeta = next(line for line in lines if line.startswith("Zeta form"))
    assert lines.index(website) < lines.index(zeta)  # by name
    assert web_form.public_id in website and "enabled" in website and "round robin of 3" in website
    assert website.split()[-2:] == ["2", "1"]
    assert "zh_Hant" in zeta and reps[1].email in zeta and zeta.split()[-2:] == ["0", "0"]


def test_list_without_forms_says_how_to_add_one(crm) -> None:
    assert "crm forms add" in crm("forms", "list").output


def test_show_prints_the_definition_snippet_and_integration_key(crm, session, web_form, reps) -> None:
    out = crm("forms", "show", "Website inquiry").output
    definition = yaml.safe_load(out.split("\n\n")[0])
    assert definition["name"] == "Website inquiry" and definition["public_id"] == web_form.public_id
    assert definition["round_robin"] == [r.email for r in reps]
    assert definition["allowed_origins"] == [ALLOWED_ORIGIN] and definition["auto_reply"] is True
    assert definition["integration_key"] == web_form.integration_key
    field_names = [f["name"] for f in definition["fields"]]
    assert field_names == ["first_name", "last_name", "email", "phone", "company", "message"]
    assert f"/forms/{web_form.public_id}/embed.js" in out and "<script" in out
    assert f"Integration key: {web_form.integration_key}" in out
    by_id = crm("forms", "show", "--", web_form.public_id).output
    assert by_id == out


def test_show_snippet_only(crm, web_form) -> None:
    out = crm("forms", "show", "Website inquiry", "--snippet").output.strip()
    assert out == f'<script src="http://127.0.0.1:8000/forms/{web_form.public_id}/embed.js" async></script>'


def test_show_zh_hant_keeps_the_chinese_readable(crm, session, reps) -> None:
    crm("forms", "add", "聯絡我們", "--language", "zh_Hant")
    out = crm("forms", "show", "聯絡我們").output
    assert "name: 聯絡我們" in out and "label: 姓氏" in out


def test_show_unknown_form_is_a_one_line_error(crm, session) -> None:
    line = one_line_error(crm("forms", "show", "nope", ok=False))
    assert "nope" in line and "crm forms list" in line


def test_shown_definition_can_be_read_back_with_from_file(crm, session, web_form, reps, tmp_path) -> None:
    """`describe()` promises: what `crm forms show` prints, `--from-file` reads back."""
    definition = yaml.safe_load(crm("forms", "show", "Website inquiry").output.split("\n\n")[0])
    path = write_yaml(tmp_path, {**definition, "name": "Copy of website inquiry"})
    crm("forms", "add", "--from-file", path)
    copy = form_named(session, "Copy of website inquiry")
    assert copy.public_id != web_form.public_id and copy.integration_key != web_form.integration_key
    assert [a.user_id for a in copy.assignees] == [r.id for r in reps]


# -- edit and disable --------------------------------------------------------------------------


def test_edit_changes_only_the_given_keys(crm, session, web_form, reps) -> None:
    out = crm("forms", "edit", "Website inquiry", "--round-robin", reps[2].email, "--round-robin", reps[0].email,
              "--thank-you", "Merci").output
    assert "Updated web form 'Website inquiry'." in out
    form = form_named(session, "Website inquiry")
    assert [a.user_id for a in form.assignees] == [reps[2].id, reps[0].id] and form.round_robin_pointer == -1
    assert form.thank_you == "Merci" and form.allowed_origins == [ALLOWED_ORIGIN] and form.auto_reply is True
    assert form.public_id == web_form.public_id and form.integration_key == web_form.integration_key


def test_edit_language_relabels_default_labels_and_keeps_custom_ones(crm, session, reps, tmp_path) -> None:
    path = write_yaml(tmp_path, {
        "name": "Bilingual",
        "fields": ["last_name", "email", {"name": "message", "label": "Your question"}],
    })
    crm("forms", "add", "--from-file", path)
    crm("forms", "edit", "Bilingual", "--language", "zh_Hant")
    form = form_named(session, "Bilingual")
    assert form.language == "zh_Hant"
    labels = {f["name"]: f["label"] for f in form.fields}
    assert labels == {"last_name": "姓氏", "email": "電子郵件", "message": "Your question"}
    crm("forms", "edit", "Bilingual", "--language", "en")
    assert {f["name"]: f["label"] for f in form_named(session, "Bilingual").fields}["last_name"] == "Last name"


def test_edit_rename_and_refuse_a_taken_name(crm, session, web_form, reps) -> None:
    crm("forms", "add", "Other")
    line = one_line_error(crm("forms", "edit", "Other", "--name", "Website inquiry", ok=False))
    assert line.startswith("error: name: ")
    crm("forms", "edit", "--name", "Homepage inquiry", "--", web_form.public_id)
    assert form_named(session, "Homepage inquiry").id == web_form.id


def test_edit_bad_value_changes_nothing(crm, session, web_form) -> None:
    line = one_line_error(crm("forms", "edit", "Website inquiry", "--allowed-origin", "not a url", ok=False))
    assert line.startswith("error: allowed_origins[0]: ")
    assert form_named(session, "Website inquiry").allowed_origins == [ALLOWED_ORIGIN]


def test_edit_without_changes_is_a_usage_error(crm, web_form) -> None:
    result = crm("forms", "edit", "Website inquiry", ok=False)
    assert result.exit_code == 2 and "nothing to change" in result.output


def test_disable_makes_the_api_answer_404_and_enable_brings_it_back(
    crm, session, web_form, client, render_token
) -> None:
    body = {"last_name": "Chen", "email": "mei@example.com", "_token": render_token()}
    out = crm("forms", "disable", "Website inquiry").output
    assert "Disabled web form 'Website inquiry'" in out and f"crm forms edit {web_form.public_id} --enable" in out
    assert not form_named(session, "Website inquiry").enabled
    assert client.post(f"/api/forms/{web_form.public_id}/submissions", json=body).status_code == 404
    assert client.get(f"/forms/{web_form.public_id}").status_code == 404
    assert "disabled" in crm("forms", "list").output
    crm("forms", "edit", "--enable", "--", web_form.public_id)
    assert client.post(f"/api/forms/{web_form.public_id}/submissions", json=body).status_code == 201
    assert count(session, Lead) == 1


# -- the quarantine ----------------------------------------------------------------------------


def test_quarantine_list_shows_held_submissions_with_the_reason(crm, session, web_form) -> None:
    assert "The quarantine is empty." in crm("forms", "quarantine", "list").output
    good = submit(session, web_form, "good@example.com")
    held = submit(session, web_form, "held@example.com", spam="honeypot filled in", last_name="Spammer")
    out = crm("forms", "quarantine", "list").output
    assert held in out and "held@example.com" in out and "Spammer" in out and "honeypot filled in" in out
    assert good not in out and "good@example.com" not in out
    lines = crm("forms", "quarantine", "list", "--json").output.splitlines()
    assert len(lines) == 1
    item = json.loads(lines[0])
    assert item["id"] == held and item["reason"] == "honeypot filled in" and item["values"]["last_name"] == "Spammer"


def test_quarantine_list_by_form(crm, session, web_form, reps) -> None:
    crm("forms", "add", "Other", "--owner", reps[0].email)
    other = form_named(session, "Other")
    mine = submit(session, web_form, "x@example.com", spam="no render token")
    theirs = submit(session, other, "y@example.com", spam="no render token")
    out = crm("forms", "quarantine", "list", "--form", "Other").output
    assert theirs in out and mine not in out


def test_release_creates_the_lead_and_its_mail(crm, session, web_form, reps) -> None:
    held = submit(session, web_form, "held@example.com", spam="filled in 0.4 s (minimum 3 s)")
    assert count(session, Lead) == 0
    out = crm("forms", "quarantine", "release", "--", held).output
    lead = session.scalar(select(Lead))
    done(session)
    assert out.strip() == f"Released {held}: created lead {lead.lead_no}."
    assert lead.email == "held@example.com" and lead.owner_id == reps[0].id and lead.web_form_id == web_form.id
    sub = session.scalar(select(WebSubmission).where(WebSubmission.public_id == held))
    done(session)
    assert sub.outcome not in ("quarantined", "discarded") and sub.lead_id == lead.id and sub.spam_reason is None
    templates = set(session.scalars(select(OutboxMessage.template)))
    done(session)
    assert {"new_web_lead", "visitor_auto_reply"} <= templates
    assert "The quarantine is empty." in crm("forms", "quarantine", "list").output
    again = one_line_error(crm("forms", "quarantine", "release", "--", held, ok=False))
    assert "not in quarantine" in again
    assert count(session, Lead) == 1


def test_release_of_a_known_email_adds_to_the_lead(crm, session, web_form, reps) -> None:
    lead = records.create(session, "leads", {"last_name": "Wang", "email": "known@example.com", "owner_id": reps[1].id})
    session.commit()
    held = submit(session, web_form, "known@example.com", spam="no render token")
    out = crm("forms", "quarantine", "release", "--", held).output
    assert f"added to lead {lead.lead_no}" in out
    assert count(session, Lead) == 1


def test_discard_takes_it_out_of_the_quarantine_for_good(crm, session, web_form) -> None:
    held = submit(session, web_form, "bot@example.com", spam="honeypot filled in")
    assert crm("forms", "quarantine", "discard", "--", held).output.strip() == f"Discarded {held}."
    sub = session.scalar(select(WebSubmission).where(WebSubmission.public_id == held))
    done(session)
    assert sub.outcome == "discarded"
    assert "The quarantine is empty." in crm("forms", "quarantine", "list").output
    assert "not in quarantine" in one_line_error(crm("forms", "quarantine", "release", "--", held, ok=False))
    assert "not in quarantine" in one_line_error(crm("forms", "quarantine", "discard", "--", held, ok=False))
    assert count(session, Lead) == 0


def test_ids_beginning_with_a_dash_work_as_command_arguments(crm, session, web_form) -> None:
    """Public ids come from secrets.token_urlsafe, so about one in 64 begins with "-"; the commands and
    the hints they print (`crm forms edit ID --enable`) must still work with such an id."""
    held = submit(session, web_form, "held@example.com", spam="no render token")
    dashed = "-T" + held[2:]
    session.execute(update(WebSubmission).where(WebSubmission.public_id == held).values(public_id=dashed))
    session.execute(update(WebForm).where(WebForm.id == web_form.id).values(public_id="-Q" + web_form.public_id[2:]))
    session.commit()
    assert dashed in crm("forms", "quarantine", "list").output
    assert f"Released {dashed}" in crm("forms", "quarantine", "release", dashed).output
    hint = crm("forms", "disable", "Website inquiry").output.split("`")[1]
    assert hint.startswith("crm forms edit -Q")
    crm(*hint.split()[1:])
    assert form_named(session, "Website inquiry").enabled


def test_release_unknown_submission_is_a_one_line_error(crm, session) -> None:
    line = one_line_error(crm("forms", "quarantine", "release", "no-such-id", ok=False))
    assert "no-such-id" in line


# -- pruning IP addresses ----------------------------------------------------------------------


def test_prune_clears_ips_older_than_the_retention(crm, session, web_form) -> None:
    old = submit(session, web_form, "old@example.com", ip="198.51.100.23")
    recent = submit(session, web_form, "new@example.com", ip="198.51.100.24")
    session.execute(update(WebSubmission).where(WebSubmission.public_id == old)
                    .values(received_at=utcnow() - dt.timedelta(days=91)))
    session.execute(update(WebSubmission).where(WebSubmission.public_id == recent)
                    .values(received_at=utcnow() - dt.timedelta(days=89)))
    session.commit()
    assert crm("forms", "prune").output.strip() == "Cleared the IP address of 1 submission(s)."
    ips = {public_id: ip for public_id, ip in session.execute(select(WebSubmission.public_id, WebSubmission.ip))}
    done(session)
    assert ips == {old: None, recent: "198.51.100.0"}
    company.set_value(session, "ip_retention_days", 30)
    session.commit()
    assert "of 1 submission(s)" in crm("forms", "prune").output
    assert "of 0 submission(s)" in crm("forms", "prune").output
    assert count(session, WebSubmission, WebSubmission.ip.is_not(None)) == 0
    assert count(session, WebSubmission) == 2  # the submissions themselves stay


# -- help and users ----------------------------------------------------------------------------

FORMS_COMMANDS = [
    ("forms",), ("forms", "add"), ("forms", "list"), ("forms", "show"), ("forms", "edit"), ("forms", "disable"),
    ("forms", "quarantine"), ("forms", "quarantine", "list"), ("forms", "quarantine", "release"),
    ("forms", "quarantine", "discard"), ("forms", "prune"),
]


@pytest.mark.parametrize("path", FORMS_COMMANDS, ids=" ".join)
def test_every_forms_command_has_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0
    assert result.output.startswith("Usage: ")
    assert len(result.output.split("\n\n")[1].strip()) > 10


def test_add_help_lists_every_definition_option() -> None:
    out = CliRunner().invoke(main, ["forms", "add", "--help"]).output
    for option in ("--from-file", "--language", "--fields", "--hidden", "--owner", "--team", "--round-robin",
                   "--return-url", "--allowed-origin", "--consent-text", "--thank-you", "--notify-owner",
                   "--auto-reply"):
        assert option in out


def test_users_deactivate_says_it_removed_them_from_round_robin_lists(crm, session, web_form, reps) -> None:
    out = crm("users", "deactivate", reps[1].email).output
    assert f"Deactivated {reps[1].email}." in out
    assert "Removed from 1 web-form round-robin list(s)." in out
    form = form_named(session, "Website inquiry")
    assert [a.user_id for a in form.assignees] == [reps[0].id, reps[2].id]
    shown = yaml.safe_load(crm("forms", "show", "Website inquiry").output.split("\n\n")[0])
    assert shown["round_robin"] == [reps[0].email, reps[2].email]


def test_users_deactivate_hands_owned_forms_on(crm, session, reps) -> None:
    crm("forms", "add", "Owned", "--owner", reps[0].email)
    out = crm("users", "deactivate", reps[0].email, "--reassign-to", reps[1].email).output
    assert f"1 web form(s) they owned now go to {reps[1].email}" in out
    assert form_named(session, "Owned").owner_user_id == reps[1].id


def test_users_deactivate_without_heir_leaves_owned_forms_unassigned(crm, session, reps) -> None:
    crm("forms", "add", "Owned", "--owner", reps[0].email)
    out = crm("users", "deactivate", reps[0].email).output
    assert "nobody (leads stay unassigned)" in out
    form = form_named(session, "Owned")
    assert form.owner_kind == "none" and form.owner_user_id is None


def test_users_deactivate_of_someone_in_no_list_says_nothing_about_lists(crm, session, web_form) -> None:
    users.add_user(session, "loner@leadline.test", "Loner", welcome=False)
    session.commit()
    out = crm("users", "deactivate", "loner@leadline.test").output
    assert "round-robin" not in out
