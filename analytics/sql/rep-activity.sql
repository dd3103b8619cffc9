-- rep-activity: what each rep did in the period.
--
-- Grain: one row per user (owner = their email): every active user, and an inactive one with anything below.
-- leads_assigned        leads they own that were assigned (else created) in the period (company-local
--                       dates date_from..date_to), not deleted
-- median_first_response_hours
--                       median first_response_minutes of those leads (working minutes from assignment to the
--                       first completed activity, as the flows store them) / 60, two decimals; null when none
-- activities_completed  activities they own, completed in the period, not deleted
-- overdue_tasks         tasks they own that were open at as_of past their due date (due before as_of, not
--                       completed by as_of), not deleted
-- opportunities_created opportunities they own created in the period, not deleted
-- won_amount            opportunities they own at a won stage closed in the period: sum of amount x their own
--                       conversion_rate (company currency), each rounded to the currency's minor unit
-- Company-local days: the period's bounds are worked out once as naive-UTC moments (`bounds`) and the stored
-- timestamps compared with them, not each row converted to the company's zone (half a second a million rows).
-- Parameters: date_from, date_to, as_of; owner / team (the user's email / a team they belong to); viewers (user
-- ids; null: everyone): only those users' rows, on top; minor_digits.
-- Order: by owner.
with

bounds as (
    select
        timezone('UTC', timezone(zone, cast($date_from as timestamp))) as period_start,
        timezone('UTC', timezone(zone, cast($date_to + 1 as timestamp))) as period_end,
        timezone('UTC', timezone(zone, cast($as_of + 1 as timestamp))) as as_of_end
    from (select coalesce(max(value) filter (where key = 'time_zone'), 'UTC') as zone from _settings)
),

scoped_users as (
    select u.id, u.email, u.active
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

assigned as (
    select
        l.owner_id,
        count(*) as leads_assigned,
        median(l.first_response_minutes) as median_minutes
    from leads as l
    cross join bounds as b
    where l.deleted_at is null
        and coalesce(l.assigned_at, l.created_at) >= b.period_start
        and coalesce(l.assigned_at, l.created_at) < b.period_end
    group by l.owner_id
),

completed as (
    select a.owner_id, count(*) as activities_completed
    from activities as a
    cross join bounds as b
    where a.deleted_at is null
        and a.completed_at >= b.period_start and a.completed_at < b.period_end
    group by a.owner_id
),

overdue as (
    select a.owner_id, count(*) as overdue_tasks
    from activities as a
    cross join bounds as b
    where a.deleted_at is null
        and a.type = 'task'
        and a.due_date < $as_of
        and (a.completed_at is null or a.completed_at >= b.as_of_end)
        and a.created_at < b.as_of_end
    group by a.owner_id
),

created as (
    select o.owner_id, count(*) as opportunities_created
    from opportunities as o
    cross join bounds as b
    where o.deleted_at is null
        and o.created_at >= b.period_start and o.created_at < b.period_end
    group by o.owner_id
),

won as (
    select o.owner_id, sum(round(o.amount * o.conversion_rate, $minor_digits)) as won_amount
    from opportunities as o
    join sales_stages as s on s.id = o.stage_id
    cross join bounds as b
    where o.deleted_at is null
        and s.is_won
        and o.closed_at >= b.period_start and o.closed_at < b.period_end
    group by o.owner_id
),

final as (
    select
        u.email as owner,
        coalesce(l.leads_assigned, 0) as leads_assigned,
        round(l.median_minutes / 60, 2) as median_first_response_hours,
        coalesce(c.activities_completed, 0) as activities_completed,
        coalesce(d.overdue_tasks, 0) as overdue_tasks,
        coalesce(o.opportunities_created, 0) as opportunities_created,
        coalesce(w.won_amount, 0) as won_amount,
        u.active
    from scoped_users as u
    left join assigned as l on l.owner_id = u.id
    left join completed as c on c.owner_id = u.id
    left join overdue as d on d.owner_id = u.id
    left join created as o on o.owner_id = u.id
    left join won as w on w.owner_id = u.id
)

select
    owner, leads_assigned, median_first_response_hours, activities_completed, overdue_tasks,
    opportunities_created, won_amount
from final
where active
    or leads_assigned + activities_completed + overdue_tasks + opportunities_created > 0
    or won_amount <> 0
order by owner
