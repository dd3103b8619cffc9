-- follow-ups: how many follow-ups a sale takes here.
--
-- Grain: one row per number of follow-ups, '0', '1', ... '11' and '12+' (always all 13 rows, in that order).
-- The sales: opportunities won in the period (at a won stage, closed on a company-local date in
--   date_from..date_to), not deleted.
-- A sale's follow-ups: the completed calls, meetings, emails and tasks (not deleted) on the opportunity or on
--   the lead it was converted from (conversion carries the lead's activities over: they point at both),
--   completed before the opportunity was won; each activity counted once.
-- won: the sales with that many follow-ups; share = won / all the sales (null when there are none);
--   cumulative_share = the share of this row and the rows before it.
-- Company-local days: the period's bounds are worked out once as naive-UTC moments (`bounds`) and the stored
-- timestamps compared with them, not each row converted to the company's zone (half a second a million rows).
-- Parameters: date_from, date_to; owner / team (the opportunity's owner: a user's email / a team they
-- belong to); viewers (user ids; null: everyone's): only the sales owned by one of them, on top.
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

sales as (
    select o.id, o.closed_at
    from opportunities as o
    join sales_stages as s on s.id = o.stage_id
    cross join bounds as b
    where s.is_won
        and o.deleted_at is null
        and o.closed_at >= b.period_start and o.closed_at < b.period_end
        and (o.owner_id in (select id from scoped_users)
            or ($owner is null and $team is null and $viewers::bigint[] is null))
),

follow_up_activities as (
    select a.id, a.opportunity_id, a.lead_id, a.completed_at
    from activities as a
    where a.deleted_at is null
        and a.completed_at is not null
        and a.type in ('call', 'meeting', 'email', 'task')
),

-- union, not union all: an activity carried over from the lead points at both, and counts once
sale_activities as (
    select sa.id as sale_id, a.id as activity_id
    from sales as sa
    join follow_up_activities as a on a.opportunity_id = sa.id
    where a.completed_at < sa.closed_at
    union
    select sa.id as sale_id, a.id as activity_id
    from sales as sa
    join leads as l on l.converted_opportunity_id = sa.id
    join follow_up_activities as a on a.lead_id = l.id
    where a.completed_at < sa.closed_at
),

follow_ups as (
    select sa.id, count(x.activity_id) as follow_ups
    from sales as sa
    left join sale_activities as x on x.sale_id = sa.id
    group by sa.id
),

counts as (
    select least(follow_ups, 12) as n, count(*) as won
    from follow_ups
    group by n
),

buckets as (
    select range as n from range(13)
),

final as (
    select
        r.n,
        case when r.n = 12 then '12+' else cast(r.n as varchar) end as follow_ups,
        coalesce(c.won, 0) as won,
        coalesce(c.won, 0) / nullif(sum(coalesce(c.won, 0)) over (), 0) as share,
        sum(coalesce(c.won, 0)) over (order by r.n) / nullif(sum(coalesce(c.won, 0)) over (), 0)
            as cumulative_share
    from buckets as r
    left join counts as c on c.n = r.n
)

select follow_ups, won, share, cumulative_share from final
order by n
