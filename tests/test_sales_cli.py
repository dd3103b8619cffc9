"""`crm quotes|orders|invoices add|list|show`, `crm convert`, `crm payments add`, `crm accounts transactions`."""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from collections.abc import Callable
from decimal import Decimal as D
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.cli import _declared, main
from crm_store.cli.output import width
from crm_store.models import Invoice, LineItem, Product, Quote
from tests.sales_support import Shop, count, make_shop

Crm = Callable[..., Result]
PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
SALES_COMMANDS = ("quotes", "orders", "invoices", "convert", "payments", "accounts")


@pytest.fixture(autouse=True)
def sales_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands as pyproject.toml declares them, also where the installed package's metadata predates them."""
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["entry-points"]["leadline.cli"]
    for name in SALES_COMMANDS:
        assert name in declared, f"pyproject.toml does not declare `crm {name}`"
        if name not in _declared():
            monkeypatch.setitem(main.commands, name, EntryPoint(name, declared[name], "leadline.cli").load())


@pytest.fixture
def shop(session: Session, crm: Crm) -> Shop:
    return make_shop(session)


def one_line_error(result: Result) -> str:
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr.strip()


def test_add_list_and_show_an_invoice_like_a_printed_one(crm: Crm, session: Session, shop: Shop) -> None:
    added = crm("invoices", "add", "--account", "台北貿易股份有限公司", "--subject", "Fit-out 裝修",
                "--line", "WID-1:3::10%", "--line", f"{shop.gadget.product_no}:2:333:66", "--shipping", "100",
                "--invoice-date", "2026-03-01").output
    assert added.strip() == "Added invoice INV1 for 台北貿易股份有限公司: 2 line(s), grand total NT$4,294."
    listed = crm("invoices", "list").output.splitlines()
    assert listed[0].split() == ["NUMBER", "DATE", "SUBJECT", "ACCOUNT", "STATUS", "TOTAL", "BALANCE"]
    assert listed[1].split()[:3] == ["INV1", "2026-03-01", "Fit-out"] and listed[1].endswith("NT$4,294  NT$4,294")
    shown = crm("invoices", "show", "inv1").output
    lines = shown.splitlines()
    assert lines[0] == "Invoice INV1  Fit-out 裝修"
    assert "Account:       " + shop.account.account_no + " 台北貿易股份有限公司" in shown
    widget = next(line for line in lines if line.lstrip().startswith("1  " + shop.widget.product_no))
    assert widget.split()[-6:] == ["3", "NT$1,250", "−NT$375", "NT$3,375", "NT$169", "NT$3,544"]
    totals = {line.rsplit("  ", 1)[0].strip(): line.rsplit(" ", 1)[1] for line in lines[lines.index("", 12):]
              if line.strip() and "NT$" in line and not line.lstrip()[0].isdigit()}
    assert totals["Subtotal"] == "NT$4,189" and totals["Shipping & handling"] == "NT$100"
    assert totals["VAT 營業稅 5 % on shipping"] == "NT$5" and totals["Grand total"] == "NT$4,294"
    assert totals["VAT 營業稅 5 % on NT$3,975"] == "NT$199" and totals["Local 2.5 % on NT$600"] == "NT$15"
    assert totals["Balance"] == "NT$4,294"
    assert lines[-1].endswith("NT$4,294") and width(lines[-1]) == max(width(x) for x in lines if "NT$3,544" in x)


def test_lines_from_a_yaml_or_json_file(crm: Crm, session: Session, shop: Shop, tmp_path: Path) -> None:
    yaml_file = tmp_path / "lines.yaml"
    yaml_file.write_text("- product: WID-1\n  quantity: 2\n  discount: 10%\n  comment: 急件\n"
                         "- {product: SVC-1, quantity: 1, list_price: 1500}\n", encoding="utf-8")
    json_file = tmp_path / "lines.json"
    json_file.write_text(json.dumps([{"product": "GAD-2", "quantity": 3, "discount": 9}]))
    crm("quotes", "add", "--account", shop.account.account_no, "--subject", "From YAML", "--lines", str(yaml_file),
        "--tax-mode", "group", "--tax", "Local", "--valid-till", "2026-12-31")
    crm("orders", "add", "--account", shop.account.account_no, "--subject", "From JSON", "--lines", str(json_file))
    quote = session.scalars(select(Quote)).one()
    # 2 × 1,250 − 10 % = 2,250; 1,500; group tax Local 2.5 % of 3,750 = 93.75 → 94
    assert (quote.subtotal, quote.grand_total, quote.valid_till) == (D(3750), D(3844), dt.date(2026, 12, 31))
    lines = session.scalars(select(LineItem).where(LineItem.quote_id == quote.id).order_by(LineItem.position)).all()
    assert [(x.discount_kind, x.comment) for x in lines] == [("percent", "急件"), (None, None)]
    session.rollback()  # SQLite: the command needs the write lock the reading took
    order = crm("orders", "show", "SO1").output.splitlines()
    # 3 × 333 = 999 − 9 = 990; VAT 49.5 → 50, Local 24.75 → 25: 1,065
    assert next(x for x in order if x.startswith("1  ")).split()[-6:] == [
        "3", "NT$333", "−NT$9", "NT$990", "NT$75", "NT$1,065"]
    quote_lines = crm("quotes", "show", "QUO1").output.splitlines()
    first = next(i for i, x in enumerate(quote_lines) if x.startswith("1  "))
    assert quote_lines[first + 1].strip() == "急件" and quote_lines[first + 2].startswith("2  ")


def test_convert_and_pay_in_full(crm: Crm, session: Session, shop: Shop) -> None:
    crm("quotes", "add", "--account", shop.account.account_no, "--subject", "Offer", "--line", "WID-1:2")
    converted = crm("convert", "QUO1", "--to", "order").output
    assert converted.strip() == "Converted QUO1 into SO1 (grand total NT$2,625); QUO1 is Accepted."
    assert "INV1" in crm("convert", "SO1", "--to", "invoice").output
    part = crm("payments", "add", "INV1", "--amount", "1,000", "--date", "2020-03-02", "--method", "Cash").output
    assert part.strip() == "Recorded NT$1,000 on INV1: received NT$1,000, balance NT$1,625 (Created)."
    rest = crm("payments", "add", "INV1", "--amount", "1625", "--date", "2020-03-09", "--reference", "TX 42").output
    assert rest.strip().endswith("balance NT$0 (Paid).")
    history = crm("accounts", "transactions", "台北貿易股份有限公司").output.splitlines()
    assert [row.split()[1:4] for row in history[1:6]] == [  # today's documents, newest first; then the payments
        ["invoice", "INV1", "Paid"], ["order", "SO1", "Created"], ["quote", "QUO1", "Accepted"],
        ["payment", "INV1", "NT$1,625"], ["payment", "INV1", "Cash"]]
    assert history[-1] == f"5 transaction(s) of {shop.account.account_no} 台北貿易股份有限公司."
    invoice_row = next(row for row in history if " invoice " in row)
    assert f"{shop.widget.product_no} Widget 小工具 × 2" in invoice_row and "Paid" in invoice_row


@pytest.mark.parametrize(("args", "message"), [
    (("invoices", "add", "--line", "WID-1:0"), "error: line 1: quantity: must be more than zero"),
    (("invoices", "add", "--line", "WID-1:1", "--line", "NOPE:1"), "error: line 2: product: no product 'NOPE'"),
    (("invoices", "add", "--line", "WID-1:1::101%"), "error: line 1: discount: must be a percent from 0 to 100"),
    (("invoices", "add", "--line", "GAD-2:1::400"), "error: line 1: discount: is more than the line total"),
    (("invoices", "add", "--line", "WID-1"), "error: line 1: line: 'WID-1' is not CODE:QTY[:PRICE[:DISCOUNT]]"),
    (("invoices", "add", "--line", "WID-1:1::ten"), "error: line 1: discount: 'ten' is not a percent like 10%"),
    (("invoices", "add", "--line", "WID-1:1", "--currency", "TWD", "--price-book", "Export"),
     "error: price_book_id: PB2 is in USD, the document in TWD"),
    (("invoices", "add"), "error: lines: a document needs at least one line"),
    (("invoices", "add", "--line", "WID-1:1", "--status", "Lost"), "error: status: 'Lost' is not a value"),
])
def test_mistakes_print_one_line_naming_the_field_and_write_nothing(
    crm: Crm, session: Session, shop: Shop, args: tuple[str, ...], message: str,
) -> None:
    command = (*args[:2], "--account", shop.account.account_no, "--subject", "Bad", *args[2:])
    assert one_line_error(crm(*command, ok=False)).startswith(message)
    assert count(session, Invoice) == 0 and count(session, LineItem) == 0
    assert session.scalar(select(Product.qty_in_stock).where(Product.id == shop.widget.id)) == 100


def test_paid_invoices_refuse_payments_and_unknown_numbers_are_named(crm: Crm, shop: Shop) -> None:
    crm("invoices", "add", "--account", shop.account.account_no, "--subject", "Small", "--line", "SVC-1:1:100")
    crm("payments", "add", "INV1", "--amount", "105", "--date", "2026-03-02")
    assert one_line_error(crm("payments", "add", "INV1", "--amount", "1", "--date", "2026-03-03", ok=False)) == (
        "error: amount: the invoice is paid in full: nothing is due")
    assert one_line_error(crm("payments", "add", "QUO1", "--amount", "1", "--date", "2026-03-03", ok=False)) == (
        "error: no record numbered 'QUO1'")
    crm("quotes", "add", "--account", shop.account.account_no, "--subject", "Q", "--line", "SVC-1:1")
    assert one_line_error(crm("payments", "add", "QUO1", "--amount", "1", "--date", "2026-03-03", ok=False)) == (
        "error: number: QUO1 is not an invoice")
    assert one_line_error(crm("accounts", "transactions", "Nobody Ltd", ok=False)) == (
        "error: account: no account named 'Nobody Ltd'")
    assert one_line_error(crm("convert", "INV1", "--to", "order", ok=False)).startswith("error: to: invoices converts")


@pytest.mark.parametrize("path", [
    (group, *sub) for group in SALES_COMMANDS
    for sub in ([()] + ([(c,) for c in ("add", "list", "show")] if group in ("quotes", "orders", "invoices") else [])
                + ([("add",)] if group == "payments" else []) + ([("transactions",)] if group == "accounts" else []))
], ids=" ".join)
def test_every_sales_command_has_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0 and "Usage: " in result.output
    assert len(result.output.split("\n\n")[1].strip()) > 10


def test_a_warning_when_stock_goes_below_zero(crm: Crm, shop: Shop) -> None:
    result = crm("invoices", "add", "--account", shop.account.account_no, "--subject", "Big", "--line", "GAD-2:11")
    assert result.stderr.strip() == f"warning: stock of {shop.gadget.product_no} Gadget is now -1, below zero"
