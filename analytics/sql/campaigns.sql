-- campaigns: what each campaign brought in the period, against what it cost.
--
-- Grain: one row per campaign (not deleted), by campaign_no.
-- leads          leads of the campaign (campaign_id) created in the period (company-local dates
--                date_from..date_to), not deleted
-- opportunities  opportunities of the campaign created in the period, not deleted
-- won            opportunities of the campaign at a won stage, closed in the period, not deleted
-- won_amount     sum of the won ones' amount x their own conversion_rate (company currency), each rounded to
--                the currency's minor unit
-- actual_cost    the campaign's actual cost (kept in the company currency), rounded the same way
-- roi            (won_amount - actual_cost) / actual_cost; null without a cost (empty or 0)
-- Company-local days: the period's bounds are worked out once as naive-UTC moments (`bounds`) and the stored
-- timestamps compared with them, not each row converted to the company's zone (half a second a million rows).
-- Parameters: date_from, date_to; owner / team (the campaign's owner: a user's email / a team they belong to);
-- viewers (the users whose records the viewer may see, ids; null: everyone's): leads, opportunities and won
-- count only the leads / opportunities one of them owns (an unowned one is not theirs) — the campaigns listed
-- and their cost stay the company's; minor_digits.
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
),

-- the users whose leads and opportunities are counted: the viewers (everyone's when $viewers is null)
viewer_users as (
    select u.id
    from users as u
    where list_contains($viewers::bigint[], u.id)
),

scoped_campaigns as (
    select c.id, c.campaign_no, c.name, c.actual_cost
    from campaigns as c
    where c.deleted_at is null
        and (c.owner_id in (select id from scoped_users) or ($owner is null and $team is null))
),

campaign_leads as (
    select l.campaign_id, count(*) as leads
    from leads as l
    cross join bounds as b
    where l.deleted_at is null
        and l.campaign_id is not null
        and l.created_at >= b.period_start and l.created_at < b.period_end
        and ($viewers::bigint[] is null or l.owner_id in (select id from viewer_users))
    group by l.campaign_id
),

campaign_opportunities as (
    select o.campaign_id, count(*) as opportunities
    from opportunities as o
    cross join bounds as b
    where o.deleted_at is null
        and o.campaign_id is not null
        and o.created_at >= b.period_start and o.created_at < b.period_end
        and ($viewers::bigint[] is null or o.owner_id in (select id from viewer_users))
    group by o.campaign_id
),

campaign_wins as (
    select o.campaign_id, count(*) as won, sum(round(o.amount * o.conversion_rate, $minor_digits)) as won_amount
    from opportunities as o
    join sales_stages as s on s.id = o.stage_id
    cross join bounds as b
    where o.deleted_at is null
        and o.campaign_id is not null
        and s.is_won
        and o.closed_at >= b.period_start and o.closed_at < b.period_end
        and ($viewers::bigint[] is null or o.owner_id in (select id from viewer_users))
    group by o.campaign_id
),

money as (
    select
        c.id,
        coalesce(w.won_amount, 0) as won_amount,
        round(c.actual_cost, $minor_digits) as actual_cost
    from scoped_campaigns as c
    left join campaign_wins as w on w.campaign_id = c.id
),

final as (
    select
        c.campaign_no,
        c.name,
        coalesce(l.leads, 0) as leads,
        coalesce(o.opportunities, 0) as opportunities,
        coalesce(w.won, 0) as won,
        m.won_amount,
        m.actual_cost,
        (m.won_amount - m.actual_cost) / nullif(m.actual_cost, 0) as roi
    from scoped_campaigns as c
    join money as m on m.id = c.id
    left join campaign_leads as l on l.campaign_id = c.id
    left join campaign_opportunities as o on o.campaign_id = c.id
    left join campaign_wins as w on w.campaign_id = c.id
)

select * from final
order by campaign_no
