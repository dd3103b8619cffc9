"""Every URL the CRM hands out, from one map of routes.

The web app registers its routes from `ROUTES`; emails, the CLI and the pages build links with `url()`,
so no route is spelled twice. Patterns use Flask's `<name>` placeholders; `<module:module>` is a module's
url path (leads, accounts, contacts, opportunities), the web app's `module` converter.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

ROUTES: dict[str, str] = {
    "home": "/",
    "records": "/<module:module>",  # a module's list: module is the registry's url_path (leads, accounts, ...)
    "record": "/<module:module>/<number>",
    "record_new": "/<module:module>/new",
    "record_edit": "/<module:module>/<number>/edit",
    "record_owner": "/<module:module>/<number>/owner",
    "record_stage": "/<module:module>/<number>/stage",  # opportunities
    "record_delete": "/<module:module>/<number>/delete",  # to the recycle bin, after a confirmation
    "call_log": "/<module:module>/<number>/calls",
    "follow_up": "/<module:module>/<number>/follow-ups",
    "lead_take": "/leads/<number>/take",  # from the unassigned pool
    "lead_convert": "/leads/<number>/convert",
    "task_complete": "/tasks/<activity_id>/complete",
    "reminder_dismiss": "/reminders/<note_id>/dismiss",
    "set_password": "/auth/set-password/<token>",  # the welcome email's link: the first password
    "reset_password": "/auth/reset-password/<token>",  # the password_reset email's one-time link
    "sign_in": "/auth/sign-in",
    "sign_out": "/auth/sign-out",
    "forgot_password": "/auth/forgot-password",
    "language": "/language",  # switch the pages' language (the user's own, or the visitor's before sign-in)
    "profile": "/profile",
    "change_password": "/profile/password",
    "search": "/search",  # the header's search box
    "search_suggest": "/search/suggest",  # results as you type: an HTML fragment
    "users": "/users",  # admins: staff accounts
    "user_add": "/users/new",
    "user_deactivate": "/users/<user_id>/deactivate",
    "user_welcome": "/users/<user_id>/welcome",  # send the welcome email again
    "automation": "/automation",  # admins: the flows' last runs and mail delivery's health
    # -- staff web app part 2 (issue 14): each area adds its routes only inside its own block
    # board
    "board": "/board",  # the pipeline board of one sales process (?process=, ?owner=, ?team=)
    "board_column": "/board/stages/<stage_id>",  # a column's next cards, "more" (?after=; and the board's query)
    "board_move": "/board/cards/<number>/stage",  # POST: move a card to a stage (a lost one asks for the reason)
    # duplicates, merge, recycle bin
    "merge": "/duplicates/merge",  # GET ?module=&ids=1,2[,3]: choose the values; POST merges
    "merge_undo": "/merges/<entry_id>/undo",  # the merge's audit entry, from the kept record's timeline
    "bin_restore": "/bin/<module>/<number>/restore",  # module: any url path the bin holds (campaigns too)
    "bin_purge": "/bin/<module>/<number>/purge",  # admins, after a confirmation
    "duplicates": "/duplicates",
    "recycle_bin": "/bin",
    # documents
    "document_upload": "/<module:module>/<number>/documents",  # POST: attach a file to a record
    "document_download": "/documents/<number>/download",  # as an attachment, audited
    "documents": "/documents",
    # lists of campaigns and activities, saved filters, export, bulk actions
    "records_export": "/<module:module>/export.csv",  # the filtered list (every page) as CSV
    "records_bulk": "/<module:module>/bulk",  # POST: reassign, change status or delete the selected rows
    "saved_filters": "/<module:module>/filters",  # POST: save the list's filter under a name
    "saved_filter_rename": "/<module:module>/filters/<filter_id>/rename",  # POST
    "saved_filter_delete": "/<module:module>/filters/<filter_id>/delete",  # POST
    "campaigns": "/campaigns",
    "campaign": "/campaigns/<number>",  # a campaign's fields, leads, contacts and opportunities
    "activities": "/activities",
    # agenda
    "agenda": "/agenda",
    "agenda_event_new": "/agenda/events/new",  # a call or meeting, with an invitation (.ics) to its attendees
    "agenda_event": "/agenda/events/<activity_id>",  # edit or move one: the keyboard's and no-script way
    "agenda_move": "/agenda/events/<activity_id>/move",  # POST: where a drag on the agenda dropped it
    # web forms and quarantine (admins)
    "web_forms": "/admin/forms",
    "quarantine": "/admin/quarantine",
    "web_form": "/admin/forms/<public_id>",  # a form's definition in short, its counts and embed snippet
    "quarantine_release": "/admin/quarantine/<ref>/release",  # POST: the held submission makes (or adds to) a lead
    "quarantine_discard": "/admin/quarantine/<ref>/discard",  # POST: confirmed as spam
    # -- end of issue 14's blocks
    # -- issue 17 (sales pages): each helper adds its routes only inside its own block
    # products, price books, stock; an account's transactions
    "products": "/products",
    "product_new": "/products/new",
    "product": "/products/<number>",  # its image, stock, taxes, specifications and price-book prices
    "product_edit": "/products/<number>/edit",
    "product_image": "/products/<number>/image",  # the image, shown inline to whoever sees the product
    "product_stock": "/products/<number>/stock",  # POST: adjust the stock by a quantity, with the reason
    "product_price": "/products/<number>/prices",  # POST: set its list price in the price book chosen
    "low_stock": "/low-stock",  # the products below their reorder level
    "price_books": "/price-books",
    "price_book_new": "/price-books/new",
    "price_book": "/price-books/<number>",  # its prices; set a product's price
    "price_book_edit": "/price-books/<number>/edit",
    "price_book_price": "/price-books/<number>/prices",  # POST: set (or replace) a product's list price
    "account_transactions": "/accounts/<number>/transactions",  # quotes, orders, invoices, payments; bought
    # -- end of issue 17's products and transactions block
    # quotes, sales orders and invoices (module: quotes, sales-orders or invoices, the `sales` converter)
    "sales_documents": "/<sales:module>",
    "sales_document_new": "/<sales:module>/new",  # the header and the line editor (POST saves or recalculates)
    "sales_document": "/<sales:module>/<number>",  # header, lines, totals; an invoice's payments
    "sales_document_edit": "/<sales:module>/<number>/edit",
    "sales_totals": "/<sales:module>/totals",  # POST: the unsaved form's totals block, computed by the store
    "sales_products": "/sales/products",  # the products matching what is typed in a line (an HTML fragment)
    "sales_convert": "/<sales:module>/<number>/convert",  # POST: to a sales order or an invoice
    "sales_payment": "/invoices/<number>/payments",  # POST: record a payment
    "sales_print": "/<sales:module>/<number>/print",  # the printable page (HTML)
    "sales_pdf": "/<sales:module>/<number>/pdf",  # the PDF as an attachment, audited
    "sales_send": "/<sales:module>/<number>/send",  # GET: who it goes to; POST: email the PDF
    # -- end of issue 17's quotes, orders and invoices block
    # notes with memo reminders on every record page (module: any url path of a record with notes)
    "note_add": "/<module>/<number>/notes",  # POST: write a note, with an optional reminder
    "note_delete": "/notes/<note_id>/delete",  # POST: its author's, or anyone's for a manager or an admin
    "note_edit": "/notes/<note_id>/edit",  # its author's: the text and the reminder
    # -- end of issue 17's notes block
    # the reports (issue 19): the analytics warehouse's reports as pages; a report's page carries its filters as query
    # arguments (date_from, date_to, as_of, owner, team, process), and so do its downloads
    "reports": "/reports",
    "reports_refresh": "/reports/refresh",  # POST (admins): rebuild the warehouse now
    "report": "/reports/<name>",
    "report_csv": "/reports/<name>.csv",
    "report_xlsx": "/reports/<name>.xlsx",
    "hosted_form": "/forms/<public_id>",
    "form_thanks": "/forms/<public_id>/thanks",
    "embed_js": "/forms/<public_id>/embed.js",
    "form_token": "/forms/<public_id>/token",  # a fresh render token for the embedded form's next submission
    "form_api": "/api/forms/<public_id>/submissions",
    "healthz": "/healthz",
}
# The campaigns, activities and documents lists' tools, at the records lists' tool addresses under each list's own
# path: `activities_records_export` is `/activities/export.csv` (served by webform/staff/lists/tools.py).
LIST_TOOLS = ("records_export", "records_bulk", "saved_filters", "saved_filter_rename", "saved_filter_delete")
ROUTES.update({f"{listed}_{tool}": ROUTES[tool].replace("<module:module>", listed)
               for listed in ("campaigns", "activities", "documents") for tool in LIST_TOOLS})
# Quotes, sales orders and invoices have them under their own paths too (`/invoices/export.csv`, the `sales` converter;
# webform/staff/sales_documents/routes.py), and products all but bulk actions (`/products/filters`,
# `/products/export.csv`; webform/staff/catalog/tools.py): the catalogue is changed a product at a time.
ROUTES.update({f"sales_{tool}": ROUTES[tool].replace("<module:module>", "<sales:module>") for tool in LIST_TOOLS})
PRODUCT_TOOLS = tuple(tool for tool in LIST_TOOLS if tool != "records_bulk")
ROUTES.update({f"products_{tool}": ROUTES[tool].replace("<module:module>", "products") for tool in PRODUCT_TOOLS})
_PLACEHOLDER = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")


def path(route: str, **values: Any) -> str:
    """Return the path of a route with its placeholders filled (each value quoted); fail on a missing one."""
    pattern = ROUTES[route]
    wanted = set(_PLACEHOLDER.findall(pattern))
    if wanted != set(values):
        raise ValueError(f"route {route!r} takes {sorted(wanted)}, not {sorted(values)}")
    return _PLACEHOLDER.sub(lambda m: quote(str(values[m[1]]), safe=""), pattern)


def url(base_url: str, route: str, **values: Any) -> str:
    """Return the absolute URL of a route on the deployment at `base_url`."""
    return base_url.rstrip("/") + path(route, **values)


def record_url(base_url: str, module: str, number: str) -> str:
    """Return the address of a record's page (module as in the registry, e.g. `leads`)."""
    from crm_store.records import registry

    return url(base_url, "record", module=registry.get(module).path, number=number)


class Links:
    """URLs on one deployment, for templates: `link("hosted_form", public_id=...)`."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def __call__(self, route: str, **values: Any) -> str:
        """Return the absolute URL of a route."""
        return url(self.base_url, route, **values)
