-- forecast: the open deals by the month they are expected to close, beside what was won each month.
--
-- Grain: one row per month ('YYYY-MM') that has an open deal expected to close in it or a deal won in it
--   (won in the period), in month order.
-- Deals: opportunities of every sales process, not in the recycle bin. Open deals (in a stage neither won
--   nor lost now) created on or before $as_of count in the month of their expected close date, however far
--   ahead or overdue; won deals count in the month (the company's day) they were closed, when that day is
--   in $date_from … $date_to and not after $as_of.
-- Money: in the company currency — each deal's amount × its own conversion_rate, rounded to $minor_digits
--   (half up); an empty amount counts as 0.
-- Definitions:
--   opportunities, amount   open deals expected to close in the month, and the sum of their amounts
--   weighted_amount         Σ amount × probability ÷ 100 over them, rounded to $minor_digits; a deal without
--                           a probability of its own takes its stage's
--   won_amount              the sum of the amounts of the deals won in the month
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
        o.expected_close_date,
        o.created_at,
        coalesce(o.closed_at, o.stage_entered_at) as closed_at,
        o.amount,
        o.conversion_rate,
        coalesce(o.probability, s.probability) as probability,
        s.is_won,
        s.is_lost
    from opportunities as o
    join sales_stages as s on s.id = o.stage_id
    where o.deleted_at is null
      and (($owner is null and $team is null and $viewers::bigint[] is null)
          or o.owner_id in (select user_id from scope))
),

-- The company's day of a time (local_date) is costly to work out (ICU), so it is taken only for times within
-- a day of a bound: no time zone is more than 14 hours from UTC, so times further in are surely in, times
-- further out surely out.
expected as (
    select
        strftime(expected_close_date, '%Y-%m') as month,
        count(*) as opportunities,
        sum(round(coalesce(amount, 0) * conversion_rate, $minor_digits)) as amount,
        sum(round(coalesce(amount, 0) * conversion_rate, $minor_digits) * probability * 0.01) as weighted_amount
    from deals
    where not is_won
      and not is_lost
      and case
          when created_at < $as_of - interval 1 day then true
          when created_at >= $as_of + interval 2 day then false
          else local_date(created_at) <= $as_of
      end
    group by month
),

won as (
    select
        strftime(local_date(closed_at), '%Y-%m') as month,
        sum(round(coalesce(amount, 0) * conversion_rate, $minor_digits)) as won_amount
    from deals
    where is_won
      and case
          when closed_at < $date_from - interval 1 day
              or closed_at >= least($date_to, $as_of) + interval 2 day then false
          when closed_at >= $date_from + interval 1 day
              and closed_at < least($date_to, $as_of) then true
          else local_date(closed_at) between $date_from and least($date_to, $as_of)
      end
    group by month
),

final as (
    select
        month,
        coalesce(e.opportunities, 0) as opportunities,
        coalesce(e.amount, 0) as amount,
        round(coalesce(e.weighted_amount, 0), $minor_digits) as weighted_amount,
        coalesce(w.won_amount, 0) as won_amount
    from expected as e
    full join won as w using (month)
)

select * from final
order by month
