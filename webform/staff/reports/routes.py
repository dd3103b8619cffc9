"""The Reports pages (`/reports`, `/reports/<name>`), their downloads, and the admins' "Refresh now".

Every figure is the viewer's: an admin sees everyone's, a manager their own and their reports', a rep their own
(`crm_store.staff.scope`), whatever the filters say — the scope is the report's `viewers`, applied in its SQL.
The owner and team filters offer only people and teams within the scope, and a value outside them is refused
naming the field.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext, lazy_gettext

from analytics import charts as charting
from analytics import presentation
from analytics.formats import as_csv, as_xlsx
from analytics.reports import OPEN_PERIOD, REPORTS, ReportParams, ReportResult, report_sql
from analytics.warehouse import refresh_job, warehouse_path
from crm_store import languages, links
from crm_store.actor import Actor
from crm_store.automation import runs
from crm_store.errors import CrmError, ValidationError
from crm_store.records import audit
from crm_store.staff import scope as scoping

from ...state import page_language, state
from ..access import admin_required, login_required, signed_in_user
from ..forms import store_message
from . import viewing
from .forms import NOT_YOURS, RefreshForm, ReportFilters

bp = Blueprint("reports", __name__, template_folder="templates")
log = logging.getLogger("leadline.web")
ROWS_PER_PAGE = 25
# the reports in the order a sales manager reaches for them: the deals, the customers, the leads, the team
SHOWN_FIRST = ("pipeline", "forecast", "funnel", "win-rate", "lost-reasons", "customer-value", "lead-sources",
               "lead-aging", "follow-ups", "rep-activity", "campaigns")
# on the page, the columns a report is read for come first (the downloads keep the report's own order)
FIRST_COLUMNS = {"customer-value": ("account_no", "account_name", "rfm_segment", "abc_class", "monetary", "clv",
                                    "revenue_share", "cumulative_share")}
LONG = 40  # characters: a column with a longer cell wraps in a wide cell (customer-value's top products)
FILTERS = ("date_from", "date_to", "as_of", "owner", "team", "process")
_refreshing = threading.Lock()  # one "Refresh now" at a time in this process


def _path() -> Any:
    return warehouse_path(state().config.data_dir)


@bp.get(links.ROUTES["reports"])
@login_required
def reports() -> ResponseReturnValue:
    """The reports there are, what each shows, and when the warehouse was last refreshed."""
    snapshot = viewing.WAREHOUSE.snapshot(_path())
    ordered = sorted(REPORTS, key=lambda n: SHOWN_FIRST.index(n) if n in SHOWN_FIRST else len(SHOWN_FIRST))
    listed = [(name, presentation.TITLES.get(name, name), presentation.DESCRIPTIONS.get(name, "")) for name in ordered]
    return render_template("staff/reports/index.html", reports=listed, snapshot=snapshot, refresh=RefreshForm(),
                           refreshing=_refreshing.locked())


@bp.get(links.ROUTES["report"])
@login_required
def report(name: str) -> ResponseReturnValue:
    """One report: its filters, charts and table (a page of rows), the downloads, the snapshot's time."""
    if name not in REPORTS:
        abort(404)
    viewed = _view(name)
    status = 400 if viewed["form"].errors else 200
    return render_template("staff/reports/report.html", **viewed), status


@bp.get(links.ROUTES["report_csv"])
@login_required
def report_csv(name: str) -> ResponseReturnValue:
    """The report's rows as CSV, as `crm report NAME --format csv` writes them (UTF-8 with a BOM, for Excel)."""
    return _download(name, "csv")


@bp.get(links.ROUTES["report_xlsx"])
@login_required
def report_xlsx(name: str) -> ResponseReturnValue:
    """The report as an Excel workbook: the columns in the viewer's language, numbers and dates as such."""
    return _download(name, "xlsx")


@bp.post(links.ROUTES["reports_refresh"])
@admin_required
def reports_refresh() -> ResponseReturnValue:
    """Rebuild the warehouse in the background (recorded as a refresh-analytics run); back to where it was asked."""
    if not RefreshForm().validate_on_submit():
        abort(400)
    if not _refreshing.acquire(blocking=False):
        flash(gettext("A refresh is already running."), "info")
    else:
        sessions = state().sessions
        threading.Thread(target=_refresh, args=(sessions,), name="reports-refresh", daemon=True).start()
        flash(gettext("Refreshing the reports from the store now; reload in a minute to see the new figures."),
              "success")
    back = request.form.get("next") or ""
    return redirect(back if back.startswith("/reports") and "//" not in back else links.path("reports"), code=303)


def _refresh(sessions: Any) -> None:
    try:
        runs.run(sessions, "refresh-analytics", refresh_job, trigger="web")
    except Exception:  # noqa: BLE001 - the run row could not be written: say so in the log, free the button
        log.exception("the reports' refresh could not run")
    finally:
        _refreshing.release()


# -- the page's data ----------------------------------------------------------------------------------

def _filters(name: str) -> tuple[ReportFilters, viewing.Choices, scoping.Scope, ReportParams | None]:
    """The filters form on the query, checked against the viewer's choices; the parameters when it is valid."""
    user = signed_in_user()
    with state().readers() as db:
        scope = scoping.scope_of(db, user)
        offered = viewing.choices(db, user, scope)
        form = ReportFilters(request.args)
        processes = [(key, languages.translate_value(page_language(), label)) for key, label in offered.processes]
        form.fill_choices(offered.owners, offered.teams, processes,
                          lazy_gettext("Everyone I can see") if len(offered.owners) > 1 else lazy_gettext("Me"),
                          lazy_gettext("Any team"))
        if not form.validate():
            for field in (form.owner, form.team, form.sales_process):
                if field.errors:
                    field.errors = [str(NOT_YOURS)]
            return form, offered, scope, None
        return form, offered, scope, viewing.params(db, scope, form.data)


def _view(name: str) -> dict[str, Any]:
    """Everything the report page shows."""
    form, offered, scope, params = _filters(name)
    snapshot = viewing.WAREHOUSE.snapshot(_path())
    language = page_language()
    context: dict[str, Any] = {
        "name": name, "title": presentation.TITLES.get(name, name),
        "description": presentation.DESCRIPTIONS.get(name, ""), "form": form, "choices": offered,
        "snapshot": snapshot, "used": frozenset(), "result": None, "charts": [], "refresh": RefreshForm(),
        "refreshing": _refreshing.locked(), "query": _query(), "open_period": OPEN_PERIOD in report_sql(name),
    }
    if snapshot is None:
        return context
    context["used"] = viewing.WAREHOUSE.parameters(snapshot, name)
    if params is None:
        return context
    try:
        resolved, result = viewing.WAREHOUSE.run(snapshot, name, params)
    except ValidationError as exc:  # e.g. a user added since the last refresh: not in the warehouse yet
        form.form_errors.append(store_message(exc))
        return context
    currency = _currency(snapshot)
    charts = viewing.WAREHOUSE.kept(snapshot, ("charts", name, params, language),
                                    lambda: [(chart, charting.render_svg(chart, language=language, currency=currency))
                                             for chart in charting.charts_for(name, result)])
    page = _page_number(request.args.get("page"), len(result.rows))
    shown = result.rows[(page - 1) * ROWS_PER_PAGE: page * ROWS_PER_PAGE]
    order = _column_order(name, result.columns)
    columns = [result.columns[i] for i in order]
    kinds = [presentation.column_kind(name, column) for column in columns]
    rows = [[presentation.format_cell(name, column, row[i], language=language, currency=currency)
             for column, i in zip(columns, order, strict=True)] for row in shown]
    context.update(
        resolved=resolved, result=result, charts=charts, page=page, pages=_pages(len(result.rows)),
        first=(page - 1) * ROWS_PER_PAGE + 1, last=(page - 1) * ROWS_PER_PAGE + len(shown),
        headings=[presentation.column_label(column) for column in columns],
        numeric=[kind not in ("text", "date") for kind in kinds],
        rows=rows,
        long=[any(len(row[i]) > LONG for row in rows) for i in range(len(columns))],
    )
    return context


def _column_order(name: str, columns: list[str]) -> list[int]:
    """The table's columns on the page: those people read first (FIRST_COLUMNS), then the rest in the report's order."""
    first = [columns.index(c) for c in FIRST_COLUMNS.get(name, ()) if c in columns]
    return first + [i for i in range(len(columns)) if i not in first]


def _currency(snapshot: viewing.Snapshot) -> str:
    def compute() -> str:
        cursor = snapshot.connection.cursor()
        try:
            found = cursor.execute("SELECT value FROM _settings WHERE key = 'default_currency'").fetchone()
        finally:
            cursor.close()
        return str(found[0]) if found else "TWD"

    return viewing.WAREHOUSE.kept(snapshot, ("currency",), compute)


def _query() -> dict[str, str]:
    """The filters on the query string (not the page number): what the downloads and the pager carry over."""
    return {k: v for k, v in request.args.items() if k in FILTERS and v}


def _pages(rows: int) -> int:
    return max(1, -(-rows // ROWS_PER_PAGE))


def _page_number(raw: str | None, rows: int) -> int:
    """The asked page of the table: a whole number from 1; past the last: the last."""
    asked = int(raw) if raw and raw.isdigit() and 0 < int(raw) < 1_000_000 else 1
    return min(asked, _pages(rows))


def _download(name: str, fmt: str) -> ResponseReturnValue:
    if name not in REPORTS:
        abort(404)
    form, _offered, _scope, params = _filters(name)
    if params is None:
        problems = "; ".join(f"{form[field].label.text}: {' '.join(errors)}" for field, errors in form.errors.items())
        return Response(problems + "\n", status=400, mimetype="text/plain")
    snapshot = viewing.WAREHOUSE.snapshot(_path())
    if snapshot is None:
        return Response(gettext("The reports have not been built yet.") + "\n", status=404, mimetype="text/plain")
    try:
        resolved, result = viewing.WAREHOUSE.run(snapshot, name, params)
    except (ValidationError, CrmError) as exc:
        message = store_message(exc) if isinstance(exc, ValidationError) else str(exc)
        return Response(message + "\n", status=400, mimetype="text/plain")
    user = signed_in_user()
    state().write(lambda db: audit.log(db, "export", "reports", 0, Actor.user(user.id), changes={
        "report": name, "format": fmt, "filter": _query(), "rows": len(result.rows)}))
    filename = f"{name}-{resolved.as_of or dt.date.today()}.{fmt}"
    if fmt == "csv":
        body: str | bytes = "\ufeff" + as_csv(result, name)
        mimetype = "text/csv; charset=utf-8"
    else:
        labelled = ReportResult([gettext(presentation.column_label(c)) for c in result.columns],
                                presentation.translated_rows(result.columns, result.rows, page_language()))
        body = as_xlsx(labelled, gettext(presentation.TITLES.get(name, name)))
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"'})

