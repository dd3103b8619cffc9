"""How the reports read to people: their titles and descriptions, column labels, and cells in a language.

Pure: no Flask, no store session. Titles, descriptions and labels are English msgids (marked with N_) that
the page or email translates; `format_cell` returns text already in the language asked for.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from crm_store.languages import N_, format_money, format_number, translate_value

Kind = Literal["money", "share", "count", "days", "date", "text", "hours", "score"]

TITLES: dict[str, str] = {
    "campaigns": N_("Campaign results"),
    "customer-value": N_("Customer value"),
    "follow-ups": N_("Follow-ups to close"),
    "forecast": N_("Forecast by month"),
    "funnel": N_("Sales funnel"),
    "lead-aging": N_("Lead aging"),
    "lead-sources": N_("Lead sources"),
    "lost-reasons": N_("Lost reasons"),
    "pipeline": N_("Pipeline by stage"),
    "rep-activity": N_("Rep activity"),
    "win-rate": N_("Win rate by owner"),
}

DESCRIPTIONS: dict[str, str] = {
    "campaigns": N_("What each campaign brought in during the period, against what it cost."),
    "customer-value": N_("What each customer is worth: RFM scores and segment, ABC class and lifetime value."),
    "follow-ups": N_("How many follow-ups the deals won in the period took before they closed."),
    "forecast": N_("The open deals by the month they are expected to close, beside what was won each month."),
    "funnel": N_("How far the deals created in the period got, stage by stage."),
    "lead-aging": N_("How long the open leads have gone without anyone acting on them, by status."),
    "lead-sources": N_("Where the period's leads came from, and what became of them."),
    "lost-reasons": N_("Why deals were lost in the period, and at which stage."),
    "pipeline": N_("The open deals of a sales process, stage by stage, with their amounts."),
    "rep-activity": N_("What each rep did in the period: leads, activities, tasks and deals."),
    "win-rate": N_("Each owner's closed deals, deal size, sales cycle and sales velocity."),
}

_LABELS: dict[str, str] = {
    "account_name": N_("Account"),
    "account_no": N_("Customer no."),
    "activities_completed": N_("Activities completed"),
    "actual_cost": N_("Actual cost"),
    "abc_class": N_("ABC class"),
    "amount": N_("Amount"),
    "avg_age_days": N_("Average age (days)"),
    "avg_cycle_days": N_("Average sales cycle (days)"),
    "avg_days_in_stage": N_("Average days in stage"),
    "avg_deal_size": N_("Average deal size"),
    "avg_order_value": N_("Average order value"),
    "bucket": N_("Days idle"),
    "campaign_no": N_("Campaign no."),
    "clv": N_("Lifetime value"),
    "conversion": N_("Conversion from previous stage"),
    "conversion_rate": N_("Lead conversion rate"),
    "converted": N_("Leads converted"),
    "cumulative_share": N_("Cumulative share"),
    "f_score": N_("Frequency score"),
    "first_purchase": N_("First purchase"),
    "follow_ups": N_("Follow-ups"),
    "frequency": N_("Purchases"),
    "last_purchase": N_("Last purchase"),
    "lead_source": N_("Lead source"),
    "leads": N_("Leads"),
    "leads_assigned": N_("Leads assigned"),
    "lost": N_("Deals lost"),
    "lost_amount": N_("Lost amount"),
    "lost_reason": N_("Lost reason"),
    "m_score": N_("Monetary score"),
    "median_cycle_days": N_("Median sales cycle (days)"),
    "median_days_in_stage": N_("Median days in stage"),
    "median_first_response_hours": N_("Median first response (hours)"),
    "monetary": N_("Revenue"),
    "month": N_("Month"),
    "name": N_("Campaign name"),
    "open_opportunities": N_("Open opportunities"),
    "opportunities": N_("Opportunities"),
    "opportunities_created": N_("Opportunities created"),
    "overdue_tasks": N_("Overdue tasks"),
    "owner": N_("Owner"),
    "r_score": N_("Recency score"),
    "reached": N_("Deals reached"),
    "recency_days": N_("Days since last purchase"),
    "revenue_per_lead": N_("Revenue per lead"),
    "revenue_share": N_("Share of revenue"),
    "rfm_segment": N_("RFM segment"),
    "roi": N_("Return on cost"),
    "sales_velocity": N_("Sales velocity (per day)"),
    "share": N_("Share"),
    "stage": N_("Stage"),
    "status": N_("Lead status"),
    "top_products": N_("Top products"),
    "weighted_amount": N_("Weighted amount"),
    "win_rate": N_("Win rate"),
    "won": N_("Deals won"),
    "won_amount": N_("Won amount"),
}

# Values the reports' SQL writes itself (the stage, source and status names are the store's msgids already).
DATA_VALUES = (
    N_("Champions"), N_("Can't lose"), N_("Loyal"), N_("At risk"), N_("New"), N_("Potential loyalist"), N_("Lost"),
    N_("Hibernating"), N_("ALL"), N_("(none)"), N_("(no owner)"),
)

_KINDS: dict[str, Kind] = {
    **dict.fromkeys(("amount", "weighted_amount", "won_amount", "monetary", "avg_order_value", "clv",
                     "revenue_per_lead", "lost_amount", "avg_deal_size", "sales_velocity", "actual_cost"), "money"),
    **dict.fromkeys(("conversion_rate", "share", "cumulative_share", "revenue_share", "conversion", "win_rate",
                     "roi"), "share"),
    **dict.fromkeys(("opportunities", "leads", "converted", "won", "lost", "reached", "frequency", "leads_assigned",
                     "activities_completed", "overdue_tasks", "opportunities_created", "open_opportunities"),
                    "count"),
    **dict.fromkeys(("recency_days", "avg_age_days", "avg_days_in_stage", "median_days_in_stage", "avg_cycle_days",
                     "median_cycle_days"), "days"),
    **dict.fromkeys(("first_purchase", "last_purchase"), "date"),
    **dict.fromkeys(("r_score", "f_score", "m_score"), "score"),
    "median_first_response_hours": "hours",
}

# Text columns whose values are stage, picklist or report-made names, shown in the reader's language.
_TRANSLATED = frozenset({"stage", "lead_source", "lost_reason", "status", "rfm_segment", "owner"})

EMPTY = "—"


def column_label(name: str) -> str:
    """The English msgid naming a report column (its name in words when it is not one of ours)."""
    return _LABELS.get(name, name.replace("_", " ").capitalize())


def column_kind(report: str, column: str) -> Kind:
    """What a column holds, for formatting and alignment: money, share, count, days, date, text, hours or score."""
    return _KINDS.get(column, "text")


def format_cell(report: str, column: str, value: Any, *, language: str, currency: str,
                minor_unit: int | None = None) -> str:
    """A cell as people read it in `language`; money in `currency` with its decimals (by default the seeded ones)."""
    if value is None:
        return EMPTY
    kind = column_kind(report, column)
    if kind == "money":
        digits = currency_digits(currency) if minor_unit is None else minor_unit
        return format_money(_number(value), currency, digits, language)
    if kind == "share":
        return percent(value, language)
    if kind in ("count", "score"):
        return format_number(_number(value), language)
    if kind in ("days", "hours"):  # averages with one decimal; whole days (recency) as they are
        decimals = 1 if isinstance(value, float | Decimal) else 0
        return format_number(_rounded(value, decimals), language, decimals)
    if kind == "date" and isinstance(value, dt.date):
        return value.isoformat()
    if column in _TRANSLATED and isinstance(value, str):
        return translate_value(language, value)
    return str(value)


def translated_rows(columns: list[str], rows: list[tuple[Any, ...]], language: str) -> list[tuple[Any, ...]]:
    """The rows with their stage, picklist and report-made names in `language`, every other value as it is (for a
    workbook in the reader's language: numbers and dates stay numbers and dates)."""
    which = [i for i, column in enumerate(columns) if column in _TRANSLATED]
    if not which:
        return rows

    def row_in(row: tuple[Any, ...]) -> tuple[Any, ...]:
        values = list(row)
        for i in which:
            if isinstance(values[i], str):
                values[i] = translate_value(language, values[i])
        return tuple(values)

    return [row_in(row) for row in rows]


def percent(value: float | Decimal, language: str) -> str:
    """A share as a percentage with one decimal: 0.18 -> 18.0 %."""
    return f"{format_number(_rounded(_number(value) * 100, 1), language, 1)} %"


def currency_digits(currency: str) -> int:
    """The minor unit a currency is seeded with (TWD 0, USD 2); 2 for one the CRM does not seed."""
    from crm_store.settings.currencies import CURRENCIES

    return next((digits for code, _name, _symbol, digits, _rate in CURRENCIES if code == currency.upper()), 2)


def _rounded(value: Any, decimals: int) -> Decimal:
    """Rounded half up, as the reports and money round (Babel alone would round half to even: 1.25 -> 1.2)."""
    return _number(value).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def _number(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))
