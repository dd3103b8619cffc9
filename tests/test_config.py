"""Deployment settings: defaults, bad values, the generated secret key, SQLite pragmas."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from crm_store.config import SETTINGS, load_config
from crm_store.db.engine import make_engine
from crm_store.errors import CrmError


def test_defaults_put_everything_under_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config({})
    assert config.data_dir == tmp_path / "var"
    assert config.database_url == f"sqlite:///{tmp_path / 'var' / 'leadline.db'}"
    assert config.base_url == "http://127.0.0.1:8000"
    assert config.log_level == "INFO"


def test_settings_are_read_at_call_time(tmp_path: Path) -> None:
    config = load_config(
        {"CRM_DATA_DIR": str(tmp_path), "CRM_BASE_URL": "https://crm.example.com/", "CRM_LOG_LEVEL": "debug"}
    )
    assert config.data_dir == tmp_path
    assert config.base_url == "https://crm.example.com"
    assert config.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"CRM_LOG_LEVEL": "loud"}, "CRM_LOG_LEVEL"),
        ({"CRM_BASE_URL": "crm.example.com"}, "CRM_BASE_URL"),
        ({"CRM_DATABASE_URL": "leadline.db"}, "CRM_DATABASE_URL"),
        ({"CRM_WEB_PORT": "0"}, "CRM_WEB_PORT"),
        ({"CRM_WEB_PORT": "http"}, "CRM_WEB_PORT"),
        ({"CRM_WEB_HOST": "crm host; rm -rf"}, "CRM_WEB_HOST"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(CrmError, match=named):
        load_config(env)


def test_web_address_comes_from_the_environment() -> None:
    config = load_config({"CRM_WEB_HOST": "0.0.0.0", "CRM_WEB_PORT": "8080"})
    assert (config.web_host, config.web_port) == ("0.0.0.0", 8080)
    assert (load_config({}).web_host, load_config({}).web_port) == ("127.0.0.1", 8000)


def test_secret_key_is_generated_once_and_private(tmp_path: Path) -> None:
    config = load_config({"CRM_DATA_DIR": str(tmp_path)})
    key = config.secret_key
    assert len(key) >= 48
    assert load_config({"CRM_DATA_DIR": str(tmp_path)}).secret_key == key
    mode = stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode)
    assert mode == 0o600


def test_secret_key_from_environment_wins(tmp_path: Path) -> None:
    config = load_config({"CRM_DATA_DIR": str(tmp_path), "CRM_SECRET_KEY": "s3cret"})
    assert config.secret_key == "s3cret"
    assert not (tmp_path / "secret_key").exists()


def test_every_setting_has_a_default_and_help() -> None:
    for setting in SETTINGS:
        assert setting.env.startswith("CRM_")
        assert setting.default and setting.help


def test_sqlite_runs_in_wal_with_foreign_keys_and_busy_timeout(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("pragma journal_mode")).scalar() == "wal"
        assert conn.execute(text("pragma foreign_keys")).scalar() == 1
        assert conn.execute(text("pragma busy_timeout")).scalar() >= 5000
    engine.dispose()


def test_processes_starting_together_share_one_whole_secret_key(tmp_path: Path) -> None:
    """`crm up` starts several processes on a fresh data dir at once: each gets the same, whole key."""
    import subprocess
    import sys

    code = "from crm_store.config import load_config; print(load_config().secret_key)"
    env = {"CRM_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(8)]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outputs]
    keys = {out.strip() for out, _ in outputs}
    assert len(keys) == 1 and len(keys.pop()) >= 64
    assert [f.name for f in (tmp_path / "data").iterdir()] == ["secret_key"]  # no draft left behind
