"""The account page's Transactions tab (`/accounts/ACC1/transactions`), read from `crm_store.sales`."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store import links
from crm_store.models import Payment, User
from crm_store.records import registry
from crm_store.sales import purchases
from crm_store.sales.transactions import KINDS
from crm_store.staff import scope as scoping

from ...state import state
from ..access import login_required, signed_in_user

bp = Blueprint("transactions", __name__, template_folder="templates")


@bp.get(links.ROUTES["account_transactions"])
@login_required
def account_transactions_tab(number: str) -> ResponseReturnValue:
    """What the customer was offered, ordered, billed and paid, a page of the newest first (`?page=2` the next
    older ones; a page past the last shows the last); what it owes; what it bought."""
    user = signed_in_user()
    with state().readers() as db:
        account = scoping.fetch_by_number(db, user, "accounts", number)
        if account is None:
            abort(404)
        scope = scoping.scope_of(db, user)
        shown = purchases.transactions_page(db, account, _page_number(request.args.get("page")))
        context = {
            "account": account, "page": shown, "transactions": shown.transactions,
            "bought": purchases.top_purchases(db, account), "owed": purchases.owed(db, account),
            "pages": _document_pages(db, scope, shown.ids),
            "owner_name": db.scalar(select(User.name).where(User.id == account.owner_id)),
            "page_path": lambda n: links.path("account_transactions", number=account.account_no)
            + ("" if n == 1 else f"?page={n}"),
        }
    return render_template("staff/transactions/transactions.html", **context)


def _page_number(raw: str | None) -> int:
    """The asked page: a whole number from 1; anything else is the first page."""
    return int(raw) if raw and raw.isdigit() and 0 < int(raw) < 100_000 else 1


def _document_pages(db: Session, scope: scoping.Scope, ids: dict[str, list[int]]) -> dict[str, str]:
    """number -> page, for the page's documents (`ids`: kind -> ids) the user may open (the rest are listed, not
    linked; a payment links to its invoice, when that is on the page or not)."""
    pages: dict[str, str] = {}
    for module, kind in KINDS.items():
        if not ids.get(kind) and not (kind == "invoice" and ids.get("payment")):
            continue
        spec = registry.get(module)
        number = getattr(spec.model, spec.number_field)
        chosen = spec.model.id.in_(ids.get(kind, []))
        if kind == "invoice" and ids.get("payment"):
            chosen = chosen | spec.model.id.in_(select(Payment.invoice_id).where(Payment.id.in_(ids["payment"])))
        stmt = select(number).where(chosen, spec.model.deleted_at.is_(None), scoping.condition(scope, module))
        pages |= {n: links.path("sales_document", module=spec.path, number=n) for n in db.scalars(stmt)}
    return pages
