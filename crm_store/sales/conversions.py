"""Quote → sales order, quote → invoice, sales order → invoice: the header and lines copied, the documents linked.

The copy keeps what the source was saved with — prices, discounts, the taxes' rates, the currency's rate, the
tax setting — so its totals are the source's, to the cent. Converting a quote marks it Accepted.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from crm_store.actor import SYSTEM, Actor
from crm_store.errors import ValidationError
from crm_store.languages import N_
from crm_store.models import Quote, SalesOrder, utcnow
from crm_store.records import audit, registry
from crm_store.sales import documents, headers, line_items
from crm_store.sales.headers import ADDRESS
from crm_store.settings import company

TARGETS = {"quotes": ("sales_orders", "invoices"), "sales_orders": ("invoices",)}
COPIED = ("subject", "account_id", "contact_id", "opportunity_id", "owner_id", "description", "currency_id",
          "conversion_rate", "price_book_id", "tax_mode", "prices_include_tax", "terms", "discount_percent",
          "discount_amount", "shipping_amount", "adjustment", *ADDRESS)
ACCEPTED = "Accepted"


def convert(session: Session, source: Any, to: str, actor: Actor = SYSTEM) -> documents.Saved:
    """Make a sales order or an invoice (`to`: sales_orders or invoices) from a quote or a sales order."""
    module = documents.module_of(source)
    if to not in TARGETS.get(module, ()):
        raise ValidationError("to", N_("%(source)s converts to %(targets)s"), source=module,
                              targets=" or ".join(TARGETS.get(module, ())) or "nothing")
    if source.deleted_at is not None:
        raise ValidationError("id", N_("the record is in the recycle bin"))
    link = registry.get(module).link_column or ""
    header = {name: getattr(source, name) for name in COPIED} | {"status": "Created", **_links(source, to)}
    if to == "invoices":
        header["invoice_date"] = dt.datetime.now(company.zone(session)).date()
    for name in ("carrier", "due_date", "purchase_order", "customer_no"):
        if hasattr(source, name) and name in registry.get(to).model.__table__.columns:
            header[name] = getattr(source, name)
    draft = documents.Draft(line_items.stored(session, link, source.id), line_items.rates_of(source.taxes)
                            if source.tax_mode == "group" else (), line_items.rates_of(source.shipping_taxes))
    adjustment = header.pop("adjustment")  # signed: the only amount that may be negative
    clean = headers.clean(session, to, {k: v for k, v in header.items() if v is not None}, partial=False)
    clean["adjustment"] = adjustment
    saved = documents.save_new(session, to, clean, draft, actor)
    if isinstance(source, Quote) and source.status != ACCEPTED:
        _accept(session, source, actor)
    return saved


def _links(source: Any, to: str) -> dict[str, Any]:
    """What the new document points at: its quote and (an invoice) its sales order."""
    if isinstance(source, Quote):
        return {"quote_id": source.id}
    if isinstance(source, SalesOrder):
        return {"sales_order_id": source.id, "quote_id": source.quote_id}
    return {}


def _accept(session: Session, quote: Quote, actor: Actor) -> None:
    """Mark a converted quote Accepted, audited."""
    before = quote.status
    quote.status, quote.updated_at = ACCEPTED, utcnow()
    audit.log(session, "update", "quotes", quote.id, actor, record_no=quote.quote_no,
              changes={"status": [before, ACCEPTED]})
    session.flush()
