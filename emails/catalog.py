"""What each email template needs: its context keys, and a realistic sample to preview and test.

Conventions shared by the templates (one English pair per message, translated through gettext):
- Dates and times are strings the caller already formatted in the recipient's zone and language.
- A *record reference* is `{"module", "number", "name"}` where `module` is the URL segment of the
  record's module (`leads`, `accounts`, `contacts`, `opportunities`, `campaigns`); templates link
  to it with `link("record", module=..., number=...)`.
- A *lead row* is `{"number", "name", "company", "source"}`; `company` may be None.
- A person's `name` is written as people write it (`crm_store.records.names.display_name`): 林美玲, Mei Lin.
- Templates spell no URL path: they call `link(route, **values)` with a route of `crm_store.links.ROUTES`
  (`record`, `records`, `report`, `set_password`, `reset_password`, `home`), which URL-quotes each value.
- `render()` adds `base_url`, `company_name`, `language` and `link`; the context may not set them.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

from .render import Attachment

_GREETING = {"recipient_name": "Display name of the user the mail goes to."}
_RECORD = "Record reference {module, number, name}."
_FOLLOW_UP = {
    **_GREETING,
    "activity_subject": "Subject of the follow-up activity.",
    "due": "When it is (was) due, formatted.",
    "related": _RECORD,
}
_LEAD = "Lead {number, name, company}; company may be None."

CONTEXT: dict[str, dict[str, str]] = {
    "welcome": {
        **_GREETING,
        "login_email": "Email address the user signs in with.",
        "token": "One-time token of the set-password link (URL-safe).",
        "expires_at": "When the link expires, formatted.",
    },
    "password_reset": {
        **_GREETING,
        "token": "One-time token of the reset link (URL-safe).",
        "expires_at": "When the link expires, formatted.",
    },
    "test_message": {
        **_GREETING,
        "sent_at": "When the test was sent, formatted.",
        "smtp_server": "host:port of the mail server used.",
    },
    "leads_assigned": {
        **_GREETING,
        "assigned_by": "Name of who assigned them, or None for the assignment rules.",
        "leads": "List of lead rows {number, name, company, source}; at least one.",
    },
    "new_inquiry": {
        **_GREETING,
        "record": "The lead or contact who wrote: {module, number, name, company}.",
        "contact_email": "Address the inquiry came from.",
        "contact_phone": "Phone number the visitor typed, formatted to read and dial (see new_web_lead), or None.",
        "received_at": "When it arrived, formatted.",
        "message": "The inquiry text, line breaks kept.",
    },
    "new_web_lead": {
        **_GREETING,
        "lead": "The lead the form made {number, name, company}; company may be None.",
        "email": "Address the visitor typed, or None.",
        "phone": "Phone number the visitor typed, formatted to read and dial: national in the company's phone "
                 "region (0912 345 678), else international (+81 3-1234-5678); or None.",
        "message": "What the visitor wrote, line breaks kept; may be empty.",
        "form_name": "Name of the web form.",
        "received_at": "When it arrived, formatted in the recipient's zone.",
    },
    "follow_up_due": _FOLLOW_UP,
    "follow_up_overdue": _FOLLOW_UP,
    "stale_lead": {
        **_GREETING,
        "lead": _LEAD,
        "owner_name": "Name of the lead's owner (the recipient is the owner or the manager).",
        "days_idle": "Whole days without activity (int).",
        "last_touch_at": "When the last activity was, formatted, or None.",
    },
    "sla_reminder": {
        **_GREETING,
        "lead": _LEAD,
        "minutes_left": "Minutes until the first-response deadline (int).",
        "deadline": "The first-response deadline, formatted.",
    },
    "sla_escalation": {
        **_GREETING,
        "lead": _LEAD,
        "owner_name": "Name of the owner who has not responded.",
        "minutes_late": "Minutes past the deadline (int).",
        "deadline": "The first-response deadline, formatted.",
    },
    "daily_digest": {
        **_GREETING,
        "date": "The recipient's local day it covers, formatted (Sep 7, 2026).",
        # Each list is a section {lines, total}: its first lines (up to ten) and how many there are in all.
        "overdue": "Open tasks due before today, oldest due first: a section of {subject, due, priority, related}; "
                   "due formatted, priority translated or None, related a record reference or None.",
        "due_today": "Open tasks due today: a section of {subject, priority, related}, as overdue's.",
        "events": "Today's calls and meetings not done yet, in order: a section of {time, kind, subject, location, "
                  "related}; time formatted in the recipient's zone (10:30 AM – 11:30 AM), kind \"call\" or "
                  "\"meeting\", location and related may be None.",
        "new_leads": "Leads assigned to the recipient since their previous digest, newest first: a section of lead "
                     "rows {number, name, company, source}; source translated, or None.",
        "stale": "Aging and stale leads, the longest idle first: a section of {number, name, company, stale, "
                 "days_idle}; stale is True for stale, False for aging.",
        "rotting": "Opportunities rotting in their stage, the longest first: a section of {number, name, stage, "
                   "days_idle}.",
        "closing": "Open opportunities expected to close this week, soonest first: a section of {number, name, "
                   "stage, close_date, amount}; close_date formatted, amount formatted (NT$1,250,000) or None.",
        "team": "A manager's reps with overdue tasks or leads past their SLA, by name: {name, overdue, sla_missed} "
                "(ints); empty for everyone else.",
        "idle_in_working_days": "Whether idle days are counted in working days (idle_days_mode), for the wording.",
    },
    "stage_playbook": {
        **_GREETING,
        "opportunity": "Key facts {number, name, account_name, contact, amount, close_date, probability}: contact "
                       "{number, name} of the person the deal is with, amount formatted in its currency "
                       "(NT$1,250,000), close_date formatted, probability an int (%); all but number and name may "
                       "be None.",
        "stage": "Name of the stage just entered, in the recipient's language.",
        "previous_stage": "Name of the stage it left, or None for a new opportunity.",
        "guidance": "The stage's \"what to do now\" text, line breaks kept; may be empty.",
        "tasks": "The tasks the stage created for the recipient {subject, due}, due formatted; may be empty.",
        "activities": "The opportunity's last three activities, newest first {kind, subject, when, outcome}: kind "
                      "task/call/meeting/email, when the day it happened (formatted), outcome or None; may be empty.",
    },
    "memo_reminder": {
        **_GREETING,
        "note": "The note text, line breaks kept.",
        "written_by": "Name of the note's author.",
        "written_at": "When the note was written, formatted.",
        "related": _RECORD,
    },
    "event_reminder": {
        **_GREETING,
        "kind": '"meeting" or "call" (anything else reads as an event).',
        "subject": "Subject of the meeting or call; also the calendar SUMMARY.",
        "start": "Start, formatted in the recipient's zone.",
        "end": "End, formatted in the recipient's zone.",
        "time_zone": "Name of the recipient's zone as shown, e.g. Asia/Taipei (UTC+8).",
        "location": "Where, or None.",
        "description": "Agenda or notes, or None.",
        "organizer": "Organizer as an address (王小明 <ming@example.com>), or None.",
        "related": "Record reference {module, number, name}, or None.",
        "event_uid": "Stable UID of the event for the .ics (same UID on every reminder).",
        "event_start_utc": "Start as an ISO 8601 string with offset, for the .ics.",
        "event_end_utc": "End as an ISO 8601 string with offset, for the .ics.",
        "event_sequence": "Revision of the event (int), raised each time it changes.",
    },
    "event_invitation": {
        **_GREETING,
        "kind": '"meeting" or "call" (anything else reads as an event).',
        "subject": "Subject of the meeting or call; also the calendar SUMMARY.",
        "start": "Start, formatted in the recipient's zone.",
        "end": "End, formatted in the recipient's zone.",
        "time_zone": "Name of the recipient's zone as shown, e.g. Asia/Taipei (UTC+8).",
        "location": "Where, or None.",
        "description": "Agenda or notes, or None; the invitees read it too.",
        "organizer": "Organizer as an address (王小明 <ming@example.com>); the calendar sends the answers to it.",
        "invitees": "Everyone invited {name, email}, in the order given; name may be None. Each is an ATTENDEE "
                    "of the .ics asked to answer (the recipient is added if missing).",
        "related": "Record reference {module, number, name} for a recipient who is a user; None for anyone else "
                   "(outside guests see no CRM records).",
        "event_uid": "Stable UID of the event for the .ics: the same as its reminders', on every revision.",
        "event_start_utc": "Start as an ISO 8601 string with offset, for the .ics.",
        "event_end_utc": "End as an ISO 8601 string with offset, for the .ics.",
        "event_sequence": "Revision of the event (int): 0 for the first invitation, raised each time it changes "
                          "(the message then says it was updated).",
    },
    "visitor_auto_reply": {
        "visitor_name": "Name the visitor typed into the web form.",
        "reply_within_hours": "Business hours within which sales replies (int).",
        "company_phone": "The company's phone number (company_phone), to call when urgent; or None.",
        "company_email": "The company's email address (company_email) for the signature, or None.",
        "company_address": "The company's postal address (company_address) for the signature, or None.",
    },
    "quarantine_summary": {
        **_GREETING,
        "period": "The company days it covers: 2025-03-13, or 2025-03-10 – 2025-03-13.",
        "total": "How many submissions were held in that period, in all (int, at least 1).",
        "forms": "Forms {name, count, reasons} most held first; reasons {reason, count}, most held first.",
        "newest": "The newest held submissions {received_at, form_name, email, reason, submission}, newest first; "
                  "received_at formatted in the recipient's zone, email may be None, submission is the public id "
                  "that `crm forms quarantine release` takes.",
    },
    "backup_failed": {
        **_GREETING,
        "failed_at": "When the nightly backup failed, formatted in the recipient's zone.",
        "folder": "The folder the backups are written to ($CRM_DATA_DIR/backups).",
        "error": "What went wrong, in one line (the error the backup met).",
        "newest": "File name of the newest backup kept in the folder, or None when there is none.",
    },
    "scheduled_report": {
        **_GREETING,
        "report_name": "Name of the report.",
        "report_slug": "URL segment of the report in the app (its name: /reports/<name>).",
        "report_query": "The report page's filters as a query string without the \"?\" (as_of=2025-03-14), or \"\".",
        "period": "Period covered, formatted.",
        "columns": "Column headings (strings).",
        "rows": "Rows of already-formatted cells (lists of strings); may be empty.",
        "total_rows": "How many rows the report has; when more than `rows`, the mail says it shows the first ones.",
        "charts": "Images {cid, title}; each cid must be the inline_cid of an attachment.",
        "csv_filename": "Filename of the attached CSV; render() checks that it is attached.",
    },
    "sales_document": {
        "recipient_name": "Name of the customer's contact it goes to, else the account's name.",
        "kind": '"quote", "sales_order" or "invoice": the wording of the subject and the body.',
        "document_number": "The document's number (QUO12, SO12, INV12); the customer has no link to it.",
        "document_subject": "The document's subject.",
        "account_name": "Name of the account (the buyer).",
        "amount": "Formatted: a quote's or an order's grand total, an invoice's balance due.",
        "due": "Formatted: a quote's valid-till date, an order's or an invoice's due date; or None.",
        "pdf_filename": "Filename of the attached PDF; render() checks that it is attached.",
        "sender_name": "Name of the member of staff who sent it (replies go to them).",
        "company_phone": "The company's phone number (company_phone), or None.",
        "company_email": "The company's email address (company_email), or None.",
        "company_address": "The company's postal address (company_address), or None.",
    },
}

_LEADS = [
    {"number": "LEA1024", "name": "陳志明", "company": "宏達精密工業股份有限公司", "source": "Trade Show"},
    {"number": "LEA1025", "name": "Emily Chen", "company": "Formosa Tea Export Co.", "source": "Web Site"},
    {"number": "LEA1026", "name": "黃淑芬", "company": None, "source": "Word of mouth"},
]
_ACCOUNT = {"module": "accounts", "number": "ACC208", "name": "Lin & Partners 林氏顧問"}
_CONTACT = {"module": "contacts", "number": "CON512", "name": "David Wang 王大衛"}

SAMPLES: dict[str, dict[str, Any]] = {
    "welcome": {
        "recipient_name": "林怡君",
        "login_email": "yijun.lin@goodfortune.com.tw",
        "token": "Zq3v8KfT1xWcR0pLmN2a",
        "expires_at": "2025-03-17 18:00",
    },
    "password_reset": {
        "recipient_name": "Kevin Wu",
        "token": "r7Yd0a9QbXk2LmPz5sTe",
        "expires_at": "2025-03-14 11:30",
    },
    "test_message": {
        "recipient_name": "系統管理員",
        "sent_at": "2025-03-14 09:05",
        "smtp_server": "smtp.goodfortune.com.tw:587",
    },
    "leads_assigned": {"recipient_name": "林怡君", "assigned_by": "張經理", "leads": _LEADS},
    "new_inquiry": {
        "recipient_name": "林怡君",
        "record": {
            "module": "leads", "number": "LEA1025", "name": "Emily Chen", "company": "Formosa Tea Export Co.",
        },
        "contact_email": "emily.chen@formosatea.example",
        "contact_phone": "+852 2345 6789",
        "received_at": "2025-03-14 14:22",
        "message": "Hi, could you send a quote for 500 cartons of oolong?\n想確認四月底前能否出貨，謝謝！",
    },
    "new_web_lead": {
        "recipient_name": "林怡君",
        "lead": {"number": "LEA1031", "name": "林美玲", "company": "晨光文具有限公司"},
        "email": "meiling.lin@morninglight.example",
        "phone": "0912 345 678",
        "message": "您好，我們想訂製 2,000 本印有公司標誌的筆記本，\n請問四月中以前能交貨嗎？\n"
                   "Please quote with and without gift boxes.",
        "form_name": "網站詢價表單",
        "received_at": "2025-03-14 10:42 CST",
    },
    "follow_up_due": {
        "recipient_name": "Kevin Wu",
        "activity_subject": "Call back about the Q2 quotation",
        "due": "2025-03-14 15:00",
        "related": _CONTACT,
    },
    "follow_up_overdue": {
        "recipient_name": "林怡君",
        "activity_subject": "寄送修訂版報價單",
        "due": "2025-03-12 17:00",
        "related": _ACCOUNT,
    },
    "stale_lead": {
        "recipient_name": "張經理",
        "lead": {"number": "LEA0987", "name": "吳建宏", "company": "大同五金行"},
        "owner_name": "Kevin Wu",
        "days_idle": 9,
        "last_touch_at": "2025-03-05 10:40",
    },
    "sla_reminder": {
        "recipient_name": "Kevin Wu",
        "lead": {"number": "LEA1027", "name": "蔡佩珊", "company": "晨光文具有限公司"},
        "minutes_left": 45,
        "deadline": "2025-03-14 16:30",
    },
    "sla_escalation": {
        "recipient_name": "張經理",
        "lead": {"number": "LEA1027", "name": "蔡佩珊", "company": "晨光文具有限公司"},
        "owner_name": "Kevin Wu",
        "minutes_late": 95,
        "deadline": "2025-03-14 16:30",
    },
    "daily_digest": {
        "recipient_name": "林怡君",
        "date": "Sep 7, 2026",
        "overdue": {"lines": [
            {"subject": "寄送修訂版報價單", "due": "Sep 3, 2026", "priority": "High", "related": _ACCOUNT},
            {"subject": "Call back about the Q2 quotation", "due": "Sep 4, 2026", "priority": None,
             "related": None},
        ], "total": 14},
        "due_today": {"lines": [
            {"subject": "Demo for purchasing team", "priority": "Medium", "related": _CONTACT},
            {"subject": "確認樣品寄送進度", "priority": None,
             "related": {"module": "leads", "number": "LEA1024", "name": "陳志明"}},
        ], "total": 2},
        "events": {"lines": [
            {"time": "10:30 AM – 11:30 AM", "kind": "meeting", "subject": "季度檢討會議 Q1 review",
             "location": "台北市信義區松仁路 100 號 12 樓", "related": _ACCOUNT},
            {"time": "2:00 PM", "kind": "call", "subject": "Follow-up call", "location": None, "related": None},
        ], "total": 2},
        "new_leads": {"lines": _LEADS, "total": 3},
        "stale": {"lines": [
            {"number": "LEA0987", "name": "吳建宏", "company": "大同五金行", "stale": True, "days_idle": 41},
            {"number": "LEA1002", "name": "Grace Lin", "company": None, "stale": False, "days_idle": 9},
        ], "total": 23},
        "rotting": {"lines": [
            {"number": "POT0311", "name": "宏達精密 2025 年度耗材合約", "stage": "Proposal or Price Quote",
             "days_idle": 19},
        ], "total": 1},
        "closing": {"lines": [
            {"number": "POT0342", "name": "Formosa Tea 500 cartons", "stage": "Negotiation or Review",
             "close_date": "Sep 10, 2026", "amount": "NT$1,250,000"},
            {"number": "POT0350", "name": "晨光文具 筆記本訂製", "stage": "Id. Decision Makers",
             "close_date": "Sep 11, 2026", "amount": None},
        ], "total": 2},
        "team": [
            {"name": "Kevin Wu", "overdue": 5, "sla_missed": 2},
            {"name": "陳志明", "overdue": 0, "sla_missed": 1},
        ],
        "idle_in_working_days": False,
    },
    "stage_playbook": {
        "recipient_name": "Kevin Wu",
        "opportunity": {
            "number": "POT0311",
            "name": "宏達精密 2025 年度耗材合約",
            "account_name": "宏達精密工業股份有限公司",
            "contact": {"number": "CON0208", "name": "陳志明"},
            "amount": "NT$1,250,000",
            "close_date": "2025-04-30",
            "probability": 65,
        },
        "stage": "Proposal or Price Quote",
        "previous_stage": "Perception Analysis",
        "guidance": "Send a proposal that restates their needs, the solution, the price and the terms, and walk them "
                    "through it instead of only emailing it.\n建議書要重述客戶需求，並與客戶約定做決定的日期。",
        "tasks": [
            {"subject": "Send the formal quotation with the payment terms", "due": "2025-03-14"},
            {"subject": "向客戶逐項說明建議書內容", "due": "2025-03-18"},
            {"subject": "Follow up on the agreed decision date", "due": "2025-03-21"},
        ],
        "activities": [
            {"kind": "meeting", "subject": "現場展示與報價討論", "when": "2025-03-12", "outcome": None},
            {"kind": "call", "subject": "Call with purchasing (陳經理)", "when": "2025-03-10",
             "outcome": "Wants the quotation by Friday; budget approved."},
            {"kind": "task", "subject": "Send the case study", "when": "2025-03-07", "outcome": None},
        ],
    },
    "memo_reminder": {
        "recipient_name": "林怡君",
        "note": "客戶提到下個月預算會重新審核。\nAsk about the new budget before 4/1.",
        "written_by": "張經理",
        "written_at": "2025-03-03 16:12",
        "related": _ACCOUNT,
    },
    "event_reminder": {
        "recipient_name": "Kevin Wu",
        "kind": "meeting",
        "subject": "季度檢討會議 Q1 review",
        "start": "2025-03-20 (Thu) 10:00",
        "end": "2025-03-20 (Thu) 11:00",
        "time_zone": "Asia/Taipei (UTC+8)",
        "location": "台北市信義區松仁路 100 號 12 樓, 會議室 B",
        "description": "Agenda: Q1 numbers; renewal pricing\n帶上樣品目錄",
        "organizer": "張經理 <manager.chang@goodfortune.com.tw>",
        "related": _ACCOUNT,
        "event_uid": "act-4821@leadline.goodfortune.com.tw",
        "event_start_utc": "2025-03-20T02:00:00+00:00",
        "event_end_utc": "2025-03-20T03:00:00+00:00",
        "event_sequence": 0,
    },
    "event_invitation": {
        "recipient_name": "Kevin Wu",
        "kind": "meeting",
        "subject": "季度檢討會議 Q1 review",
        "start": "2025-03-20 (Thu) 10:00",
        "end": "2025-03-20 (Thu) 11:00",
        "time_zone": "Asia/Taipei (UTC+8)",
        "location": "台北市信義區松仁路 100 號 12 樓, 會議室 B",
        "description": "Agenda: Q1 numbers; renewal pricing\n帶上樣品目錄",
        "organizer": "張經理 <manager.chang@goodfortune.com.tw>",
        "invitees": [
            {"name": "陳志明", "email": "chen.zhiming@htprecision.example"},
            {"name": "Kevin Wu", "email": "kevin.wu@goodfortune.com.tw"},
            {"name": None, "email": "purchasing@htprecision.example"},
        ],
        "related": _ACCOUNT,
        "event_uid": "act-4821@leadline.goodfortune.com.tw",
        "event_start_utc": "2025-03-20T02:00:00+00:00",
        "event_end_utc": "2025-03-20T03:00:00+00:00",
        "event_sequence": 0,
    },
    "visitor_auto_reply": {
        "visitor_name": "Sarah Lee 李佳蓉",
        "reply_within_hours": 4,
        "company_phone": "02-2345-6789 分機 210",
        "company_email": "service@goodfortune.com.tw",
        "company_address": "106 台北市大安區敦化南路二段 99 號 8 樓",
    },
    "quarantine_summary": {
        "recipient_name": "系統管理員",
        "period": "2025-03-13",
        "total": 12,
        "forms": [
            {"name": "網站詢價表單", "count": 9, "reasons": [
                {"reason": "honeypot filled in", "count": 6},
                {"reason": "filled in 1.2 s (minimum 3 s)", "count": 3},
            ]},
            {"name": "Trade show sign-up", "count": 3, "reasons": [
                {"reason": "render token used before", "count": 2},
                {"reason": "could not be processed: industry: 'Mining' is not one of the choices", "count": 1},
            ]},
        ],
        "newest": [
            {"received_at": "2025-03-13 23:41 CST", "form_name": "網站詢價表單", "email": "deals@cheap-seo.example",
             "reason": "honeypot filled in", "submission": "Hq3Zr8TxW1mKc0aPbLn5s2dE"},
            {"received_at": "2025-03-13 17:05 CST", "form_name": "Trade show sign-up",
             "email": "chen.wei@sunrise-textiles.example", "reason": "render token used before",
             "submission": "k9Vd2LpQ7sXa4RtYb0NcGw3F"},
            {"received_at": "2025-03-13 14:22 CST", "form_name": "網站詢價表單",
             "email": "meiling.lin@morninglight.example", "reason": "filled in 1.2 s (minimum 3 s)",
             "submission": "Zt6Wq1Ne8JmRc5UyHs0KaLb4"},
            {"received_at": "2025-03-13 09:10 CST", "form_name": "網站詢價表單", "email": None,
             "reason": "honeypot filled in", "submission": "Pf2Xs7Ab9DkEw3QnTz1VmCy8"},
            {"received_at": "2025-03-13 08:47 CST", "form_name": "Trade show sign-up", "email": "wang.da@example.com",
             "reason": "could not be processed: industry: 'Mining' is not one of the choices",
             "submission": "Bn4Gh8Kr2SeTy6WcLx0MaPq5"},
        ],
    },
    "backup_failed": {
        "recipient_name": "系統管理員",
        "failed_at": "2025-03-14 02:00 CST",
        "folder": "/srv/leadline/var/backups",
        "error": "[Errno 28] No space left on device",
        "newest": "leadline-20250313T180002Z.tar.gz",
    },
    "scheduled_report": {
        "recipient_name": "張經理",
        "report_name": "Pipeline by stage",
        "report_slug": "pipeline",
        "report_query": "as_of=2025-03-14",
        "period": "2025-03-01 – 2025-03-14",
        "columns": ["Stage", "Opportunities", "Amount"],
        "rows": [
            ["Qualification", "8", "NT$2,400,000"],
            ["Proposal or Price Quote", "5", "NT$8,250,000"],
            ["Negotiation or Review", "2", "NT$3,100,000"],
        ],
        "total_rows": 3,
        "charts": [{"cid": "pipeline-chart@leadline", "title": "Amount by stage"}],
        "csv_filename": "pipeline-2025-03-14.csv",
    },
    "sales_document": {
        "recipient_name": "陳志明",
        "kind": "quote",
        "document_number": "QUO208",
        "document_subject": "2025 年度耗材 Q2 報價",
        "account_name": "宏達精密工業股份有限公司",
        "amount": "NT$262,500",
        "due": "2025-04-30",
        "pdf_filename": "QUO208.pdf",
        "sender_name": "林怡君",
        "company_phone": "02-2345-6789 分機 210",
        "company_email": "service@goodfortune.com.tw",
        "company_address": "106 台北市大安區敦化南路二段 99 號 8 樓",
    },
}


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """Return a small solid-colour PNG, enough to stand in for a chart."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(row * height)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def _report_csv(sample: dict[str, Any]) -> bytes:
    lines = [",".join(sample["columns"])] + [",".join(f'"{cell}"' for cell in row) for row in sample["rows"]]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8-sig")  # BOM so Excel reads UTF-8


SAMPLE_ATTACHMENTS: dict[str, tuple[Attachment, ...]] = {
    "sales_document": (Attachment("QUO208.pdf", "application/pdf", b"%PDF-1.7\nQUO208\n%%EOF\n"),),
    "scheduled_report": (
        Attachment("pipeline-chart.png", "image/png", _png(8, 4, (31, 95, 153)), "pipeline-chart@leadline"),
        Attachment(
            SAMPLES["scheduled_report"]["csv_filename"],
            "text/csv; charset=utf-8",
            _report_csv(SAMPLES["scheduled_report"]),
        ),
    ),
}
