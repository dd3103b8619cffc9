"""`crm forms`: define the web forms visitors fill in, read their quarantine, release false positives."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from crm_store.cli.output import Column, echo_table
from crm_store.cli.params import language_choice

if TYPE_CHECKING:
    from crm_store.capture.quarantine_summary import Summary
    from crm_store.models import WebForm


class IdCommand(click.Command):
    """A command whose FORM / SUBMISSION argument may begin with "-".

    Public ids are URL-safe base64, and one in 64 made before new ids avoided it begins with "-",
    which click would read as an (unknown) option. Such a word is moved behind `--`, so it is taken
    as the argument: `crm forms edit -Qx1… --enable` works as printed.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" not in args:
            known = {o for p in self.get_params(ctx) for o in (*p.opts, *p.secondary_opts)}
            ids = [a for a in args if a.startswith("-") and a.split("=", 1)[0] not in known]
            if ids:
                args = [a for a in args if a not in ids] + ["--", *ids]
        return super().parse_args(ctx, args)


def form_options(fn: Any) -> Any:
    """The options `add` and `edit` share (each maps to a key of a form definition)."""
    options = [
        click.option("--from-file", "from_file", type=click.Path(exists=True, dir_okay=False),
                     help="Read the definition from a YAML file; options given as well override it."),
        click.option("--language", type=language_choice(), help="Language of the page and its errors."),
        click.option("--fields", help="Comma-separated lead fields in order, `*` marks required: "
                                      "first_name,last_name*,email*,phone,company,message"),
        click.option("--hidden", multiple=True, metavar="FIELD=VALUE",
                     help="A value every lead from the form gets, e.g. lead_source='Web Site' or campaign=CAM3."),
        click.option("--owner", metavar="EMAIL", help="One user gets every lead."),
        click.option("--team", metavar="NAME", help="The team's members get the leads in turn."),
        click.option("--round-robin", "round_robin", multiple=True, metavar="EMAIL",
                     help="These users get the leads in turn (repeat the option, in order)."),
        click.option("--return-url", help="Where the hosted page sends the visitor after a submission."),
        click.option("--allowed-origin", "allowed_origins", multiple=True, metavar="ORIGIN",
                     help="A site that may embed the form, e.g. https://www.example.com (repeat for more); "
                          "`null` admits sandboxed frames and local files."),
        click.option("--consent-text", help="Text of a required consent checkbox (stored with the lead)."),
        click.option("--thank-you", help="Message shown after a submission."),
        click.option("--notify-owner/--no-notify-owner", default=None,
                     help="Email the owner about each lead (default on)."),
        click.option("--auto-reply/--no-auto-reply", default=None,
                     help="Send the visitor an acknowledgement (default off)."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _definition(from_file: str | None, **given: Any) -> dict[str, Any]:
    from crm_store.capture import forms as webforms
    from crm_store.errors import ValidationError

    d = webforms.load_file(from_file) if from_file else {}
    if given.get("hidden"):
        hidden = dict(d.get("hidden") or {})
        for item in given["hidden"]:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise ValidationError("hidden", f"{item!r} is not FIELD=VALUE")
            hidden[key.strip()] = value.strip()
        d["hidden"] = hidden
    for key in ("language", "fields", "owner", "team", "return_url", "consent_text", "thank_you", "name"):
        if given.get(key) is not None:
            d[key] = given[key]
    for key in ("round_robin", "allowed_origins"):
        if given.get(key):
            d[key] = list(given[key])
    for key in ("notify_owner", "auto_reply"):
        if given.get(key) is not None:
            d[key] = given[key]
    return d


@click.group("forms")
def forms() -> None:
    """Web forms: add, list, show, edit, disable; the spam quarantine."""


@forms.command("add")
@click.argument("name", required=False)
@form_options
def add(name: str | None, from_file: str | None, **options: Any) -> None:
    """Add a web form called NAME (or named in --from-file) and print how to embed it."""
    from crm_store.capture import forms as webforms
    from crm_store.cli.work import transaction

    d = _definition(from_file, name=name, **options)
    with transaction() as session:
        form = webforms.add_form(session, d)
    # Said once saved: a reader that stops early (`| head`) cannot undo the form, nor hear of one never made.
    click.echo(f"Added web form {form.name!r}.")
    _urls(form)


@forms.command("list")
def list_forms() -> None:
    """List the web forms with their submissions and quarantine counts."""
    from crm_store.capture import forms as webforms
    from crm_store.db.engine import session_scope

    with session_scope() as session:
        counts = {form_id: (total, held) for form_id, total, held in session.execute(webforms.submission_counts())}
        rows = list(session.scalars(webforms.listing()))
        if not rows:
            click.echo("No web forms yet; add one with `crm forms add NAME`.")
            return
        columns = (Column("NAME", 28), Column("PUBLIC ID"), Column("STATE"), Column("LANG"), Column("OWNER"),
                   Column("SUBMISSIONS", right=True), Column("QUARANTINE", right=True))
        echo_table(columns, [
            (form.name, form.public_id, "enabled" if form.enabled else "disabled", form.language,
             webforms.owner_label(session, form), *counts.get(form.id, (0, 0)))
            for form in rows
        ])


@forms.command("show", cls=IdCommand)
@click.argument("form")
@click.option("--snippet", is_flag=True, help="Print only the embed snippet.")
@click.option("--public-id", "public_id", is_flag=True, help="Print only the public id.")
def show(form: str, snippet: bool, public_id: bool) -> None:
    """Show FORM's definition (name or public id), its URLs, embed snippet and integration key."""
    import yaml

    from crm_store.capture import forms as webforms
    from crm_store.config import load_config
    from crm_store.db.engine import session_scope

    with session_scope() as session:
        row = webforms.find_form(session, form)
        if snippet or public_id:
            click.echo(webforms.embed_snippet(load_config().base_url, row.public_id) if snippet else row.public_id)
            return
        click.echo(yaml.safe_dump(webforms.describe(session, row), allow_unicode=True, sort_keys=False).rstrip())
        click.echo("")
        _urls(row)


@forms.command("edit", cls=IdCommand)
@click.argument("form")
@click.option("--name", help="New name.")
@click.option("--enable", is_flag=True, help="Accept submissions again.")
@form_options
def edit(form: str, name: str | None, enable: bool, from_file: str | None, **options: Any) -> None:
    """Change FORM (name or public id); keys not given stay as they are."""
    from crm_store.capture import forms as webforms
    from crm_store.cli.work import transaction

    d = _definition(from_file, name=name, **options)
    if enable:
        d["enabled"] = True
    if not d:
        raise click.UsageError("nothing to change; give options or --from-file")
    with transaction() as session:
        row = webforms.edit_form(session, webforms.find_form(session, form), d)
    click.echo(f"Updated web form {row.name!r}.")


@forms.command("disable", cls=IdCommand)
@click.argument("form")
def disable(form: str) -> None:
    """Stop FORM accepting submissions; its page and API then answer 404."""
    from crm_store.capture import forms as webforms
    from crm_store.cli.work import transaction

    with transaction() as session:
        row = webforms.find_form(session, form)
        webforms.disable_form(session, row)
    click.echo(f"Disabled web form {row.name!r}; `crm forms edit {row.public_id} --enable` turns it back on.")


@forms.group("quarantine")
def quarantine_group() -> None:
    """Submissions held as suspected spam (answered like any other, never turned into leads)."""


@quarantine_group.command("list")
@click.option("--form", "form_ref", help="Only this form (name or public id).")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines with every stored value.")
def quarantine_list(form_ref: str | None, limit: int, as_json: bool) -> None:
    """List quarantined submissions, newest first, with why each was held."""
    from crm_store.capture import forms as webforms
    from crm_store.capture import quarantine
    from crm_store.db.engine import session_scope

    with session_scope() as session:
        form_id = webforms.find_form(session, form_ref).id if form_ref else None
        rows = list(session.scalars(quarantine.quarantined(form_id).limit(limit)))
        if as_json:
            for r in rows:
                click.echo(json.dumps({
                    "id": r.public_id, "received_at": r.received_at.isoformat(), "reason": r.spam_reason,
                    "email": r.email, "values": r.clean, "raw": r.raw,
                }, ensure_ascii=False))
            return
        if not rows:
            click.echo("The quarantine is empty.")
            return
        columns = (Column("ID"), Column("RECEIVED (UTC)"), Column("EMAIL"), Column("NAME", 20), Column("REASON"))
        echo_table(columns, [
            (r.public_id, f"{r.received_at:%Y-%m-%d %H:%M}", r.email,
             " ".join(str(r.clean.get(k) or "") for k in ("first_name", "last_name")).strip(), r.spam_reason)
            for r in rows
        ])


@quarantine_group.command("release", cls=IdCommand)
@click.argument("submission")
def quarantine_release(submission: str) -> None:
    """Let SUBMISSION through: it creates the lead (or adds to the known one) as if never held."""
    from crm_store.capture import quarantine
    from crm_store.cli.work import transaction
    from crm_store.models import Contact, Lead

    with transaction() as session:
        receipt = quarantine.release(session, submission)
        what = {"new_lead": "created lead", "added_to_lead": "added to lead", "added_to_contact": "added to contact"}
        record = session.get(Lead, receipt.lead_id) if receipt.lead_id else session.get(Contact, receipt.contact_id)
        number = getattr(record, "lead_no", None) or getattr(record, "contact_no", "")
        click.echo(f"Released {receipt.public_id}: {what.get(receipt.outcome, receipt.outcome)} {number}.")


@quarantine_group.command("discard", cls=IdCommand)
@click.argument("submission")
def quarantine_discard(submission: str) -> None:
    """Confirm SUBMISSION as spam; it leaves the quarantine list."""
    from crm_store.capture import quarantine
    from crm_store.cli.work import transaction

    with transaction() as session:
        row = quarantine.discard(session, submission)
        click.echo(f"Discarded {row.public_id}.")


@quarantine_group.command("summary")
@click.option("--dry-run", is_flag=True, help="Print the summary and who would get it; queue nothing.")
def quarantine_summary(dry_run: bool) -> None:
    """Queue today's quarantine summary email for every active admin.

    It covers the submissions still held that arrived since the day of the previous summary (yesterday,
    the first time) up to the start of today, in the company's time zone. The web app queues it by itself
    once a day; running this again the same day queues nothing new, and nothing is sent when nothing was
    held.
    """
    from crm_store.capture import quarantine_summary as summaries
    from crm_store.cli.work import transaction

    with transaction() as session:
        summary = summaries.summarise(session)
        admins = [admin.email for admin in session.scalars(summaries.admins())]
        if not summary.total:
            click.echo(f"Nothing was quarantined on {summary.period}; no summary to send.")
            return
        if dry_run:
            _print_summary(summary)
            click.echo(f"Dry run: it would be queued for {len(admins)} admin(s): {', '.join(admins) or 'none'}.")
            return
        queued = summaries.queue_summary(session)
    if not admins:
        click.echo("There is no active admin to send it to; add one with "
                   "`crm users add EMAIL --name NAME --role admin`.")
    else:
        click.echo(f"Queued the quarantine summary of {summary.period} ({summary.total} held) for "
                   f"{len(queued)} admin(s); {len(admins) - len(queued)} had it already.")


@forms.command("prune")
def prune() -> None:
    """Forget visitors' IP addresses older than the `ip_retention_days` company setting."""
    from crm_store.capture import quarantine
    from crm_store.cli.work import transaction

    with transaction() as session:
        n = quarantine.prune_ips(session)
    click.echo(f"Cleared the IP address of {n} submission(s).")


def _print_summary(summary: Summary) -> None:
    """Print a quarantine summary: the counts per form and reason, then the newest held submissions."""
    click.echo(f"Quarantined on {summary.period}: {summary.total} submission(s).")
    echo_table((Column("FORM", 28), Column("REASON", 44), Column("HELD", right=True)),
               [(form, reason, n) for form, reasons in summary.counts.items() for reason, n in reasons.items()])
    click.echo("Newest:")
    echo_table((Column("ID"), Column("RECEIVED (UTC)"), Column("FORM", 20), Column("EMAIL"), Column("REASON")),
               [(h.public_id, f"{h.received_at:%Y-%m-%d %H:%M}", h.form_name, h.email, h.reason)
                for h in summary.newest])
    click.echo("Release one with `crm forms quarantine release SUBMISSION`.")


def _urls(form: WebForm) -> None:
    from crm_store import links
    from crm_store.capture.forms import embed_snippet
    from crm_store.config import load_config

    base = load_config().base_url
    click.echo(f"  Hosted page:     {links.url(base, 'hosted_form', public_id=form.public_id)}")
    click.echo(f"  JSON API:        POST {links.url(base, 'form_api', public_id=form.public_id)}")
    click.echo(f"  Integration key: {form.integration_key}  (header X-Form-Key, for server-side posts)")
    click.echo("  Embed snippet (paste into your website):")
    click.echo(f"    {embed_snippet(base, form.public_id)}")
    if not form.allowed_origins:
        click.echo("  Note: no --allowed-origin yet, so only the hosted page works; add your site to embed it.")
