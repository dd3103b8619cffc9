-- customer-value: what each customer is worth — RFM scores and segment, ABC class, lifetime value.
--
-- Grain: one row per account (account_no) with at least one invoice that is not cancelled (status 'Cancel')
--   nor in the recycle bin, dated on or before $as_of and in the period $date_from … $date_to (each bound
--   optional: NULL leaves that side open). Accounts in the recycle bin are left out.
-- Money: in the company currency — each invoice's grand total × its own conversion_rate, rounded to
--   $minor_digits (half up); sums of those; averages rounded to $minor_digits.
-- Definitions:
--   first_purchase, last_purchase   the earliest and latest invoice dates
--   recency_days                    $as_of − last_purchase
--   frequency, monetary             invoices, and the sum of their grand totals
--   avg_order_value                 monetary ÷ frequency
--   r_score, f_score, m_score       ntile(5) over recency_days descending, frequency ascending, monetary
--                                   ascending — ties broken by account_no — so 5 is the most recent, most
--                                   frequent, biggest customer
--   rfm_segment                     the first that matches: Champions R≥4 F≥4 M≥4; Can't lose R≤2 F≥4 M≥4;
--                                   Loyal F≥4; At risk R≤2 F≥3; New R≥4 F=1; Potential loyalist R≥3;
--                                   Lost R=1; Hibernating otherwise
--   revenue_share                   monetary ÷ all customers' monetary
--   cumulative_share                running revenue_share in order of monetary descending, then account_no
--   abc_class                       in that order: A while the cumulative share *before* the row is < 80 %,
--                                   B while it is < 95 %, else C (compared exactly, not in floating point)
--   clv                             avg_order_value × invoices per year × $clv_years, where invoices per
--                                   year = frequency ÷ the active span in years (last − first purchase, in
--                                   days ÷ 365.25), at least one year
--   top_products                    up to 3 products' names by revenue (the lines' net × the invoice's
--                                   conversion_rate), then by name, joined with ", "
-- Scope: $owner (a user's email) and $team (a team's name) keep the accounts owned by that user / by a
--   member of that team; $viewers (user ids; null: everyone's) keeps only the accounts owned by one of those
--   users, on top — an account without an owner is no viewer's; the scores, shares and classes are then those
--   of the accounts kept.
-- Period: optional
--   (without --from/--to the runner binds NULL to both bounds: every invoice up to $as_of counts)
-- Parameters: $as_of, $date_from, $date_to, $owner, $team, $viewers, $clv_years, $minor_digits.

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

accounts_in_scope as (
    select a.id, a.account_no, a.name
    from accounts as a
    where a.deleted_at is null
      and (($owner is null and $team is null and $viewers::bigint[] is null)
          or a.owner_id in (select user_id from scope))
),

sales as (
    select
        i.id as invoice_id,
        i.account_id,
        i.invoice_date,
        i.conversion_rate,
        round(i.grand_total * i.conversion_rate, $minor_digits) as grand_total
    from invoices as i
    join accounts_in_scope as a on a.id = i.account_id
    where i.deleted_at is null
      and i.status <> 'Cancel'
      and i.invoice_date <= $as_of
      and ($date_from is null or i.invoice_date >= $date_from)
      and ($date_to is null or i.invoice_date <= $date_to)
),

customers as (
    select
        a.account_no,
        a.name as account_name,
        a.id as account_id,
        min(s.invoice_date) as first_purchase,
        max(s.invoice_date) as last_purchase,
        $as_of - max(s.invoice_date) as recency_days,
        count(*) as frequency,
        sum(s.grand_total) as monetary
    from sales as s
    join accounts_in_scope as a on a.id = s.account_id
    group by a.account_no, a.name, a.id
),

scored as (
    select
        c.*,
        ntile(5) over (order by c.recency_days desc, c.account_no) as r_score,
        ntile(5) over (order by c.frequency, c.account_no) as f_score,
        ntile(5) over (order by c.monetary, c.account_no) as m_score,
        sum(c.monetary) over () as total_monetary,
        coalesce(sum(c.monetary) over (
            order by c.monetary desc, c.account_no rows between unbounded preceding and 1 preceding
        ), 0) as monetary_before,
        sum(c.monetary) over (
            order by c.monetary desc, c.account_no rows between unbounded preceding and current row
        ) as monetary_through
    from customers as c
),

product_revenue as (
    select
        s.account_id,
        li.product_id,
        sum(li.net * s.conversion_rate) as revenue
    from sales as s
    join line_items as li on li.invoice_id = s.invoice_id
    group by s.account_id, li.product_id
),

products_by_name as (
    select id, name, row_number() over (order by name, id) as name_place
    from products
),

top_products as (
    -- max_by(…, 3) keeps the three greatest keys, greatest first: revenue, then the name first in order
    select
        pr.account_id,
        array_to_string(max_by(p.name, {'revenue': pr.revenue, 'name_place': -p.name_place}, 3), ', ')
            as top_products
    from product_revenue as pr
    join products_by_name as p on p.id = pr.product_id
    group by pr.account_id
),

final as (
    select
        s.account_no,
        s.account_name,
        s.first_purchase,
        s.last_purchase,
        s.recency_days,
        s.frequency,
        s.monetary,
        round((s.monetary / s.frequency)::decimal(38, 10), $minor_digits) as avg_order_value,
        s.r_score,
        s.f_score,
        s.m_score,
        case
            when s.r_score >= 4 and s.f_score >= 4 and s.m_score >= 4 then 'Champions'
            when s.r_score <= 2 and s.f_score >= 4 and s.m_score >= 4 then 'Can''t lose'
            when s.f_score >= 4 then 'Loyal'
            when s.r_score <= 2 and s.f_score >= 3 then 'At risk'
            when s.r_score >= 4 and s.f_score = 1 then 'New'
            when s.r_score >= 3 then 'Potential loyalist'
            when s.r_score = 1 then 'Lost'
            else 'Hibernating'
        end as rfm_segment,
        case
            when s.monetary_before * 100 < s.total_monetary * 80 then 'A'
            when s.monetary_before * 100 < s.total_monetary * 95 then 'B'
            else 'C'
        end as abc_class,
        s.monetary / nullif(s.total_monetary, 0) as revenue_share,
        s.monetary_through / nullif(s.total_monetary, 0) as cumulative_share,
        round(
            (s.monetary * $clv_years * 365.25
                / greatest(s.last_purchase - s.first_purchase, 365.25))::decimal(38, 10),
            $minor_digits
        ) as clv,
        t.top_products
    from scored as s
    left join top_products as t on t.account_id = s.account_id
)

select * from final
order by monetary desc, account_no
