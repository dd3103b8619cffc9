-- pipeline: the open deals of one sales process, stage by stage.
--
-- Grain: one row per open stage (neither won nor lost) of the process $process, in the process's stage
--   order — also the stages no deal is in (0, and empty averages).
-- Deals: opportunities not in the recycle bin, created on or before $as_of (the company's day), in the
--   stage they were in when that day ended (company time), from the stage history: a deal won or lost since
--   counts in the open stage it was in then, one moved since in its stage of then. A deal without a history
--   entry for that moment (e.g. imported) counts in the stage it is in now. Amount and probability: the deal's
--   own now while it is still in that stage, else the ones the history kept when it entered it.
-- Money: in the company currency — each deal's amount × its own conversion_rate, rounded to $minor_digits
--   (half up); an empty amount counts as 0.
-- Definitions:
--   opportunities      deals in the stage
--   amount             the sum of their amounts
--   weighted_amount    Σ amount × probability ÷ 100, rounded to $minor_digits; a deal without a probability
--                      of its own takes its stage's
--   avg_age_days       the average of $as_of − the day each deal was created, one decimal
--   avg_days_in_stage  the average of $as_of − the day each deal entered its stage, one decimal
-- Scope: $owner (a user's email) and $team (a team's name) keep the deals owned by that user / by a member
--   of that team; $viewers (user ids; null: everyone's) keeps only the deals owned by one of those users, on
--   top (a deal without an owner is no viewer's).
-- Parameters: $as_of, $process, $owner, $team, $viewers, $minor_digits.

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

open_stages as (
    select s.id, s.name, s.position, s.probability
    from sales_stages as s
    join sales_processes as p on p.id = s.sales_process_id
    where p.name = $process
      and not s.is_won
      and not s.is_lost
),

-- the moment the company's day $as_of ends, as stored (naive UTC)
day_end as (
    select timezone('UTC', timezone(zone, cast($as_of + 1 as timestamp))) as cutoff
    from (select coalesce(max(value) filter (where key = 'time_zone'), 'UTC') as zone from _settings)
),

-- each deal's stage when the day ended: the stage-history entry entered by then and not left by then
stage_then as (
    select h.opportunity_id, h.stage_id, h.entered_at, h.left_at, h.amount, h.probability
    from stage_history as h
    cross join day_end as d
    where h.entered_at < d.cutoff
      and (h.left_at is null or h.left_at >= d.cutoff)
    qualify row_number() over (partition by h.opportunity_id order by h.entered_at desc, h.id desc) = 1
),

deals as (
    select
        s.id as stage_id,
        round(coalesce(case when t.left_at is null then o.amount else coalesce(t.amount, o.amount) end, 0)
              * o.conversion_rate, $minor_digits) as amount,
        coalesce(case when t.left_at is null then o.probability else t.probability end, s.probability)
            as probability,
        $as_of - local_date(o.created_at) as age_days,
        $as_of - local_date(coalesce(t.entered_at, o.stage_entered_at, o.created_at)) as days_in_stage
    from opportunities as o
    cross join day_end as d
    left join stage_then as t on t.opportunity_id = o.id
    join open_stages as s on s.id = coalesce(t.stage_id, o.stage_id)
    where o.deleted_at is null
      and o.created_at < d.cutoff
      and (($owner is null and $team is null and $viewers::bigint[] is null)
          or o.owner_id in (select user_id from scope))
),

by_stage as (
    select
        stage_id,
        count(*) as opportunities,
        sum(amount) as amount,
        sum(amount * probability * 0.01) as weighted_amount,
        avg(age_days) as avg_age_days,
        avg(days_in_stage) as avg_days_in_stage
    from deals
    group by stage_id
),

final as (
    select
        s.name as stage,
        coalesce(b.opportunities, 0) as opportunities,
        coalesce(b.amount, 0) as amount,
        round(coalesce(b.weighted_amount, 0), $minor_digits) as weighted_amount,
        round(b.avg_age_days, 1) as avg_age_days,
        round(b.avg_days_in_stage, 1) as avg_days_in_stage,
        s.position as stage_position
    from open_stages as s
    left join by_stage as b on b.stage_id = s.id
)

select * exclude (stage_position) from final
order by stage_position
