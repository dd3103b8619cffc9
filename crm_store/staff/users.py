"""Staff accounts: add, list, deactivate."""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, aliased

from crm_store.actor import SYSTEM, Actor
from crm_store.assignment import round_robin as assignment
from crm_store.errors import NotFound, ValidationError
from crm_store.languages import N_
from crm_store.mail import outbox
from crm_store.models import LANGUAGES, ROLES, Account, Activity, Contact, Lead, Opportunity, User, utcnow
from crm_store.pipeline.leads import open_lead_condition
from crm_store.records import audit, registry
from crm_store.records.contact_points import clean_email
from crm_store.records.lines import one_line
from crm_store.settings import company
from crm_store.staff.tokens import sign_later

SET_PASSWORD_DAYS = 7
INACTIVE = N_("This user is deactivated.")
HAS_PASSWORD = N_("This user has already chosen a password; they can use “Forgot your password?” to choose another.")


def add_user(
    session: Session,
    email: str,
    name: str,
    *,
    role: str = "rep",
    manager_email: str | None = None,
    language: str | None = None,
    time_zone: str | None = None,
    welcome: bool = True,
) -> User:
    """Add a member of staff (the email is the unique login) and queue their welcome message.

    The email must not pass for another address (see `refuse_confusable_email`); the name is one line.
    """
    given = email.strip()
    email = clean_email("email", given).lower()
    refuse_confusable_email("email", given)
    name = one_line("name", name.strip())
    if not name or len(name) > 100:
        raise ValidationError("name", N_("must be 1 to 100 characters"))
    if role not in ROLES:
        raise ValidationError("role", N_("%(value)s is not one of %(choices)s"), value=repr(role),
                              choices=", ".join(ROLES))
    language = language or company.get(session, "default_language")
    if language not in LANGUAGES:
        raise ValidationError("language", N_("%(value)s is not one of %(choices)s"), value=repr(language),
                              choices=", ".join(LANGUAGES))
    if time_zone is not None:
        company.BY_KEY["time_zone"].parse("time_zone", time_zone)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise ValidationError("email", N_("a user with email %(email)s already exists"), email=email)
    manager = find_user(session, manager_email) if manager_email else None
    user = User(
        email=email, name=name, role=role, language=language, time_zone=time_zone,
        manager_id=manager.id if manager else None,
    )
    session.add(user)
    session.flush()
    if welcome:
        queue_welcome(session, user)
    return user


# Scripts that are written together (UTS #39, highly restrictive): Japanese, Chinese with Bopomofo, Korean,
# each with Latin. Any other mix (Latin with Cyrillic or Greek…) is how one address imitates another.
_WRITTEN_TOGETHER = (
    frozenset({"LATIN", "CJK", "HIRAGANA", "KATAKANA"}), frozenset({"LATIN", "CJK", "BOPOMOFO"}),
    frozenset({"LATIN", "CJK", "HANGUL"}),
)


def refuse_confusable_email(field: str, email: str) -> None:
    """Fail naming the field when a (valid) email address could pass for another address.

    Refused: text that Unicode normalisation (NFKC) changes — fullwidth letters, ligatures, decomposed
    accents; a domain that IDNA would write differently; a local part or domain label that mixes
    scripts, like a Cyrillic а among Latin letters.
    """
    normal = unicodedata.normalize("NFKC", email)
    if normal != email:
        raise ValidationError(
            field,
            N_("%(email)s is not in Unicode normal form (fullwidth, ligatures, separate accents…); type %(normal)s"),
            email=repr(email), normal=repr(normal),
        )
    local, _, domain = email.rpartition("@")
    mixed = _mixed_scripts(local)
    if mixed:
        raise ValidationError(field, N_("%(email)s: the part before @ mixes scripts (%(scripts)s)"), email=repr(email),
                              scripts=", ".join(mixed))
    if domain.isascii() and "xn--" not in domain.lower():
        return
    try:
        ascii_form, unicode_form = _idna_forms(domain.lower())
    except UnicodeError as exc:
        raise ValidationError(field, N_("%(email)s: the domain is not a valid international name (%(reason)s)"),
                              email=repr(email), reason=str(exc)) from None
    if domain.lower() not in (ascii_form, unicode_form):
        raise ValidationError(field, N_("%(email)s: the domain reads as %(domain)s; type that"), email=repr(email),
                              domain=repr(unicode_form))
    for label in unicode_form.split("."):
        mixed = _mixed_scripts(label)
        if mixed:
            raise ValidationError(field, N_("%(email)s: the domain name %(label)s mixes scripts (%(scripts)s)"),
                                  email=repr(email), label=repr(label), scripts=", ".join(mixed))


def _mixed_scripts(text: str) -> list[str]:
    """The scripts of `text`'s letters when they are not written together, else []."""
    # A letter's script is the first word of its Unicode name (LATIN, CYRILLIC, GREEK, CJK, HANGUL…):
    # the Script property itself is not in unicodedata, and the name tells the look-alikes apart.
    scripts = {unicodedata.name(c, "?").split(" ")[0].split("-")[0] for c in text if c.isalpha()}
    scripts = {"CJK" if s == "IDEOGRAPHIC" else s for s in scripts}
    if len(scripts) <= 1 or any(scripts <= together for together in _WRITTEN_TOGETHER):
        return []
    return sorted(s.title() for s in scripts)


def _idna_forms(domain: str) -> tuple[str, str]:
    """The domain's ASCII (xn--) and Unicode forms, by IDNA 2008 with UTS #46 mapping; IDNA 2003 without idna."""
    try:
        import idna  # installed with email-validator
    except ImportError:
        ascii_form = domain.encode("idna").decode("ascii")
        return ascii_form, ascii_form.encode("ascii").decode("idna")
    ascii_form = idna.encode(domain, uts46=True).decode("ascii")
    return ascii_form, idna.decode(ascii_form)


def queue_welcome(session: Session, user: User, *, again: bool = False) -> None:
    """Queue the welcome message with a link to set a password, valid for a week (signed at delivery).

    `again`: a new message even though one was queued before (the first has its own idempotency key).
    """
    now = utcnow()
    expires = now + dt.timedelta(days=SET_PASSWORD_DAYS)
    token = sign_later("set_password", str(user.id), expires)
    key = f"welcome:{user.id}:{now:%Y%m%dT%H%M%S%f}" if again else f"welcome:{user.id}"
    outbox.enqueue(
        session, "welcome", user.email, key=key, language=user.language,
        recipient_name=user.name, to_staff=True,
        context={"recipient_name": user.name, "login_email": user.email, "token": token,
                 "expires_at": company.show_time(expires, company.zone_for(session, user))},
    )


def resend_welcome(session: Session, user: User) -> None:
    """Send the welcome message again to an active user who has not chosen a password yet."""
    if not user.active:
        raise ValidationError("email", INACTIVE)
    if user.password_hash:
        raise ValidationError("email", HAS_PASSWORD)
    queue_welcome(session, user, again=True)


def find_user(session: Session, email: str) -> User:
    """Return the user with this email; fail with a clear message."""
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"no user with email {email!r}")
    return user


def listing(include_inactive: bool = True) -> Select[User, str | None]:
    """Select users with their manager's email, admins first then by name."""
    manager = aliased(User)
    stmt = (
        select(User, manager.email).outerjoin(manager, manager.id == User.manager_id).order_by(User.role, User.name)
    )
    return stmt if include_inactive else stmt.where(User.active)


AWAY_AS = N_("%(value)s is not a date like 2026-09-07 or a date-time like 2026-09-07T08:30")
AWAY_BACKWARDS = N_("must be after the start of the absence (%(start)s)")


def away_moment(session: Session, user: User, field: str, raw: str, *, end: bool = False) -> dt.datetime:
    """A typed date or date-time of an absence as a UTC moment, in the user's zone (else the company's).

    A date is its midnight; as the end of an absence (`end`), the midnight after it: the last day away.
    """
    text = raw.strip()
    zone = company.zone_for(session, user)
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValidationError(field, AWAY_AS, value=repr(text)) from None
    else:
        moment = dt.datetime.combine(day + dt.timedelta(days=1 if end else 0), dt.time.min)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(dt.UTC)


def set_out_of_office(
    session: Session, user: User, start: dt.datetime | None, end: dt.datetime | None, *,
    fields: tuple[str, str] = ("out_of_office_from", "out_of_office_to"),
) -> None:
    """Mark a user away from `start` (None: now) until `end` (None: until cleared); both None clears it.

    While away they get no leads from teams, round-robin lists or the rules. `fields` name the values in errors.
    """
    if start is None and end is None:
        user.out_of_office_from = user.out_of_office_to = None
        session.flush()
        return
    if not user.active:
        raise ValidationError("email", INACTIVE)
    start = start or utcnow()
    if end is not None and end <= start:
        start_text = company.show_time(start, company.zone_for(session, user))
        raise ValidationError(fields[1], AWAY_BACKWARDS, start=start_text)
    user.out_of_office_from, user.out_of_office_to = start, end
    session.flush()


def deactivate_user(
    session: Session, email: str, *, reassign_to: str | None = None, reassign_by_rules: bool = False,
    actor: Actor = SYSTEM,
) -> dict[str, int]:
    """Stop a user from logging in and receiving leads; hand their open records and activities on.

    Returns how many records of each kind moved. Refuses when the user still owns open work and
    nobody was named to take it: nothing may be left orphaned. `reassign_by_rules`: their open leads
    go where the assignment rules send them (never back to them), each with its open activities; what
    the rules leave with them (the activities of a lead left in a pool, a lead the rules could not
    decide) and the rest of their work go to `reassign_to`.
    """
    user = find_user(session, email)
    if not user.active:
        raise ValidationError("email", N_("%(email)s is already inactive"), email=user.email)
    heir = find_user(session, reassign_to) if reassign_to else None
    if heir is not None and (not heir.active or heir.id == user.id):
        raise ValidationError("reassign_to", N_("%(email)s must be another, active user"), email=heir.email)
    open_work = {name: list(session.scalars(stmt.where(model.owner_id == user.id)))
                 for name, (model, stmt) in _open_work().items()}
    by_rules = {lead.id for lead in open_work["leads"]} if reassign_by_rules else set()
    _refuse_orphans(user, heir, {name: [r for r in rows if not _goes_by_rules(name, r, by_rules)]
                                 for name, rows in open_work.items()})
    user.active = False
    user.deactivated_at = utcnow()
    session.flush()
    moved = {name: len(rows) for name, rows in open_work.items()}
    if by_rules:
        open_work = _reassign_by_rules(session, user, open_work, by_rules, actor)
        moved["leads_by_rules"] = moved["leads"] - len(open_work["leads"])
        moved["leads"] = len(open_work["leads"]) if heir is not None else 0
        moved["activities"] = len(open_work["activities"]) if heir is not None else 0
        _refuse_orphans(user, heir, {k: v for k, v in open_work.items() if k in ("leads", "activities")},
                        left_by_rules=True)
    if heir is not None:
        _hand_on(session, open_work, user.id, heir.id, actor)
    removed = assignment.remove_user(session, user.id, heir.id if heir is not None else None)
    moved.update({k: n for k, n in removed.items() if n})  # round-robin lists and forms, when any
    session.flush()
    return moved


def _goes_by_rules(name: str, row: Any, by_rules: set[int]) -> bool:
    """Whether a piece of open work is handed on by the rules: one of the leads, or an activity on one."""
    return (name == "leads" and row.id in by_rules) or (name == "activities" and row.lead_id in by_rules)


def _refuse_orphans(user: User, heir: User | None, work: dict[str, list[Any]], *, left_by_rules: bool = False) -> None:
    if heir is not None or not any(work.values()):
        return
    summary = ", ".join(f"{len(v)} {k}" for k, v in work.items() if v)
    if left_by_rules:
        raise ValidationError(
            "reassign_to", N_("the assignment rules left %(email)s with %(work)s; name who takes them with "
                              "--reassign-to"), email=user.email, work=summary,
        )
    raise ValidationError(
        "reassign_to", N_("%(email)s still owns %(work)s; name who takes them with --reassign-to"),
        email=user.email, work=summary,
    )


def _reassign_by_rules(
    session: Session, user: User, work: dict[str, list[Any]], lead_ids: set[int], actor: Actor
) -> dict[str, list[Any]]:
    """Give the leaving user's open leads out by the rules; return the work still theirs afterwards."""
    from crm_store.assignment.rules import assign_by_rules

    assign_by_rules(session, sorted(lead_ids), utcnow(), reason_prefix=f"{user.email} deactivated",
                    exclude_owner=True, actor=actor)
    still = {
        name: set(session.scalars(select(model.id).where(model.id.in_([r.id for r in work[name]]),
                                                         model.owner_id == user.id)))
        for name, model in (("leads", Lead), ("activities", Activity))
    }
    for row in (*work["leads"], *work["activities"]):
        if row.id not in still["leads" if isinstance(row, Lead) else "activities"]:
            session.expire(row)  # written set-based: its owner is read again when next used
    return {**work, **{name: [r for r in work[name] if r.id in ids] for name, ids in still.items()}}


def _hand_on(session: Session, work: dict[str, list[Any]], from_id: int, to_id: int, actor: Actor) -> None:
    """Give a leaving user's open records and activities to another user; audit the records."""
    for name, rows in work.items():
        for row in rows:
            row.owner_id = to_id
        if name != "activities":
            number = registry.get(name).number_field
            changes = {"owner_id": [from_id, to_id]}
            audit.log_many(session, "assign", name, ((r.id, getattr(r, number), changes) for r in rows), actor)


def _open_work() -> dict[str, tuple[Any, Select[Any]]]:
    """What counts as a user's open work: open leads, open deals, accounts, contacts, open activities."""
    return {
        "leads": (Lead, select(Lead).where(open_lead_condition())),
        "opportunities": (Opportunity, select(Opportunity).where(Opportunity.closed_at.is_(None),
                                                                Opportunity.deleted_at.is_(None))),
        "accounts": (Account, select(Account).where(Account.deleted_at.is_(None))),
        "contacts": (Contact, select(Contact).where(Contact.deleted_at.is_(None))),
        "activities": (
            Activity, select(Activity).where(Activity.completed_at.is_(None), Activity.deleted_at.is_(None))
        ),
    }
