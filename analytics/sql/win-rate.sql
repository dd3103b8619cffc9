-- win-rate: each owner's closed deals — won, lost, deal size, sales cycle — and their sales velocity.
--
-- Grain: one row per owner (their email; '(no owner)' for deals without one) with a deal closed in the period
--   or open now, in email order, then a total row with owner 'ALL'.
-- Deals: opportunities of every sales process, not in the recycle bin. Closed deals: won or lost (their stage
--   now) on a day (the company's) in $date_from … $date_to and not after $as_of. Open deals: in a stage
--   neither won nor lost, created on or before $as_of.
-- Money: in the company currency — each deal's amount × its own conversion_rate, rounded to $minor_digits
--   (half up); an empty amount counts as 0.
-- Definitions:
--   won, lost               closed deals won, lost
--   win_rate                won ÷ (won + lost); null without closed deals
--   won_amount              the sum of the won deals' amounts
--   avg_deal_size           won_amount ÷ won, rounded to $minor_digits
--   avg_cycle_days,         days from the day a won deal was created to the day it was won (the company's
--   median_cycle_days       days), averaged / their median, one decimal
--   open_opportunities      open deals
--   sales_velocity          open_opportunities × avg_deal_size × win_rate ÷ avg_cycle_days: the money a day
--                           the open deals are worth at this pace (from the unrounded figures), rounded to
--                           $minor_digits; null without won deals or with a cycle of 0 days
-- Scope: $owner (a user's email) and $team (a team's name) keep the deals owned by that user / by a member
--   of that team; $viewers (user ids; null: everyone's) keeps only the deals owned by one of those users, on
--   top (a deal without an owner is no viewer's).
-- Parameters: $as_of, $date_from, $date_to, $owner, $team, $viewers, $minor_digits.

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

deals as (
    select
        coalesce(u.email, '(no owner)') as owner,
        o.created_at,
        coalesce(o.closed_at, o.stage_entered_at) as closed_at,
        o.amount,
        o.conversion_rate,
        case when s.is_won then 'won' when s.is_lost then 'lost' else 'open' end as outcome
    from opportunities as o
    join sales_stages as s on s.id = o.stage_id
    left join users as u on u.id = o.owner_id
    where o.deleted_at is null
      and (($owner is null and $team is null and $viewers::bigint[] is null)
          or o.owner_id in (select user_id from scope))
),

-- The company's day of a time (local_date) is costly to work out (ICU), so it is taken only for times within
-- a day of a bound: no time zone is more than 14 hours from UTC, so times further in are surely in, times
-- further out surely out.
counted as (
    select
        owner,
        outcome,
        round(coalesce(amount, 0) * conversion_rate, $minor_digits) as amount,
        local_date(closed_at) - local_date(created_at) as cycle_days
    from deals
    where outcome in ('won', 'lost')
      and case
          when closed_at < $date_from - interval 1 day
              or closed_at >= least($date_to, $as_of) + interval 2 day then false
          when closed_at >= $date_from + interval 1 day
              and closed_at < least($date_to, $as_of) then true
          else local_date(closed_at) between $date_from and least($date_to, $as_of)
      end
    union all
    select owner, outcome, null as amount, null as cycle_days
    from deals
    where outcome = 'open'
      and case
          when created_at < $as_of - interval 1 day then true
          when created_at >= $as_of + interval 2 day then false
          else local_date(created_at) <= $as_of
      end
),

totals as (
    select
        grouping(owner) as is_total,
        case when grouping(owner) = 1 then 'ALL' else owner end as owner,
        count(*) filter (where outcome = 'won') as won,
        count(*) filter (where outcome = 'lost') as lost,
        coalesce(sum(amount) filter (where outcome = 'won'), 0) as won_amount,
        avg(cycle_days) filter (where outcome = 'won') as avg_cycle_days,
        median(cycle_days) filter (where outcome = 'won') as median_cycle_days,
        count(*) filter (where outcome = 'open') as open_opportunities
    from counted
    group by grouping sets ((owner), ())
),

final as (
    select
        owner,
        won,
        lost,
        won / nullif(won + lost, 0) as win_rate,
        won_amount,
        round((won_amount / nullif(won, 0))::decimal(38, 10), $minor_digits) as avg_deal_size,
        round(avg_cycle_days, 1) as avg_cycle_days,
        round(median_cycle_days, 1) as median_cycle_days,
        open_opportunities,
        round(
            (open_opportunities * (won_amount / nullif(won, 0)) * (won / nullif(won + lost, 0))
                / nullif(avg_cycle_days, 0))::decimal(38, 10),
            $minor_digits
        ) as sales_velocity,
        is_total
    from totals
)

select * exclude (is_total) from final
order by is_total, owner
