-- lead-aging: how long the open leads have gone without staff action, by status.
--
-- Grain: one row per idle-days bucket x lead status that has leads (a lead without a status: '(none)').
-- The leads: not deleted, created on or before as_of, not converted on or before as_of, and not 'Junk Lead' or
--   'Lost Lead' (statuses as they are now), so Cold leads count.
-- Idle days: as the lead-aging flow counts them in calendar mode (crm_store/automation/lead_aging.py): from
--   the lead's last staff action (last_touch_at, else its creation) to as_of, in company-local dates, never
--   below 0. The flow's working-days mode (idle_days_mode = working) is not reproduced here.
-- Buckets from the lead_aging_days / lead_stale_days / lead_cold_days settings (A, S, C; default 7, 30, 90):
--   '0-A', 'A+1-S', 'S+1-C', 'C+1+'  (default '0-7', '8-30', '31-90', '91+'); taken in ascending order
--   whatever order the settings are in, as the flow does.
-- Parameters: as_of; aging_days, stale_days, cold_days; owner / team (the lead's owner: a user's email / a
-- team they belong to); viewers (user ids; null: everyone's): only the leads owned by one of them, on top (an
-- unowned lead is no viewer's). Order: bucket from the freshest, then status.
with

-- Company-local midnights as naive-UTC moments, worked out once: the stored timestamps are compared with them
-- rather than each converted to the company's zone (half a second a million rows). A lead is idle at most
-- aging_days iff its touch is at or after the start of the local day as_of - aging_days, and so on.
thresholds as (
    select days[1] as aging, days[2] as stale, days[3] as cold
    from (select list_sort([$aging_days, $stale_days, $cold_days]) as days)
),

bounds as (
    select
        t.*,
        timezone('UTC', timezone(z.zone, cast($as_of + 1 as timestamp))) as as_of_end,
        timezone('UTC', timezone(z.zone, cast($as_of - t.aging as timestamp))) as aging_from,
        timezone('UTC', timezone(z.zone, cast($as_of - t.stale as timestamp))) as stale_from,
        timezone('UTC', timezone(z.zone, cast($as_of - t.cold as timestamp))) as cold_from
    from thresholds as t
    cross join (select coalesce(max(value) filter (where key = 'time_zone'), 'UTC') as zone from _settings) as z
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

bucketed as (
    select
        coalesce(l.status, '(none)') as status,
        case
            when coalesce(l.last_touch_at, l.created_at) >= b.aging_from then 1
            when coalesce(l.last_touch_at, l.created_at) >= b.stale_from then 2
            when coalesce(l.last_touch_at, l.created_at) >= b.cold_from then 3
            else 4
        end as bucket_no
    from leads as l
    cross join bounds as b
    where l.deleted_at is null
        and l.created_at < b.as_of_end
        and (l.converted_at is null or l.converted_at >= b.as_of_end)
        and coalesce(l.status, '') not in ('Junk Lead', 'Lost Lead')
        and (l.owner_id in (select id from scoped_users)
            or ($owner is null and $team is null and $viewers::bigint[] is null))
),

final as (
    select
        case x.bucket_no
            when 1 then '0-' || b.aging
            when 2 then (b.aging + 1) || '-' || b.stale
            when 3 then (b.stale + 1) || '-' || b.cold
            else (b.cold + 1) || '+'
        end as bucket,
        x.status,
        count(*) as leads,
        x.bucket_no
    from bucketed as x
    cross join bounds as b
    group by all
)

select bucket, status, leads from final
order by bucket_no, status
