"""The pipeline board (`/board`): a sales process's stages as columns of deal cards, a column's "more", and
moving a card to a stage through the store's stage change — the record page's own (`actions.change_stage`).

board.js asks with `X-Requested-With: fetch`: "more" answers the cards alone, a move 204 (or 422 with the
message as JSON) and the page reloads; without script the same routes answer pages and redirects. A card's
Move to… menu is one <template> per board that board.js fills in; without script it is a link to the move's
own page (GET of the move's address: the stages as buttons, and the lost reason's form).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import cache
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext, ngettext
from sqlalchemy.orm import Session

from crm_store import languages, links
from crm_store.errors import NotFound, ValidationError
from crm_store.models import utcnow
from crm_store.settings import picklists
from crm_store.staff import actions
from crm_store.staff import board as boards
from crm_store.staff import scope as scoping

from ...state import page_language, state
from ..access import login_required, safe_next, signed_in_user
from ..forms import place_error, store_message
from ..page import choice, day, number
from ..records import pickers
from ..records.changes import LOST_NEEDS_REASON, STAGE_CHANGED
from ..records.routes import visible, write
from .forms import MoveForm, filter_values

bp = Blueprint("board", __name__, template_folder="templates")
FETCH = "fetch"  # board.js's X-Requested-With
KEPT = ("process", "owner", "team")  # the board's query a column's "more" keeps


def fetched() -> bool:
    """Whether board.js asked (it wants a fragment or a status, not a page)."""
    return request.headers.get("X-Requested-With") == FETCH


def money(amount: Decimal | None, currency: str, minor_unit: int) -> str:
    """An amount with its currency's symbol and decimals, the page's way: NT$1,250,000."""
    return "" if amount is None else languages.format_money(amount, currency, minor_unit, page_language())


def _today() -> dt.date:
    """The user's day (an earlier expected close date is overdue)."""
    return utcnow().astimezone(g.get("zone") or dt.UTC).date()


def _filters(args: Any, user_id: int) -> tuple[int | None, boards.BoardFilter]:
    wanted = filter_values(args, user_id)
    return wanted["process"], boards.BoardFilter(wanted["owner"], wanted["team"])


def in_stage(days: int) -> str:
    """How long a deal has been in its stage: "12 days in stage"."""
    return ngettext("%(count)s day in stage", "%(count)s days in stage", days, count=number(days))


def _shared() -> dict[str, Any]:
    """What the column and card templates need besides their column. A card's amount, dates and days in stage
    are each formatted once a page: a board's 500 cards repeat them, and formatting was most of its time."""
    return {"money": cache(money), "on_day": cache(day), "in_stage": cache(in_stage), "today": _today(),
            "closed_days": boards.CLOSED_DAYS}


def _kept(args: Any) -> str:
    """The query of the filters a column's "more" keeps."""
    return urlencode({key: args[key] for key in KEPT if args.get(key)})


def _lost_form(db: Session, data: dict[str, Any] | None = None) -> MoveForm:
    """The lost-reason form (the board's dialog, or its own page), with the company's lost reasons."""
    form = MoveForm(formdata=None, data=data) if data is not None else MoveForm(formdata=None)
    form.lost_reason.choices = [("", "—"), *((v, choice(v)) for v in picklists.values(db, "lost_reason"))]
    return form


@bp.get(links.ROUTES["board"])
@login_required
def board() -> ResponseReturnValue:
    """A process's board (the default one), narrowed by owner and team within the user's scope."""
    user = signed_in_user()
    process_id, filters = _filters(request.args, user.id)
    with state().readers() as db:
        scope = scoping.scope_of(db, user)
        try:
            shown = boards.board(db, user, process_id, filters, scope=scope)
        except NotFound:
            abort(404)
        owners = pickers.owners(db, user, scope)
        context = {"processes": boards.processes(db), "owners": owners,
                   "teams": boards.teams_in_scope(db, scope) if len(owners) > 1 else [],
                   "lost_form": _lost_form(db)}
    stages = [c.stage for c in shown.columns]
    return render_template("staff/board/board.html", board=shown, stages=stages, args=request.args,
                           kept=_kept(request.args), here=request.full_path.rstrip("?"), **_shared(), **context)


@bp.get(links.ROUTES["board_column"])
@login_required
def board_column(stage_id: str) -> ResponseReturnValue:
    """A column's next cards after `?after=` (board.js: the cards alone; else a page of that column)."""
    user = signed_in_user()
    if not stage_id.isdigit():
        abort(404)
    _process, filters = _filters(request.args, user.id)
    back = links.path("board") + (f"?{_kept(request.args)}" if _kept(request.args) else "")
    with state().readers() as db:
        try:
            shown = boards.column(db, user, int(stage_id), filters, after=request.args.get("after"))
        except NotFound:
            abort(404)
        except ValidationError:
            if fetched():
                abort(400)
            return redirect(back, code=303)
    if fetched():  # the cards join the board's column: their menus return to the board
        return render_template("staff/board/_cards.html", column=shown, kept=_kept(request.args), here=back,
                               **_shared())
    return render_template("staff/board/column.html", column=shown, kept=_kept(request.args),
                           here=request.full_path.rstrip("?"), back=back, **_shared())


@bp.get(links.ROUTES["board_move"])
@login_required
def board_move_page(number: str) -> ResponseReturnValue:
    """A deal's Move to… as a page (a card's menu without script): its process's other stages, lost with its reason."""
    user = signed_in_user()
    back = safe_next(request.args.get("next")) or links.path("board")
    with state().readers() as db:
        deal = visible(db, user, "opportunities", number)
        number, name, current_id = deal.opportunity_no, deal.name, deal.stage_id
        stages = boards.stages_of(db, deal.sales_process_id)
        lost = next((s for s in stages if s.is_lost and s.id != current_id), None)
        lost_form = _lost_form(db, {"stage": str(lost.id), "next": back} if lost else None)
    current = next(s for s in stages if s.id == current_id)
    choices = [s for s in stages if s.id != current_id and s != lost]
    return render_template("staff/board/move.html", number=number, name=name, current=current, choices=choices,
                           lost=lost, lost_form=lost_form, back=back)


@bp.post(links.ROUTES["board_move"])
@login_required
def board_move(number: str) -> ResponseReturnValue:
    """Move a deal the user may see to a stage of its process; a lost stage asks for the lost reason."""
    user = signed_in_user()
    form = MoveForm()
    with state().readers() as db:
        deal = visible(db, user, "opportunities", number)
        record_id, number, name = deal.id, deal.opportunity_no, deal.name
        stages = {s.id: s for s in boards.stages_of(db, deal.sales_process_id)}
        form.lost_reason.choices = _lost_form(db).lost_reason.choices
    target = stages.get(form.stage_id() or 0)
    if not form.validate_on_submit() or target is None:
        abort(400)
    back = safe_next(form.next.data) or links.path("board")
    reason = (form.lost_reason.data or "").strip()
    if target.is_lost and not reason:
        if fetched():
            return jsonify(message=gettext(LOST_NEEDS_REASON), lost=True), 422
        form.lost_reason.errors = [gettext(LOST_NEEDS_REASON)]
        return _lost_page(form, number, name, target, back)
    try:
        write(lambda db: actions.change_stage(db, user, record_id, target.id, lost_reason=reason or None,
                                              lost_reason_detail=form.lost_reason_detail.data))
    except ValidationError as exc:
        if fetched():
            return jsonify(message=store_message(exc)), 422
        if target.is_lost:
            place_error(form, exc)
            return _lost_page(form, number, name, target, back)
        flash(store_message(exc), "error")
        return redirect(back, code=303)
    flash(gettext(STAGE_CHANGED, number=number, stage=choice(target.name)), "success")
    if fetched():
        return "", 204
    return redirect(back, code=303)


def _lost_page(form: MoveForm, number: str, name: str, stage: boards.Stage, back: str) -> ResponseReturnValue:
    """The lost reason's own page (without script, a lost stage's button leads here), with its error."""
    return render_template("staff/board/lost.html", form=form, number=number, name=name, stage=stage,
                           back=back), 422
