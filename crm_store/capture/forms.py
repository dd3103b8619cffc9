"""Web forms as data: define, check, change and describe the forms visitors fill in.

A definition is a plain dict (from CLI options or a YAML file):

    name: Contact us
    language: zh_Hant            # en | zh_Hant
    fields: [first_name, {name: last_name, required: true}, email, phone, company, message]
    hidden: {lead_source: Web Site, campaign: CAM3}
    owner: rep@example.com       # or  team: Sales   or  round_robin: [a@x.com, b@x.com]
    return_url: https://example.com/thanks
    allowed_origins: [https://example.com]
    consent_text: I agree that you store my data to answer my inquiry.
    notify_owner: true
    auto_reply: false
    thank_you: Thank you, we will call you back today.

Every problem raises `ValidationError` naming the key (`fields[2].name`, `allowed_origins[0]`…) and
nothing is written.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from functools import cache, lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import Session

from crm_store import languages, links
from crm_store.assignment import round_robin as assignment
from crm_store.errors import NotFound, ValidationError
from crm_store.languages import N_
from crm_store.models import Campaign, Team, User, WebForm, WebSubmission, utcnow
from crm_store.records import registry
from crm_store.records.validation import Validator, field_specs
from crm_store.settings.company import parse_on_off
from crm_store.settings.picklists import all_values
from crm_store.staff.users import find_user

FIELD_TYPES = ("text", "email", "tel", "textarea", "select", "number", "url")
# The inquiry text: not a lead column; it becomes the lead's description (or a note on a known person).
MESSAGE = "message"
# Lead fields a visitor may fill in; the store or the form decides the rest.
VISITOR_FIELDS = (
    "salutation", "first_name", "last_name", "company", "designation", "email", "phone", "mobile", "website",
    "industry", "annual_revenue", "employees", "street", "postal_code", "city", "state", "country",
    "po_box", "secondary_email", "fax",
)
# Lead fields a form may fix for all its leads.
HIDDEN_FIELDS = ("lead_source", "campaign_id", "industry", "rating", "status", "country")
DEFAULT_FIELDS = ("first_name", "last_name", "email", "phone", "company", MESSAGE)
ALWAYS_REQUIRED = frozenset({"last_name"})
DEFAULT_TYPE = {
    "email": "email", "secondary_email": "email", "phone": "tel", "mobile": "tel", "fax": "tel",
    "website": "url", "annual_revenue": "number", "employees": "number", MESSAGE: "textarea",
}
MESSAGE_LIMIT = 5000
SHOWN_ONLY = frozenset({"public_id", "integration_key"})  # printed by `crm forms show`, never set from a file
KEYS = frozenset({
    "name", "language", "enabled", "fields", "hidden", "owner", "team", "round_robin", "return_url",
    "allowed_origins", "consent_text", "notify_owner", "auto_reply", "thank_you",
})


# Default labels of the visitor fields, written in English and translated where a form's labels are chosen.
LABELS: dict[str, str] = {
    "salutation": N_("Salutation"), "first_name": N_("First name"), "last_name": N_("Last name"),
    "designation": N_("Job title"), "email": N_("Email"), "phone": N_("Phone"), "mobile": N_("Mobile"),
    "website": N_("Website"), "industry": N_("Industry"), "annual_revenue": N_("Annual revenue"),
    "employees": N_("Employees"), "street": N_("Street"), "postal_code": N_("Postal code"), "city": N_("City"),
    "state": N_("State / province"), "country": N_("Country"), "po_box": N_("PO box"),
    "secondary_email": N_("Other email"), "fax": N_("Fax"), MESSAGE: N_("How can we help?"),
}


@cache
def default_labels(language: str) -> Mapping[str, str]:
    """Return the default label of each visitor field in a language (English when the language is unknown)."""
    labels = {name: languages.translate(language, message) for name, message in LABELS.items()}
    # With a context of its own: "Company" reads 公司 as a column of an email, 公司名稱 as a form's field.
    labels["company"] = languages.translations(language).pgettext("web form field", "Company")
    return labels


def new_token(nbytes: int) -> str:
    """A URL-safe random id that never begins with "-" (the command line would take it for an option)."""
    while True:
        token = secrets.token_urlsafe(nbytes)
        if not token.startswith("-"):
            return token


def new_public_id() -> str:
    """A long, unguessable id for the form's URLs."""
    return new_token(24)


def add_form(session: Session, definition: dict[str, Any]) -> WebForm:
    """Create a form from a definition; fails naming the key, writing nothing."""
    if not definition.get("name"):
        raise ValidationError("name", "is required")
    definition = {"fields": list(DEFAULT_FIELDS), "hidden": {}, **definition}
    definition["hidden"] = {"lead_source": "Web Site", **(definition.get("hidden") or {})}
    form = WebForm(public_id=new_public_id(), integration_key=new_token(32), round_robin_pointer=-1)
    _apply(session, form, definition)
    if session.scalar(select(WebForm.id).where(WebForm.name == form.name)) is not None:
        raise ValidationError("name", f"a form named {form.name!r} exists already")
    session.add(form)
    session.flush()
    _apply_owner(session, form, definition)
    return form


def edit_form(session: Session, form: WebForm, changes: dict[str, Any]) -> WebForm:
    """Change some keys of a form; the rest stays as it is."""
    if "name" in changes and changes["name"] != form.name:
        other = session.scalar(select(WebForm.id).where(WebForm.name == changes["name"], WebForm.id != form.id))
        if other is not None:
            raise ValidationError("name", f"a form named {changes['name']!r} exists already")
    _apply(session, form, changes)
    _apply_owner(session, form, changes)
    form.updated_at = utcnow()
    session.flush()
    return form


def disable_form(session: Session, form: WebForm) -> None:
    """Stop a form from accepting submissions (its page and API answer 404)."""
    form.enabled = False
    form.updated_at = utcnow()
    session.flush()


def find_form(session: Session, ref: str) -> WebForm:
    """A form by public id or name; NotFound otherwise."""
    form = session.scalar(select(WebForm).where((WebForm.public_id == ref) | (WebForm.name == ref)))
    if form is None:
        raise NotFound(f"no web form {ref!r}; `crm forms list` shows them")
    return form


_LIVE_FORM = select(WebForm).where(WebForm.public_id == bindparam("public_id"), WebForm.enabled)
_LIVE_VERSION = select(WebForm.id, WebForm.updated_at).where(
    WebForm.public_id == bindparam("public_id"), WebForm.enabled
)


def live_form(session: Session, public_id: str) -> WebForm | None:
    """The enabled form behind a public id, or None."""
    if not public_id or len(public_id) > 64:
        return None
    return session.scalar(_LIVE_FORM, {"public_id": public_id})


def live_version(engine: Engine, public_id: str) -> tuple[Any, ...] | None:
    """The id and last change of the enabled form behind a public id (to check a kept copy), or None.

    Asked on every submission, so it is read on a bare pooled DBAPI connection (outside a transaction
    on SQLite): a tenth of what a session's read costs. The values are as the driver gives them, to be
    compared with another answer of this function only.
    """
    if not public_id or len(public_id) > 64:
        return None
    sql, order = _raw_sql(engine.dialect, _LIVE_VERSION)
    conn = engine.raw_connection()
    try:
        cursor = conn.cursor()
        cursor.execute(sql, [public_id] if order else {"public_id": public_id})
        found = cursor.fetchone()
        cursor.close()
    finally:
        conn.close()
    return tuple(found) if found is not None else None


@cache
def _raw_sql(dialect: Dialect, statement: Select[Any]) -> tuple[str, bool]:
    """A statement's SQL for `dialect`, and whether its parameters are positional (one here)."""
    compiled = statement.compile(dialect=dialect)
    return str(compiled), bool(compiled.positional)


def listing() -> Select[WebForm]:
    """All forms, by name."""
    return select(WebForm).order_by(WebForm.name)


def load_file(path: str | Path) -> dict[str, Any]:
    """Read a form definition from a YAML file (bounded: size, aliases, nesting); fail naming the file."""
    from crm_store.capture import form_files

    return form_files.load_file(path)


def describe(session: Session, form: WebForm) -> dict[str, Any]:
    """A form as a definition (what `crm forms show` prints and `--from-file` reads back)."""
    out: dict[str, Any] = {
        "name": form.name, "public_id": form.public_id, "enabled": form.enabled, "language": form.language,
        "fields": form.fields, "hidden": form.hidden,
    }
    owner = session.get(User, form.owner_user_id) if form.owner_user_id is not None else None
    team = session.get(Team, form.owner_team_id) if form.owner_team_id is not None else None
    if form.owner_kind == "user" and owner is not None:
        out["owner"] = owner.email
    elif form.owner_kind == "team" and team is not None:
        out["team"] = team.name
    elif form.owner_kind == "round_robin":
        ids = [a.user_id for a in form.assignees]
        emails = dict(session.execute(select(User.id, User.email).where(User.id.in_(ids))).all())
        out["round_robin"] = [emails[i] for i in ids]
    out.update({
        "return_url": form.return_url, "allowed_origins": form.allowed_origins, "consent_text": form.consent_text,
        "notify_owner": form.notify_owner, "auto_reply": form.auto_reply, "thank_you": form.thank_you,
        "integration_key": form.integration_key,
    })
    return out


def label(form: WebForm, name: str) -> str:
    """A field's label in the form's language."""
    for f in form.fields:
        if f["name"] == name:
            return f["label"]
    return default_labels(form.language).get(name, name)


# -- checking a definition ---------------------------------------------------------------------


def _apply(session: Session, form: WebForm, d: dict[str, Any]) -> None:
    d = {k: v for k, v in d.items() if k not in SHOWN_ONLY}
    unknown = sorted(set(d) - KEYS)
    if unknown:
        raise ValidationError(unknown[0], f"is not a form setting (use {', '.join(sorted(KEYS))})")
    if "name" in d:
        form.name = _required_text("name", d["name"], 100)
    if "language" in d or form.language is None:
        lang = languages.parse(d.get("language") or languages.DEFAULT)
        if lang is None:
            raise ValidationError("language", f"{d.get('language')!r} is not one of {', '.join(languages.CODES)}")
        form.language = lang
    if "enabled" in d or form.enabled is None:
        form.enabled = parse_on_off("enabled", d.get("enabled", True))
    if "fields" in d:
        form.fields = _fields(session, d["fields"], form.language)
    elif "language" in d and form.fields:
        relabelled = [{**f, "label": None} if _default_label(f["name"], f) else f for f in form.fields]
        form.fields = _fields(session, relabelled, form.language)
    if "hidden" in d:
        form.hidden = _hidden(session, d["hidden"] or {})
    if "return_url" in d:
        form.return_url = _url("return_url", d["return_url"]) if d["return_url"] else None
    if "allowed_origins" in d:
        form.allowed_origins = _origins(d["allowed_origins"])
    elif form.allowed_origins is None:
        form.allowed_origins = []
    if "consent_text" in d:
        form.consent_text = _text("consent_text", d["consent_text"], 2000)
    if "thank_you" in d:
        form.thank_you = _text("thank_you", d["thank_you"], 2000)
    for key, default in (("notify_owner", True), ("auto_reply", False)):
        if key in d or getattr(form, key) is None:
            setattr(form, key, parse_on_off(key, d.get(key, default)))


def _default_label(name: str, f: dict[str, Any]) -> bool:
    return any(f["label"] == default_labels(code).get(name) for code in languages.CODES)


def _apply_owner(session: Session, form: WebForm, d: dict[str, Any]) -> None:
    given = [k for k in ("owner", "team", "round_robin") if d.get(k)]
    if len(given) > 1:
        raise ValidationError(given[1], f"give only one of owner, team or round_robin (got {', '.join(given)})")
    if not given:
        if form.owner_kind is None:
            form.owner_kind = "none"
        return
    key = given[0]
    if key == "owner":
        user = _user("owner", d["owner"])
        form.owner_kind, form.owner_user_id, form.owner_team_id = "user", _active(session, "owner", user).id, None
    elif key == "team":
        team = session.scalar(select(Team).where(Team.name == str(d["team"]).strip()))
        if team is None:
            raise ValidationError("team", f"no team named {d['team']!r}")
        form.owner_kind, form.owner_team_id, form.owner_user_id = "team", team.id, None
    else:
        emails = d["round_robin"]
        if isinstance(emails, str):
            emails = [e for e in emails.replace(";", ",").split(",") if e.strip()]
        users = [_active(session, f"round_robin[{i}]", _user(f"round_robin[{i}]", e)) for i, e in enumerate(emails)]
        form.owner_kind, form.owner_user_id, form.owner_team_id = "round_robin", None, None
        session.flush()
        assignment.set_round_robin(session, form, [u.id for u in users])
    session.flush()


def _user(key: str, email: Any) -> str:
    text = str(email or "").strip().lower()
    if "@" not in text:
        raise ValidationError(key, f"{email!r} is not a user's email address")
    return text


def _active(session: Session, key: str, email: str) -> User:
    try:
        user = find_user(session, email)
    except NotFound:
        raise ValidationError(key, f"no user {email}; `crm users list` shows them") from None
    if not user.active:
        raise ValidationError(key, f"{email} is inactive")
    return user


def _fields(session: Session, items: Any, language: str) -> list[dict[str, Any]]:
    if isinstance(items, str):
        items = [i for i in items.replace(" ", "").split(",") if i]
    if not isinstance(items, list) or not items:
        raise ValidationError("fields", "must list at least one field")
    specs = field_specs("leads")
    allowed = all_values(session)
    out, seen = [], set()
    for i, item in enumerate(items):
        key = f"fields[{i}]"
        f = {"name": item} if isinstance(item, str) else dict(item) if isinstance(item, dict) else None
        if f is None:
            raise ValidationError(key, "must be a field name or a mapping with name, label, required, type, choices")
        extra = set(f) - {"name", "label", "required", "type", "choices", "max_length"}
        if extra:
            raise ValidationError(f"{key}.{sorted(extra)[0]}", "is not a field setting")
        name = str(f.get("name") or "").strip().rstrip("*")
        starred = str(f.get("name", "")).endswith("*")
        required = parse_on_off(
            f"{key}.required", f.get("required", starred or name in ALWAYS_REQUIRED or name == "email")
        )
        if name not in VISITOR_FIELDS and name != MESSAGE:
            raise ValidationError(
                f"{key}.name",
                f"{name!r} is not a lead field a visitor may fill in (use {', '.join(VISITOR_FIELDS)}, {MESSAGE})",
            )
        if name in seen:
            raise ValidationError(f"{key}.name", f"{name} is listed twice")
        seen.add(name)
        picklist = registry.get("leads").picklists.get(name)
        kind = f.get("type") or ("select" if picklist else DEFAULT_TYPE.get(name, "text"))
        if kind not in FIELD_TYPES:
            raise ValidationError(f"{key}.type", f"{kind!r} is not one of {', '.join(FIELD_TYPES)}")
        choices = f.get("choices")
        if picklist:
            values = allowed.get(picklist, frozenset())
            choices = list(choices) if choices else sorted(values)
            bad = [c for c in choices if c not in values]
            if bad:
                raise ValidationError(f"{key}.choices", f"{bad[0]!r} is not a value of the {picklist} picklist")
            kind = "select"
        elif choices:
            raise ValidationError(f"{key}.choices", f"{name} is not a picklist field")
        limit = MESSAGE_LIMIT if name == MESSAGE else specs[name].text_limit
        out.append({
            "name": name,
            "label": _text(f"{key}.label", f.get("label"), 200) or default_labels(language).get(name, name),
            "required": required or name in ALWAYS_REQUIRED,
            "type": kind,
            "choices": choices,
            "max_length": limit,
        })
    if "last_name" not in seen:
        raise ValidationError("fields", "must include last_name (every lead needs one)")
    return out


def _hidden(session: Session, hidden: Any) -> dict[str, Any]:
    if not isinstance(hidden, dict):
        raise ValidationError("hidden", "must be a mapping of lead field to value")
    values = dict(hidden)
    if "campaign" in values:
        ref = str(values.pop("campaign")).strip()
        campaign = session.scalar(select(Campaign).where(
            (Campaign.campaign_no == ref) | (Campaign.name == ref), Campaign.deleted_at.is_(None)
        ))
        if campaign is None:
            raise ValidationError("hidden.campaign", f"no campaign {ref!r}")
        values["campaign_id"] = campaign.id
    for name in values:
        if name not in HIDDEN_FIELDS:
            allowed = ", ".join(sorted(set(HIDDEN_FIELDS)))
            raise ValidationError(f"hidden.{name}", f"is not a field a form may fix (use {allowed}, campaign)")
    v = Validator.for_session(session)
    try:
        clean = v.clean("leads", values, partial=True)
        v.check_references(session, "leads", [clean])
    except ValidationError as exc:
        raise ValidationError(f"hidden.{exc.field}", exc.template, **exc.values) from None
    return clean


def _url(key: str, value: Any) -> str:
    text = str(value).strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c in text for c in "\r\n\t <>\"'"):
        raise ValidationError(key, f"{value!r} is not an absolute http(s) URL")
    if len(text) > 500:
        raise ValidationError(key, "is longer than 500 characters")
    return text


@lru_cache(maxsize=1024)  # asked twice or more on every submission, for a handful of origins
def normalise_origin(value: str) -> str | None:
    """`scheme://host[:port]` in lower case, `null`, or None when the value is not an origin.

    `null` is what a browser sends from a sandboxed frame, a file or a data: URL: foreign unless listed.
    """
    if str(value).strip().lower() == "null":
        return "null"
    parts = urlsplit(str(value).strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") or parts.query:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname.lower()
    return f"{parts.scheme}://{host}" if port in (None, default) else f"{parts.scheme}://{host}:{port}"


def _origins(items: Any) -> list[str]:
    if isinstance(items, str):
        items = [i for i in items.replace(" ", "").split(",") if i]
    if not isinstance(items, list):
        raise ValidationError("allowed_origins", "must be a list of origins like https://example.com")
    out = []
    for i, item in enumerate(items):
        origin = normalise_origin(item)
        if origin is None:
            raise ValidationError(
                f"allowed_origins[{i}]", f"{item!r} is not an origin like https://example.com (no path) or null"
            )
        if origin not in out:
            out.append(origin)
    return out


def _text(key: str, value: Any, limit: int) -> str | None:
    text = None if value is None else str(value).strip()
    if not text:
        return None
    if len(text) > limit:
        raise ValidationError(key, f"is {len(text)} characters long; the limit is {limit}")
    return text


def _required_text(key: str, value: Any, limit: int) -> str:
    text = _text(key, value, limit)
    if text is None:
        raise ValidationError(key, "is required")
    return text


def submission_counts() -> Select[int, int, int]:
    """Select each form's id with how many submissions it received and how many are in quarantine."""
    held = func.count().filter(WebSubmission.outcome == "quarantined")
    return select(WebSubmission.form_id, func.count(), held).group_by(WebSubmission.form_id)


def owner_label(session: Session, form: WebForm) -> str:
    """Who a form's leads go to, in a few words: an email, a team, a round robin, or unassigned."""
    if form.owner_kind == "user" and form.owner_user_id:
        user = session.get(User, form.owner_user_id)
        return user.email if user is not None else "unassigned"
    if form.owner_kind == "team" and form.owner_team_id:
        team = session.get(Team, form.owner_team_id)
        return f"team {team.name}" if team is not None else "unassigned"
    if form.owner_kind == "round_robin":
        return f"round robin of {len(form.assignees)}"
    return "unassigned"


def embed_snippet(base_url: str, public_id: str) -> str:
    """The tag a website pastes where the form should appear."""
    return f'<script src="{links.url(base_url, "embed_js", public_id=public_id)}" async></script>'
