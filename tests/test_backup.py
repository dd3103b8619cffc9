"""Backup and restore: one archive with a manifest; restore only into an empty place, all or nothing."""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, func, inspect, select, text
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.cli import backup as backup_cli
from crm_store.config import load_config
from crm_store.db.engine import make_engine
from crm_store.db.schema import alembic_config, head_revision
from crm_store.models import Base, Document, Erasure, Lead
from crm_store.ops import backup
from crm_store.records import erasures
from crm_store.records import lifecycle as records
from crm_store.records.documents import add_document, open_document
from crm_store.staff.users import add_user

PDF = "%PDF-1.4\n報價單 NT$120,000\n%%EOF\n".encode()
SQLITE_ONLY = pytest.mark.parametrize("template", ["sqlite"], indirect=True)


@pytest.fixture
def cli(crm):  # noqa: ANN001, ANN201 - the shared `crm` runner under the name these tests use
    """Run `crm` in-process against the test database."""
    return crm


@pytest.fixture
def crm_data(session: Session, env: dict[str, str]) -> Document:
    """A few records, a user, the secret key and a document, committed."""
    _ = load_config().secret_key  # generated into the data dir on first use, as the web app and mail worker do
    rep = add_user(session, "rep@example.com", "陳小華")
    account = records.create_account(session, {"name": "台積電"})
    records.create_contact(session, {"last_name": "Chen", "account_id": account.id})
    records.create_lead(session, {"last_name": "王", "company": "Acme"})
    records.create_opportunity(session, {"name": "Line upgrade", "amount": "12000", "account_id": account.id,
                                         "expected_close_date": "2027-03-31"})
    data_dir = Path(env["CRM_DATA_DIR"])
    doc = add_document(session, data_dir, account, PDF, filename="報價單.pdf", actor=Actor.user(rep.id))
    session.commit()
    return doc


@pytest.fixture
def empty_target(backend: str, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point the settings at an empty data dir and an empty database (a new one on the PostgreSQL server)."""
    monkeypatch.setenv("CRM_DATA_DIR", str(tmp_path / "restored"))
    if backend == "sqlite":
        monkeypatch.delenv("CRM_DATABASE_URL")
        yield f"sqlite:///{tmp_path / 'restored' / 'leadline.db'}"
        return
    server, name = database_url.rsplit("/", 1)[0], f"r_{uuid.uuid4().hex[:12]}"
    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'create database "{name}"'))
    monkeypatch.setenv("CRM_DATABASE_URL", f"{server}/{name}")
    try:
        yield f"{server}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


def _contents(url: str) -> dict[str, list[Any]]:
    """Every row of every table, sorted, so two databases can be compared whole."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = {t.name: conn.execute(select(t)).all() for t in Base.metadata.sorted_tables}
            rows["alembic_version"] = conn.execute(text("select version_num from alembic_version")).all()
    finally:
        engine.dispose()
    return {name: sorted((tuple(r) for r in found), key=repr) for name, found in rows.items()}


def _counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {t.name: conn.scalar(select(func.count()).select_from(t)) or 0 for t in Base.metadata.sorted_tables}
    finally:
        engine.dispose()


def _nothing_restored(target_url: str, data_dir: Path) -> None:
    assert not data_dir.exists() or list(data_dir.iterdir()) == []
    if target_url.startswith("sqlite"):
        assert not Path(target_url.removeprefix("sqlite:///")).exists()
    else:
        engine = create_engine(target_url)
        assert inspect(engine).get_table_names() == []
        engine.dispose()


def _members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]  # every member is a file


def _rewrite(archive: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(archive, "w:gz") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))


def test_backup_then_restore_gives_the_same_crm(
    crm_data: Document, cli, backend: str, database_url: str, env: dict[str, str], tmp_path: Path,  # noqa: ANN001
    request: pytest.FixtureRequest,
) -> None:
    source_dir = Path(env["CRM_DATA_DIR"])
    archive = tmp_path / "crm.tar.gz"
    out = cli("backup", str(archive)).output
    assert f"to {archive}" in out and "keep it somewhere safe" in out
    assert archive.stat().st_mode & 0o077 == 0  # it holds the secret key
    before_counts, before_rows = _counts(database_url), _contents(database_url)
    assert before_counts["documents"] == 1 and before_counts["leads"] == 1

    target_url = request.getfixturevalue("empty_target")
    target_dir = Path(load_config().data_dir)
    restored = cli("restore", str(archive)).output
    assert "Restored the backup" in restored
    tables = len(before_counts) + 1  # and alembic_version
    assert f"Verified the restored database: its {tables} tables hold the rows the manifest lists." in restored
    assert "restore with --erasures-from the database it replaces" in restored
    assert _counts(target_url) == before_counts
    assert _contents(target_url) == before_rows
    assert open_document(target_dir, crm_data).path.read_bytes() == PDF
    assert (target_dir / "secret_key").read_text() == (source_dir / "secret_key").read_text()
    assert load_config().secret_key == (source_dir / "secret_key").read_text().strip()
    expected = {"documents", "secret_key"} | ({"leadline.db"} if backend == "sqlite" else set())
    assert {p.name for p in target_dir.iterdir()} == expected  # and no staging folder left behind


def test_manifest_lists_every_file_with_its_hash(crm_data: Document, cli, backend: str, env: dict[str, str]) -> None:  # noqa: ANN001
    cli("backup")
    [archive] = (Path(env["CRM_DATA_DIR"]) / "backups").glob("leadline-*Z.tar.gz")
    members = _members(archive)
    manifest = json.loads(members.pop("manifest.json"))
    assert manifest["format_version"] == 1 and manifest["database"] == backend
    assert manifest["alembic_revision"] == head_revision() and manifest["app_version"]
    assert manifest["created_at"].endswith("+00:00")
    assert manifest["tables"] == {**_counts(load_config().database_url), "alembic_version": 1}
    db_member = "database/leadline.db" if backend == "sqlite" else "database/leadline.dump"
    doc_member = f"documents/{crm_data.sha256[:2]}/{crm_data.sha256}"
    assert sorted(members) == sorted([db_member, doc_member, "secret_key"])
    assert {e["path"]: (e["sha256"], e["size"]) for e in manifest["files"]} == {
        name: (hashlib.sha256(content).hexdigest(), len(content)) for name, content in members.items()
    }
    assert cli("backup", str(archive), ok=False).stderr == f"error: {archive} already exists; name another file\n"


def test_restore_refuses_a_data_dir_in_use(crm_data: Document, cli, tmp_path: Path, env: dict[str, str]) -> None:  # noqa: ANN001
    archive = tmp_path / "crm.tar.gz"
    cli("backup", str(archive))
    result = cli("restore", str(archive), ok=False)
    assert result.stderr.startswith("error: restore needs an empty data dir and database; found ")
    assert "/data/secret_key" in result.stderr and "point CRM_DATA_DIR" in result.stderr and result.stdout == ""


@pytest.mark.parametrize("template", ["postgresql"], indirect=True)
def test_restore_refuses_a_postgresql_database_with_tables(
    crm_data: Document, cli, backend: str, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: ANN001
) -> None:
    assert backend == "postgresql"  # a SQLite database lives in the data dir: the test above covers it
    archive = tmp_path / "crm.tar.gz"
    cli("backup", str(archive))
    monkeypatch.setenv("CRM_DATA_DIR", str(tmp_path / "fresh"))
    result = cli("restore", str(archive), ok=False)
    assert "restore needs an empty database" in result.stderr and "tables" in result.stderr
    assert not (tmp_path / "fresh").exists()


@pytest.mark.parametrize("damage", ["member", "gzip", "extra member", "not a backup"])
def test_a_damaged_archive_is_refused_before_anything_is_written(
    crm_data: Document, cli, backend: str, tmp_path: Path, damage: str, request: pytest.FixtureRequest,  # noqa: ANN001
) -> None:
    archive = tmp_path / "crm.tar.gz"
    cli("backup", str(archive))
    members = _members(archive)
    db_member = next(name for name in members if name.startswith("database/"))
    if damage == "member":  # a valid archive whose database differs by one byte from what the manifest says
        data = bytearray(members[db_member])
        data[len(data) // 2] ^= 0x01
        members[db_member] = bytes(data)
        _rewrite(archive, members)
    elif damage == "gzip":
        raw = bytearray(archive.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        archive.write_bytes(bytes(raw))
    elif damage == "extra member":
        _rewrite(archive, {"../../evil": b"x", **members})
    else:
        archive.write_bytes(b"just some text\n")
    target_url = request.getfixturevalue("empty_target")
    result = cli("restore", str(archive), ok=False)
    expected = {"member": f"damaged: {db_member} does not match the manifest; nothing restored",
                "extra member": "holds an unexpected member '../../evil'", "not a backup": "not a Leadline backup"}
    assert result.stderr.startswith(f"error: {archive} ") and result.stderr.count("\n") == 1
    assert expected.get(damage, "") in result.stderr
    _nothing_restored(target_url, load_config().data_dir)


def test_restore_refuses_another_kind_of_database(crm_data: Document, cli, backend: str, tmp_path: Path,  # noqa: ANN001
                                                  monkeypatch: pytest.MonkeyPatch, pg_server) -> None:  # noqa: ANN001
    archive = tmp_path / "crm.tar.gz"
    cli("backup", str(archive))
    monkeypatch.setenv("CRM_DATA_DIR", str(tmp_path / "fresh"))
    if backend == "sqlite":
        monkeypatch.setenv("CRM_DATABASE_URL", pg_server.url("postgres_empty_does_not_matter"))
        monkeypatch.setattr(backup, "check_restorable", lambda config: None)
    else:
        monkeypatch.delenv("CRM_DATABASE_URL")
    other = "postgresql" if backend == "sqlite" else "sqlite"
    result = cli("restore", str(archive), ok=False)
    assert result.stderr == f"error: the backup holds a {backend} database; CRM_DATABASE_URL is {other}\n"
    assert [p.name for p in (tmp_path / "fresh").iterdir()] == []


@pytest.mark.parametrize("template", ["postgresql"], indirect=True)
def test_postgresql_settings_travel_in_the_environment(
    crm_data: Document, cli, backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: ANN001
) -> None:
    assert backend == "postgresql"
    calls: list[tuple[list[str], dict[str, str]]] = []
    real_run = subprocess.run

    def spy(args: list[str], **kwargs: Any) -> Any:
        calls.append((args, kwargs["env"]))
        return real_run(args, **kwargs)

    monkeypatch.setattr(backup.subprocess, "run", spy)
    monkeypatch.setenv("CRM_DATABASE_URL", load_config().database_url.replace("crm@", "crm:s3cret@"))
    cli("backup", str(tmp_path / "crm.tar.gz"))
    [(args, env)] = calls
    url = load_config().database_url
    assert args[0].endswith("/pg_dump") and "--format=custom" in args
    assert not any(part in " ".join(args) for part in ("s3cret", url.rsplit("/", 1)[1], "127.0.0.1"))
    assert (env["PGPASSWORD"], env["PGHOST"], env["PGUSER"]) == ("s3cret", "127.0.0.1", "crm")
    assert env["PGDATABASE"] == url.rsplit("/", 1)[1]


def _downgrade(engine: Engine, revision: str) -> None:
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), revision)


def test_backup_before_migration_only_when_behind(engine: Engine, env: dict[str, str], tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config()
    assert backup.backup_before_migration(config) is None  # at the newest revision: nothing to protect
    _downgrade(engine, "0002")
    engine.dispose()
    archive = backup.backup_before_migration(config)
    assert archive is not None and archive.parent == config.data_dir / "backups"
    assert archive.name.startswith("leadline-") and archive.name.endswith(f"-before-{head_revision()}.tar.gz")
    manifest = json.loads(_members(archive)["manifest.json"])
    assert manifest["alembic_revision"] == "0002"


def test_backup_before_migration_skips_a_new_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_DATA_DIR", str(tmp_path / "new"))
    monkeypatch.delenv("CRM_DATABASE_URL", raising=False)
    assert backup.backup_before_migration(load_config()) is None
    assert not (tmp_path / "new").exists()


def test_large_copies_show_a_progress_bar(crm_data: Document, cli, tmp_path: Path,  # noqa: ANN001
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backup_cli, "PROGRESS_FROM_BYTES", 0)
    assert "Writing backup" in cli("backup", str(tmp_path / "a.tar.gz")).stderr
    monkeypatch.setenv("CRM_DATA_DIR", str(tmp_path / "fresh"))
    monkeypatch.setattr(backup, "check_restorable", lambda config: None)
    monkeypatch.setattr(backup, "_install", lambda config, staging: None)
    assert "Restoring" in cli("restore", str(tmp_path / "a.tar.gz")).stderr


def test_backup_needs_a_database(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("CRM_DATA_DIR", str(tmp_path / "new"))
    monkeypatch.delenv("CRM_DATABASE_URL")
    result = cli("backup", ok=False)
    assert result.stderr == (
        f"error: there is no database at {tmp_path}/new/leadline.db to back up; run `crm init` first\n"
    )
    assert not (tmp_path / "new" / "leadline.db").exists()


# -- a restored database is sound: no stale side files replayed into it, checked before it is called done ----


def _side_file(tmp_path: Path, suffix: str) -> bytes:
    """What SQLite leaves beside a database that a process was writing when it died: a hot journal, a WAL."""
    path = tmp_path / "crashed" / "leadline.db"
    path.parent.mkdir()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute(f"pragma journal_mode={'delete' if suffix == '-journal' else 'wal'}")
    db.execute("create table leads (id integer primary key, last_name text)")
    db.executemany("insert into leads (last_name) values (?)", [(f"lead {i}" * 40,) for i in range(200)])
    db.execute("begin")
    db.execute("update leads set last_name = 'changed'")
    content = path.with_name(path.name + suffix).read_bytes()
    db.execute("rollback")
    db.close()
    return content


@SQLITE_ONLY
@pytest.mark.parametrize(("suffix", "kind"), [
    ("-journal", "rollback journal"), ("-wal", "write-ahead log"), ("-shm", "shared-memory index"),
])
def test_restore_refuses_a_data_dir_holding_a_side_file_of_the_database(
    crm_data: Document, cli, tmp_path: Path, request: pytest.FixtureRequest, suffix: str, kind: str,  # noqa: ANN001
) -> None:
    archive = tmp_path / "crm.tar.gz"
    cli("backup", str(archive))
    target_url = request.getfixturevalue("empty_target")
    data_dir = load_config().data_dir
    data_dir.mkdir(parents=True)
    stale = data_dir / f"leadline.db{suffix}"
    stale.write_bytes(_side_file(tmp_path, suffix))  # left by a crashed CRM whose database was moved away
    result = cli("restore", str(archive), ok=False)
    assert result.stdout == ""
    assert result.stderr == (
        f"error: {stale} is the {kind} of an earlier database: SQLite would replay it into the restored one and "
        "corrupt it; move it away with the database it belongs to (or delete it), then restore again\n"
    )
    assert [p.name for p in data_dir.iterdir()] == [stale.name]  # nothing restored beside it
    assert not Path(target_url.removeprefix("sqlite:///")).exists()


def test_restore_checks_each_table_s_rows_against_the_manifest(
    crm_data: Document, cli, tmp_path: Path, request: pytest.FixtureRequest,  # noqa: ANN001
) -> None:
    archive = tmp_path / "crm.tar.gz"
    cli("backup", str(archive))
    members = _members(archive)
    manifest = json.loads(members["manifest.json"])
    manifest["tables"]["leads"] = 2  # the database in the archive lacks a row the backup counted
    members["manifest.json"] = json.dumps(manifest).encode()
    _rewrite(archive, members)
    target_url = request.getfixturevalue("empty_target")
    result = cli("restore", str(archive), ok=False)
    assert result.stderr == ("error: the restored database does not match the backup: leads has 1 rows, the "
                             "manifest says 2; nothing restored\n")
    assert "Restored" not in result.stdout
    _nothing_restored(target_url, load_config().data_dir)


@SQLITE_ONLY
def test_restore_refuses_a_database_that_fails_its_integrity_check(
    crm_data: Document, cli, tmp_path: Path, request: pytest.FixtureRequest,  # noqa: ANN001
) -> None:
    archive = tmp_path / "crm.tar.gz"
    cli("backup", str(archive))
    members = _members(archive)
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(members["database/leadline.db"])
    db = sqlite3.connect(damaged)
    page_size = db.execute("pragma page_size").fetchone()[0]
    root = db.execute("select rootpage from sqlite_master where name = 'ix_leads_email'").fetchone()[0]
    db.close()
    content = bytearray(damaged.read_bytes())
    content[(root - 1) * page_size:root * page_size] = bytes(page_size)  # an index page, zeroed
    members["database/leadline.db"] = bytes(content)
    manifest = json.loads(members["manifest.json"])  # a manifest written for the damaged file: the hashes agree
    for entry in manifest["files"]:
        if entry["path"] == "database/leadline.db":
            entry["sha256"], entry["size"] = hashlib.sha256(content).hexdigest(), len(content)
    members["manifest.json"] = json.dumps(manifest).encode()
    _rewrite(archive, members)
    target_url = request.getfixturevalue("empty_target")
    result = cli("restore", str(archive), ok=False)
    assert result.stderr.startswith("error: the restored database fails its integrity check (")
    assert result.stderr.endswith("); nothing restored\n") and "Restored" not in result.stdout
    _nothing_restored(target_url, load_config().data_dir)


# -- the erasure log: people erased after a backup are erased again when it is restored ----------------------


def test_restore_erases_again_who_was_erased_after_the_backup(
    crm_data: Document, cli, session: Session, backend: str, database_url: str, tmp_path: Path,  # noqa: ANN001
    request: pytest.FixtureRequest,
) -> None:
    lead = records.create_lead(session, {"last_name": "林", "first_name": "曉薇", "email": "Hua@Example.com",
                                         "phone": "0912-000-111", "description": "請回電"})
    session.commit()
    archive = tmp_path / "before-the-erase.tar.gz"
    cli("backup", str(archive))
    cli("person", "erase", "hua@example.com", "--yes")
    [logged] = session.scalars(select(Erasure)).all()
    session.close()
    old = database_url.removeprefix("sqlite:///") if backend == "sqlite" else database_url  # a path, or a URL

    target_url = request.getfixturevalue("empty_target")
    out = cli("restore", str(archive), "--erasures-from", old).output
    assert "Re-applied 1 erasure(s) made after this backup: those people are erased again." in out
    engine = make_engine(target_url)
    try:
        with Session(engine) as restored:
            again = restored.scalars(select(Lead).where(Lead.lead_no == lead.lead_no)).one()
            assert (again.last_name, again.first_name, again.email, again.phone, again.description) == (
                "[erased]", None, None, None, None)
            [entry] = restored.scalars(select(Erasure)).all()  # logged here too, for the next backup
            assert (entry.email_hash, entry.erased_at) == (logged.email_hash, logged.erased_at)
            assert entry.email_hash == erasures.email_hash(" HUA@example.com ")
    finally:
        engine.dispose()
    if backend == "sqlite":  # and the restored file keeps no copy of them in a freed page
        raw = Path(target_url.removeprefix("sqlite:///")).read_bytes().lower()
        assert b"hua@example.com" not in raw and "曉薇".encode() not in raw and b"912000111" not in raw
        assert json.dumps("曉薇").strip('"').encode() not in raw  # as JSON columns write it


def test_an_unreadable_erasure_log_is_refused_before_anything_is_restored(
    crm_data: Document, cli, tmp_path: Path, request: pytest.FixtureRequest,  # noqa: ANN001
) -> None:
    archive = tmp_path / "crm.tar.gz"
    cli("backup", str(archive))
    target_url = request.getfixturevalue("empty_target")
    missing = tmp_path / "moved-away" / "leadline.db"
    result = cli("restore", str(archive), "--erasures-from", str(missing), ok=False)
    assert result.stderr == f"error: --erasures-from: there is no database at {missing}\n"
    _nothing_restored(target_url, load_config().data_dir)
