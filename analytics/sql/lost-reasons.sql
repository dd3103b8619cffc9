-- lost-reasons: why deals were lost in the period, and at which stage.
--
-- The deals: opportunities at a lost stage, closed on a company-local date in date_from..date_to, not deleted.
-- Two parts with the same columns (lost_reason, stage, lost, lost_amount, share):
--   1. one row per lost_reason, stage null (a deal without a reason: '(none)'); most lost first, then by reason;
--   2. then one row per stage at which the deals were lost, lost_reason 'ALL' (every reason, as win-rate's
--      total row is owner 'ALL'): the last open stage each deal was in before it was lost, from its stage
--      history ('(none)' when the history has none, e.g. a deal created lost); in stage order (position,
--      then name).
-- Grain key: (lost_reason, stage) with stage null only in part 1, lost_reason 'ALL' only in part 2.
-- lost         the deals of the row
-- lost_amount  sum of their amount x their own conversion_rate (company currency), each rounded to the minor unit
-- share        lost / all the deals lost in the period (each part sums to 1)
-- Company-local days: the period's bounds are worked out once as naive-UTC moments (`bounds`) and the stored
-- timestamps compared with them, not each row converted to the company's zone (half a second a million rows).
-- Parameters: date_from, date_to; owner / team (the opportunity's owner: a user's email / a team they belong
-- to); viewers (user ids; null: everyone's): only the deals owned by one of them, on top; minor_digits.
with

bounds as (
    select
        timezone('UTC', timezone(zone, cast($date_from as timestamp))) as period_start,
        timezone('UTC', timezone(zone, cast($date_to + 1 as timestamp))) as period_end
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

lost_deals as (
    select
        o.id,
        coalesce(o.lost_reason, '(none)') as lost_reason,
        round(coalesce(o.amount, 0) * o.conversion_rate, $minor_digits) as company_amount
    from opportunities as o
    join sales_stages as s on s.id = o.stage_id
    cross join bounds as b
    where s.is_lost
        and o.deleted_at is null
        and o.closed_at >= b.period_start and o.closed_at < b.period_end
        and (o.owner_id in (select id from scoped_users)
            or ($owner is null and $team is null and $viewers::bigint[] is null))
),

open_stages_entered as (
    select
        h.opportunity_id,
        st.name,
        st.position,
        row_number() over (partition by h.opportunity_id order by h.entered_at desc, h.id desc) as latest
    from stage_history as h
    join sales_stages as st on st.id = h.stage_id
    where h.opportunity_id in (select id from lost_deals)
        and not st.is_won
        and not st.is_lost
),

lost_at as (
    select
        d.id,
        d.company_amount,
        coalesce(e.name, '(none)') as stage,
        e.position
    from lost_deals as d
    left join open_stages_entered as e on e.opportunity_id = d.id and e.latest = 1
),

total as (
    select count(*) as lost from lost_deals
),

by_reason as (
    select
        lost_reason,
        cast(null as varchar) as stage,
        count(*) as lost,
        sum(company_amount) as amount,
        1 as part,
        null as position
    from lost_deals
    group by lost_reason
),

by_stage as (
    select
        'ALL' as lost_reason,
        stage,
        count(*) as lost,
        sum(company_amount) as amount,
        2 as part,
        min(position) as position
    from lost_at
    group by stage
),

final as (
    select
        r.lost_reason,
        r.stage,
        r.lost,
        r.amount as lost_amount,
        r.lost / t.lost as share,
        r.part,
        r.position
    from (select * from by_reason union all select * from by_stage) as r
    cross join total as t
)

select lost_reason, stage, lost, lost_amount, share from final
order by part, case when part = 1 then -lost end, position nulls last, lost_reason, stage
