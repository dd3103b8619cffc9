"""The Reports pages through the real app (SQLite and PostgreSQL): every report is a page in both languages, with
its charts and table; each viewer's figures are their scope's whatever the filters or the download say; the CSV
and Excel downloads; "Refresh now" for admins. Pages are parsed (`tests/staff_support.py`).

The crew (tests/staff_support.py): the manager Boss has Rep A reporting to them; Rep A and Rep B are in team North;
Rep C is on their own. Each has one open deal with an amount that names them (Rep A 1,111, Rep B 2,222, Rep C
4,444, Boss 8,888), and Rep A's and Rep C's accounts have an invoice each.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from analytics.reports import REPORTS
from analytics.warehouse import refresh, warehouse_path
from crm_store.models import FlowRun, Team, User
from crm_store.staff import scope as scoping

from .analytics_support import add_account, add_deal, add_invoice, add_service
from .staff_support import Staff
from .test_staff_records import Crew, make_crew, signed_in

AMOUNTS = {"rep": D(1111), "rep_b": D(2222), "rep_c": D(4444), "manager": D(8888)}


@pytest.fixture
def crew(session: Session) -> Crew:
    return make_crew(session)


@pytest.fixture
def figures(session: Session, crew: Crew, env: dict[str, str]) -> Path:
    """Each one's deal, two invoices, and the warehouse refreshed into the app's data dir; its path."""
    created = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    service = add_service(session, "SVC-1", "Consulting")
    for who, amount in AMOUNTS.items():
        owner = session.get_one(User, crew.ids[who])
        add_deal(session, f"Deal of {owner.name}", owner, created, amount=str(amount))
    for who, price in (("rep", "700"), ("rep_c", "900")):
        owner = session.get_one(User, crew.ids[who])
        account = add_account(session, f"Account of {owner.name}", owner)
        add_invoice(session, account, dt.date.today() - dt.timedelta(days=10), [(service, "1", price)])
    session.commit()
    target = warehouse_path(Path(env["CRM_DATA_DIR"]))
    refresh(env["CRM_DATABASE_URL"], target)
    return target


def pipeline_amounts(text: str) -> D:
    """The pipeline CSV's total amount."""
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    return sum((D(row["amount"] or "0") for row in rows), D(0))


def visible_owners(session: Session, crew: Crew, who: str) -> set[str]:
    """The crew keys whose records `who` sees (the store's own scope rule)."""
    scope = scoping.scope_of(session, session.get_one(User, crew.ids[who]))
    session.rollback()  # no read transaction left open for the app's writes to wait on
    return {key for key in AMOUNTS if scope.everything or crew.ids[key] in scope.owners}


@pytest.mark.parametrize("language", ["en", "zh_Hant"])
def test_every_report_is_a_page_in_both_languages(client: Any, crew: Crew, figures: Path, language: str) -> None:
    staff = signed_in(client, crew, "admin")
    staff.get("/profile")
    staff.post("/language", {"language": language, "next": "/reports"})
    index = staff.get("/reports")
    assert staff.status == 200
    linked = {a.attrs["href"] for a in index.all("a") if a.attrs.get("href", "").startswith("/reports/")}
    assert linked == {f"/reports/{name}" for name in REPORTS}
    for name in REPORTS:
        page = staff.get(f"/reports/{name}")
        assert staff.status == 200, (name, page.text[:500])
        assert page.all("table", class_="report-table") or page.all(class_="empty"), name
        assert page.all("a", href=f"/reports/{name}.csv") and page.all("a", href=f"/reports/{name}.xlsx"), name
    pipeline = staff.get("/reports/pipeline")
    charts = pipeline.all("figure")
    assert charts, "the pipeline page draws its chart"
    assert "<svg" in staff.response.get_data(as_text=True)
    if language == "zh_Hant":
        assert "報表" in pipeline.title
        assert "下載" in pipeline.text


@pytest.mark.parametrize("who", ["admin", "manager", "rep", "rep_b", "rep_c"])
def test_each_viewer_sees_their_scope_only(client: Any, session: Session, crew: Crew, figures: Path,
                                           who: str) -> None:
    staff = signed_in(client, crew, who)
    seen = visible_owners(session, crew, who)
    assert who == "admin" or who in seen
    if who in ("rep", "manager"):
        assert "rep_c" not in seen
    staff.get("/reports/pipeline.csv")
    assert staff.status == 200
    assert staff.response.headers["Content-Disposition"].startswith('attachment; filename="pipeline-')
    assert pipeline_amounts(staff.response.get_data(as_text=True)) == sum(AMOUNTS[k] for k in seen)
    page = staff.get("/reports/rep-activity")
    assert staff.status == 200
    shown = page.text
    for key, email in crew.emails.items():
        if key in AMOUNTS:
            assert (email in shown) == (key in seen), (who, key)


@pytest.mark.parametrize("who", ["rep", "manager"])
def test_no_filter_reaches_outside_the_scope(client: Any, session: Session, crew: Crew, figures: Path,
                                             who: str) -> None:
    staff = signed_in(client, crew, who)
    outsider = str(crew.ids["rep_c"])
    for path in ("/reports/pipeline", "/reports/pipeline.csv", "/reports/pipeline.xlsx"):
        response = staff.client.get(f"{path}?owner={outsider}")
        assert response.status_code == 400, path
        assert b"4444" not in response.get_data() and b"4,444" not in response.get_data()
    page = staff.get(f"/reports/pipeline?owner={outsider}")
    assert page.field_error("owner") == "Pick one from the list."
    south = Team(name="South")
    session.add(south)
    session.commit()
    staff.get(f"/reports/pipeline.csv?team={south.id}")
    assert staff.status == 400
    assert "Team" in staff.response.get_data(as_text=True)
    # a team the viewer may pick keeps to the scope too: North holds Rep B, whom Rep A's manager does not see
    north = session.scalar(select(Team.id).where(Team.name == "North"))
    session.rollback()
    staff.get(f"/reports/pipeline.csv?team={north}")
    assert staff.status == 200
    in_north = {"rep", "rep_b"} & visible_owners(session, crew, who)
    assert pipeline_amounts(staff.response.get_data(as_text=True)) == sum(AMOUNTS[k] for k in in_north)


def test_bad_dates_name_their_field(client: Any, crew: Crew, figures: Path) -> None:
    staff = signed_in(client, crew, "manager")
    page = staff.get("/reports/win-rate?date_from=2026-13-01")
    assert staff.status == 400
    assert page.field_error("date_from")
    page = staff.get("/reports/win-rate?date_from=2026-06-01&date_to=2026-05-01")
    assert staff.status == 400
    assert page.field_error("date_to") == "The period ends before it starts."
    staff.get("/reports/win-rate.csv?date_from=2026-06-01&date_to=2026-05-01")
    assert staff.status == 400
    assert "To" in staff.response.get_data(as_text=True)
    staff.get("/reports/no-such-report")
    assert staff.status == 404
    staff.get("/reports/no-such-report.csv")
    assert staff.status == 404


def test_the_excel_download_has_the_columns_in_the_viewers_language(client: Any, crew: Crew, figures: Path) -> None:
    staff = signed_in(client, crew, "admin")
    staff.get("/profile")
    staff.post("/language", {"language": "zh_Hant", "next": "/reports"})
    response = staff.client.get("/reports/pipeline.xlsx")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in "".join(map(str, header))), header
    amounts = [row[header.index(next(h for h in header if "金額" in str(h)))] for row in
               sheet.iter_rows(min_row=2, values_only=True)]
    assert sum(D(str(a or 0)) for a in amounts) == sum(AMOUNTS.values())
    stages = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert stages[0] == "開發中", stages  # the stage names in the reader's language too, as on the page


def test_downloads_are_audited(client: Any, session: Session, crew: Crew, figures: Path) -> None:
    from crm_store.models import AuditEntry

    staff = signed_in(client, crew, "rep")
    staff.get("/reports/customer-value.csv")
    assert staff.status == 200
    entry = session.scalars(select(AuditEntry).where(AuditEntry.module == "reports")).one()
    assert entry.action == "export"
    assert entry.changes["report"] == "customer-value" and entry.changes["rows"] == 1


def test_without_a_warehouse_the_pages_say_so(client: Any, crew: Crew, env: dict[str, str]) -> None:
    staff = signed_in(client, crew, "rep")
    page = staff.get("/reports/pipeline")
    assert staff.status == 200
    assert "No figures yet" in page.text
    assert not page.all("form", action="/reports/refresh")
    staff.get("/reports/pipeline.csv")
    assert staff.status == 404
    staff.sign_out()
    admin = signed_in(client, crew, "admin")
    page = admin.get("/reports")
    assert page.all("form", action="/reports/refresh")


def test_refresh_now_is_for_admins(client: Any, session: Session, crew: Crew, env: dict[str, str]) -> None:
    target = warehouse_path(Path(env["CRM_DATA_DIR"]))
    rep = signed_in(client, crew, "rep")
    rep.get("/reports")
    rep.post("/reports/refresh", {"csrf_token": rep.last.csrf() if rep.last and rep.last.all(
        "input", name="csrf_token") else ""}, csrf=False)
    assert rep.status in (400, 403)
    assert not target.exists()
    rep.sign_out()
    admin = signed_in(client, crew, "admin")
    admin.get("/reports")
    admin.post("/reports/refresh", {"next": "/reports/funnel"})
    assert admin.status == 303 and admin.location.endswith("/reports/funnel")
    deadline = time.monotonic() + 60
    run = None
    while time.monotonic() < deadline:
        found = session.execute(select(FlowRun.status, FlowRun.trigger, FlowRun.errors)
                                .where(FlowRun.flow == "refresh-analytics")).first()
        session.rollback()  # no read transaction left open for the run's own writes to wait on
        run = found
        if run is not None and run.status != "running":
            break
        time.sleep(0.2)
    assert run is not None and run.status == "completed", run and run.errors
    assert run.trigger == "web"
    assert target.exists()
    page = admin.get("/reports/funnel")
    assert "Figures as of" in page.text


def test_the_header_links_to_the_reports(client: Any, crew: Crew, figures: Path) -> None:
    staff: Staff = signed_in(client, crew, "rep")
    page = staff.get("/")
    assert page.all("a", href="/reports")
