"""`crm print` and `crm send`: a sales document as a printable page and a PDF (read back with pdftotext), and emailed
through the outbox to a real SMTP server (aiosmtpd on loopback), with the email activity it logs."""

from __future__ import annotations

import email
import email.policy
import subprocess
import tomllib
from collections.abc import Callable
from decimal import Decimal as D
from html.parser import HTMLParser
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.cli import _declared, main
from crm_store.models import Activity, Contact, Document, DocumentLink, Invoice, OutboxMessage, Quote, User
from crm_store.records import lifecycle
from crm_store.settings import company
from tests.sales_support import Shop, count, make_shop
from tests.smtp_server import RecordingHandler, SmtpServer

Crm = Callable[..., Result]
PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
SELLER = {
    "company_name": "好運貿易股份有限公司 Good Fortune Trading",
    "company_address": "106 台北市大安區敦化南路二段 99 號 8 樓",
    "company_phone": "02-2345-6789",
    "company_email": "service@goodfortune.example",
    "company_tax_id": "24536806",
}
BUYER_TAX_ID = "12345675"
REP = "rep1@leadline.test"


@pytest.fixture(autouse=True)
def print_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands as pyproject.toml declares them, also where the installed package's metadata predates them."""
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["entry-points"]["leadline.cli"]
    for name in ("print", "send", "invoices", "quotes", "mail"):
        assert name in declared, f"pyproject.toml does not declare `crm {name}`"
        if name not in _declared():
            monkeypatch.setitem(main.commands, name, EntryPoint(name, declared[name], "leadline.cli").load())


@pytest.fixture
def shop(session: Session, crm: Crm, reps: list[User]) -> Shop:
    """The sales tests' shop, the seller's letterhead, the buyer's 統一編號 and a contact with an email address."""
    made = make_shop(session)
    for key, value in SELLER.items():
        company.set_value(session, key, value)
    made.account.tax_id = BUYER_TAX_ID
    lifecycle.create_contact(session, {"first_name": "大明", "last_name": "王",
                                       "email": "daming@taipei-trading.example", "account_id": made.account.id})
    session.commit()
    return made


def add_invoice(crm: Crm, *extra: str) -> None:
    """INV1: 3 widgets at 10 % off and 2 gadgets at NT$66 off, shipping NT$100 — NT$4,294 (see test_sales_cli)."""
    crm("invoices", "add", "--account", "台北貿易股份有限公司", "--subject", "Fit-out 裝修", "--contact", "CON1",
        "--line", "WID-1:3::10%", "--line", "GAD-2:2:333:66", "--shipping", "100", "--invoice-date", "2026-03-01",
        "--due-date", "2026-03-31", "--terms", "Net 30.\n匯款帳號：台灣銀行 012-345678", *extra)


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout


def one_line_error(result: Result) -> str:
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr.strip()


class Printed(HTMLParser):
    """The printed page read as a browser would: the lines' cells and the totals' rows, by their classes."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[list[str]]] = {}
        self.lang = ""
        self._table: str | None = None
        self._cell: list[str] | None = None
        self.feed(source)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "html":
            self.lang = values.get("lang") or ""
        elif tag == "table":
            self._table = values.get("class") or ""
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self.tables[self._table][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data + " ")


def test_a_printed_invoice_pdf_holds_the_buyer_its_tax_id_and_the_grand_total(
    crm: Crm, shop: Shop, tmp_path: Path,
) -> None:
    add_invoice(crm)
    out = tmp_path / "INV1.pdf"
    printed = crm("print", "INV1", "--output", str(out)).output
    assert printed.startswith(f"Printed INV1 to {out} (PDF, ")
    assert out.read_bytes().startswith(b"%PDF-")
    text = pdf_text(out)
    for shown in ("台北貿易股份有限公司", BUYER_TAX_ID, "NT$4,294", SELLER["company_tax_id"], "好運貿易股份有限公司",
                  "敦化南路二段", "Invoice", "INV1", "Widget 小工具", "王大明", "匯款帳號", "Balance due",
                  "not a government uniform invoice (統一發票)"):
        assert shown in text, shown
    fonts = subprocess.run(["pdffonts", str(out)], check=True, capture_output=True, text=True).stdout
    assert "Noto-Sans-CJK-TC" in fonts and "Noto-Serif-CJK-TC" in fonts  # Debian's fonts-noto-cjk, embedded

    chinese = tmp_path / "INV1-zh.pdf"
    crm("print", "inv1", "--format", "PDF", "--language", "zh-TW", "--output", str(chinese))
    text = pdf_text(chinese)
    for shown in ("請款單", "買受人", f"統一編號：{BUYER_TAX_ID}", "台北貿易股份有限公司", "$4,294", "未付餘額",
                  "本請款單為商業單據，並非政府統一發票。", "2026年3月31日"):
        assert shown in text, shown


def test_the_html_page_shows_the_lines_and_the_totals_the_store_saved(
    crm: Crm, session: Session, shop: Shop, tmp_path: Path,
) -> None:
    add_invoice(crm)
    out = tmp_path / "INV1.html"
    crm("print", "INV1", "--format", "html", "--output", str(out))
    printed = Printed(out.read_text(encoding="utf-8"))
    assert printed.lang == "en"
    lines = printed.tables["lines"]
    assert lines[0] == ["#", "Item", "Qty", "Unit price", "Discount", "Tax", "Amount"]
    assert lines[1] == ["1", "Widget 小工具 WID-1", "3", "NT$1,250", "−NT$375 (10%)", "NT$169", "NT$3,544"]
    assert lines[2] == ["2", "Gadget GAD-2", "2", "NT$333", "−NT$66", "NT$45", "NT$645"]
    invoice = session.scalars(select(Invoice)).one()
    assert (invoice.subtotal, invoice.grand_total) == (D(4189), D(4294))  # as the store saved them
    assert printed.tables["totals"] == [
        ["Subtotal", "NT$4,189"], ["Shipping and handling", "NT$100"], ["VAT 營業稅 5% on shipping", "NT$5"],
        ["Grand total", "NT$4,294"], ["Payments received", "NT$0"], ["Balance due", "NT$4,294"],
    ]
    assert printed.tables["facts"] == [["Customer", shop.account.account_no], ["Invoice date", "Mar 1, 2026"],
                                    ["Due date", "Mar 31, 2026"]]
    assert printed.tables["taxes"] == [  # the tax summary: inside the lines' amounts
        ["Amount before tax", "NT$4,075"], ["VAT 營業稅 5% on NT$3,975", "NT$199"], ["Local 2.5% on NT$600", "NT$15"],
        ["Tax in all", "NT$219"],
    ]


def test_a_group_tax_quote_with_tax_inclusive_prices_prints_its_taxes_as_held(
    crm: Crm, session: Session, shop: Shop, tmp_path: Path,
) -> None:
    company.set_value(session, "prices_include_tax", "on")
    session.commit()
    crm("quotes", "add", "--account", shop.account.account_no, "--subject", "含稅報價", "--line", "SVC-1:1:1050",
        "--tax-mode", "group", "--tax", "VAT 營業稅", "--discount", "50", "--valid-till", "2026-12-31")
    out = tmp_path / "QUO1.html"
    crm("print", "QUO1", "--format", "html", "--language", "zh_Hant", "--output", str(out))
    printed = Printed(out.read_text(encoding="utf-8"))
    quote = session.scalars(select(Quote)).one()
    assert (quote.grand_total, quote.tax_total) == (D(1000), D(48))  # 1,050 − 50; 5 % held in 1,000: 47.62 → 48
    assert printed.lang == "zh-Hant-TW"
    assert printed.tables["lines"][0] == ["#", "品項", "數量", "單價", "金額"]  # no discounts, no line taxes
    assert printed.tables["totals"] == [["小計", "$1,050"], ["折扣", "−$50"], ["VAT 營業稅 5%（內含）", "$48"],
                                     ["總計金額", "$1,000"]]
    assert ["有效期限", "2026年12月31日"] in printed.tables["facts"]
    assert "單價均為含稅價。" in out.read_text(encoding="utf-8")


def test_send_queues_the_pdf_to_the_contact_logs_the_email_and_delivers_it(
    crm: Crm, session: Session, shop: Shop, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    add_invoice(crm)
    said = crm("--as", REP, "send", "INV1").output
    assert said.startswith("Queued INV1.pdf to daming@taipei-trading.example (DOC1 kept on INV1)")
    invoice = session.scalars(select(Invoice)).one()
    message = session.scalars(select(OutboxMessage)).one()
    assert (message.template, message.recipient, message.recipient_name, message.language) == (
        "sales_document", "daming@taipei-trading.example", "王大明", "en")
    assert (message.record_module, message.record_id, message.reply_to) == ("invoices", invoice.id,
                                                                            "Rep 1 <rep1@leadline.test>")
    assert message.context["amount"] == "NT$4,294" and message.context["due"] == "Mar 31, 2026"
    pdf = session.scalars(select(Document)).one()
    assert (pdf.filename, pdf.content_type) == ("INV1.pdf", "application/pdf")
    linked = select(DocumentLink.invoice_id).where(DocumentLink.document_id == pdf.id)
    assert session.scalars(linked).one() == invoice.id
    assert message.attachments == [{"path": f"documents/{pdf.sha256[:2]}/{pdf.sha256}", "filename": "INV1.pdf",
                                    "content_type": "application/pdf", "inline_cid": None}]
    activity = session.scalars(select(Activity)).one()
    contact = session.scalars(select(Contact)).one()
    assert (activity.type, activity.status, activity.subject) == (
        "email", "Completed", "Sent invoice INV1 to daming@taipei-trading.example")
    assert (activity.invoice_id, activity.account_id, activity.contact_id) == (invoice.id, shop.account.id, contact.id)
    assert activity.completed_at is not None and activity.owner_id == session.scalar(
        select(User.id).where(User.email == REP))

    session.rollback()  # SQLite: the worker needs the write lock the reading took
    handler = RecordingHandler()
    with SmtpServer(handler) as server:
        monkeypatch.setenv("CRM_SMTP_URL", f"smtp://127.0.0.1:{server.port}")
        crm("mail", "send")
    (received,) = handler.received
    assert received.rcpt_tos == ["daming@taipei-trading.example"]
    mail = email.message_from_bytes(received.message.as_bytes(), policy=email.policy.default)
    assert str(mail["Subject"]) == "Invoice INV1: Fit-out 裝修"
    assert mail["Reply-To"].addresses[0].addr_spec == REP
    body = mail.get_body(("plain",))
    assert body is not None and "Amount due: NT$4,294" in body.get_content()
    (attached,) = list(mail.iter_attachments())
    assert (attached.get_filename(), attached.get_content_type()) == ("INV1.pdf", "application/pdf")
    delivered = tmp_path / "delivered.pdf"
    delivered.write_bytes(attached.get_content())
    assert "台北貿易股份有限公司" in pdf_text(delivered) and BUYER_TAX_ID in pdf_text(delivered)
    assert session.scalars(select(OutboxMessage.status)).one() == "sent"


def test_send_to_another_address_in_chinese(crm: Crm, session: Session, shop: Shop) -> None:
    crm("--as", REP, "quotes", "add", "--account", shop.account.account_no, "--subject", "年度報價",
        "--line", "WID-1:2", "--valid-till", "2026-06-30")
    crm("send", "QUO1", "--to", "Buyer@Example.COM", "--language", "zh_Hant")  # the quote's owner sends it
    message = session.scalars(select(OutboxMessage)).one()
    assert (message.recipient, message.recipient_name, message.language) == (
        "Buyer@example.com", "台北貿易股份有限公司", "zh_Hant")
    assert message.context["due"] == "2026年6月30日" and message.context["kind"] == "quote"
    activity = session.scalars(select(Activity)).one()
    quote = session.scalars(select(Quote)).one()
    assert (activity.quote_id, activity.account_id, activity.contact_id) == (quote.id, shop.account.id, None)
    assert activity.subject == "Sent quote QUO1 to Buyer@example.com"  # in the company's language (English)


def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(
    crm: Crm, session: Session, shop: Shop, tmp_path: Path,
) -> None:
    crm("invoices", "add", "--account", shop.account.account_no, "--subject", "No contact", "--line", "WID-1:1")
    out = tmp_path / "x.pdf"
    assert one_line_error(crm("print", "INV9", "--output", str(out), ok=False)) == (
        "error: number: no quote, sales order or invoice is numbered INV9")
    assert one_line_error(crm("print", shop.widget.product_no, "--output", str(out), ok=False)) == (
        f"error: number: {shop.widget.product_no} is not a quote, sales order or invoice")
    assert one_line_error(crm("print", "INV1", "--format", "docx", "--output", str(out), ok=False)) == (
        "error: --format: 'docx' is not one of html, pdf")
    assert one_line_error(crm("print", "INV1", "--language", "fr", "--output", str(out), ok=False)) == (
        "error: language: 'fr' is not one of en, zh_Hant")
    assert one_line_error(crm("print", "INV1", "--output", str(tmp_path / "no" / "x.pdf"), ok=False)).startswith(
        "error: --output: the folder ")
    assert not out.exists()
    assert one_line_error(crm("--as", REP, "send", "INV9", ok=False)) == (
        "error: number: no quote, sales order or invoice is numbered INV9")
    assert one_line_error(crm("--as", REP, "send", "INV1", ok=False)) == (
        "error: --to: INV1 has no contact with an email address: give the address with --to EMAIL")
    assert one_line_error(crm("--as", REP, "send", "INV1", "--to", "not an address", ok=False)).startswith(
        "error: to: ")
    assert one_line_error(crm("send", "INV1", "--to", "a@example.com", ok=False)) == (
        "error: --as: INV1 has no owner: say who sends it with `crm --as EMAIL send …`")
    assert (count(session, OutboxMessage), count(session, Document), count(session, Activity)) == (0, 0, 0)
