"""The account page's Transactions tab (`/accounts/ACC1/transactions`), read from `crm_store.sales`."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store import links
from crm_store.models import Account, User
from crm_store.records import registry
from crm_store.sales import purchases
from crm_store.sales.transactions import KINDS, account_transactions
from crm_store.staff import scope as scoping

from ...state import state
from ..access import login_required, signed_in_user

bp = Blueprint("transactions", __name__, template_folder="templates")


@bp.get(links.ROUTES["account_transactions"])
@login_required
def account_transactions_tab(number: str) -> ResponseReturnValue:
    """What the customer was offered, ordered, billed and paid, newest first; what it owes; what it bought."""
    user = signed_in_user()
    with state().readers() as db:
        account = scoping.fetch_by_number(db, user, "accounts", number)
        if account is None:
            abort(404)
        scope = scoping.scope_of(db, user)
        shown = account_transactions(db, account)
        context = {
            "account": account, "transactions": shown, "bought": purchases.account_purchases(db, account),
            "owed": purchases.owed(db, account), "pages": _document_pages(db, account, scope),
            "owner_name": db.scalar(select(User.name).where(User.id == account.owner_id)),
        }
    return render_template("staff/transactions/transactions.html", **context)


def _document_pages(db: Session, account: Account, scope: scoping.Scope) -> dict[str, str]:
    """number -> page, for the account's documents the user may open (the rest are listed, not linked)."""
    pages: dict[str, str] = {}
    for module in KINDS:
        spec = registry.get(module)
        number = getattr(spec.model, spec.number_field)
        stmt = select(number).where(spec.model.account_id == account.id, spec.model.deleted_at.is_(None),
                                    scoping.condition(scope, module))
        pages |= {n: links.path("sales_document", module=spec.path, number=n) for n in db.scalars(stmt)}
    return pages
