"""Realistic demo rows in Traditional Chinese and English, spread over the past 18 months.

The generator builds plain row dicts (Faker is used once, for pools of names); `crm_store.ops.demo` writes
them through the bulk path, so the demo obeys the same validation and numbering as an import.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from faker import Faker

from crm_store.models import SalesStage, utcnow

HISTORY_DAYS = 548  # 18 months
DEMO_DOMAIN = "example.com"


@dataclass(frozen=True)
class DemoSize:
    """How much demo data to make."""

    reps: int
    leads: int
    accounts: int
    contacts: int
    opportunities: int
    campaigns: int
    lead_activity_rate: float  # activities per worked lead
    note_rate: float  # notes per lead


SIZES = {
    "small": DemoSize(8, 2_000, 500, 1_000, 800, 12, 1.2, 0.3),
    "large": DemoSize(50, 1_000_000, 200_000, 400_000, 500_000, 60, 0.3, 0.1),
}
LEAD_STATUSES = (
    ("Not Contacted", 18), ("Attempted to Contact", 14), ("Contacted", 16), ("Contact in Future", 8),
    ("Warm", 9), ("Hot", 5), ("Pre Qualified", 6), ("Qualified", 6), ("Cold", 7), ("Junk Lead", 5), ("Lost Lead", 6),
)
SOURCES = (
    ("Web Site", 35), ("Trade Show", 12), ("Cold Call", 10), ("Existing Customer", 9), ("Word of mouth", 9),
    ("Partner", 7), ("Conference", 6), ("Direct Mail", 4), ("Self Generated", 4), ("Employee", 2), ("Other", 2),
)
INDUSTRIES = (
    "Manufacturing", "Electronics", "Machinery", "Retail", "Technology", "Food & Beverage", "Shipping",
    "Construction", "Healthcare", "Consulting", "Chemicals", "Apparel", "Transportation", "Finance",
)
CURRENCY_MIX = (("TWD", 78), ("USD", 15), ("JPY", 3), ("EUR", 2), ("CNY", 2))
LOST_REASONS = ("Price", "Competitor", "No Budget", "No Decision", "Timing", "Product Fit", "Went Silent")
CALL_OUTCOMES = (
    "Left a voicemail", "Interested, wants a quote", "Asked to call back next week", "Not the right person",
    "有興趣，請寄報價", "請下週再聯絡", "已寄送型錄",
)
NOTE_BODIES = (
    "Prefers email over phone.", "Budget approved for Q3.", "Decision maker is the plant manager.",
    "客戶希望先看樣品。", "競爭對手報價較低，需再議。", "下次拜訪帶新產品目錄。", "Asked for a discount on volume.",
)
DEAL_NAMES = ("Annual supply", "Line upgrade", "Spare parts", "Pilot order", "年度採購", "設備更新", "專案標案")


def _weighted(rng: random.Random, pairs: tuple[tuple[str, int], ...]) -> str:
    values, weights = zip(*pairs, strict=True)
    return rng.choices(values, weights)[0]


class Pools:
    """Names, companies and places drawn from Faker once and combined freely after."""

    def __init__(self, seed: int, size: int = 3000) -> None:
        zh, en = Faker("zh_TW"), Faker("en_US")
        zh.seed_instance(seed)
        en.seed_instance(seed)
        self.zh_last = [zh.last_name() for _ in range(size // 10)]
        self.zh_first = [zh.first_name() for _ in range(size)]
        self.en_last = [en.last_name() for _ in range(size)]
        self.en_first = [en.first_name() for _ in range(size)]
        self.zh_company = [zh.company() for _ in range(size)]
        self.en_company = [en.company() for _ in range(size)]
        self.zh_city = [zh.city() for _ in range(200)]
        self.en_city = [(en.city(), en.state_abbr()) for _ in range(500)]
        self.zh_street = [zh.street_address() for _ in range(size)]
        self.en_street = [en.street_address() for _ in range(size)]
        self.zh_job = [zh.job()[:100] for _ in range(300)]
        self.en_job = [en.job()[:100] for _ in range(300)]
        self.mail_words = [en.user_name().replace(".", "") for _ in range(size)]


class DemoGenerator:
    """Makes consistent demo rows: everything dated between 18 months ago and now."""

    def __init__(self, size: DemoSize, *, seed: int = 2026, now: dt.datetime | None = None) -> None:
        self.size = size
        self.rng = random.Random(seed)
        self.pools = Pools(seed)
        self.now = (now or utcnow()).replace(microsecond=0)
        self.start = self.now - dt.timedelta(days=HISTORY_DAYS)
        self.serial = 0

    # -- small building blocks -------------------------------------------------------------
    def moment(self, after: dt.datetime | None = None) -> dt.datetime:
        """A time between `after` (or 18 months ago) and now, more of them recent (a growing company)."""
        low = after or self.start
        span = (self.now - low).total_seconds()
        return low + dt.timedelta(seconds=int(span * self.rng.random() ** 0.8))

    def later(self, at: dt.datetime, max_days: float) -> dt.datetime:
        """A time after `at` by up to `max_days`, never in the future."""
        return min(at + dt.timedelta(days=self.rng.uniform(0.01, max_days)), self.now)

    def person(self) -> dict[str, Any]:
        """A person with a name, email and phone, Taiwanese six times in ten."""
        p, r = self.pools, self.rng
        self.serial += 1
        word = r.choice(p.mail_words)
        domain = r.choice(("gmail.com", "yahoo.com.tw", "outlook.com", "hinet.net", "msa.hinet.net", DEMO_DOMAIN))
        if r.random() < 0.6:
            city = r.choice(p.zh_city)
            return {
                "first_name": r.choice(p.zh_first), "last_name": r.choice(p.zh_last),
                "email": f"{word}{self.serial}@{domain}",
                "phone": f"0{r.choice((2, 4, 7))}-{r.randint(2000, 2999)}-{r.randint(1000, 9999)}",
                "mobile": f"09{r.randint(10, 89)}-{r.randint(100, 999)}-{r.randint(100, 999)}",
                "city": city, "street": r.choice(p.zh_street), "country": "台灣",
                "postal_code": str(r.randint(100, 983)), "title": r.choice(p.zh_job), "zh": True,
            }
        city, state = r.choice(p.en_city)
        return {
            "first_name": r.choice(p.en_first), "last_name": r.choice(p.en_last),
            "email": f"{word}{self.serial}@{domain}",
            "phone": f"+1 {r.randint(201, 989)}-{r.randint(200, 999)}-{r.randint(1000, 9999)}",
            "mobile": None,
            "city": city, "state": state, "street": r.choice(p.en_street), "country": "United States",
            "postal_code": f"{r.randint(10000, 99999)}", "title": r.choice(p.en_job), "zh": False,
        }

    def company_name(self, zh: bool) -> str:
        """A company name in the person's language."""
        return self.rng.choice(self.pools.zh_company if zh else self.pools.en_company)

    # -- records ------------------------------------------------------------------------------
    def campaigns(self, owner_ids: list[int]) -> list[dict[str, Any]]:
        """Campaigns of the past 18 months: trade shows, webinars, mailings."""
        kinds = ("Trade Show", "Webinar", "Email", "Conference", "Advertisement", "Direct Mail")
        names = ("台北國際電子展", "Automation Taiwan", "Q{q} Newsletter", "Computex", "春季促銷", "Partner Summit")
        rows = []
        for i in range(self.size.campaigns):
            start = self.moment()
            budget = Decimal(self.rng.randrange(50_000, 800_000, 5_000))
            done = (self.now - start).days > 60
            rows.append({
                "name": f"{self.rng.choice(names).format(q=i % 4 + 1)} {start.year}-{i + 1}",
                "campaign_type": self.rng.choice(kinds),
                "status": "Completed" if done else "Active",
                "start_date": start.date(), "expected_close_date": (start + dt.timedelta(days=45)).date(),
                "budget_cost": budget, "actual_cost": budget * Decimal("0.9") if done else None,
                "expected_revenue": budget * 4, "owner_id": self.rng.choice(owner_ids),
                "created_at": start - dt.timedelta(days=14) if start - dt.timedelta(days=14) > self.start else start,
            })
        return rows

    def conversions(self) -> list[dict[str, Any]]:
        """People whose lead was converted: they become an account, a contact and a converted lead."""
        count = min(self.size.leads // 10, self.size.accounts // 2, self.size.contacts // 2)
        out = []
        for _ in range(count):
            person = self.person()
            at = self.moment(self.start + dt.timedelta(days=3))
            out.append({**person, "company": self.company_name(person["zh"]), "converted_at": at})
        return out

    def accounts(self, conversions: list[dict[str, Any]], rep_ids: list[int]) -> Iterator[dict[str, Any]]:
        """Accounts: first those that converted leads became, then the rest."""
        for i in range(self.size.accounts):
            if i < len(conversions):
                c = conversions[i]
                person, name, at = c, c["company"], c["converted_at"]
            else:
                person = self.person()
                name, at = self.company_name(person["zh"]), self.moment()
            yield {
                "name": name, "industry": self.rng.choice(INDUSTRIES),
                "account_type": self.rng.choice(("Customer", "Prospect", "Prospect", "Partner", "Reseller")),
                "phone": person["phone"], "email": f"info{i + 1}@{DEMO_DOMAIN}",
                "website": f"https://www.company{i + 1}.example.com",
                "bill_street": person["street"], "bill_city": person["city"], "bill_state": person.get("state"),
                "bill_postal_code": person["postal_code"], "bill_country": person["country"],
                "employees": self.rng.choice((5, 12, 30, 45, 80, 150, 400, 1200)),
                "owner_id": self.rng.choice(rep_ids), "created_at": at, "updated_at": at,
            }

    def contacts(
        self, conversions: list[dict[str, Any]], account_ids: list[int], account_times: list[dt.datetime],
        rep_ids: list[int],
    ) -> Iterator[dict[str, Any]]:
        """Contacts at accounts, each created after its account."""
        for i in range(self.size.contacts):
            if i < len(conversions):
                person, acc, at = conversions[i], i, conversions[i]["converted_at"]
            else:
                person, acc = self.person(), self.rng.randrange(len(account_ids))
                at = self.moment(account_times[acc])
            yield {
                "first_name": person["first_name"], "last_name": person["last_name"], "email": person["email"],
                "phone": person["phone"], "mobile": person["mobile"], "title": person["title"],
                "account_id": account_ids[acc], "lead_source": _weighted(self.rng, SOURCES),
                "mailing_street": person["street"], "mailing_city": person["city"],
                "mailing_postal_code": person["postal_code"], "mailing_country": person["country"],
                "owner_id": self.rng.choice(rep_ids), "created_at": at, "updated_at": at,
            }

    def lead(self, conversion: dict[str, Any] | None, rep_ids: list[int], campaign_ids: list[int]) -> dict[str, Any]:
        """One lead; a converted one was created before its conversion."""
        r = self.rng
        if conversion is not None:
            person = conversion
            created = max(self.start, conversion["converted_at"] - dt.timedelta(days=r.uniform(1, 60)))
            status, company = "Qualified", conversion["company"]
        else:
            person, created = self.person(), self.moment()
            status, company = _weighted(r, LEAD_STATUSES), None
            if self.now - created < dt.timedelta(days=2):
                status = "Not Contacted"
        unassigned = conversion is None and status == "Not Contacted" and self.now - created < dt.timedelta(days=1)
        owner = None if unassigned and r.random() < 0.5 else r.choice(rep_ids)
        return {
            "salutation": None, "first_name": person["first_name"], "last_name": person["last_name"],
            "company": company or (self.company_name(person["zh"]) if r.random() < 0.8 else None),
            "designation": person["title"], "email": person["email"], "phone": person["phone"],
            "mobile": person["mobile"], "lead_source": _weighted(r, SOURCES), "industry": r.choice(INDUSTRIES),
            "status": status, "street": person["street"], "city": person["city"], "state": person.get("state"),
            "postal_code": person["postal_code"], "country": person["country"],
            "campaign_id": r.choice(campaign_ids) if campaign_ids and r.random() < 0.3 else None,
            "owner_id": owner, "created_at": created, "updated_at": created,
            "assigned_at": min(created + dt.timedelta(minutes=r.randint(1, 90)), self.now) if owner else None,
            "converted_at": conversion["converted_at"] if conversion else None,
        }

    def lead_work(self, lead: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Activities and notes on a lead, in time order after it was assigned; sets its last touch."""
        acts: list[dict[str, Any]] = []
        notes: list[dict[str, Any]] = []
        owner, r = lead["owner_id"], self.rng
        if owner is None or lead["status"] == "Not Contacted":
            return acts, notes
        end = lead["converted_at"] or self.now
        at = lead["assigned_at"]
        count = max(1, int(r.expovariate(1 / self.size.lead_activity_rate) + 0.5))
        for _ in range(count):
            at = min(at + dt.timedelta(hours=r.uniform(2, 24 * 10)), end)
            acts.append(self.activity(owner, at, end))
        if r.random() < self.size.note_rate:
            notes.append({"body": r.choice(NOTE_BODIES), "author_id": owner, "created_at": self.later(at, 3)})
        touches = [a["completed_at"] for a in acts if a["completed_at"]] + [n["created_at"] for n in notes]
        lead["last_touch_at"] = max(touches) if touches else None
        lead["updated_at"] = max([lead["created_at"], *touches])
        return acts, notes

    def activity(self, owner: int, at: dt.datetime, end: dt.datetime) -> dict[str, Any]:
        """A call, meeting, email or task at `at`; done unless it is the last days' open work."""
        r = self.rng
        kind = r.choices(("call", "email", "meeting", "task"), (45, 25, 10, 20))[0]
        open_ = self.now - at < dt.timedelta(days=4) and r.random() < 0.6
        row: dict[str, Any] = {
            "type": kind, "owner_id": owner, "created_at": at, "updated_at": at,
            "subject": {"call": "Follow-up call", "email": "Sent product catalogue", "meeting": "Visit and demo",
                        "task": "Prepare quotation"}[kind],
            "priority": r.choice(("High", "Medium", "Medium", "Low")),
            "completed_at": None, "completed_by_id": None, "outcome": None,
        }
        if kind == "task":
            row["due_date"] = min(at + dt.timedelta(days=r.randint(0, 3)), self.now).date()
            row["status"] = "Not Started" if open_ else "Completed"
        else:
            row["start_at"] = at
            row["end_at"] = min(at + dt.timedelta(minutes=r.choice((5, 15, 30, 60, 90))), self.now)
            if kind == "email":
                row["status"] = "Not Started" if open_ else "Completed"
            else:
                row["status"] = "Planned" if open_ else "Held"
            row["reminder_minutes"] = 15 if kind == "meeting" else None
        if not open_:
            row["completed_at"] = min(row.get("end_at") or self.later(at, 1), end, self.now)
            row["completed_by_id"] = owner
            row["outcome"] = r.choice(CALL_OUTCOMES) if kind == "call" else None
        return row

    def opportunity(
        self,
        account_id: int,
        account_time: dt.datetime,
        contact_id: int | None,
        rep_ids: list[int],
        stages_of: dict[str, list[SalesStage]],
        campaign_ids: list[int],
    ) -> dict[str, Any]:
        """An opportunity and the stages it went through, each entered after the last."""
        r = self.rng
        process = "Project Sales" if r.random() < 0.15 else "Standard Sales"
        ladder = [s for s in stages_of[process] if not s.is_closed]
        won = next(s for s in stages_of[process] if s.is_won)
        lost = next(s for s in stages_of[process] if s.is_lost)
        owner = r.choice(rep_ids)
        at = self.moment(account_time)
        history: list[tuple[str, dt.datetime, int | None]] = [(ladder[0].name, at, owner)]
        step, final = 0, None
        while True:
            nxt = at + dt.timedelta(days=r.expovariate(1 / 12))
            if nxt > self.now:
                break
            at = nxt
            if r.random() < 0.12:
                final = lost
            elif step + 1 >= len(ladder):
                final = won if r.random() < 0.6 else lost
            else:
                step += min(len(ladder) - 1 - step, 1 if r.random() < 0.8 else 2)
                history.append((ladder[step].name, at, owner))
                continue
            history.append((final.name, at, owner))
            break
        currency = _weighted(r, CURRENCY_MIX)
        scale = {"TWD": 1, "USD": 0.03, "EUR": 0.028, "JPY": 4.5, "CNY": 0.22}[currency]
        amount = Decimal(int(r.lognormvariate(12.6, 0.9) * scale / 100) * 100 + 100)
        close = at.date() if final else (self.now + dt.timedelta(days=r.randint(7, 150))).date()
        return {
            "name": f"{r.choice(DEAL_NAMES)} {history[0][1]:%Y-%m}",
            "account_id": account_id, "contact_id": contact_id, "amount": amount, "currency": currency,
            "expected_close_date": close, "sales_process_id": stages_of[process][0].sales_process_id,
            "opportunity_type": r.choice(("New Business", "Existing Business")),
            "lead_source": _weighted(r, SOURCES),
            "campaign_id": r.choice(campaign_ids) if campaign_ids and r.random() < 0.2 else None,
            "next_step": None if final else r.choice(("Send quotation", "Arrange site visit", "安排技術簡報")),
            "lost_reason": r.choice(LOST_REASONS) if final is lost else None,
            "owner_id": owner, "created_at": history[0][1], "updated_at": history[-1][1],
            "last_touch_at": history[-1][1] if len(history) > 1 else None, "history": history,
        }
