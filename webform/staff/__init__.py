"""The staff back office: sign-in and the pages staff work in, one folder per area.

    access.py     who is signed in: `current_user()`, `signed_in_user()`, `login_required`, `admin_required`;
                  sessions (HttpOnly, SameSite=Lax, Secure over https); the page's language and time zone
    page.py       what every staff template gets: `current_user`, `nav`, `path(route, …)`, and the filters
                  `when`, `day`, `number`, `duration` (the user's language and zone)
    forms.py      what forms share: `place_error(form, exc)` shows a store error beside its field
    auth/         sign in, sign out, forgot password, choose a password from an emailed link
    shell/        the profile, change password, the language switch
    myday/        My day (`/`): today's tasks, events, new leads, reminders; complete, log a call, follow up
    records/      the lists, record pages, create/edit/delete, owner, stage, take a pool lead, convert a lead
    search/       the header's search: the results page and the results as you type
    admin/        Users (admins)
    automation/   Automation (admins): the flows' runs, mail delivery's health; the failing-automation banner
    board/        the pipeline board: a sales process's stages as columns of deal cards; drag or a menu moves one
    agenda/       the agenda: a week or a day of events and tasks, a new event with an invitation, drag to move
    intake/       Web forms and the quarantine (admins): counts, embed snippet; why each was held, release, discard
    cleanup/      Duplicates (groups, a field-by-field merge, undo) and the recycle bin (restore; purge for admins)
    documents/    upload a document on a record's page, download one as an attachment (audited); its section there
    lists/        the campaigns, activities and documents lists; a campaign's page with its leads, contacts, deals
    sales_documents/  quotes, sales orders, invoices: lists, pages, the line editor with the store's totals,
                  convert, payments, print and PDF, send to the customer
    catalog/      products (image, stock, taxes, specifications, prices), price books and their prices, low stock
    transactions/ an account's Transactions tab: its quotes, orders, invoices, payments; what it owes and bought
    notes/        the Notes card of every record page: write a note with a memo reminder, delete one
    reports/      the analytics reports as pages: filters within the viewer's scope, charts, table, CSV/XLSX, refresh

An area is a folder with `routes.py` (a Blueprint named after the area, its routes from
`crm_store.links.ROUTES`), `forms.py` (FlaskForms: every POST carries the CSRF token) and
`templates/staff/<area>/` (pages extending `staff/_layout.html`, fields drawn with `staff/_macros.html`,
styled by the components at the top of `static/staff.css`). Add its blueprint to `BLUEPRINTS` below.
Views read through `state().readers()` and write through `state().write(...)` (`webform.state`). Link and
redirect with `links.path(route, …)` (templates: `path(…)`), not endpoint names: a view may move to
another area (My day moved from `shell/` to `myday/` this way).
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Flask

from . import access, page
from .admin.routes import bp as admin_bp
from .agenda.routes import bp as agenda_bp
from .auth.routes import bp as auth_bp
from .automation.routes import bp as automation_bp
from .board.routes import bp as board_bp
from .catalog.routes import bp as catalog_bp
from .cleanup.routes import bp as cleanup_bp
from .documents.routes import bp as documents_bp
from .intake.routes import bp as intake_bp
from .lists.routes import bp as lists_bp
from .myday.routes import bp as myday_bp
from .notes.routes import bp as notes_bp
from .records import changes as _record_changes  # noqa: F401 - its routes join the records blueprint
from .records import editing as _record_editing  # noqa: F401 - so do these
from .records.modules import ModuleConverter
from .records.routes import bp as records_bp
from .reports.routes import bp as reports_bp
from .sales_documents.modules import SalesConverter
from .sales_documents.routes import bp as sales_documents_bp
from .search.routes import bp as search_bp
from .shell.routes import bp as shell_bp
from .transactions.routes import bp as transactions_bp

BLUEPRINTS: tuple[Blueprint, ...] = (
    auth_bp, shell_bp, myday_bp, records_bp, search_bp, admin_bp, automation_bp,
    board_bp,
    agenda_bp,
    intake_bp,
    cleanup_bp,
    documents_bp, lists_bp,
    sales_documents_bp,
    catalog_bp, transactions_bp,
    notes_bp,
    reports_bp,
)
SESSION_LIFETIME = dt.timedelta(hours=12)  # signed in for a working day after the last page seen


def init_app(app: Flask, *, https: bool) -> None:
    """Give `app` staff sessions and pages; call before binding CSRF (the user is known before its check).

    `https`: the deployment's address (CRM_BASE_URL) is https, so the session cookie is always Secure.
    """
    app.config.update(
        SESSION_COOKIE_NAME="leadline_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=https,
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
        WTF_CSRF_TIME_LIMIT=None,  # a token lives as long as its session: a form left open all morning still posts
    )
    app.url_map.converters["module"] = ModuleConverter  # <module:module>: leads, accounts, contacts, opportunities
    app.url_map.converters["sales"] = SalesConverter  # <sales:module>: quotes, sales-orders, invoices
    app.session_interface = access.Sessions()
    app.before_request(access.load_user)
    page.init_app(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
