"""The `playbooks` section of the configuration file: what each sales stage asks of its owner.

In the file, per sales process and stage: `guidance` (the "what to do now" text by language), `tasks`
(each a `subject` by language, `offset_days` in working days after entering the stage, an optional
`priority` from the task priority picklist) and `active`. Only the `stage_playbooks` table is read and
written here; firing them is `crm_store.pipeline`'s. A file's playbooks replace the store's: a stage the
file leaves out loses its playbook (and fires nothing).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store import languages
from crm_store.models import SalesProcess, SalesStage, StagePlaybook
from crm_store.settings.config_checks import Checker, Path, by_name, set_changed

PLAYBOOK_KEYS = ("guidance", "tasks", "active")
TASK_KEYS = ("subject", "offset_days", "priority")
MAX_OFFSET_DAYS = 365
MAX_TASKS = 20
MAX_SUBJECT = 255  # activities.subject
MAX_GUIDANCE = 2000


def read_playbooks(session: Session) -> dict[str, dict[str, Any]]:
    """The playbooks by process name, then stage name in stage order."""
    rows = session.execute(
        select(SalesProcess.name, SalesStage.name.label("stage"), StagePlaybook)
        .join(SalesStage, SalesStage.sales_process_id == SalesProcess.id)
        .join(StagePlaybook, StagePlaybook.stage_id == SalesStage.id).order_by(SalesStage.position)
    )
    found: dict[str, dict[str, Any]] = {}
    for process, stage, playbook in rows:
        found.setdefault(process, {})[stage] = {
            "guidance": _ordered(playbook.guidance),
            "tasks": [_task(_ordered(t.get("subject")), t.get("offset_days"), t.get("priority"))
                      for t in playbook.tasks],
            "active": playbook.active,
        }
    return by_name(found)


def _ordered(texts: Any) -> dict[str, str]:
    """Texts by language in the languages' order, trimmed, the empty ones left out (a bare text is English)."""
    if isinstance(texts, str):
        texts = {languages.SOURCE: texts}
    texts = texts if isinstance(texts, dict) else {}
    return {code: str(texts[code]).strip() for code in languages.CODES if str(texts.get(code) or "").strip()}


def _task(subject: dict[str, str], offset_days: Any, priority: Any) -> dict[str, Any]:
    return {"subject": subject, "offset_days": offset_days, **({"priority": priority} if priority else {})}


def check_playbooks(c: Checker, raw: Any, at: Path) -> dict[str, dict[str, Any]] | None:
    """The playbooks of a file, for stages that exist, in stage order."""
    processes = c.named(raw, at, "sales process names to their stages' playbooks")
    if processes is None:
        return None
    before = len(c.problems)
    out: dict[str, dict[str, Any]] = {}
    for process, raw_stages in processes.items():
        stages = c.process(process, (*at, process))
        named = c.named(raw_stages, (*at, process), "stage names to {guidance, tasks, active}")
        if stages is None or named is None:
            continue
        checked = {}
        for name, raw_playbook in named.items():
            if c.stage(stages, name, (*at, process, name)) is not None:
                checked[name] = _playbook(c, raw_playbook, (*at, process, name))
        out[process] = {name: checked[name] for name in stages if name in checked}  # in stage order
    return by_name({process: out[process] for process in out if out[process]}) if len(c.problems) == before else None


def _playbook(c: Checker, raw: Any, at: Path) -> dict[str, Any] | None:
    body = c.mapping(raw, at, PLAYBOOK_KEYS)
    if body is None:
        return None
    guidance = _texts(c, body.get("guidance"), (*at, "guidance"), MAX_GUIDANCE, one_line=False)
    if guidance and languages.SOURCE not in guidance:
        c.problem((*at, "guidance"), "needs the English text (the other languages fall back to it)")
    tasks = c.listed(body.get("tasks"), (*at, "tasks"), "tasks ({subject, offset_days, priority})") or []
    if len(tasks) > MAX_TASKS:
        c.problem((*at, "tasks"), f"must hold at most {MAX_TASKS} tasks (got {len(tasks)})")
    checked = [_checked_task(c, task, (*at, "tasks", i)) for i, task in enumerate(tasks)]
    active = c.flag(body.get("active", True), (*at, "active"))
    return {"guidance": guidance or {}, "tasks": checked, "active": active}


def _checked_task(c: Checker, raw: Any, at: Path) -> dict[str, Any] | None:
    body = c.mapping(raw, at, TASK_KEYS, required=("subject", "offset_days"))
    if body is None:
        return None
    subject = _texts(c, body.get("subject"), (*at, "subject"), MAX_SUBJECT, one_line=True)
    if subject is not None and languages.SOURCE not in subject:
        c.problem((*at, "subject"), "needs a subject in English (the other languages fall back to it)")
    offset = None
    if "offset_days" in body:
        offset = c.whole(body["offset_days"], (*at, "offset_days"), 0, MAX_OFFSET_DAYS)
    priority = body.get("priority")
    if priority is not None and priority not in c.priorities:
        c.problem((*at, "priority"),
                  f"{priority!r} is not a value of the task_priority picklist ({', '.join(c.priorities)})")
    return _task(subject or {}, offset, priority)


def _texts(c: Checker, raw: Any, at: Path, limit: int, *, one_line: bool) -> dict[str, str] | None:
    """Text by language code; a bare text is English."""
    body = c.mapping({languages.SOURCE: raw} if isinstance(raw, str) else raw if raw is not None else {}, at,
                     languages.CODES)
    if body is None:
        return None
    texts = {code: c.text(body[code], (*at, code), limit, one_line=one_line, required=False) for code in body}
    if any(text is None for text in texts.values()) or body.keys() - set(languages.CODES):
        return None  # the problem is noted
    return {code: text for code in languages.CODES if (text := texts.get(code))}


def playbook_entries(playbooks: dict[str, dict[str, Any]]) -> dict[Hashable, Any]:
    """Each (process, stage)'s playbook: what an import compares."""
    return {(process, stage): playbook for process, stages in playbooks.items() for stage, playbook in stages.items()}


def write_playbooks(session: Session, wanted: dict[str, dict[str, Any]]) -> None:
    """Make the playbooks those of the file: a stage it leaves out loses its playbook."""
    stage_ids: dict[Hashable, int] = {(r.process, r.stage): r.id for r in session.execute(
        select(SalesProcess.name.label("process"), SalesStage.name.label("stage"), SalesStage.id)
        .join(SalesStage, SalesStage.sales_process_id == SalesProcess.id))}
    existing = {p.stage_id: p for p in session.scalars(select(StagePlaybook))}
    keep = {stage_ids[key] for key in playbook_entries(wanted)}
    for stage_id in existing.keys() - keep:
        session.delete(existing.pop(stage_id))
    for key, playbook in playbook_entries(wanted).items():
        row = existing.get(stage_ids[key]) or StagePlaybook(stage_id=stage_ids[key])
        set_changed(row, guidance=dict(playbook["guidance"]), active=playbook["active"],
                    tasks=[{**task, "subject": dict(task["subject"])} for task in playbook["tasks"]])
        session.add(row)
    session.flush()
