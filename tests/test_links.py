"""The link map (`crm_store.links`): what emails link to, the web app serves, or is listed as still to come.

The web app registers its routes from `links.ROUTES` and emails build links with `links.url()`, so a
route spelled twice, or an email linking to a page nobody serves, shows up here.
"""

from __future__ import annotations

import email
import email.policy
import html
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from werkzeug.exceptions import NotFound

from crm_store import languages, links
from crm_store.records import registry
from emails import catalog
from emails.render import render

BASE_URL = "https://crm.example.test"
HOST = "crm.example.test"
LINK = re.compile(re.escape(BASE_URL) + r"""[^\s"'<>]*""")
MODULES = "|".join(re.escape(module.path) for module in registry.modules())
# Pages emails link to that the app does not serve yet: none since the reports became pages (issue 19).
EXPECTED_MISSING: dict[str, re.Pattern[str]] = {}
# A placeholder's value in a link to a served route (the `module` converter takes only a module's url path).
SAMPLE_VALUES = {"module": "leads"}
# The view each route the app serves leads to, and the method its links are followed with.
ENDPOINTS = {
    **{f"{listed}_{tool}": (method, f"lists.{listed}_{tool}") for listed in ("campaigns", "activities", "documents")
       for tool, method in zip(links.LIST_TOOLS, ("GET", "POST", "POST", "POST", "POST"), strict=True)},
    "hosted_form": ("GET", "public.hosted_form"),
    "form_thanks": ("GET", "public.form_thanks"),
    "embed_js": ("GET", "public.embed_js"),
    "form_token": ("GET", "public.form_token"),
    "form_api": ("POST", "public.form_api"),
    "healthz": ("GET", "healthz"),
    "home": ("GET", "myday.home"),
    "task_complete": ("POST", "myday.task_complete"),
    "call_log": ("POST", "myday.call_log"),
    "follow_up": ("POST", "myday.follow_up"),
    "reminder_dismiss": ("POST", "myday.reminder_dismiss"),
    "records": ("GET", "records.records"),
    "records_export": ("GET", "records.records_export"),
    "records_bulk": ("POST", "records.records_bulk"),
    "saved_filters": ("POST", "records.saved_filter_save"),
    "saved_filter_rename": ("POST", "records.saved_filter_rename"),
    "saved_filter_delete": ("POST", "records.saved_filter_delete"),
    "record": ("GET", "records.record"),
    "record_new": ("GET", "records.record_new"),
    "record_edit": ("GET", "records.record_edit"),
    "record_owner": ("POST", "records.record_owner"),
    "record_stage": ("POST", "records.record_stage"),
    "record_delete": ("GET", "records.record_delete"),
    "lead_take": ("POST", "records.lead_take"),
    "lead_convert": ("GET", "records.lead_convert"),
    "search": ("GET", "search.results"),
    "search_suggest": ("GET", "search.suggest"),
    "profile": ("GET", "shell.profile"),
    "change_password": ("POST", "shell.change_password"),
    "language": ("POST", "shell.language"),
    "sign_in": ("GET", "auth.sign_in"),
    "sign_out": ("POST", "auth.sign_out"),
    "forgot_password": ("GET", "auth.forgot_password"),
    "set_password": ("GET", "auth.set_password"),
    "reset_password": ("GET", "auth.reset_password"),
    "users": ("GET", "admin.users"),
    "automation": ("GET", "automation.automation"),
    "documents": ("GET", "lists.documents"),
    "document_upload": ("POST", "documents.upload"),
    "document_download": ("GET", "documents.download"),
    "campaigns": ("GET", "lists.campaigns"),
    "campaign": ("GET", "lists.campaign"),
    "activities": ("GET", "lists.activities"),
    "agenda": ("GET", "agenda.agenda"),
    "agenda_event_new": ("GET", "agenda.agenda_event_new"),
    "agenda_event": ("GET", "agenda.agenda_event"),
    "agenda_move": ("POST", "agenda.agenda_move"),
    "duplicates": ("GET", "cleanup.duplicates"),
    "merge": ("GET", "cleanup.merge"),
    "merge_undo": ("POST", "cleanup.merge_undo"),
    "recycle_bin": ("GET", "cleanup.recycle_bin_page"),
    "bin_restore": ("POST", "cleanup.bin_restore"),
    "bin_purge": ("GET", "cleanup.bin_purge"),
    "board": ("GET", "board.board"),
    "board_column": ("GET", "board.board_column"),
    "board_move": ("POST", "board.board_move"),
    "web_forms": ("GET", "intake.web_forms"),
    "web_form": ("GET", "intake.web_form"),
    "quarantine": ("GET", "intake.quarantine_list"),
    "quarantine_release": ("POST", "intake.quarantine_release"),
    "quarantine_discard": ("POST", "intake.quarantine_discard"),
    "user_add": ("GET", "admin.user_add"),
    "user_deactivate": ("GET", "admin.user_deactivate"),
    "user_welcome": ("POST", "admin.user_welcome"),
    # quotes, sales orders and invoices (issue 17): `<sales:module>` takes their url paths
    **{route: (method, f"sales_documents.{route}") for route, method in (
        ("sales_documents", "GET"), ("sales_document_new", "GET"), ("sales_document", "GET"),
        ("sales_document_edit", "GET"), ("sales_totals", "POST"), ("sales_products", "GET"), ("sales_convert", "POST"),
        ("sales_payment", "POST"), ("sales_print", "GET"), ("sales_pdf", "GET"), ("sales_send", "GET"))},
    # products, price books, stock; an account's transactions (issue 17)
    "products": ("GET", "catalog.products_list"),
    "product_new": ("GET", "catalog.product_new"),
    "product": ("GET", "catalog.product"),
    "product_edit": ("GET", "catalog.product_edit"),
    "product_image": ("GET", "catalog.product_image"),
    "product_stock": ("POST", "catalog.product_stock"),
    "product_price": ("POST", "catalog.product_price"),
    "low_stock": ("GET", "catalog.low_stock"),
    "price_books": ("GET", "catalog.price_books_list"),
    "price_book_new": ("GET", "catalog.price_book_new"),
    "price_book": ("GET", "catalog.price_book"),
    "price_book_edit": ("GET", "catalog.price_book_edit"),
    "price_book_price": ("POST", "catalog.price_book_price"),
    "account_transactions": ("GET", "transactions.account_transactions_tab"),
    # the quotes, sales orders, invoices and products lists' tools (issue 17)
    **{f"sales_{tool}": (method, f"sales_documents.sales_{tool}") for tool, method in zip(
        links.LIST_TOOLS, ("GET", "POST", "POST", "POST", "POST"), strict=True)},
    **{f"products_{tool}": (method, f"catalog.products_{tool}") for tool, method in zip(
        links.PRODUCT_TOOLS, ("GET", "POST", "POST", "POST"), strict=True)},
    # notes with memo reminders (issue 17)
    "note_add": ("POST", "notes.note_add"),
    "note_delete": ("POST", "notes.note_delete"),
    "note_edit": ("GET", "notes.note_edit"),
    # the reports (issue 19)
    "reports": ("GET", "reports.reports"),
    "reports_refresh": ("POST", "reports.reports_refresh"),
    "report": ("GET", "reports.report"),
    "report_csv": ("GET", "reports.report_csv"),
    "report_xlsx": ("GET", "reports.report_xlsx"),
}
ROUTE_SAMPLES = {route: {"module": "sales-orders"} for route, pattern in links.ROUTES.items() if "<sales:" in pattern}


def email_links(template: str, language: str) -> list[str]:
    """Every absolute URL on the deployment in a template's sample, text and HTML parts alike."""
    msg = render(
        template,
        language=language,
        context=catalog.SAMPLES[template],
        sender="Leadline <crm@example.test>",
        recipient="Mei Chen <mei@example.test>",
        message_id="<1@example.test>",
        base_url=BASE_URL,
        company_name="Example Trading",
        attachments=catalog.SAMPLE_ATTACHMENTS.get(template, ()),
        sent_at=datetime(2025, 3, 14, 1, 0, tzinfo=UTC),
    )
    parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    found = []
    for kind in ("plain", "html"):
        part = parsed.get_body((kind,))
        assert part is not None, f"{template} has no {kind} part"
        found += LINK.findall(html.unescape(part.get_content()))  # type: ignore[attr-defined]  # an EmailMessage part
    return found


def missing_as(path: str) -> str | None:
    """The EXPECTED_MISSING entry a path is, or None."""
    return next((name for name, pattern in EXPECTED_MISSING.items() if pattern.fullmatch(path)), None)


def served(app: Any, path: str, method: str = "GET") -> tuple[str, dict[str, Any]] | None:
    """The endpoint and values the app routes a path to, or None when it serves no such page."""
    try:
        return app.url_map.bind(HOST).match(unquote(path), method=method)  # type: ignore[no-any-return]  # werkzeug
    except NotFound:
        return None


def test_every_link_in_an_email_is_served_or_expected_to_be(app) -> None:
    unserved, seen_missing, count = [], set(), 0
    for template in sorted(catalog.SAMPLES):
        for language in languages.CODES:
            for url in email_links(template, language):
                count += 1
                path = urlsplit(url).path or "/"
                if served(app, path) is not None:
                    assert missing_as(path) is None, f"{path} is served now: drop it from EXPECTED_MISSING"
                    continue
                kind = missing_as(path)
                if kind is None:
                    unserved.append(f"{template} ({language}): {url}")
                seen_missing.add(kind)
    assert count > 0, "no link found in any email: is the LINK pattern still right?"
    assert not unserved, "emails link to pages the app does not serve:\n" + "\n".join(unserved)
    assert seen_missing - {None} == set(EXPECTED_MISSING), "an EXPECTED_MISSING entry no email links to any more"


def test_every_rule_of_the_app_is_a_route_of_the_link_map(app) -> None:
    patterns = set(links.ROUTES.values())
    rules = [rule.rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"]
    assert rules
    assert [rule for rule in rules if rule not in patterns] == []


@pytest.mark.parametrize("route", sorted(ENDPOINTS))
def test_a_link_to_a_served_route_reaches_its_view(app, route: str) -> None:
    method, endpoint = ENDPOINTS[route]
    samples = SAMPLE_VALUES | ROUTE_SAMPLES.get(route, {})
    values = {name: samples.get(name, "Ab3_x-9") for name in re.findall(r"<(?:\w+:)?(\w+)>", links.ROUTES[route])}
    path = urlsplit(links.url(BASE_URL, route, **values)).path
    assert served(app, path, method) == (endpoint, values)


def test_the_table_of_served_routes_is_complete(app) -> None:
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    assert {name for name, pattern in links.ROUTES.items() if pattern in rules} == set(ENDPOINTS)
