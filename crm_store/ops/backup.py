"""Backup and restore: one tar.gz holding the database, the documents, the secret key and a manifest."""

from __future__ import annotations

import errno
import glob
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import IO, Any, cast

from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import make_url

from crm_store.actor import Actor
from crm_store.config import Config
from crm_store.db.engine import make_engine, session_factory
from crm_store.db.schema import alembic_config, current_revision, head_revision, upgrade
from crm_store.errors import CrmError
from crm_store.languages import N_
from crm_store.models import utcnow
from crm_store.ops import restore_check
from crm_store.records import erasures, privacy
from crm_store.records.documents import documents_dir

FORMAT, FORMAT_VERSION = "leadline-backup", 1
MANIFEST, SECRET_KEY = "manifest.json", "secret_key"
DATABASE_MEMBER = {"sqlite": "database/leadline.db", "postgresql": "database/leadline.dump"}
_MEMBER = re.compile(r"manifest\.json|secret_key|database/leadline\.(db|dump)|documents/([0-9a-f]{2})/\2[0-9a-f]{62}")
TIMED_NAME = re.compile(r"leadline-(\d{8}T\d{6}Z)(?:-(\d+))?\.tar\.gz")  # default_target's names, no label
# What SQLite keeps beside a database: replayed into whatever database takes the name next.
SIDE_FILES = {"-journal": N_("rollback journal"), "-wal": N_("write-ahead log"), "-shm": N_("shared-memory index")}
Progress = Callable[[int], Any]


@dataclass(frozen=True)
class Snapshot:
    """The files of one backup (member name, source path), the database copy already taken, its row counts."""

    database: str
    revision: str | None
    files: list[tuple[str, Path]]
    tables: dict[str, int] = field(default_factory=dict)  # table -> rows in the copy

    @property
    def total_bytes(self) -> int:
        """Return the size of every file to archive."""
        return sum(path.stat().st_size for _, path in self.files)


@dataclass(frozen=True)
class Restored:
    """What a restore did: the backup's manifest, the tables whose row counts it checked, the erasures re-applied."""

    manifest: dict[str, Any]
    tables_checked: int
    erasures_reapplied: int | None  # None: no erasure log was given
    wal_emptied: bool = True


def backups_dir(config: Config) -> Path:
    """Return the folder backups go to by default: $CRM_DATA_DIR/backups."""
    return config.data_dir / "backups"


def default_target(config: Config, label: str = "") -> Path:
    """Return a new archive path under $CRM_DATA_DIR/backups named by the UTC time."""
    stem, n = f"{backups_dir(config)}/leadline-{utcnow():%Y%m%dT%H%M%SZ}{label}", 1
    while Path(f"{stem}{f'-{n}' if n > 1 else ''}.tar.gz").exists():
        n += 1  # a second backup within the same second
    return Path(f"{stem}{f'-{n}' if n > 1 else ''}.tar.gz")


def timed_backups(folder: Path) -> list[Path]:
    """The backups in a folder named by the time alone, as `default_target` names them, newest first.

    Only these are pruned: a backup named with a label (`-before-<revision>`, taken before a migration) or by
    hand, and any other file, is never counted or deleted."""
    found = [(m[1], int(m[2] or 1), path) for path in folder.glob("leadline-*.tar.gz")
             if (m := TIMED_NAME.fullmatch(path.name)) and path.is_file() and not path.is_symlink()]
    return [path for _stamp, _n, path in sorted(found, reverse=True)]


def prune(folder: Path, keep: int) -> list[Path]:
    """Delete the backups named by time beyond the newest `keep` in a folder; return the ones deleted."""
    if keep < 1:
        raise ValueError("keep at least one backup")
    old = timed_backups(folder)[keep:]
    for path in old:
        path.unlink(missing_ok=True)  # another prune may have got there first
    return old


def resolve_target(config: Config, file: Path | None) -> Path:
    """Return where a backup goes; refuse to overwrite an existing file."""
    target = (file or default_target(config)).expanduser().resolve()
    if target.exists():
        raise CrmError(f"{target} already exists; name another file")
    return target


@contextmanager
def snapshot(config: Config, work_dir: Path) -> Iterator[Snapshot]:
    """Copy the database consistently into a work folder and list the documents and the secret key."""
    kind = _kind(config)
    work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work_dir, prefix=".backup-") as tmp:
        if kind == "sqlite" and not _sqlite_path(config).is_file():
            raise CrmError(f"there is no database at {_sqlite_path(config)} to back up; run `crm init` first")
        engine = make_engine(config.database_url)
        try:
            revision = current_revision(engine)
            if kind == "sqlite":
                copy, tables = _sqlite_copy(_sqlite_path(config), Path(tmp))
            else:
                copy, tables = _pg_dump(engine, Path(tmp))
        finally:
            engine.dispose()
        # Listed after the database copy: a document's file is written before its row commits,
        # so every document the copy refers to is already on disk.
        files = [(DATABASE_MEMBER[kind], copy)] + [
            (p.relative_to(config.data_dir).as_posix(), p) for p in sorted(documents_dir(config.data_dir).glob("*/*"))
            if p.is_file() and _MEMBER.fullmatch(p.relative_to(config.data_dir).as_posix())
        ]
        if (config.data_dir / SECRET_KEY).is_file():
            files.append((SECRET_KEY, config.data_dir / SECRET_KEY))
        yield Snapshot(kind, revision, files, tables)


def write_archive(snap: Snapshot, target: Path, progress: Progress | None = None) -> Path:
    """Write the snapshot and its manifest to a tar.gz, atomically and readable only by its owner."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    try:
        with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as raw:
            with tarfile.open(fileobj=raw, mode="w:gz") as tar:
                entries = [_add_file(tar, name, path, progress) for name, path in snap.files]
                manifest = {
                    "format": FORMAT, "format_version": FORMAT_VERSION,
                    "created_at": utcnow().isoformat(timespec="seconds"), "app_version": version("leadline"),
                    "alembic_revision": snap.revision, "database": snap.database, "files": entries,
                    "tables": snap.tables,
                }
                data = json.dumps(manifest, indent=2).encode()
                tar.addfile(_member(MANIFEST, len(data)), io.BytesIO(data))
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return target


def create_backup(config: Config, file: Path | None = None, progress: Progress | None = None) -> Path:
    """Back up the database, documents and secret key into one archive; return its path."""
    target = resolve_target(config, file)
    with snapshot(config, target.parent) as snap:
        return write_archive(snap, target, progress)


def backup_before_migration(config: Config) -> Path | None:
    """Back up a database that exists and is behind the newest migration; return the archive."""
    if config.is_sqlite and not _sqlite_path(config).exists():
        return None
    engine = make_engine(config.database_url)
    try:
        revision = current_revision(engine)
    finally:
        engine.dispose()
    head = head_revision()
    if revision is None or revision == head:
        return None
    return create_backup(config, default_target(config, f"-before-{head}"))


def check_restorable(config: Config) -> None:
    """Refuse unless the data dir holds no database, side files, documents or secret key and the database is empty."""
    db = [_sqlite_path(config)] if config.is_sqlite else []
    found = [*db, config.data_dir / SECRET_KEY]
    if present := [str(p) for p in [*found, *documents_dir(config.data_dir).glob("*")] if p.exists()][:3]:
        raise CrmError(f"restore needs an empty data dir and database; found {', '.join(present)}; "
                       "point CRM_DATA_DIR (and CRM_DATABASE_URL) at new ones")
    for side, kind in ((p.with_name(p.name + suffix), kind) for p in db for suffix, kind in SIDE_FILES.items()):
        if side.exists() or side.is_symlink():
            raise CrmError(N_(
                "%(file)s is the %(kind)s of an earlier database: SQLite would replay it into the restored one and "
                "corrupt it; move it away with the database it belongs to (or delete it), then restore again"
            ) % {"file": side, "kind": kind})
    if not config.is_sqlite:
        engine = make_engine(config.database_url)
        try:
            tables = inspect(engine).get_table_names()
        finally:
            engine.dispose()
        if tables:
            raise CrmError(f"restore needs an empty database; {make_url(config.database_url).database} has "
                           f"{len(tables)} tables; create a new database and point CRM_DATABASE_URL at it")


def restore(
    config: Config, archive: Path, progress: Progress | None = None, erasures_from: str | None = None
) -> Restored:
    """Verify every file of a backup, restore it into an empty data dir and database, and check the result.

    With `erasures_from` (the database this one replaces, or a newer one), the people erased there after
    the backup was taken are erased again.
    """
    check_restorable(config)
    log = erasures.read_log(erasures_from) if erasures_from else None  # unreadable: refused before any write
    manifest = _restore_files(config, archive, progress)
    expected = manifest.get("tables") or {}  # backups made before row counts were kept list none
    try:
        if config.is_sqlite:
            checked = restore_check.check_sqlite(_sqlite_path(config), expected)
        else:
            checked = restore_check.check_postgresql(config.database_url, expected)
    except BaseException:
        _remove_restored(config)
        raise
    if log is None:
        return Restored(manifest, checked, None)
    reapplied, emptied = _reapply(config, log)
    return Restored(manifest, checked, reapplied, emptied)


def _restore_files(config: Config, archive: Path, progress: Progress | None) -> dict[str, Any]:
    config.data_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=config.data_dir, prefix=".restore-"))
    try:
        manifest = _extract_verified(archive, staging, progress)
        if manifest["database"] != _kind(config):
            raise CrmError(f"the backup holds a {manifest['database']} database; CRM_DATABASE_URL is {_kind(config)}")
        if not (staging / DATABASE_MEMBER[_kind(config)]).is_file():
            raise CrmError(f"{archive} holds no database; nothing restored")
        revisions = {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
        if manifest["alembic_revision"] not in revisions | {None}:
            raise CrmError(f"the backup needs Leadline {manifest['app_version']} or newer to restore")
        _install(config, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def _remove_restored(config: Config) -> None:
    """Take back a restore that failed its check: the files it placed, and the tables it made."""
    shutil.rmtree(documents_dir(config.data_dir), ignore_errors=True)
    (config.data_dir / SECRET_KEY).unlink(missing_ok=True)
    if config.is_sqlite:
        db = _sqlite_path(config)
        for path in (db, *(db.with_name(db.name + suffix) for suffix in SIDE_FILES)):
            path.unlink(missing_ok=True)
        return
    engine = make_engine(config.database_url)
    try:
        with engine.begin() as conn:
            for name in inspect(conn).get_table_names():
                conn.execute(text(f'drop table if exists "{name}" cascade'))
    finally:
        engine.dispose()


def _reapply(config: Config, log: list[erasures.Entry]) -> tuple[int, bool]:
    """Erase again the people erased after the backup was taken (the schema brought up to date first)."""
    if not log:
        return 0, True
    engine = make_engine(config.database_url)
    try:
        if current_revision(engine) != head_revision():
            upgrade(engine)
        with session_factory(engine).begin() as session:
            reapplied = privacy.reapply_erasures(session, log, Actor.system("restore"), config.data_dir)
        return reapplied, erasures.wipe_freed(engine)
    finally:
        engine.dispose()


def _extract_verified(archive: Path, staging: Path, progress: Progress | None) -> dict[str, Any]:
    got: dict[str, tuple[str, int]] = {}
    manifest: Any = None
    try:
        with archive.open("rb") as raw, tarfile.open(fileobj=_tar_source(raw, progress), mode="r|gz") as tar:
            for member in tar:
                source = tar.extractfile(member) if member.isreg() else None
                if source is None or not _MEMBER.fullmatch(member.name) or member.name in got:
                    raise CrmError(f"{archive} holds an unexpected member {member.name!r}; not a Leadline backup")
                if member.name == MANIFEST:
                    manifest, got[MANIFEST] = json.loads(source.read(16 * 2**20)), ("", 0)
                else:
                    got[member.name] = _copy_hashing(source, staging / member.name)
        del got[MANIFEST]
        if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
            raise CrmError(f"{archive} is not a Leadline backup of format {FORMAT_VERSION}")
        expected = {e["path"]: (e["sha256"], e["size"]) for e in manifest["files"]}
    except (tarfile.TarError, zlib.error, EOFError, OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CrmError(f"{archive} is damaged or not a Leadline backup ({exc or type(exc).__name__})") from exc
    bad = [n for n in expected.keys() | got.keys() if expected.get(n) != got.get(n)]
    bad += [n for n, (sha, _) in got.items() if n.startswith("documents/") and not n.endswith(sha)]
    if bad := sorted(set(bad)):
        raise CrmError(f"{archive} is damaged: {', '.join(bad[:3])} does not match the manifest; nothing restored")
    return manifest


def _install(config: Config, staging: Path) -> None:
    installed: list[Path] = []
    try:
        for name, final in ((SECRET_KEY, config.data_dir / SECRET_KEY), ("documents", documents_dir(config.data_dir))):
            if (staging / name).exists():
                if final.is_dir():
                    final.rmdir()  # empty: check_restorable saw nothing in it
                os.replace(staging / name, final)
                installed.append(final)
        if config.is_sqlite:
            _place_file(staging / DATABASE_MEMBER["sqlite"], _sqlite_path(config))
        else:
            engine = make_engine(config.database_url)
            try:
                # An empty URI: libpq takes every connection setting from the PG* variables.
                dump = str(staging / DATABASE_MEMBER["postgresql"])
                _run_pg("pg_restore", engine, ["--dbname=postgresql://", "--single-transaction", "--exit-on-error",
                                               "--no-owner", "--no-privileges", dump])
            finally:
                engine.dispose()
    except BaseException:
        for path in installed:  # pg_restore ran in one transaction: only these files need undoing
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        raise


def _place_file(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(source, target)
    except OSError as exc:  # another file system: copy beside the target, then rename into place
        if exc.errno != errno.EXDEV:
            raise
        partial = target.with_name(f".{target.name}.partial")
        shutil.copyfile(source, partial)
        os.replace(partial, target)


def _kind(config: Config) -> str:
    return "sqlite" if config.is_sqlite else "postgresql"


def _sqlite_path(config: Config) -> Path:
    return Path(make_url(config.database_url).database or "").resolve()


def _sqlite_copy(db_path: Path, work_dir: Path) -> tuple[Path, dict[str, int]]:
    copy = work_dir / "leadline.db"
    source, target = sqlite3.connect(db_path, timeout=30), sqlite3.connect(copy)
    try:
        source.backup(target)  # the online backup API: a consistent copy while the CRM keeps running
        counts = restore_check.sqlite_counts(target, restore_check.sqlite_tables(target))
    finally:
        target.close()
        source.close()
    return copy, counts


def _pg_dump(engine: Engine, work_dir: Path) -> tuple[Path, dict[str, int]]:
    """Dump the database and count its rows in one snapshot (exported to pg_dump), so the counts match the dump."""
    dump = work_dir / "leadline.dump"
    with engine.connect() as conn:
        conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            snapshot = conn.scalar(text("select pg_export_snapshot()"))
            counts = restore_check.table_counts(conn, sorted(inspect(conn).get_table_names()))
            _run_pg("pg_dump", engine, ["--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
                                        f"--file={dump}"])
    return dump, counts


def _run_pg(tool: str, engine: Engine, args: list[str]) -> None:
    """Run a PostgreSQL client tool; the connection settings travel in PG* variables, never in args."""
    with engine.connect():
        major = int((engine.dialect.server_version_info or (0,))[0])
    url = engine.url
    settings = {"PGHOST": url.host or url.query.get("host"), "PGPORT": url.port, "PGUSER": url.username,
                "PGPASSWORD": url.password, "PGDATABASE": url.database, "PGSSLMODE": url.query.get("sslmode")}
    env = os.environ | {k: str(v) for k, v in settings.items() if isinstance(v, (str, int))}
    result = subprocess.run([_pg_binary(tool, major), *args], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines() or [f"exit status {result.returncode}"]
        raise CrmError(f"{tool} failed: {lines[-1]}")


def _pg_binary(tool: str, major: int) -> str:
    """Return the client tool of the server's major version, else the closest newer, else the one on PATH."""
    versions = sorted((int(p.split("/")[-3]), p) for p in glob.glob(f"/usr/lib/postgresql/*/bin/{tool}")
                      if p.split("/")[-3].isdigit())
    newer = [path for v, path in versions if v >= major]
    found = newer[0] if newer else shutil.which(tool)
    if found is None:
        raise CrmError(f"{tool} is not installed; install postgresql-client-{major}")
    return found


def _member(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o600, int(utcnow().timestamp())
    return info


def _add_file(tar: tarfile.TarFile, name: str, path: Path, progress: Progress | None) -> dict[str, Any]:
    with path.open("rb") as f:
        reader = _Reader(f, progress)
        tar.addfile(_member(name, path.stat().st_size), reader)
    return {"path": name, "sha256": reader.sha256.hexdigest(), "size": reader.count}


def _copy_hashing(source: IO[bytes], target: Path) -> tuple[str, int]:
    target.parent.mkdir(parents=True, exist_ok=True)
    reader = _Reader(source)
    with os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        while chunk := reader.read(2**20):
            out.write(chunk)
    return reader.sha256.hexdigest(), reader.count


def _tar_source(raw: IO[bytes], progress: Progress | None) -> IO[bytes]:
    return cast(IO[bytes], _Reader(raw, progress))  # the stream mode of tarfile only ever calls read()


class _Reader:
    """A read-only file wrapper that hashes, counts and reports what passes through it."""

    def __init__(self, f: IO[bytes], progress: Progress | None = None) -> None:
        self.f, self.progress, self.sha256, self.count = f, progress, hashlib.sha256(), 0

    def read(self, n: int = -1) -> bytes:
        chunk = self.f.read(n)
        self.sha256.update(chunk)
        self.count += len(chunk)
        if self.progress is not None and chunk:
            self.progress(len(chunk))
        return chunk
