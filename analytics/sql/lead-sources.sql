-- lead-sources: where the period's leads came from, and what became of them.
--
-- Grain: one row per lead source of the leads created in the period (a lead without one: '(none)').
-- leads          leads created in the period (company-local dates date_from..date_to), not deleted
-- converted      those of them converted on or before as_of; conversion_rate = converted / leads
-- opportunities  the opportunities those leads were converted into (not deleted)
-- won            of those, the ones at a won stage, closed on or before as_of
-- won_amount     sum of the won ones' amount x their own conversion_rate (company currency), each rounded to
--                the currency's minor unit; revenue_per_lead = won_amount / leads, rounded the same way
-- median_first_response_hours
--                median of the leads' first_response_minutes (the working minutes from assignment to the
--                first completed activity, as the flows store them) / 60, two decimals; null when none has one
-- Company-local days: the period's bounds are worked out once as naive-UTC moments (`bounds`) and the stored
-- timestamps compared with them, not each row converted to the company's zone (half a second a million rows).
-- Parameters: date_from, date_to, as_of; owner / team (the lead's owner: a user's email / a team they
-- belong to); viewers (user ids; null: everyone's): only the leads owned by one of them, on top (an unowned
-- lead is no viewer's; what they were converted into counts with them); minor_digits.
-- Order: most leads first, then by source.
with

bounds as (
    select
        timezone('UTC', timezone(zone, cast($date_from as timestamp))) as period_start,
        timezone('UTC', timezone(zone, cast($date_to + 1 as timestamp))) as period_end,
        timezone('UTC', timezone(zone, cast($as_of + 1 as timestamp))) as as_of_end
    from (select coalesce(max(value) filter (where key = 'time_zone'), 'UTC') as zone from _settings)
),

scoped_users as (
    select u.id
    from users as u
    where ($owner is null or u.email = $owner)
        and ($team is null or u.id in (
            select m.user_id
            from team_members as m
            join teams as t on t.id = m.team_id
            where t.name = $team
        ))
        and ($viewers::bigint[] is null or list_contains($viewers::bigint[], u.id))
),

period_leads as (
    select
        l.id,
        coalesce(l.lead_source, '(none)') as lead_source,
        coalesce(l.converted_at < b.as_of_end, false) as is_converted,
        l.converted_opportunity_id,
        l.first_response_minutes
    from leads as l
    cross join bounds as b
    where l.deleted_at is null
        and l.created_at >= b.period_start and l.created_at < b.period_end
        and (l.owner_id in (select id from scoped_users)
            or ($owner is null and $team is null and $viewers::bigint[] is null))
),

converted_opportunities as (
    select
        pl.lead_source,
        coalesce(s.is_won and o.closed_at < b.as_of_end, false) as is_won,
        round(o.amount * o.conversion_rate, $minor_digits) as company_amount
    from period_leads as pl
    join opportunities as o on o.id = pl.converted_opportunity_id
    join sales_stages as s on s.id = o.stage_id
    cross join bounds as b
    where pl.is_converted and o.deleted_at is null
),

by_source as (
    select
        lead_source,
        count(*) as leads,
        count(*) filter (where is_converted) as converted,
        median(first_response_minutes) as median_minutes
    from period_leads
    group by lead_source
),

outcomes as (
    select
        lead_source,
        count(*) as opportunities,
        count(*) filter (where is_won) as won,
        coalesce(sum(company_amount) filter (where is_won), 0) as won_amount
    from converted_opportunities
    group by lead_source
),

final as (
    select
        b.lead_source,
        b.leads,
        b.converted,
        b.converted / b.leads as conversion_rate,
        coalesce(o.opportunities, 0) as opportunities,
        coalesce(o.won, 0) as won,
        coalesce(o.won_amount, 0) as won_amount,
        round(cast(coalesce(o.won_amount, 0) / b.leads as decimal(38, 10)), $minor_digits) as revenue_per_lead,
        round(b.median_minutes / 60, 2) as median_first_response_hours
    from by_source as b
    left join outcomes as o on o.lead_source = b.lead_source
)

select * from final
order by leads desc, lead_source
