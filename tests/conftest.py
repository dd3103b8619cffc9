"""Fixtures: every database test runs on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from crm_store.cli import main
from crm_store.db.engine import make_engine, session_factory
from crm_store.db.schema import upgrade
from crm_store.settings.seed import seed_all
from tests.pg_server import PostgresServer

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole run."""
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


def _migrate_and_seed(url: str) -> None:
    engine = make_engine(url)
    try:
        upgrade(engine)
        with session_factory(engine).begin() as session:
            seed_all(session)
    finally:
        engine.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def template(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated, seeded database that each test copies: a file, or a PostgreSQL template."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("template") / "template.db"
        _migrate_and_seed(f"sqlite:///{path}")  # closing the last connection folds the WAL into the file
        assert not path.with_name(path.name + "-wal").exists()
        return f"sqlite:///{path}"
    server: PostgresServer = request.getfixturevalue("pg_server")
    admin = create_engine(server.url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("create database crm_template"))
    admin.dispose()
    _migrate_and_seed(server.url("crm_template"))
    return server.url("crm_template")


@pytest.fixture
def database_url(template: str, tmp_path: Path) -> Iterator[str]:
    """A fresh copy of the template database for one test."""
    if template.startswith("sqlite"):
        target = tmp_path / "leadline.db"
        shutil.copy(template.removeprefix("sqlite:///"), target)
        yield f"sqlite:///{target}"
        return
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(template.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'create database "{name}" template crm_template'))
    try:
        yield template.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


@pytest.fixture
def backend(database_url: str) -> str:
    """The name of the database backend under test."""
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"


@pytest.fixture
def env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Deployment settings pointing at the test database and a throw-away data dir."""
    values = {"CRM_DATABASE_URL": database_url, "CRM_DATA_DIR": str(tmp_path / "data"), "CRM_LOG_LEVEL": "WARNING"}
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("CRM_SECRET_KEY", raising=False)
    return values


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on the test database."""
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session whose transaction the test commits or rolls back itself."""
    with session_factory(engine)() as s:
        yield s


@pytest.fixture
def crm(env: dict[str, str]):  # noqa: ANN201 - returns a callable
    """Run the `crm` command in-process against the test database."""
    runner = CliRunner()

    def run(*args: str, ok: bool = True) -> Result:
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert (result.exit_code == 0) is ok, result.output + result.stderr
        return result

    return run


# -- web forms -------------------------------------------------------------------------------------

ALLOWED_ORIGIN = "http://allowed.test"


@pytest.fixture
def reps(session: Session) -> list:
    """Three active sales reps (committed), in the order a round-robin list names them."""
    from crm_store.staff import users

    people = [
        users.add_user(session, f"rep{i}@leadline.test", f"Rep {i}", welcome=False) for i in (1, 2, 3)
    ]
    session.commit()
    return people


@pytest.fixture
def web_form(session: Session, reps: list):  # noqa: ANN201 - a WebForm
    """An enabled English form: default fields, round robin over `reps`, ALLOWED_ORIGIN may embed it.

    The minimum fill time is 0 s so tests can submit at once; spam tests set it themselves.
    """
    from crm_store.capture import forms as webforms
    from crm_store.settings import company

    form = webforms.add_form(session, {
        "name": "Website inquiry", "round_robin": [r.email for r in reps], "allowed_origins": [ALLOWED_ORIGIN],
        "auto_reply": True,
    })
    company.set_value(session, "form_min_fill_seconds", 0)
    session.commit()
    return form


@pytest.fixture
def app(env: dict[str, str], web_form, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201 - a Flask app
    """The web app on the test database (rate limits far above what tests send)."""
    from crm_store.config import load_config
    from webform import create_app

    monkeypatch.setenv("CRM_RATELIMIT_PER_IP", "100000/minute")
    monkeypatch.setenv("CRM_RATELIMIT_PER_FORM", "100000/minute")
    application = create_app(load_config())
    application.testing = True
    yield application
    application.extensions["leadline"].engine.dispose()


@pytest.fixture
def client(app):  # noqa: ANN201 - a Flask test client
    """A test client of the web app."""
    return app.test_client()


@pytest.fixture
def render_token(app, web_form):  # noqa: ANN201 - returns a callable
    """A valid render token for `web_form` (as the hosted page or embed.js would hand out)."""
    from webform.public.spam import render_token as make

    return lambda public_id=None: make(app.extensions["leadline"].config.secret_key, public_id or web_form.public_id)


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A temporary Prefect server for the whole run (its home in a temporary folder, analytics off).

    Defined once, here: a session fixture imported into several test modules is one fixture per module, and each
    would start its own server and point Prefect's settings at it for the rest of the run."""
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME, PREFECT_SERVER_ANALYTICS_ENABLED, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    home = tmp_path_factory.mktemp("prefect-home")
    with temporary_settings({PREFECT_HOME: home, PREFECT_SERVER_ANALYTICS_ENABLED: False}), \
            prefect_test_harness(server_startup_timeout=240):
        yield str(PREFECT_API_URL.value())
