"""Analytics benchmark (issue 18): the warehouse's refresh and its eleven reports, against the same questions asked
of the store in plain SQL on SQLite, measured in the same run.

On the large demo's SQLite file (`--database-url`; opened read-only, never written):

1. the refresh (`analytics.warehouse.refresh`) into a new DuckDB file (`--warehouse`, else a temporary directory):
   seconds, rows copied and rows/s. `--warehouse PATH --skip-refresh` reuses a warehouse built before (from the
   same store, or the checks below will say so).
2. each report through `analytics.reports.run_report` with the default parameters (as of today, the twelve months
   up to it, the default process, everyone): one warm-up, then the median of `--runs`.
3. the baseline: each report's question answered by one query written directly on the store's tables in SQLite
   (Exact money columns are scaled integers there: divided by 10^4; company-local days through the zone's UTC
   offset at as-of, exact for a zone without daylight saving such as the demo's), with the report's parameters,
   on a read-only connection: one warm-up, then the median of `--baseline-runs`.

Each report is checked against its baseline: the row count, and the sums of one or two headline columns (e.g.
leads and won amount), agreeing to 1e-6 of the total (float sums on SQLite). A mismatch is printed loudly and the
command exits 1. Goals: refresh >= 1,000,000 rows/s; every report < 1 s; >= 10x faster than the store.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import zoneinfo
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bench.bulk_insert import git_state
from bench.machine import describe

RESULTS = Path(__file__).resolve().parent / "results" / "analytics.json"
DEFAULT_DATABASE = "sqlite:////tmp/sp-bench-large/leadline.db"
GOAL_ROWS_PER_S = 1_000_000
GOAL_REPORT_S = 1.0
GOAL_RATIO = 10.0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the baseline: each report's question in plain SQL on the store ---------------------------------------------
# Named parameters: :ps / :pe the period's bounds, :ae the end of as-of's day, :ce the end of the day
# min(date_to, as_of) (naive-UTC text, compared with the stored timestamps' text); :as_of, :date_from, :date_to
# (ISO dates); :off the zone's offset for date(); :md minor digits; :process; :clv_years; :aging_from,
# :stale_from, :cold_from. Owner and team are everyone (the bench's reports are asked for everyone).

def _median(source: str, group: str, value: str) -> str:
    """A SELECT of (group, median) over a subquery: SQLite has no median()."""
    return f"""select g, avg(v) as m from (
        select {group} as g, {value} as v,
               row_number() over (partition by {group} order by {value}) as rn,
               count(*) over (partition by {group}) as c
        from ({source}) where {value} is not null)
    where rn in ((c + 1) / 2, (c + 2) / 2) group by g"""


BASELINE: dict[str, str] = {
    "campaigns": """
with cl as (select campaign_id, count(*) as n from leads
            where deleted_at is null and campaign_id is not null and created_at >= :ps and created_at < :pe
            group by campaign_id),
co as (select campaign_id, count(*) as n from opportunities
       where deleted_at is null and campaign_id is not null and created_at >= :ps and created_at < :pe
       group by campaign_id),
cw as (select o.campaign_id, count(*) as n, sum(round(o.amount / 1e4 * o.conversion_rate, :md)) as amount
       from opportunities as o join sales_stages as s on s.id = o.stage_id
       where o.deleted_at is null and o.campaign_id is not null and s.is_won
         and o.closed_at >= :ps and o.closed_at < :pe
       group by o.campaign_id)
select c.campaign_no, c.name, coalesce(cl.n, 0), coalesce(co.n, 0), coalesce(cw.n, 0), coalesce(cw.amount, 0),
       round(c.actual_cost / 1e4, :md),
       (coalesce(cw.amount, 0) - round(c.actual_cost / 1e4, :md)) / nullif(round(c.actual_cost / 1e4, :md), 0)
from campaigns as c
left join cl on cl.campaign_id = c.id left join co on co.campaign_id = c.id left join cw on cw.campaign_id = c.id
where c.deleted_at is null
order by c.campaign_no""",

    "customer-value": """
with sales as (
    select i.id as invoice_id, i.account_id, i.invoice_date, i.conversion_rate,
           round(i.grand_total / 1e4 * i.conversion_rate, :md) as grand_total
    from invoices as i join accounts as a on a.id = i.account_id
    where a.deleted_at is null and i.deleted_at is null and i.status <> 'Cancel'
      and i.invoice_date <= :as_of and i.invoice_date >= :date_from and i.invoice_date <= :date_to),
customers as (
    select a.account_no, a.name as account_name, a.id as account_id,
           min(s.invoice_date) as first_purchase, max(s.invoice_date) as last_purchase,
           cast(julianday(:as_of) - julianday(max(s.invoice_date)) as integer) as recency_days,
           count(*) as frequency, sum(s.grand_total) as monetary
    from sales as s join accounts as a on a.id = s.account_id
    group by a.id),
scored as (
    select c.*,
           ntile(5) over (order by c.recency_days desc, c.account_no) as r_score,
           ntile(5) over (order by c.frequency, c.account_no) as f_score,
           ntile(5) over (order by c.monetary, c.account_no) as m_score,
           sum(c.monetary) over () as total_monetary,
           coalesce(sum(c.monetary) over (order by c.monetary desc, c.account_no
                    rows between unbounded preceding and 1 preceding), 0) as monetary_before,
           sum(c.monetary) over (order by c.monetary desc, c.account_no
               rows between unbounded preceding and current row) as monetary_through
    from customers as c)
select s.account_no, s.account_name, s.first_purchase, s.last_purchase, s.recency_days, s.frequency, s.monetary,
       round(s.monetary / s.frequency, :md), s.r_score, s.f_score, s.m_score,
       case when s.r_score >= 4 and s.f_score >= 4 and s.m_score >= 4 then 'Champions'
            when s.r_score <= 2 and s.f_score >= 4 and s.m_score >= 4 then 'Can''t lose'
            when s.f_score >= 4 then 'Loyal'
            when s.r_score <= 2 and s.f_score >= 3 then 'At risk'
            when s.r_score >= 4 and s.f_score = 1 then 'New'
            when s.r_score >= 3 then 'Potential loyalist'
            when s.r_score = 1 then 'Lost'
            else 'Hibernating' end,
       case when s.monetary_before * 100 < s.total_monetary * 80 then 'A'
            when s.monetary_before * 100 < s.total_monetary * 95 then 'B' else 'C' end,
       s.monetary / nullif(s.total_monetary, 0), s.monetary_through / nullif(s.total_monetary, 0),
       round(s.monetary * :clv_years * 365.25
             / max(julianday(s.last_purchase) - julianday(s.first_purchase), 365.25), :md),
       (select group_concat(name, ', ') from (  -- the top 3 products, through the invoices' index per account
            select p.name from invoices as i join line_items as li on li.invoice_id = i.id
            join products as p on p.id = li.product_id
            where i.account_id = s.account_id and i.deleted_at is null and i.status <> 'Cancel'
              and i.invoice_date <= :as_of and i.invoice_date >= :date_from and i.invoice_date <= :date_to
            group by p.id order by sum(li.net / 1e4 * i.conversion_rate) desc, p.name, p.id limit 3))
from scored as s
order by s.monetary desc, s.account_no""",

    "follow-ups": """
with recursive buckets(n) as (select 0 union all select n + 1 from buckets where n < 12),
sales as (
    select o.id, o.closed_at from opportunities as o join sales_stages as s on s.id = o.stage_id
    where s.is_won and o.deleted_at is null and o.closed_at >= :ps and o.closed_at < :pe),
sale_activities as (
    select sa.id as sale_id, a.id as activity_id
    from sales as sa join activities as a on a.opportunity_id = sa.id
    where a.deleted_at is null and a.completed_at is not null and a.type in ('call', 'meeting', 'email', 'task')
      and a.completed_at < sa.closed_at
    union
    select sa.id, a.id
    from sales as sa join leads as l on l.converted_opportunity_id = sa.id join activities as a on a.lead_id = l.id
    where a.deleted_at is null and a.completed_at is not null and a.type in ('call', 'meeting', 'email', 'task')
      and a.completed_at < sa.closed_at),
follow_ups as (
    select sa.id, count(x.activity_id) as n from sales as sa left join sale_activities as x on x.sale_id = sa.id
    group by sa.id),
counts as (select min(n, 12) as n, count(*) as won from follow_ups group by 1),
total as (select count(*) as won from follow_ups)
select case when b.n = 12 then '12+' else cast(b.n as text) end, coalesce(c.won, 0),
       1.0 * coalesce(c.won, 0) / nullif(t.won, 0),
       1.0 * (select coalesce(sum(won), 0) from counts where n <= b.n) / nullif(t.won, 0)
from buckets as b left join counts as c on c.n = b.n cross join total as t
order by b.n""",

    "forecast": """
with deals as (
    select o.expected_close_date, o.created_at, coalesce(o.closed_at, o.stage_entered_at) as closed_at,
           round(coalesce(o.amount, 0) / 1e4 * o.conversion_rate, :md) as amount,
           coalesce(o.probability, s.probability) as probability, s.is_won, s.is_lost
    from opportunities as o join sales_stages as s on s.id = o.stage_id
    where o.deleted_at is null),
expected as (
    select strftime('%Y-%m', expected_close_date) as month, count(*) as opportunities, sum(amount) as amount,
           sum(amount * probability * 0.01) as weighted_amount
    from deals where not is_won and not is_lost and created_at < :ae group by 1),
won as (
    select strftime('%Y-%m', date(closed_at, :off)) as month, sum(amount) as won_amount
    from deals where is_won and closed_at >= :ps and closed_at < :ce group by 1),
months as (select month from expected union select month from won)
select m.month, coalesce(e.opportunities, 0), coalesce(e.amount, 0), round(coalesce(e.weighted_amount, 0), :md),
       coalesce(w.won_amount, 0)
from months as m left join expected as e on e.month is m.month left join won as w on w.month is m.month
order by m.month""",

    "funnel": f"""
with process as (select id from sales_processes where name = :process),
steps as (
    select s.id as stage_id, s.name, row_number() over (order by s.is_won, s.position) as step
    from sales_stages as s where s.sales_process_id = (select id from process) and not s.is_lost),
deals as (
    select o.id from opportunities as o
    where o.sales_process_id = (select id from process) and o.deleted_at is null
      and o.created_at >= :ps and o.created_at < :ce),
entries as (
    select h.opportunity_id, h.stage_id, h.entered_at, h.left_at
    from stage_history as h join deals as d on d.id = h.opportunity_id),
furthest as (
    select e.opportunity_id, max(s.step) as step from entries as e join steps as s on s.stage_id = e.stage_id
    group by e.opportunity_id),
reached as (
    select s.stage_id, count(f.opportunity_id) as reached
    from steps as s left join furthest as f on f.step >= s.step group by s.stage_id),
stays as (
    select opportunity_id, stage_id, sum((julianday(left_at) - julianday(entered_at))) as days
    from entries where left_at is not null group by opportunity_id, stage_id),
averages as (select stage_id, avg(days) as avg_days from stays group by stage_id),
medians as ({_median("select * from stays", "stage_id", "days")})
select s.name, r.reached,
       1.0 * r.reached / nullif(lag(r.reached) over (order by s.step), 0),
       round(a.avg_days, 1), round(m.m, 1)
from steps as s join reached as r on r.stage_id = s.stage_id
left join averages as a on a.stage_id = s.stage_id left join medians as m on m.g = s.stage_id
order by s.step""",

    "lead-aging": """
with bucketed as (
    select coalesce(status, '(none)') as status,
           case when coalesce(last_touch_at, created_at) >= :aging_from then 1
                when coalesce(last_touch_at, created_at) >= :stale_from then 2
                when coalesce(last_touch_at, created_at) >= :cold_from then 3 else 4 end as bucket_no
    from leads
    where deleted_at is null and created_at < :ae and (converted_at is null or converted_at >= :ae)
      and coalesce(status, '') not in ('Junk Lead', 'Lost Lead'))
select case bucket_no when 1 then '0-' || :aging when 2 then (:aging + 1) || '-' || :stale
                      when 3 then (:stale + 1) || '-' || :cold else (:cold + 1) || '+' end,
       status, count(*)
from bucketed group by bucket_no, status order by bucket_no, status""",

    "lead-sources": f"""
with period_leads as (
    select id, coalesce(lead_source, '(none)') as lead_source,
           coalesce(converted_at < :ae, 0) as is_converted, converted_opportunity_id, first_response_minutes
    from leads where deleted_at is null and created_at >= :ps and created_at < :pe),
outcomes as (
    select pl.lead_source, count(*) as opportunities,
           sum(coalesce(s.is_won and o.closed_at < :ae, 0)) as won,
           sum(case when s.is_won and o.closed_at < :ae then round(o.amount / 1e4 * o.conversion_rate, :md)
                    else 0 end) as won_amount
    from period_leads as pl join opportunities as o on o.id = pl.converted_opportunity_id
    join sales_stages as s on s.id = o.stage_id
    where pl.is_converted and o.deleted_at is null group by pl.lead_source),
by_source as (
    select lead_source, count(*) as leads, sum(is_converted) as converted from period_leads group by lead_source),
medians as ({_median("select * from period_leads", "lead_source", "first_response_minutes")})
select b.lead_source, b.leads, b.converted, 1.0 * b.converted / b.leads, coalesce(o.opportunities, 0),
       coalesce(o.won, 0), coalesce(o.won_amount, 0), round(coalesce(o.won_amount, 0) / b.leads, :md),
       round(m.m / 60, 2)
from by_source as b left join outcomes as o on o.lead_source = b.lead_source
left join medians as m on m.g = b.lead_source
order by b.leads desc, b.lead_source""",

    "lost-reasons": """
with lost_deals as (
    select o.id, coalesce(o.lost_reason, '(none)') as lost_reason,
           round(coalesce(o.amount, 0) / 1e4 * o.conversion_rate, :md) as company_amount
    from opportunities as o join sales_stages as s on s.id = o.stage_id
    where s.is_lost and o.deleted_at is null and o.closed_at >= :ps and o.closed_at < :pe),
last_open as (  -- the last open stage each deal was in, through the stage history's index per deal
    select d.id, d.company_amount,
           (select h.stage_id from stage_history as h join sales_stages as st on st.id = h.stage_id
            where h.opportunity_id = d.id and not st.is_won and not st.is_lost
            order by h.entered_at desc, h.id desc limit 1) as stage_id
    from lost_deals as d),
lost_at as (
    select d.id, d.company_amount, coalesce(st.name, '(none)') as stage, st.position
    from last_open as d left join sales_stages as st on st.id = d.stage_id),
total as (select count(*) as lost from lost_deals),
parts as (
    select lost_reason, null as stage, count(*) as lost, sum(company_amount) as amount, 1 as part,
           null as position from lost_deals group by lost_reason
    union all
    select 'ALL', stage, count(*), sum(company_amount), 2, min(position) from lost_at group by stage)
select p.lost_reason, p.stage, p.lost, p.amount, 1.0 * p.lost / t.lost
from parts as p cross join total as t
order by p.part, case when p.part = 1 then -p.lost end, p.position is null, p.position, p.lost_reason, p.stage""",

    "pipeline": """
with open_stages as (
    select s.id, s.name, s.position, s.probability
    from sales_stages as s join sales_processes as p on p.id = s.sales_process_id
    where p.name = :process and not s.is_won and not s.is_lost),
deals as (
    select o.stage_id, round(coalesce(o.amount, 0) / 1e4 * o.conversion_rate, :md) as amount,
           coalesce(o.probability, s.probability) as probability,
           julianday(:as_of) - julianday(date(o.created_at, :off)) as age_days,
           julianday(:as_of) - julianday(date(coalesce(o.stage_entered_at, o.created_at), :off)) as days_in_stage
    from opportunities as o join open_stages as s on s.id = o.stage_id
    where o.deleted_at is null and o.created_at < :ae),
by_stage as (
    select stage_id, count(*) as opportunities, sum(amount) as amount,
           sum(amount * probability * 0.01) as weighted_amount,
           avg(age_days) as avg_age_days, avg(days_in_stage) as avg_days_in_stage
    from deals group by stage_id)
select s.name, coalesce(b.opportunities, 0), coalesce(b.amount, 0), round(coalesce(b.weighted_amount, 0), :md),
       round(b.avg_age_days, 1), round(b.avg_days_in_stage, 1)
from open_stages as s left join by_stage as b on b.stage_id = s.id
order by s.position""",

    "rep-activity": f"""
with assigned_leads as (
    select owner_id, first_response_minutes from leads
    where deleted_at is null
      and coalesce(assigned_at, created_at) >= :ps and coalesce(assigned_at, created_at) < :pe),
assigned as (select owner_id, count(*) as n from assigned_leads group by owner_id),
medians as ({_median("select * from assigned_leads", "owner_id", "first_response_minutes")}),
completed as (
    select owner_id, count(*) as n from activities
    where deleted_at is null and completed_at >= :ps and completed_at < :pe group by owner_id),
overdue as (
    select owner_id, count(*) as n from activities
    where deleted_at is null and type = 'task' and due_date < :as_of
      and (completed_at is null or completed_at >= :ae) and created_at < :ae
    group by owner_id),
created as (
    select owner_id, count(*) as n from opportunities
    where deleted_at is null and created_at >= :ps and created_at < :pe group by owner_id),
won as (
    select o.owner_id, sum(round(o.amount / 1e4 * o.conversion_rate, :md)) as amount
    from opportunities as o join sales_stages as s on s.id = o.stage_id
    where o.deleted_at is null and s.is_won and o.closed_at >= :ps and o.closed_at < :pe group by o.owner_id),
rows as (
    select u.email, coalesce(l.n, 0) as leads_assigned, round(m.m / 60.0, 2) as hours,
           coalesce(c.n, 0) as completed, coalesce(d.n, 0) as overdue, coalesce(o.n, 0) as created,
           coalesce(w.amount, 0) as won_amount, u.active
    from users as u left join assigned as l on l.owner_id = u.id left join medians as m on m.g = u.id
    left join completed as c on c.owner_id = u.id left join overdue as d on d.owner_id = u.id
    left join created as o on o.owner_id = u.id left join won as w on w.owner_id = u.id)
select email, leads_assigned, hours, completed, overdue, created, won_amount from rows
where active or leads_assigned + completed + overdue + created > 0 or won_amount <> 0
order by email""",

    "win-rate": f"""
with deals as (
    select coalesce(u.email, '(no owner)') as owner, o.created_at,
           coalesce(o.closed_at, o.stage_entered_at) as closed_at,
           round(coalesce(o.amount, 0) / 1e4 * o.conversion_rate, :md) as amount,
           case when s.is_won then 'won' when s.is_lost then 'lost' else 'open' end as outcome
    from opportunities as o join sales_stages as s on s.id = o.stage_id left join users as u on u.id = o.owner_id
    where o.deleted_at is null),
counted as (
    select owner, outcome, amount,
           julianday(date(closed_at, :off)) - julianday(date(created_at, :off)) as cycle_days
    from deals where outcome in ('won', 'lost') and closed_at >= :ps and closed_at < :ce
    union all
    select owner, outcome, null, null from deals where outcome = 'open' and created_at < :ae),
everyone as (select 'ALL' as owner, outcome, amount, cycle_days, 1 as is_total from counted
             union all select owner, outcome, amount, cycle_days, 0 from counted),
wins as (select * from everyone where outcome = 'won'),
medians as ({_median("select * from wins", "owner", "cycle_days")}),
totals as (
    select owner, max(is_total) as is_total,
           sum(outcome = 'won') as won, sum(outcome = 'lost') as lost,
           coalesce(sum(case when outcome = 'won' then amount end), 0) as won_amount,
           avg(case when outcome = 'won' then cycle_days end) as avg_cycle_days,
           sum(outcome = 'open') as open_opportunities
    from everyone group by owner)
select t.owner, t.won, t.lost, 1.0 * t.won / nullif(t.won + t.lost, 0), t.won_amount,
       round(t.won_amount / nullif(t.won, 0), :md), round(t.avg_cycle_days, 1), round(m.m, 1),
       t.open_opportunities,
       round(t.open_opportunities * (t.won_amount / nullif(t.won, 0)) * (1.0 * t.won / nullif(t.won + t.lost, 0))
             / nullif(t.avg_cycle_days, 0), :md)
from totals as t left join medians as m on m.g = t.owner
order by t.is_total, t.owner""",
}

# The columns whose sums are compared between a report and its baseline (beside the row count).
HEADLINE: dict[str, tuple[str, ...]] = {
    "campaigns": ("leads", "won_amount"),
    "customer-value": ("frequency", "monetary"),
    "follow-ups": ("won",),
    "forecast": ("opportunities", "amount"),
    "funnel": ("reached",),
    "lead-aging": ("leads",),
    "lead-sources": ("leads", "won_amount"),
    "lost-reasons": ("lost", "lost_amount"),
    "pipeline": ("opportunities", "amount"),
    "rep-activity": ("activities_completed", "won_amount"),
    "win-rate": ("won", "won_amount"),
}


def baseline_params(values: dict[str, Any], zone_name: str) -> dict[str, Any]:
    """The report's bound values as the baseline's named parameters (company-local day bounds as naive-UTC text)."""
    zone = zoneinfo.ZoneInfo(zone_name)

    def start(day: dt.date) -> str:  # the naive-UTC moment the company's `day` starts
        local = dt.datetime.combine(day, dt.time(), zone)
        return local.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")

    as_of, date_from, date_to = values["as_of"], values["date_from"], values["date_to"]
    one = dt.timedelta(days=1)
    aging, stale, cold = sorted((values["aging_days"], values["stale_days"], values["cold_days"]))
    offset = dt.datetime.combine(as_of, dt.time(12), zone).utcoffset() or dt.timedelta()
    return {
        "ps": start(date_from), "pe": start(date_to + one), "ae": start(as_of + one),
        "ce": start(min(date_to, as_of) + one),
        "as_of": as_of.isoformat(), "date_from": date_from.isoformat(), "date_to": date_to.isoformat(),
        "off": f"{int(offset.total_seconds()):+d} seconds", "md": values["minor_digits"],
        "process": values["process"], "clv_years": values["clv_years"],
        "aging": aging, "stale": stale, "cold": cold,
        "aging_from": start(as_of - dt.timedelta(days=aging)), "stale_from": start(as_of - dt.timedelta(days=stale)),
        "cold_from": start(as_of - dt.timedelta(days=cold)),
    }


# -- timing and checking ----------------------------------------------------------------------------------------

def timed(run: Callable[[], Any], runs: int) -> tuple[float, list[float], Any]:
    """One warm-up, then `runs` timed runs: (median seconds, every run's seconds, the last result)."""
    result = run()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return statistics.median(times), times, result


def headline(columns: Sequence[str], rows: Sequence[Sequence[Any]], names: Sequence[str]) -> dict[str, Any]:
    """The row count and the sums of the named columns (by their position in the report)."""
    out: dict[str, Any] = {"rows": len(rows)}
    for name in names:
        at = columns.index(name)
        out[name] = float(sum(row[at] or 0 for row in rows))
    return out


def agree(report: dict[str, Any], baseline: dict[str, Any]) -> list[str]:
    """What differs between the report's headline and the baseline's (sums to 1e-6 of the figure)."""
    problems = []
    for key, want in report.items():
        got = baseline[key]
        if key == "rows" and got != want:
            problems.append(f"{got:,} rows in the baseline, {want:,} in the report")
        elif key != "rows" and abs(got - want) > 1e-6 * max(abs(want), 1.0):
            problems.append(f"{key}: {got:,.4f} in the baseline, {want:,.4f} in the report")
    return problems


class TooSlow(Exception):
    """A baseline query stopped at the time limit."""


def time_limited(con: sqlite3.Connection, sql: str, params: dict[str, Any], limit: float) -> list[Any]:
    """Run a query on SQLite, interrupting it past `limit` seconds (its time is then a lower bound)."""
    deadline = time.perf_counter() + limit
    con.set_progress_handler(lambda: int(time.perf_counter() > deadline), 100_000)
    try:
        return con.execute(sql, params).fetchall()
    except sqlite3.OperationalError as e:
        if time.perf_counter() > deadline:
            raise TooSlow(sql) from e
        raise
    finally:
        con.set_progress_handler(None, 0)


def sqlite_path(url: str) -> Path:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        raise SystemExit("--database-url: the baseline is plain SQL on SQLite; give a sqlite:/// URL")
    path = Path(parsed.database)
    if not path.is_file():
        raise SystemExit(f"--database-url: no SQLite database at {path}")
    return path


# -- the command ------------------------------------------------------------------------------------------------

def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    from analytics.reports import REPORTS

    p = argparse.ArgumentParser(prog="python -m bench.analytics", description=(__doc__ or "").split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--database-url", default=DEFAULT_DATABASE,
                   help="the large demo's SQLite store (opened read-only: refresh and baseline never write to it)")
    p.add_argument("--warehouse", type=Path, metavar="PATH",
                   help="the DuckDB file to refresh into (or, with --skip-refresh, to reuse); "
                        "default: a temporary directory, removed afterwards")
    p.add_argument("--skip-refresh", action="store_true", help="reuse --warehouse as it is; do not time a refresh")
    p.add_argument("--runs", type=int, default=3, help="timed runs of each report (after one warm-up); the median")
    p.add_argument("--baseline-runs", type=int, default=1,
                   help="timed runs of each baseline query (after one warm-up); the median")
    p.add_argument("--baseline-limit", type=float, default=300.0, metavar="SECONDS",
                   help="stop a baseline query after this long (its ratio is then a lower bound, not compared)")
    p.add_argument("--report", action="append", choices=REPORTS, metavar="NAME",
                   help="only this report (repeatable); default: all eleven")
    p.add_argument("--json", metavar="FILE", type=Path, default=RESULTS, help="where to write the JSON result")
    args = p.parse_args(argv)
    if args.skip_refresh and (args.warehouse is None or not args.warehouse.is_file()):
        p.error("--skip-refresh needs --warehouse PATH naming a warehouse that exists")
    if min(args.runs, args.baseline_runs) < 1:
        p.error("--runs and --baseline-runs must be 1 or more")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    import duckdb

    from analytics import warehouse
    from analytics.reports import REPORTS, ReportParams, bind_values, resolve, run_report

    args = parse_args(argv)
    store = sqlite_path(args.database_url)
    tmp = None if args.warehouse else Path(tempfile.mkdtemp(prefix="leadline-bench-analytics-"))
    target = args.warehouse or (tmp / warehouse.FILENAME)  # type: ignore[operator]
    result: dict[str, Any] = {
        "benchmark": "analytics", "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python -m bench.analytics " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": describe(("duckdb", "pyarrow", "adbc-driver-sqlite")), "git": git_state(),
        "database": {"url": args.database_url, "sqlite_bytes": store.stat().st_size},
        "warehouse": str(target), "runs": args.runs, "baseline_runs": args.baseline_runs,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        if args.skip_refresh:
            log(f"reusing the warehouse at {target} (no refresh timed)")
            result["refresh"] = None
        else:
            log(f"refresh: {store} -> {target} ...")
            done = warehouse.refresh(args.database_url, target)
            result["refresh"] = {"tables": done.tables, "rows": done.rows, "seconds": round(done.seconds, 2),
                                 "rows_per_s": round(done.rows / done.seconds),
                                 "warehouse_bytes": target.stat().st_size}
            log(f"  {done.rows:,} rows of {done.tables} tables in {done.seconds:.1f} s: "
                f"{done.rows / done.seconds:,.0f} rows/s")
        result["reports"] = reports = {}
        problems: list[str] = []
        with duckdb.connect(str(target), read_only=True) as con:
            params = resolve(con, ReportParams())
            values = bind_values(con, params)
            zone = dict(con.execute("SELECT key, value FROM _settings").fetchall()).get("time_zone", "UTC")
            result["params"] = {k: str(v) for k, v in values.items()}
            sql_params = baseline_params(values, zone)
            store_con = sqlite3.connect(f"file:{quote(str(store.resolve()))}?mode=ro", uri=True)
            try:
                for name in args.report or REPORTS:
                    seconds, times, report = timed(partial(run_report, con, name, params), args.runs)
                    log(f"{name}: report {seconds:.3f} s ({len(report.rows):,} rows); baseline ...")
                    want = headline(report.columns, report.rows, HEADLINE[name])
                    try:
                        base_s, base_times, base_rows = timed(
                            partial(time_limited, store_con, BASELINE[name], sql_params, args.baseline_limit),
                            args.baseline_runs)
                    except TooSlow:  # not compared: the ratio is a lower bound
                        base_s, base_times, got, differ = args.baseline_limit, [], None, []
                        log(f"  baseline stopped at the {args.baseline_limit:.0f} s limit: not compared")
                    else:
                        got = headline(report.columns, base_rows, HEADLINE[name])
                        differ = agree(want, got)
                    problems += [f"{name}: {d}" for d in differ]
                    reports[name] = {
                        "seconds": round(seconds, 4), "runs": [round(t, 4) for t in times],
                        "baseline_seconds": round(base_s, 3), "baseline_runs": [round(t, 3) for t in base_times],
                        "baseline_stopped": got is None,
                        "ratio": round(base_s / seconds, 1), "rows": len(report.rows),
                        "headline": want, "baseline_headline": got, "agree": None if got is None else not differ,
                    }
                    log(f"  baseline {base_s:.2f} s, {base_s / seconds:,.1f}x; "
                        + ("agree" if not differ else "MISMATCH: " + "; ".join(differ)))
            finally:
                store_con.close()
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    result["problems"] = problems
    result["goals"] = goals(result)
    result["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    args.json.parent.mkdir(parents=True, exist_ok=True)
    import json

    args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(markdown(result))
    for problem in problems:
        log(f"!!! MISMATCH between the warehouse and the store: {problem}")
    return 1 if problems else 0


def goals(result: dict[str, Any]) -> dict[str, Any]:
    """Each goal met or not."""
    reports = result["reports"].values()
    refresh = result["refresh"]
    return {
        "refresh_rows_per_s": None if refresh is None else refresh["rows_per_s"] >= GOAL_ROWS_PER_S,
        "every_report_under_1s": all(r["seconds"] < GOAL_REPORT_S for r in reports),
        "every_report_10x_store": all(r["ratio"] >= GOAL_RATIO for r in reports),
    }


def markdown(result: dict[str, Any]) -> str:
    """The figures as a Markdown table."""
    m, refresh = result["machine"], result["refresh"]
    lines = [
        f"## Analytics: {m['cpus']} CPUs ({m['cpu_model']}), Python {m['python']}, DuckDB {m['duckdb']}, "
        f"SQLite {m['sqlite_library']}",
        "",
        f"Store {result['database']['sqlite_bytes'] / 1e9:.1f} GB; load average "
        f"{' '.join(map(str, result['load_average_at_start']))} at the start, "
        f"{' '.join(map(str, result['load_average_at_end']))} at the end; as of {result['params']['as_of']}, "
        f"{result['params']['date_from']} to {result['params']['date_to']}",
        "",
    ]
    if refresh:
        lines += [f"Refresh: {refresh['rows']:,} rows of {refresh['tables']} tables in {refresh['seconds']:.1f} s, "
                  f"{refresh['rows_per_s']:,} rows/s (goal >= {GOAL_ROWS_PER_S:,}); warehouse "
                  f"{refresh['warehouse_bytes'] / 1e6:,.0f} MB", ""]
    lines += ["| report | rows | report s (median of "
              f"{result['runs']}) | store s (SQLite) | ratio | headline agrees |", "|---|--:|--:|--:|--:|---|"]
    for name, r in result["reports"].items():
        base = f"> {r['baseline_seconds']:.0f} (stopped)" if r["baseline_stopped"] else f"{r['baseline_seconds']:.2f}"
        agrees = "not compared" if r["agree"] is None else "yes" if r["agree"] else "**NO**"
        lines.append(f"| {name} | {r['rows']:,} | {r['seconds']:.3f} | {base} | {'≥ ' if r['baseline_stopped'] else ''}"
                     f"{r['ratio']:,.0f}× | {agrees} |")
    g = result["goals"]
    lines += ["", f"Goals: refresh >= 1,000,000 rows/s: {g['refresh_rows_per_s']}; every report < 1 s: "
              f"{g['every_report_under_1s']}; >= 10× the store: {g['every_report_10x_store']}."]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
