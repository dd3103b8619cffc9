-- funnel: how far the deals of one sales process got, stage by stage, from their stage history.
--
-- Grain: one row per open stage (neither won nor lost) of the process $process in the process's order, then
--   its won stage (Closed Won).
-- Deals: opportunities of $process not in the recycle bin, created (the company's day) in $date_from …
--   $date_to and not after $as_of.
-- Definitions:
--   reached               deals that entered this stage or a later one of these rows, from the stage history:
--                         a deal's furthest row reached counts for every row before it too (stages skipped
--                         count as passed; a deal moved back still counts its furthest), and Closed Lost is
--                         not "later" — a deal lost from Qualification reached Qualification only
--   conversion            reached ÷ the previous row's reached (null on the first row, or after 0)
--   avg_days_in_stage,    over the deals' completed stays in the stage (entered and left): each deal's days in
--   median_days_in_stage  the stage (summed over its stays), in days of 24 hours, one decimal; a stay not
--                         left yet is not counted
-- Scope: $owner (a user's email) and $team (a team's name) keep the deals owned by that user / by a member
--   of that team; $viewers (user ids; null: everyone's) keeps only the deals owned by one of those users, on
--   top (a deal without an owner is no viewer's).
-- Parameters: $as_of, $date_from, $date_to, $process, $owner, $team, $viewers.

with

scope as (
    select u.id as user_id
    from users as u
    where ($owner is null or lower(u.email) = lower($owner))
      and ($team is null or u.id in (
          select m.user_id
          from team_members as m
          join teams as t on t.id = m.team_id
          where t.name = $team
      ))
      and ($viewers::bigint[] is null or list_contains($viewers::bigint[], u.id))
),

process as (
    select id
    from sales_processes
    where name = $process
),

steps as (
    select
        s.id as stage_id,
        s.name,
        row_number() over (order by s.is_won, s.position) as step
    from sales_stages as s
    where s.sales_process_id = (select id from process)
      and not s.is_lost
),

-- The company's day of a time (local_date) is costly to work out (ICU), so it is taken only for times within
-- a day of a bound: no time zone is more than 14 hours from UTC, so times further in are surely in, times
-- further out surely out.
deals as (
    select o.id
    from opportunities as o
    where o.sales_process_id = (select id from process)
      and o.deleted_at is null
      and case
          when o.created_at < $date_from - interval 1 day
              or o.created_at >= least($date_to, $as_of) + interval 2 day then false
          when o.created_at >= $date_from + interval 1 day
              and o.created_at < least($date_to, $as_of) then true
          else local_date(o.created_at) between $date_from and least($date_to, $as_of)
      end
      and (($owner is null and $team is null and $viewers::bigint[] is null)
          or o.owner_id in (select user_id from scope))
),

entries as (
    select h.opportunity_id, h.stage_id, h.entered_at, h.left_at
    from stage_history as h
    join deals as d on d.id = h.opportunity_id
),

furthest as (
    select e.opportunity_id, max(s.step) as step
    from entries as e
    join steps as s on s.stage_id = e.stage_id
    group by e.opportunity_id
),

reached as (
    select s.stage_id, count(f.opportunity_id) as reached
    from steps as s
    left join furthest as f on f.step >= s.step
    group by s.stage_id
),

stays as (
    select opportunity_id, stage_id, sum(epoch(left_at - entered_at)) / 86400 as days
    from entries
    where left_at is not null
    group by opportunity_id, stage_id
),

stay_stats as (
    select stage_id, avg(days) as avg_days, median(days) as median_days
    from stays
    group by stage_id
),

final as (
    select
        s.name as stage,
        r.reached,
        r.reached / nullif(lag(r.reached) over (order by s.step), 0) as conversion,
        round(t.avg_days, 1) as avg_days_in_stage,
        round(t.median_days, 1) as median_days_in_stage,
        s.step
    from steps as s
    join reached as r on r.stage_id = s.stage_id
    left join stay_stats as t on t.stage_id = s.stage_id
)

select * exclude (step) from final
order by step
