"""Stage playbooks: what each sales stage asks of the rep — a short "what to do now" and a few tasks — fired once
for every stage an opportunity enters.

A playbook (`StagePlaybook`, one per stage) holds its text by language and its tasks, each with a subject by
language and an offset in working days from the local date the stage was entered (0: that day, or the next
working day when it is a day off: `WorkingCalendar.add_working_days`). `DEFAULTS` are written for every stage of
the two seeded processes, in English and Traditional Chinese; `seed` stores them in a store without any playbook
(a new one, or one just upgraded to revision 0017), like the cadences: a playbook an admin removed stays removed.

Firing a stage entry (a `stage_history` row):
- claims it: `playbook_fired_at` is set by a conditional UPDATE (while it is empty and the entry is live), and
  only the transaction whose UPDATE changed the row goes on — an entry fires once, whoever else tries;
- creates the tasks for the opportunity's owner in the owner's language, related to the opportunity, created by
  the automation `stage-playbooks` (`activities.create_activity`, or its checks and one executemany in bulk);
- queues `stage_playbook` to the owner, keyed by the entry: the text, the tasks, the opportunity's key facts and
  its last three activities, one click from the opportunity.
An entry whose stage has no active playbook (or one with neither text nor tasks), or whose opportunity has no
active owner, is marked and nothing more. So are the entries of an import or of the demo's history: marked as
they are inserted (`stages.history_rows(..., history=True)`), and by `fire` when their actor is one of those.

The store's stage change fires in its own transaction (`fire`, from `crm_store.pipeline.stages`); the
stage-playbooks flow catches up on live entries left unfired, in bulk, with the same `Plan`
(`crm_store.automation.stage_playbooks`).
"""

from __future__ import annotations

import copy
import datetime as dt
import zoneinfo
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import and_, case, func, or_, select, type_coerce, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from crm_store import languages
from crm_store.actor import Actor
from crm_store.automation.cadence import calendar_for
from crm_store.automation.calendar import WorkingCalendar
from crm_store.languages import N_
from crm_store.mail import outbox
from crm_store.models import (
    Account,
    Activity,
    Contact,
    Currency,
    Opportunity,
    SalesProcess,
    SalesStage,
    StageHistory,
    StagePlaybook,
    User,
)
from crm_store.models.base import UTCDateTime
from crm_store.pipeline import activities
from crm_store.records.names import display_name
from crm_store.settings import picklists

AUTOMATION = "stage-playbooks"
ACTOR = Actor.system(AUTOMATION)
HISTORY_ACTORS = frozenset({"import", "demo"})  # their stage changes are history: no playbook fires
RECENT = 3  # the opportunity's last activities the email shows
TEMPLATE = "stage_playbook"
TASK_NOTE = N_("From the playbook of the stage %(stage)s.")


# -- the defaults -----------------------------------------------------------------------------------------

def _playbook(guidance: tuple[str, str], *tasks: tuple[Any, ...]) -> dict[str, Any]:
    """A playbook's stored values from text in each language (in languages.CODES order: English, Chinese) and
    tasks of (text in each language…, offset[, priority])."""
    n = len(languages.CODES)
    return {
        "guidance": dict(zip(languages.CODES, guidance, strict=True)),
        "tasks": [{"subject": dict(zip(languages.CODES, t[:n], strict=True)), "offset_days": t[n],
                   **({"priority": t[n + 1]} if len(t) > n + 1 else {})} for t in tasks],
    }


_WON = _playbook(
    ("Congratulations! Thank the customer, hand the deal over cleanly so delivery starts on time, and plan how to "
     "grow the account from here.",
     "恭喜成交！先感謝客戶，再把案子完整移交，讓交付準時開始，並規劃後續如何擴大合作。"),
    ("Thank the customer and confirm the start date", "感謝客戶並確認啟動日期", 0, "High"),
    ("Hand over to delivery and billing with every detail agreed", "將談定的所有細節移交給交付與帳務同仁", 1),
    ("Ask for a referral or a testimonial", "請客戶推薦或提供使用心得", 20),
)
_LOST = _playbook(
    ("Record honestly why the deal was lost: the whole team learns from it. Part on good terms and keep in touch, "
     "because situations change.",
     "如實記錄失單原因，整個團隊都能從中學習。好聚好散並保持聯繫，客戶的情況隨時會變。"),
    ("Ask the customer why they chose otherwise", "請客戶說明最後沒有選擇我們的原因", 1),
    ("Check in with the customer again", "再次關心客戶近況", 60),
)
DEFAULTS: dict[tuple[str, str], dict[str, Any]] = {
    ("Standard Sales", "Prospecting"): _playbook(
        ("Find out whether this company is worth your time. Research it, find the person you should talk to, and "
         "reach out with a reason that matters to them. The goal of this stage: a first conversation booked.",
         "先判斷這家公司值不值得投入。研究客戶背景、找出該談的人，並用對方在意的理由聯絡。本階段目標：約到第一次談話。"),
        ("Research the company: business, size, recent news", "研究客戶：業務、規模、近期動態", 0),
        ("Reach out and ask for a 20-minute discovery call", "主動聯絡，邀約 20 分鐘的需求訪談", 1),
        ("Follow up if there is no reply", "若未回覆，再次跟進", 4),
    ),
    ("Standard Sales", "Qualification"): _playbook(
        ("Make sure this is a real opportunity: a problem worth solving, a budget, a person who decides and a "
         "timeline. If those are missing, let it go early: a quick no beats a slow maybe.",
         "確認這是真正的商機：有值得解決的問題、有預算、有決策者、有時程。條件不足就及早放手：快速的「不」勝過拖延的「也許」。"),
        ("Confirm budget, decision maker, need and timeline", "確認預算、決策者、需求與時程", 0, "High"),
        ("Write the qualification notes and the next step on the opportunity", "在商機上記錄評估結果與下一步", 2),
    ),
    ("Standard Sales", "Needs Analysis"): _playbook(
        ("Learn the customer's situation in their own words: how they work today, what hurts, what it costs them "
         "and what success would look like. Listen more than you talk, and do not pitch yet.",
         "用客戶自己的話了解現況：目前怎麼做、哪裡卡關、付出多少成本、成功是什麼樣子。多聽少說，先不要推銷。"),
        ("Hold the needs meeting with the people who will use it", "與實際使用者進行需求訪談", 2),
        ("Send a written summary of their needs and ask them to confirm it", "寄出需求摘要，請客戶確認", 4),
    ),
    ("Standard Sales", "Value Proposition"): _playbook(
        ("Tie what we offer to the needs they confirmed, in numbers where you can: time saved, costs cut, sales "
         "gained. Back it up with a customer like them.",
         "把我們的方案對應到客戶確認過的需求，盡量量化：省下的時間、降低的成本、增加的營收，並以同類型客戶的案例佐證。"),
        ("Prepare a value proposition with an estimate of the return", "準備價值主張與投資報酬試算", 2),
        ("Share a case study of a similar customer", "提供同業客戶的成功案例", 3),
        ("Present it to the customer and note their reaction", "向客戶簡報並記錄反應", 5),
    ),
    ("Standard Sales", "Id. Decision Makers"): _playbook(
        ("Map everyone who shapes the decision: who signs, who uses it, who could block it and how purchasing "
         "works. A deal with a single contact is a deal at risk.",
         "找出所有影響決策的人：誰簽核、誰使用、誰可能反對，以及採購流程怎麼走。只有單一窗口的商機風險很高。"),
        ("Map the buying group: decision maker, influencers, purchasing",
         "繪製採購關係圖：決策者、影響者、採購窗口", 1),
        ("Get a meeting with the decision maker", "約到決策者會面", 5, "High"),
    ),
    ("Standard Sales", "Perception Analysis"): _playbook(
        ("Check how the customer sees us against the alternatives, doing nothing included. Ask which concerns "
         "remain and who else they are talking to, and answer each concern before you quote.",
         "確認客戶如何比較我們與其他選擇（包括維持現狀）。直接詢問還有哪些疑慮、還在和誰接觸，並在報價前逐一化解。"),
        ("Ask your contact how we compare with the alternatives", "向支持我們的窗口了解我們與其他選擇的比較", 1),
        ("Answer the open concerns: references, a demo or a trial", "化解客戶疑慮：提供推薦客戶、展示或試用", 4),
    ),
    ("Standard Sales", "Proposal or Price Quote"): _playbook(
        ("Send a proposal that restates their needs, the solution, the price and the terms, and walk them through it "
         "instead of only emailing it. Agree on the date they will decide.",
         "建議書要重述客戶需求、解決方案、價格與條件，並親自向客戶說明，而不是寄出就好。與客戶約定做決定的日期。"),
        ("Send the formal quotation with the payment terms", "寄出正式報價單（含付款條件）", 0, "High"),
        ("Walk the customer through the proposal", "向客戶逐項說明建議書內容", 2),
        ("Follow up on the agreed decision date", "依約定的決定日期跟進", 5),
    ),
    ("Standard Sales", "Negotiation or Review"): _playbook(
        ("Settle the final terms. Know your walk-away point, trade rather than give away, and put every change in "
         "writing. Confirm who signs and how.",
         "敲定最後的條件。先想清楚底線，讓步要換取對等條件，所有變更都要書面確認。確認由誰簽約、用印流程為何。"),
        ("Agree the open terms and confirm who signs", "確認未決條款及簽約人", 1),
        ("Send the final contract for signature", "寄出最終合約請客戶用印", 3, "High"),
    ),
    ("Standard Sales", "Closed Won"): _WON,
    ("Standard Sales", "Closed Lost"): _LOST,
    ("Project Sales", "Initial Contact"): _playbook(
        ("Build the relationship and learn about the project: its scope, its owner, its schedule and how it will be "
         "awarded — open tender, invitation or direct negotiation.",
         "建立關係並了解專案：範圍、負責人、時程，以及決標方式（公開招標、邀標或議價）。"),
        ("Meet the project owner: scope and schedule", "與專案負責人會面，了解範圍與時程", 2),
        ("Find out how the project will be awarded", "確認專案的決標方式", 3),
    ),
    ("Project Sales", "Project Evaluation"): _playbook(
        ("Decide whether to pursue it: can we deliver it, can we win it, is it worth it? Check the budget, the "
         "requirements and the competition before you commit presales time.",
         "決定是否投入：做得到嗎？贏得了嗎？值得嗎？投入售前資源之前，先確認預算、規格需求與競爭態勢。"),
        ("Review the requirements with presales or engineering", "與售前或工程同仁檢視需求規格", 2),
        ("Decide go or no-go with your manager", "與主管討論是否投入（Go / No-go）", 4, "High"),
    ),
    ("Project Sales", "Needs Analysis"): _playbook(
        ("Work out the business and technical requirements in detail with the customer's team, and help shape the "
         "specification while you still can.",
         "與客戶團隊詳細釐清業務與技術需求，並趁早協助客戶擬定規格。"),
        ("Hold a requirements workshop with the customer's team", "與客戶團隊召開需求研討會", 3),
        ("Send the requirements summary for confirmation", "寄出需求摘要請客戶確認", 5),
    ),
    ("Project Sales", "Proposal"): _playbook(
        ("Write a proposal that answers every requirement, with a schedule and a price you can keep. Have it "
         "reviewed inside the company before it goes out.",
         "撰寫逐項回應需求的建議書，附上做得到的時程與價格。送出前先經公司內部審查。"),
        ("Draft the proposal, schedule and price", "撰寫建議書、時程與報價", 3),
        ("Have the proposal reviewed internally", "建議書內部審查", 5),
        ("Submit the proposal and confirm it was received", "提交建議書並確認客戶已收到", 7, "High"),
    ),
    ("Project Sales", "Bidding / Competition"): _playbook(
        ("Know the bid rules and deadlines by heart and never miss one. Learn who you are up against and make the "
         "evaluators see where we are stronger.",
         "熟記投標規則與截止期限，絕不錯過。了解競爭對手，讓評選委員清楚看到我們的優勢。"),
        ("Check the tender documents, deadlines and required forms", "確認招標文件、截止日期與應備文件", 0, "High"),
        ("Prepare the comparison with the competitors for the evaluation", "準備與競爭對手的比較，供評選簡報使用", 3),
    ),
    ("Project Sales", "Negotiation"): _playbook(
        ("Agree the contract: scope, price, schedule, acceptance, payment milestones and warranty. Put every change "
         "in writing.",
         "敲定合約條件：範圍、價格、時程、驗收、付款里程碑與保固。所有變更都要書面確認。"),
        ("Agree the open terms: scope, milestones, acceptance, payment", "確認未決條款：範圍、里程碑、驗收、付款", 1),
        ("Send the contract for signature", "寄出合約請客戶用印", 3, "High"),
    ),
    ("Project Sales", "Closed Won"): _WON,
    ("Project Sales", "Closed Lost"): _LOST,
}


def seed(session: Session) -> int:
    """Store the default playbooks of the seeded processes' stages when there is no playbook at all; return how many."""
    if session.scalar(select(StagePlaybook.id).limit(1)) is not None:
        return 0
    stages = session.execute(
        select(SalesStage.id, SalesProcess.name, SalesStage.name.label("stage"))
        .join(SalesProcess, SalesProcess.id == SalesStage.sales_process_id).order_by(SalesStage.id)
    ).all()
    rows = [StagePlaybook(stage_id=row.id, active=True, **copy.deepcopy(DEFAULTS[row.name, row.stage]))
            for row in stages if (row.name, row.stage) in DEFAULTS]
    session.add_all(rows)
    return len(rows)


def in_language(texts: dict[str, str] | None, language: str) -> str:
    """A text of a playbook in a language: that language's, else English, else any there is ("" for none)."""
    texts = texts or {}
    return (texts.get(language) or texts.get(languages.DEFAULT) or next((t for t in texts.values() if t), "")).strip()


def guidance(session: Session, stage_id: int, language: str) -> str | None:
    """The "what to do now" of a stage in a language; None when its playbook is missing, inactive or has no text."""
    texts = session.scalar(
        select(StagePlaybook.guidance).where(StagePlaybook.stage_id == stage_id, StagePlaybook.active)
    )
    return in_language(texts, language) or None


def is_history(actor: Actor) -> bool:
    """Whether a change by this actor is history (an import, the demo): its stage entries fire nothing."""
    return actor.automation is not None and actor.automation.partition(":")[0] in HISTORY_ACTORS


# -- what firing an entry makes ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Playbook:
    """An active playbook's text by language and its tasks, as stored."""

    guidance: dict[str, str]
    tasks: list[dict[str, Any]]


@dataclass(frozen=True)
class Entry:
    """A stage entry to fire, with what its tasks and email need of the opportunity."""

    history_id: int
    entered_at: dt.datetime
    stage_id: int
    previous_stage_id: int | None
    opportunity_id: int
    number: str
    name: str
    account_name: str | None
    contact_number: str | None
    contact_first_name: str | None
    contact_last_name: str | None
    amount: Decimal | None
    currency_id: int
    close_date: dt.date | None
    probability: int | None
    owner_id: int | None


@dataclass(frozen=True)
class Firing:
    """What one entry's playbook makes: the tasks' values (for `create_activity`) and the email's outbox row."""

    tasks: list[dict[str, Any]]
    message: dict[str, Any]


@dataclass(frozen=True)
class Fired:
    """What a firing made."""

    tasks: int
    emails: int


def playbooks_of(session: Session, stage_ids: Collection[int] | None = None) -> dict[int, Playbook]:
    """The active playbooks with something to do (text or tasks), by stage id (of these stages only, when given)."""
    stmt = select(StagePlaybook.stage_id, StagePlaybook.guidance, StagePlaybook.tasks).where(StagePlaybook.active)
    if stage_ids is not None:
        stmt = stmt.where(StagePlaybook.stage_id.in_(stage_ids))
    return {row.stage_id: Playbook(dict(row.guidance or {}), list(row.tasks or []))
            for row in session.execute(stmt) if any((row.guidance or {}).values()) or row.tasks}


@dataclass(frozen=True)
class Plan:
    """What firing needs, read once: the playbooks, stage names, currencies, the calendar, the picklists."""

    playbooks: dict[int, Playbook]
    stage_names: dict[int, str]
    currencies: dict[int, tuple[str, int]]  # id -> (code, minor unit)
    calendar: WorkingCalendar
    allowed: dict[str, frozenset[str]]  # picklist values, as `activities.clean_activity` checks them

    @classmethod
    def load(cls, session: Session, playbooks: dict[int, Playbook] | None = None) -> Plan:
        """Read what firing needs (the active playbooks unless the caller read some)."""
        return cls(
            playbooks_of(session) if playbooks is None else playbooks,
            {row.id: row.name for row in session.execute(select(SalesStage.id, SalesStage.name))},
            {row.id: (row.code, row.minor_unit)
             for row in session.execute(select(Currency.id, Currency.code, Currency.minor_unit))},
            calendar_for(session), picklists.all_values(session),
        )

    def applies(self, entry: Entry) -> bool:
        """Whether the entry's stage has a playbook with something to do and its opportunity an owner."""
        return entry.stage_id in self.playbooks and entry.owner_id is not None

    def firing(self, entry: Entry, owner: Any, recent: Sequence[Any], at: dt.datetime) -> Firing | None:
        """The tasks and the email of an entry for its owner (a users row); None without a playbook or active owner."""
        playbook = self.playbooks.get(entry.stage_id)
        if playbook is None or owner is None or not owner.active:
            return None
        language = owner.language if owner.language in languages.CODES else languages.DEFAULT
        zone = _zone(owner.time_zone) if owner.time_zone else self.calendar.zone
        stage = _shown(language, self.stage_names.get(entry.stage_id, ""))
        start = self.calendar.local_date(entry.entered_at)
        tasks = [task for item in playbook.tasks
                 if (task := self._task(entry, owner.id, item, language, stage, start, at)) is not None]
        context = {
            "recipient_name": owner.name,
            "opportunity": self._facts(entry, language),
            "stage": stage,
            "previous_stage": _shown(language, self.stage_names.get(entry.previous_stage_id or 0, "")) or None,
            "guidance": in_language(playbook.guidance, language),
            "tasks": [{"subject": t["subject"], "due": _day(t["due_date"], language)} for t in tasks],
            "activities": [_activity(row, language, zone) for row in recent],
        }
        message = outbox.message_values(
            TEMPLATE, owner.email, key=f"playbook:{entry.history_id}", context=context, language=language,
            recipient_name=owner.name, to_staff=True, record_module="opportunities", record_id=entry.opportunity_id,
        )
        return Firing(tasks, message)

    def _task(self, entry: Entry, owner_id: int, item: dict[str, Any], language: str, stage: str, start: dt.date,
              at: dt.datetime) -> dict[str, Any] | None:
        subject = in_language(item.get("subject"), language)
        if not subject:
            return None
        priority = item.get("priority")
        return {
            "type": "task", "subject": subject[:255], "owner_id": owner_id, "opportunity_id": entry.opportunity_id,
            "due_date": self.calendar.add_working_days(start, max(int(item.get("offset_days") or 0), 0)),
            "status": "Not Started",
            "priority": priority if priority in self.allowed.get("task_priority", ()) else None,
            "description": languages.translate(language, TASK_NOTE, stage=stage), "created_at": at, "updated_at": at,
        }

    def _facts(self, entry: Entry, language: str) -> dict[str, Any]:
        amount = None
        if entry.amount is not None and entry.currency_id in self.currencies:
            code, minor_unit = self.currencies[entry.currency_id]
            amount = _money(Decimal(entry.amount), code, minor_unit, language)
        contact = None
        if entry.contact_number is not None:  # the person the deal is with (an erasure finds the email by it)
            contact = {"number": entry.contact_number,
                       "name": display_name(entry.contact_first_name, entry.contact_last_name)}
        return {
            "number": entry.number, "name": entry.name, "account_name": entry.account_name, "contact": contact,
            "amount": amount, "close_date": _day(entry.close_date, language) if entry.close_date else None,
            "probability": entry.probability,
        }


def _activity(row: Any, language: str, zone: zoneinfo.ZoneInfo) -> dict[str, Any]:
    """An activity as the email lists it: its kind, subject and outcome, and the day it happened (the owner's)."""
    return {"kind": row.type, "subject": row.subject, "when": _day(row.at.astimezone(zone).date(), language),
            "outcome": row.outcome or None}


# A run formats the same few days, amounts and stage names thousands of times: each is worked out once.

@lru_cache(maxsize=4096)
def _day(day: dt.date, language: str) -> str:
    return languages.format_date(day, language)


def _money(amount: Decimal, code: str, minor_unit: int, language: str) -> str:
    """`languages.format_money`, with the currency's text and the locale's marks worked out once."""
    shape = _money_shape(code, minor_unit, language)
    if shape is None:
        return languages.format_money(amount, code, minor_unit, language)
    before, after, group, decimal = shape
    exact = amount.quantize(Decimal(1).scaleb(-minor_unit), rounding=ROUND_HALF_UP)
    number = f"{exact:,.{minor_unit}f}".replace(",", "\0").replace(".", decimal).replace("\0", group)
    return f"{before}{number}{after}"


@lru_cache(maxsize=64)
def _money_shape(code: str, minor_unit: int, language: str) -> tuple[str, str, str, str] | None:
    """How an amount in a currency reads in a language: the text before and after the number, the group and decimal
    marks (None: the number is not plainly there to replace)."""
    from babel.numbers import get_decimal_symbol, get_group_symbol

    locale = languages.get(language).locale
    group, decimal = get_group_symbol(locale), get_decimal_symbol(locale)
    number = f"1{group}234{group}567" + (decimal + "0" * minor_unit if minor_unit > 0 else "")
    shown = languages.format_money(Decimal(1234567), code, minor_unit, language)
    if shown.count(number) != 1:
        return None
    before, after = shown.split(number)
    return before, after, group, decimal


@lru_cache(maxsize=1024)
def _shown(language: str, name: str) -> str:
    return languages.translate_value(language, name)


@lru_cache(maxsize=256)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


# -- reading and claiming ---------------------------------------------------------------------------------

def recent_activities(session: Session, opportunity_ids: Iterable[int], at: dt.datetime) -> dict[int, list[Any]]:
    """Each opportunity's last `RECENT` activities by `at`, newest first: the timeline's (tasks completed; calls,
    meetings and emails that took place), as rows (type, subject, outcome, at)."""
    ids = sorted(set(opportunity_ids))
    if not ids:
        return {}
    happened = type_coerce(case((Activity.type == "task", Activity.completed_at),
                                else_=func.coalesce(Activity.start_at, Activity.completed_at, Activity.created_at)),
                           UTCDateTime())
    ranked = (
        select(Activity.opportunity_id, Activity.type, Activity.subject, Activity.outcome, happened.label("at"),
               func.row_number().over(partition_by=Activity.opportunity_id,
                                      order_by=(happened.desc(), Activity.id.desc())).label("n"))
        .where(Activity.opportunity_id.in_(ids), Activity.deleted_at.is_(None), happened <= at,
               or_(Activity.completed_at.is_not(None),
                   and_(Activity.type != "task", func.coalesce(Activity.start_at, Activity.created_at) <= at)))
        .subquery()
    )
    found: dict[int, list[Any]] = {}
    for row in session.execute(select(ranked).where(ranked.c.n <= RECENT).order_by(ranked.c.opportunity_id,
                                                                                    ranked.c.n)):
        found.setdefault(row.opportunity_id, []).append(row)
    return found


def owners(session: Session, user_ids: Iterable[int | None]) -> dict[int, Any]:
    """The users a playbook may write to, by id: id, email, name, language, time_zone, active."""
    ids = sorted({i for i in user_ids if i is not None})
    if not ids:
        return {}
    stmt = select(User.id, User.email, User.name, User.language, User.time_zone, User.active).where(User.id.in_(ids))
    return {row.id: row for row in session.execute(stmt)}


def claim(session: Session, history_ids: Sequence[int], at: dt.datetime) -> set[int]:
    """Mark live entries fired at `at` unless they were before; return the ids this call marked."""
    if not history_ids:
        return set()
    marked = session.scalars(
        update(StageHistory)
        .where(StageHistory.id.in_(history_ids), StageHistory.playbook_fired_at.is_(None),
               StageHistory.left_at.is_(None))
        .values(playbook_fired_at=at).returning(StageHistory.id)
        .execution_options(synchronize_session=False)
    )
    return set(marked)


# -- the stage change's own firing ------------------------------------------------------------------------

def fire(session: Session, opportunity: Opportunity, history_row: StageHistory, actor: Actor,
         at: dt.datetime) -> Fired | None:
    """Fire the playbook of a stage entry just recorded, in the caller's transaction; None when it made nothing.

    The entry is claimed first: of two transactions firing it, one makes the tasks and the email.
    """
    playbook, owner_id = playbooks_of(session, [history_row.stage_id]), opportunity.owner_id
    if is_history(actor) or not playbook or owner_id is None or opportunity.deleted_at is not None:
        _mark(session, history_row, at)
        return None
    contact = session.get(Contact, opportunity.contact_id) if opportunity.contact_id else None
    entry = Entry(
        history_row.id, history_row.entered_at, history_row.stage_id, _previous_stage(session, history_row),
        opportunity.id, opportunity.opportunity_no, opportunity.name,
        session.scalar(select(Account.name).where(Account.id == opportunity.account_id))
        if opportunity.account_id else None,
        contact.contact_no if contact else None, contact.first_name if contact else None,
        contact.last_name if contact else None,
        opportunity.amount, opportunity.currency_id, opportunity.expected_close_date, opportunity.probability,
        owner_id,
    )
    recent = recent_activities(session, [opportunity.id], at).get(opportunity.id, [])
    firing = Plan.load(session, playbook).firing(entry, owners(session, [owner_id]).get(owner_id), recent, at)
    if not _mark(session, history_row, at) or firing is None:
        return None
    for values in firing.tasks:
        activities.create_activity(session, values, ACTOR)
    outbox.enqueue_many(session, [firing.message])
    return Fired(len(firing.tasks), 1)


def _mark(session: Session, row: StageHistory, at: dt.datetime) -> bool:
    """Claim one entry; the object in the session says so too."""
    if row.id not in claim(session, [row.id], at):
        return False
    set_committed_value(row, "playbook_fired_at", at)
    return True


def _previous_stage(session: Session, row: StageHistory) -> int | None:
    """The stage the opportunity was in before this entry (None: it is its first)."""
    return session.scalar(
        select(StageHistory.stage_id)
        .where(StageHistory.opportunity_id == row.opportunity_id, StageHistory.id != row.id,
               StageHistory.entered_at <= row.entered_at)
        .order_by(StageHistory.entered_at.desc(), StageHistory.id.desc()).limit(1)
    )
