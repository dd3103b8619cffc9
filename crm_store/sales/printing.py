"""A quote, sales order or invoice as a printable page: a plain view of it rendered to HTML, and that HTML to PDF.

Pure: `render_html` takes a `PrintedDocument` (every amount and date already formatted, in its language, from
what the store saved — see `print_view`) and returns one self-contained HTML page (`templates/document.html`,
its labels translated through the catalogue); `write_pdf` lays that page out as A4 with WeasyPrint. The CSS
names Debian's Noto CJK fonts (`fonts-noto-cjk`), so Traditional Chinese prints with real glyphs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import jinja2

from crm_store import languages

FORMATS = ("html", "pdf")
TITLES = {"quotes": languages.N_("Quote"), "sales_orders": languages.N_("Sales order"),
          "invoices": languages.N_("Invoice")}


@dataclass(frozen=True)
class Letterhead:
    """The seller, from the company settings; empty strings are left off the page."""

    name: str
    address: str = ""
    phone: str = ""
    email: str = ""
    tax_id: str = ""


@dataclass(frozen=True)
class Buyer:
    """The account the document is to, with its 統一編號, addresses (lines of text) and contact person."""

    name: str
    account_no: str
    tax_id: str = ""
    bill_to: tuple[str, ...] = ()
    ship_to: tuple[str, ...] = ()
    contact: str = ""


@dataclass(frozen=True)
class Fact:
    """A labelled value: a date or a reference in the header, a row of the totals."""

    label: str
    value: str


@dataclass(frozen=True)
class PrintedLine:
    """A line as printed: amounts formatted; `discount` and `tax` empty when there are none."""

    position: int
    description: str
    code: str
    comment: str
    quantity: str
    price: str
    discount: str
    tax: str
    total: str


@dataclass(frozen=True)
class PrintedDocument:
    """Everything a printed document shows, already worded and formatted in `language`."""

    language: str
    kind: str  # quotes, sales_orders or invoices
    number: str
    subject: str
    letterhead: Letterhead
    buyer: Buyer
    facts: tuple[Fact, ...]  # dates and references, in the header
    lines: tuple[PrintedLine, ...]
    totals: tuple[Fact, ...]  # subtotal … grand total, in the order they are computed
    grand_total: Fact
    after_total: tuple[Fact, ...] = ()  # an invoice's received and balance due
    tax_summary: tuple[Fact, ...] = ()  # the taxes inside the amounts, for the reader
    prices_include_tax: bool = False
    terms: str = ""

    @property
    def title(self) -> str:
        """The document's kind in its language: Quote, 報價單."""
        return languages.translate(self.language, TITLES[self.kind])

    @property
    def shows_discount(self) -> bool:
        """Whether any line has a discount (else the column is left out)."""
        return any(line.discount for line in self.lines)

    @property
    def shows_tax(self) -> bool:
        """Whether any line carries its own tax (individual tax mode)."""
        return any(line.tax for line in self.lines)


def render_html(view: PrintedDocument) -> str:
    """Return the document as one self-contained HTML page in its language."""
    language = languages.get(view.language)
    return _environment(language.code).get_template("document.html").render(
        doc=view, page_tag=language.page_tag)


def write_pdf(html: str) -> bytes:
    """Lay out a printed document's HTML as an A4 PDF."""
    from weasyprint import HTML  # type: ignore[import-untyped]  # imported when used: it loads Pango

    return bytes(HTML(string=html).write_pdf())


def file_name(view: PrintedDocument, output_format: str) -> str:
    """The file a document is printed or sent as: QUO12.pdf."""
    return f"{view.number}.{output_format}"


@cache
def _environment(code: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("crm_store.sales", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(languages.translations(code), newstyle=True)  # type: ignore[attr-defined]
    return env
