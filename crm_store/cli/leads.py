"""`crm leads`: work with leads (conversion)."""

from __future__ import annotations

import click


@click.group()
def leads() -> None:
    """Work with leads."""


@leads.command("convert")
@click.argument("lead_no")
@click.option("--account",
              help="Existing account (ACC number or name); default: matched by the lead's company, else new.")
@click.option("--opportunity", "opportunity_name", help="Also create an opportunity with this name.")
@click.option("--amount", type=str, help="Opportunity amount.")
@click.option("--close-date", help="Opportunity expected close date, YYYY-MM-DD.")
def convert(lead_no: str, account: str | None, opportunity_name: str | None, amount: str | None,
            close_date: str | None) -> None:
    """Convert LEAD_NO into an account, a contact and optionally an opportunity."""
    from crm_store.cli.work import actor, transaction
    from crm_store.errors import ValidationError
    from crm_store.pipeline import conversion
    from crm_store.records import lifecycle, registry

    if (amount or close_date) and not opportunity_name:
        raise ValidationError("opportunity", "--amount and --close-date need --opportunity NAME")
    opp = None
    if opportunity_name:
        if not close_date:
            raise ValidationError("close_date", "an opportunity needs --close-date YYYY-MM-DD")
        opp = {"name": opportunity_name, "amount": amount, "expected_close_date": close_date}
    with transaction() as session:
        lead = lifecycle.get_by_number(session, lead_no)
        if registry.of_record(lead).name != "leads":
            raise ValidationError("lead", f"{lead_no} is not a lead")
        done = conversion.convert_lead(session, lead, actor(session), account=account, opportunity=opp)
        made = "created" if done.account_created else "matched"
        deal = f", opportunity {done.opportunity.opportunity_no}" if done.opportunity else ""
        click.echo(f"Converted {lead.lead_no}: account {done.account.account_no} ({made}), contact "
                   f"{done.contact.contact_no}{deal}.")
