"""What every staff template gets: the signed-in user, the navigation, links, and values shown the user's way.

Template globals (staff requests only): `current_user` (None before sign-in), `nav` (the header's
items, the current one marked), `path(route, **values)` (`crm_store.links.path`: a page's path by its
route name), `language_choices` ((code, name, lang tag) each), `page_language`, and `automation_alert()`
(for an admin, what is failing in the flows or mail delivery — `webform.staff.automation.health.Alert`, read
once per request; None for anyone else or when nothing is: the layout's banner).

Filters, in the page's language and the user's time zone (`g.zone`, else the company's):
`{{ moment|when }}` a stored UTC datetime, `{{ day|day }}` a date, `{{ n|number }}`, `{{ minutes|duration }}`,
`{{ lead.status|choice }}` a picklist value or stage name.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from flask import Flask, g, request
from sqlalchemy.exc import SQLAlchemyError

from crm_store import languages, links
from crm_store.languages import N_

from ..state import state
from .access import current_user, is_staff_request
from .automation import health

log = logging.getLogger("leadline.web")


@dataclass(frozen=True)
class NavItem:
    """One link of the header's navigation."""

    key: str
    label: str  # English; templates translate it
    route: str
    values: dict[str, str] = field(default_factory=dict)
    admin_only: bool = False
    more: bool = False  # under the header's "More" menu rather than in the bar

    @property
    def href(self) -> str:
        """The item's path."""
        return links.path(self.route, **self.values)

    def is_current(self, path: str) -> bool:
        """Whether the page at `path` belongs to this item (a record page to its list)."""
        return path == self.href or (self.href != "/" and path.startswith(self.href + "/"))


NAV = (
    NavItem("myday", N_("My day"), "home"),
    NavItem("leads", N_("Leads"), "records", {"module": "leads"}),
    NavItem("accounts", N_("Accounts"), "records", {"module": "accounts"}),
    NavItem("contacts", N_("Contacts"), "records", {"module": "contacts"}),
    NavItem("opportunities", N_("Opportunities"), "records", {"module": "opportunities"}),
    NavItem("board", N_("Board"), "board"),
    NavItem("agenda", N_("Agenda"), "agenda"),
    NavItem("reports", N_("Reports"), "reports"),
    # under "More"
    NavItem("activities", N_("Activities"), "activities", more=True),
    NavItem("campaigns", N_("Campaigns"), "campaigns", more=True),
    NavItem("documents", N_("Documents"), "documents", more=True),
    NavItem("quotes", N_("Quotes"), "sales_documents", {"module": "quotes"}, more=True),
    NavItem("sales_orders", N_("Sales orders"), "sales_documents", {"module": "sales-orders"}, more=True),
    NavItem("invoices", N_("Invoices"), "sales_documents", {"module": "invoices"}, more=True),
    NavItem("products", N_("Products"), "products", more=True),
    NavItem("price_books", N_("Price books"), "price_books", more=True),
    NavItem("low_stock", N_("Low stock"), "low_stock", more=True),
    NavItem("duplicates", N_("Duplicates"), "duplicates", more=True),
    NavItem("bin", N_("Recycle bin"), "recycle_bin", more=True),
    NavItem("web_forms", N_("Web forms"), "web_forms", admin_only=True, more=True),
    NavItem("quarantine", N_("Quarantine"), "quarantine", admin_only=True, more=True),
    NavItem("users", N_("Users"), "users", admin_only=True, more=True),
    NavItem("automation", N_("Automation"), "automation", admin_only=True, more=True),
)


def nav_items() -> list[tuple[NavItem, bool]]:
    """The header's items the signed-in user may see, each with whether it is the current page's."""
    user = current_user()
    if user is None:
        return []
    return [(item, item.is_current(request.path)) for item in NAV if not item.admin_only or user.role == "admin"]


def template_context() -> dict[str, Any]:
    """The globals of staff templates (none on the public capture pages)."""
    if not is_staff_request():
        return {}
    return {
        "current_user": current_user(),
        "nav": nav_items(),
        "path": links.path,
        "language_choices": [(code, lang.name, lang.page_tag) for code, lang in languages.LANGUAGES.items()],
        "page_language": _language(),
        "automation_alert": automation_alert,
    }


def automation_alert() -> health.Alert | None:
    """For an admin, what is failing in the automation (read once per request); None for others or when all is well."""
    user = current_user()
    if user is None or user.role != "admin":
        return None
    if "automation_alert" not in g:
        try:
            with state().readers() as db:
                g.automation_alert = health.alert(db)
        except SQLAlchemyError:  # the page (perhaps the database's error page) is shown without the banner
            log.warning("could not read the automation's health for the banner", exc_info=True)
            g.automation_alert = None
    return g.automation_alert or None


def _language() -> str:
    return str(g.get("language", languages.DEFAULT))


def _zone() -> Any:
    zone = g.get("zone")
    return zone if zone is not None else dt.UTC


def when(moment: dt.datetime | None, width: languages.Width = "medium") -> str:
    """A stored moment in the user's zone and language: "Mar 14, 2025, 9:05 AM" / "2025年3月14日 上午9:05"."""
    return "" if moment is None else languages.format_datetime(moment, _language(), _zone(), width)


def day(value: dt.date | dt.datetime | None, width: languages.Width = "medium") -> str:
    """A date in the user's language (a datetime: its day in the user's zone)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = value.astimezone(_zone()).date()
    return languages.format_date(value, _language(), width)


def number(value: Decimal | int | float | None, decimals: int = 0) -> str:
    """A number grouped the user's way: 1,234,567."""
    return "" if value is None else languages.format_number(value, _language(), decimals)


def duration(minutes: int | None) -> str:
    """Minutes as days, hours and minutes: "1 h 35 min" / "1 小時 35 分鐘"."""
    return "" if minutes is None else languages.format_duration(minutes, _language())


def choice(value: str | None) -> str:
    """A picklist value or stage name in the page's language (seeded ones translated, the company's own as stored)."""
    return languages.translate_value(_language(), value)


def init_app(app: Flask) -> None:
    """Give templates the staff globals and filters."""
    app.context_processor(template_context)
    filters: dict[str, Callable[..., str]] = {"when": when, "day": day, "number": number, "duration": duration,
                                            "choice": choice}
    for name, function in filters.items():
        app.add_template_filter(function, name)
