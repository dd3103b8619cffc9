"""Products and services: added and changed with their tax classes, specifications and image; found and listed.

A product is a registry record — numbering (PRO1), validation, the audit trail, search and the recycle bin come
from `records.lifecycle`. This module adds what the registry does not know: a code unique whatever its case
(lines find products by code), a service that has no stock, the currency by its code, the specifications as
ordered name/value pairs, the tax classes, and an image stored as a document (an image, by its bytes). Stock
changes only through `stock.adjust_stock` and invoices, which record why.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Select, delete, func, or_, select
from sqlalchemy.orm import Session

from crm_store.actor import SYSTEM, Actor
from crm_store.errors import ValidationError
from crm_store.languages import N_
from crm_store.models import AuditEntry, Document, Product, ProductTax, Tax
from crm_store.records import audit, documents, lifecycle, registry
from crm_store.records.lines import one_line
from crm_store.sales import headers
from crm_store.sales.line_items import decimal_value

PRODUCT_TYPES = ("product", "service")
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
PLACES = {"unit_price": 4, "qty_in_stock": 3, "reorder_level": 3}  # what the columns keep exactly
STOCK_FIELDS = ("qty_in_stock", "reorder_level")
MAX_SPECIFICATIONS, SPEC_NAME_LIMIT, SPEC_VALUE_LIMIT = 100, 100, 500


def create(session: Session, values: Mapping[str, Any], actor: Actor = SYSTEM, *, at: dt.datetime | None = None
           ) -> Product:
    """Check and add a product or service; `taxes` (names or ids), `currency` (a code), `specifications` too."""
    clean, taxes = _checked(session, dict(values), None)
    clean.setdefault("currency_id", headers.currency(session, None, None).id)
    product: Product = lifecycle.create(session, "products", clean, actor, at=at)
    if taxes:
        session.add_all(ProductTax(product_id=product.id, tax_id=t.tax_id) for t in taxes)
        session.flush()
        created = session.scalars(audit.history("products", product.id).where(AuditEntry.action == "create")).one()
        created.changes = {**created.changes, "taxes": [None, [t.name for t in taxes]]}  # one entry for the create
    return product


def update(session: Session, product: Product, values: Mapping[str, Any], actor: Actor = SYSTEM) -> Product:
    """Check and apply changes; `taxes` given replace the tax classes. Stock changes with `stock.adjust_stock`."""
    if product.deleted_at is not None:
        raise ValidationError("id", N_("the record is in the recycle bin"))
    if "qty_in_stock" in values:
        raise ValidationError("qty_in_stock", N_("changes with an adjustment, which records its reason"))
    clean, taxes = _checked(session, dict(values), product)
    lifecycle.update(session, product, clean, actor)
    if taxes is not None:
        _replace_taxes(session, product, taxes, actor)
    return product


def set_image(
    session: Session, data_dir: Path, product: Product, source: bytes | Path, *, filename: str, actor: Actor = SYSTEM,
) -> Document:
    """Store an image (PNG, JPEG, GIF or WebP, told by its bytes) as the product's document and show it as its image."""
    content = documents.read_content(source, filename)
    kind = documents.sniff_content_type(content)
    if kind not in IMAGE_TYPES:
        raise ValidationError("image", N_("%(file)s is not a PNG, JPEG, GIF or WebP image (its bytes show %(type)s)"),
                              file=documents.sanitize_filename(filename), type=kind)
    document = documents.add_document(session, data_dir, product, content, filename=filename, actor=actor)
    before = product.image_document_id
    shown = session.scalar(select(Document.document_no).where(Document.id == before)) if before else None
    product.image_document_id = document.id
    audit.log(session, "update", "products", product.id, actor, record_no=product.product_no,
              changes={"image_document_id": [before, document.id], "image": [shown, document.document_no]})
    session.flush()
    return document


def find(session: Session, text: str) -> Product:
    """The live product numbered (PRO12) or coded (WID-1, in any case) `text`."""
    text = text.strip()
    live = select(Product).where(Product.deleted_at.is_(None))
    spec = registry.by_number(text)
    found = None
    if spec is not None and spec.name == "products":
        found = session.scalar(live.where(Product.product_no == text.upper()))
    if found is None and text:
        found = session.scalar(live.where(func.lower(Product.product_code) == text.lower()).order_by(Product.id))
    if found is None:
        raise ValidationError("product", N_("no product %(product)s"), product=repr(text))
    return found


def listed(
    *, category: str | None = None, active: bool | None = None, search: str | None = None,
    product_type: str | None = None, limit: int = 50,
) -> Select[Product]:
    """Select live products by name, narrowed by category, active, type and a term in the name, code or number."""
    stmt = select(Product).where(Product.deleted_at.is_(None)).order_by(Product.name, Product.id).limit(limit)
    if category is not None:
        stmt = stmt.where(Product.category == category)
    if active is not None:
        stmt = stmt.where(Product.active.is_(active))
    if product_type is not None:
        stmt = stmt.where(Product.product_type == product_type)
    term = (search or "").strip().lower()
    if term:
        stmt = stmt.where(or_(*(func.lower(column).contains(term, autoescape=True)
                                for column in (Product.name, Product.product_code, Product.product_no))))
    return stmt


def tax_classes(session: Session, product: Product) -> list[Tax]:
    """A product's taxes, in the taxes' order (inactive ones included: they are kept, and charge nothing)."""
    stmt = (select(Tax).join(ProductTax, ProductTax.tax_id == Tax.id).where(ProductTax.product_id == product.id)
            .order_by(Tax.position, Tax.id))
    return list(session.scalars(stmt))


def _checked(session: Session, values: dict[str, Any], product: Product | None) -> tuple[dict[str, Any], Any]:
    """The product's values checked as far as the registry does not (it checks the rest), and its taxes."""
    taxes = values.pop("taxes", None)
    chosen = None if taxes is None and product is not None else _taxes(session, taxes)
    if "currency" in values:
        values["currency_id"] = headers.currency(session, values.pop("currency") or None, None).id
    for name, places in PLACES.items():
        if name in values:
            values[name] = decimal_value(name, values[name], places)
    if "specifications" in values:
        values["specifications"] = specifications(values["specifications"])
    if "product_type" in values:
        values["product_type"] = _product_type(values["product_type"])
    if "product_code" in values and values["product_code"] is not None:
        values["product_code"] = _code(session, values["product_code"], product)
    _services_have_no_stock(values, product)
    return values, chosen


def specifications(raw: Any) -> list[dict[str, str]]:
    """Name/value pairs in the order given, from pairs, {"name", "value"} mappings or one mapping; names once."""
    if raw is None:
        return []
    pairs = list(raw.items()) if isinstance(raw, Mapping) else raw
    if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Sequence):
        raise ValidationError("specifications", N_("must be a list of names with values"))
    if len(pairs) > MAX_SPECIFICATIONS:
        raise ValidationError("specifications", N_("at most %(limit)s specifications"), limit=MAX_SPECIFICATIONS)
    out: list[dict[str, str]] = []
    for pair in pairs:
        name, value = _pair(pair)
        if any(s["name"].lower() == name.lower() for s in out):
            raise ValidationError("specifications", N_("%(name)s is given twice"), name=repr(name))
        out.append({"name": name, "value": value})
    return out


def _pair(pair: Any) -> tuple[str, str]:
    if isinstance(pair, Mapping):
        pair = (pair.get("name"), pair.get("value"))
    if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
        raise ValidationError("specifications", N_("each must be a name with a value"))
    name, value = (str(x).strip() if x is not None else "" for x in pair)
    if not name:
        raise ValidationError("specifications", N_("each needs a name"))
    for text, limit in ((name, SPEC_NAME_LIMIT), (value, SPEC_VALUE_LIMIT)):
        one_line("specifications", text)
        if len(text) > limit:
            raise ValidationError("specifications", N_("%(text)s is longer than %(limit)s characters"),
                                  text=repr(text[:20] + "…"), limit=limit)
    return name, value


def _taxes(session: Session, raw: Any) -> Any:
    """The tax classes named (by name or id): none for nothing, never every tax."""
    if raw is None or (isinstance(raw, Sequence) and not isinstance(raw, str) and not raw):
        return ()
    return headers.chosen_taxes(session, raw)


def _replace_taxes(session: Session, product: Product, taxes: Any, actor: Actor) -> None:
    before = [t.name for t in tax_classes(session, product)]
    after = [t.name for t in taxes]
    if before == after:
        return
    session.execute(delete(ProductTax).where(ProductTax.product_id == product.id))
    session.add_all(ProductTax(product_id=product.id, tax_id=t.tax_id) for t in taxes)
    audit.log(session, "update", "products", product.id, actor, record_no=product.product_no,
              changes={"taxes": [before, after]})
    session.flush()


def _product_type(raw: Any) -> str:
    kind = str(raw or "").strip().lower()
    if kind not in PRODUCT_TYPES:
        raise ValidationError("product_type", N_("must be product or service"))
    return kind


def _code(session: Session, raw: Any, product: Product | None) -> str | None:
    """A product code no other product has, whatever the case (lines find products by code)."""
    code = str(raw).strip()
    if not code:
        return None
    stmt = select(Product.product_no).where(func.lower(Product.product_code) == code.lower())
    if product is not None:
        stmt = stmt.where(Product.id != product.id)
    taken = session.scalar(stmt.limit(1))
    if taken is not None:
        raise ValidationError("product_code", N_("%(code)s is already the code of %(product)s"), code=repr(code),
                              product=taken)
    return code


def _services_have_no_stock(values: dict[str, Any], product: Product | None) -> None:
    kind = values.get("product_type") or (product.product_type if product is not None else "product")
    if kind != "service":
        return
    for name in STOCK_FIELDS:
        if values.get(name) is not None:
            raise ValidationError(name, N_("a service has no stock"))
    if product is not None and product.product_type != "service":
        if product.qty_in_stock:
            raise ValidationError("product_type", N_("%(product)s has stock: adjust it to zero first"),
                                  product=product.product_no)
        values |= {"qty_in_stock": None, "reorder_level": None}
