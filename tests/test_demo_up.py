"""`make demo` as a newcomer runs it: its two web forms, the URL and snippet it prints, and `crm up` serving them.

`make demo` ends in `crm up`, whose `web` service is `crm serve` on its defaults, 127.0.0.1:8000 (no setting
moves it). So the run happens in a network namespace of its own (`unshare --map-root-user --net`), where port
8000 is free whatever else runs on this machine; the files (the SQLite database under a temporary
CRM_DATA_DIR, the outbox) are shared with the test. Inside the namespace `_session()` (run as a subprocess)
plays the visitor and the operator and writes what it saw to a JSON file; the tests assert on that and on the
database. `make` runs with `-o .venv/bin/crm`: the venv is taken as installed, nothing is reinstalled.
"""

from __future__ import annotations

import contextlib
import fcntl
import http.client
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from crm_store import languages, links
from crm_store.config import load_config
from crm_store.models import Lead, OutboxMessage, Team, TeamMember, User, WebForm, WebSubmission
from crm_store.ops.demo import DEMO_FORM_NAME
from crm_store.ops.supervisor import declared_services
from crm_store.settings import company

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
HOST, PORT = "127.0.0.1", 8000  # where `crm up` serves: `crm serve`'s defaults
CHINESE_FORM = "網站詢價表單"
TEAM = "Sales 業務部"
SITE_ORIGINS = ["http://localhost:8080", "http://127.0.0.1:8080"]  # as the demo's printed line says


# -- what runs inside the namespace ----------------------------------------------------------------


def _loopback_up() -> None:
    """Bring `lo` up in a fresh network namespace (what `ip link set lo up` does)."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(s, siocgifflags, request))[1]
        fcntl.ioctl(s, siocsifflags, struct.pack("16sH22x", b"lo", flags | iff_up))


def _http(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None,
          timeout: float = 10) -> dict[str, Any]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or HOST, parts.port or 80, timeout=timeout)
    try:
        conn.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), body, headers or {})
        answer = conn.getresponse()
        return {"status": answer.status, "headers": {k.lower(): v for k, v in answer.getheaders()},
                "body": answer.read().decode("utf-8", "replace")}
    finally:
        conn.close()


def _healthy() -> bool:
    try:
        return _http("GET", f"http://{HOST}:{PORT}{links.path('healthz')}", timeout=1)["status"] == 200
    except OSError:
        return False


def _port_open() -> bool:
    try:
        socket.create_connection((HOST, PORT), timeout=1).close()
        return True
    except OSError:
        return False


def _descendants(pid: int) -> dict[int, list[str]]:
    """Every process below `pid` with its command line."""
    found: dict[int, list[str]] = {}
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            try:
                found[child] = Path(f"/proc/{child}/cmdline").read_bytes().decode().split("\0")[:-1]
            except OSError:
                continue
            todo.append(child)
    return found


def _alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state not in ("Z", "X"):
            alive.append(pid)
    return alive


def _wait(what: str, ready: Callable[[], bool], proc: subprocess.Popen[bytes], log: Path, seconds: float) -> float:
    started = time.monotonic()
    while not ready():
        if proc.poll() is not None:
            raise RuntimeError(f"exited ({proc.returncode}) before {what}:\n{log.read_text()}")
        if time.monotonic() - started > seconds:
            raise RuntimeError(f"no {what} within {seconds} s:\n{log.read_text()}")
        time.sleep(0.1)
    return time.monotonic() - started


def _found(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    if match is None:
        raise RuntimeError(f"{pattern!r} is not in:\n{text[:3000]}")
    return match[1]


def _script_config(script: str) -> dict[str, Any]:
    """The settings embed.js draws the form from (its `var CONFIG = {...};` line)."""
    config: dict[str, Any] = json.loads(_found(r"var CONFIG = (.*);\n", script))
    return config


def _remember_group(work: Path, pid: int) -> None:
    """Note a process group the test kills if the session dies before stopping it."""
    with (work / "groups").open("a") as f:
        f.write(f"{pid}\n")


def _outcomes(data_dir: Path, public_ids: list[str]) -> dict[str, str]:
    engine = create_engine(f"sqlite:///{data_dir / 'leadline.db'}")
    try:
        with Session(engine) as session:
            rows = session.execute(
                select(WebSubmission.public_id, WebSubmission.outcome).where(WebSubmission.public_id.in_(public_ids))
            ).all()
        return {public_id: outcome for public_id, outcome in rows}
    finally:
        engine.dispose()


def _notices(data_dir: Path) -> list[str]:
    return sorted(p.name for p in (data_dir / "outbox").glob("*-new_web_lead.eml"))


def _stop(proc: subprocess.Popen[bytes], send: Callable[[], None], seen: dict[int, list[str]]) -> dict[str, Any]:
    started = time.monotonic()
    send()
    try:
        code = proc.wait(40)
    except subprocess.TimeoutExpired:
        code = None
    waited = time.monotonic() - started
    deadline = time.monotonic() + 5  # a child the OS has yet to reap
    while _alive(list(seen)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return {"code": code, "seconds": waited, "left_running": {str(p): seen[p] for p in _alive(list(seen))},
            "port_open": _port_open()}


def _demo_and_visitors(work: Path, env: dict[str, str], out: dict[str, Any]) -> None:
    """`make demo` until its services answer; a visitor uses the printed page and snippet; then Ctrl-C."""
    data_dir = Path(env["CRM_DATA_DIR"])
    log = work / "make.log"
    with log.open("wb") as sink:
        make = subprocess.Popen(["make", "-o", ".venv/bin/crm", "demo"], cwd=ROOT, env=env, stdout=sink,
                                stderr=subprocess.STDOUT, start_new_session=True)
    _remember_group(work, make.pid)
    _wait("services to start", lambda: "\nStarting the services" in log.read_text(), make, log, 150)  # the demo loads
    out["make_ready_seconds"] = _wait("answer on /healthz", _healthy, make, log, 45)
    # crm up, web (+2), mail, scheduler (+ its local Prefect server)
    _wait("services", lambda: len(_descendants(make.pid)) >= 7, make, log, 60)
    seen = _descendants(make.pid)
    out["make_output"] = log.read_text()
    printed = out["make_output"]
    page_url = re.search(r"^Web form 'Website inquiry': open (\S+)$", printed, re.M)
    origin = re.search(r"^Embed it on a page served from (\S+) by pasting:\n(.*)$", printed, re.M)
    if page_url is None or origin is None:
        raise RuntimeError(f"make demo printed no URL or snippet:\n{printed}")
    embed_src = re.fullmatch(r'<script src="([^"]+)" async></script>', origin[2])
    if embed_src is None:
        raise RuntimeError(f"not a script tag: {origin[2]!r}")

    # The printed hosted page, and the script the printed snippet loads (each hands out a render token).
    page = out["page"] = _http("GET", page_url[1])
    fetched = time.monotonic()
    script = out["embed"] = _http("GET", embed_src[1])
    config = _script_config(script["body"])
    out["preflight"] = _http("OPTIONS", config["action"], headers={
        "Origin": origin[1], "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type",
    })

    # A visitor fills each in no faster than the form's minimum fill time (the demo keeps the default 3 s).
    engine = create_engine(f"sqlite:///{data_dir / 'leadline.db'}")
    with Session(engine) as session:
        min_fill = int(company.get(session, "form_min_fill_seconds"))
        chinese = session.scalars(select(WebForm.public_id).where(WebForm.name == CHINESE_FORM)).one()
    engine.dispose()
    out["chinese_page"] = _http("GET", links.url(f"http://{HOST}:{PORT}", "hosted_form", public_id=chinese))
    time.sleep(max(0.0, fetched + min_fill + 0.3 - time.monotonic()))
    visitor = {"first_name": "Mei", "last_name": "Lin", "email": "mei.lin@visitor.example", "phone": "0912-345-678",
               "company": "Lin Trading", "message": "A quote for 200 units, please."}
    body = {**visitor, "_token": config["token"], "_submission": uuid.uuid4().hex, "consent": True}
    submitted = time.monotonic()
    out["embedded_submit"] = _http("POST", config["action"], json.dumps(body).encode(), {
        "Content-Type": "application/json", "Origin": origin[1],
    })
    hidden = dict(re.findall(r'<input type="hidden" name="(_token|_submission)" value="([^"]*)">', page["body"]))
    action = _found(r'<form class="ll-form" method="post" action="([^"]+)"', page["body"])
    form_data = {"first_name": "Wei", "last_name": "Chang", "email": "wei.chang@visitor.example",
                 "message": "Do you ship to Kaohsiung?", "consent": "on", **hidden}
    hosted = out["hosted_submit"] = _http("POST", f"http://{HOST}:{PORT}{action}", urlencode(form_data).encode(), {
        "Content-Type": "application/x-www-form-urlencoded",
    })
    if hosted["status"] == 303:
        out["thanks"] = _http("GET", f"http://{HOST}:{PORT}{urlsplit(hosted['headers']['location']).path}")

    # Both become leads while the services run, and the mail worker delivers the owners' notices.
    ids = [json.loads(out["embedded_submit"]["body"]).get("submission", "")]
    ids += [p for p in [_newest_submission(data_dir, "wei.chang@visitor.example")] if p]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and set(_outcomes(data_dir, ids).values()) - {"new_lead"}:
        time.sleep(0.05)
    out["processed_seconds"] = time.monotonic() - submitted
    out["outcomes_while_running"] = _outcomes(data_dir, ids)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and len(_notices(data_dir)) < 2:
        time.sleep(0.1)
    out["notices_while_running"] = _notices(data_dir)

    # Ctrl-C in the terminal: SIGINT to the whole foreground process group.
    out["ctrl_c"] = _stop(make, lambda: os.killpg(make.pid, signal.SIGINT), seen)
    out["make_output"] = log.read_text()


def _newest_submission(data_dir: Path, email: str) -> str | None:
    engine = create_engine(f"sqlite:///{data_dir / 'leadline.db'}")
    try:
        with Session(engine) as session:
            return session.scalar(select(WebSubmission.public_id).where(WebSubmission.email == email)
                                  .order_by(WebSubmission.id.desc()).limit(1))
    finally:
        engine.dispose()


def _crm_up_and_sigterm(work: Path, env: dict[str, str], out: dict[str, Any]) -> None:
    """`crm up` on its own: its `web` service takes a submission; SIGTERM to `crm up` stops everything."""
    data_dir = Path(env["CRM_DATA_DIR"])
    log = work / "up.log"
    with log.open("wb") as sink:
        up = subprocess.Popen([sys.executable, "-m", "crm_store", "up"], cwd=ROOT, env=env, stdout=sink,
                              stderr=subprocess.STDOUT, start_new_session=True)
    _remember_group(work, up.pid)
    out["up_ready_seconds"] = _wait("answer on /healthz", _healthy, up, log, 60)
    _wait("services", lambda: len(_descendants(up.pid)) >= 6, up, log, 60)  # web (+2), mail, scheduler (+ Prefect)
    seen = _descendants(up.pid)
    children = Path(f"/proc/{up.pid}/task/{up.pid}/children").read_text().split()
    out["up_children"] = [seen[int(c)] for c in children]
    engine = create_engine(f"sqlite:///{data_dir / 'leadline.db'}")
    with Session(engine) as session:
        form = session.scalars(select(WebForm).where(WebForm.name == DEMO_FORM_NAME)).one()
        public_id, key = form.public_id, form.integration_key
    engine.dispose()
    body = {"last_name": "Huang", "email": "huang@visitor.example", "consent": True, "_submission": uuid.uuid4().hex}
    out["up_submit"] = _http("POST", f"http://{HOST}:{PORT}{links.path('form_api', public_id=public_id)}",
                             json.dumps(body).encode(), {"Content-Type": "application/json", "X-Form-Key": key})
    out["sigterm"] = _stop(up, lambda: os.kill(up.pid, signal.SIGTERM), seen)  # to `crm up` alone
    out["up_output"] = log.read_text()


def _session(work_dir: str, own_network: str) -> None:
    """The whole run, in its own network namespace when `own_network` is "1"; results go to result.json."""
    work = Path(work_dir)
    env = json.loads((work / "env.json").read_text())
    if own_network == "1":
        _loopback_up()
    out: dict[str, Any] = {}
    try:
        _demo_and_visitors(work, env, out)
        _crm_up_and_sigterm(work, env, out)
    except Exception as exc:  # noqa: BLE001 - reported to the test, which fails with it
        out["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        (work / "result.json").write_text(json.dumps(out))


# -- the run, once for the module ------------------------------------------------------------------


def _own_network_works() -> bool:
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    return subprocess.run([unshare, "--map-root-user", "--net", "true"], capture_output=True).returncode == 0


def _kill_groups(work: Path) -> None:
    groups = work / "groups"
    for line in groups.read_text().split() if groups.exists() else []:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(int(line), signal.SIGKILL)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One `make demo` run (then `crm up` once more) on a fresh CRM_DATA_DIR: what the session saw, and more."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    own_network = _own_network_works()
    if not own_network and _port_open():
        pytest.skip("no network namespaces here and 127.0.0.1:8000 is taken")
    work = tmp_path_factory.mktemp("demo_up")
    data_dir = work / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}  # the embedded defaults
    env["CRM_DATA_DIR"] = str(data_dir)
    (work / "env.json").write_text(json.dumps(env))
    prefix = ["unshare", "--map-root-user", "--net"] if own_network else []
    code = f"from tests.test_demo_up import _session; _session({str(work)!r}, {'1' if own_network else '0'!r})"
    try:
        done = subprocess.run([*prefix, sys.executable, "-c", code], cwd=ROOT, env=env, timeout=240,
                              capture_output=True, text=True)
    finally:
        _kill_groups(work)
    result = json.loads((work / "result.json").read_text()) if (work / "result.json").exists() else {}
    assert "error" not in result and done.returncode == 0, (result.get("error"), done.stdout, done.stderr)
    result["data_dir"] = data_dir
    yield result


@pytest.fixture(scope="module")
def db(demo: dict[str, Any]) -> Iterator[Session]:
    """A session on the demo's SQLite database, after the services stopped."""
    engine = create_engine(f"sqlite:///{demo['data_dir'] / 'leadline.db'}")
    with Session(engine) as session:
        yield session
    engine.dispose()


def _form(db: Session, name: str) -> WebForm:
    return db.scalars(select(WebForm).where(WebForm.name == name)).one()


# -- `crm up` and `crm serve` agree with the URLs the CRM hands out ----------------------------------


def test_crm_up_runs_the_web_app_with_crm_serve_where_the_links_point() -> None:
    from webform.cli import serve

    services = declared_services()
    assert services["web"] == [sys.executable, "-m", "crm_store", "serve"]  # `crm serve` on its defaults
    assert services["mail-worker"][-2:] == ["mail", "worker"]
    config = load_config({})  # CRM_* unset, as `make demo` runs
    given = {p.name: p.default for p in serve.params if p.name in ("host", "port")}
    assert not any(isinstance(v, (str, int)) for v in given.values())  # `crm serve` takes CRM_WEB_HOST/PORT
    base = urlsplit(config.base_url)
    assert (config.web_host, config.web_port) == (base.hostname, base.port) == (HOST, PORT)


# -- the forms the demo adds --------------------------------------------------------------------------


def test_make_demo_adds_the_two_forms_the_readme_describes(db: Session) -> None:
    english, chinese = _form(db, DEMO_FORM_NAME), _form(db, CHINESE_FORM)
    assert english.enabled and chinese.enabled
    assert (english.language, chinese.language) == ("en", "zh_Hant")

    # English: round robin over four active reps, in order.
    assert english.owner_kind == "round_robin"
    rotation = [db.get_one(User, a.user_id) for a in english.assignees]
    assert [u.email for u in rotation] == [f"rep{i}@example.com" for i in range(1, 5)]
    assert all(u.role == "rep" and u.active for u in rotation)

    # Chinese: the sales team, whose members are the demo's active reps.
    assert chinese.owner_kind == "team"
    team = db.get_one(Team, chinese.owner_team_id)
    assert team.name == TEAM and team.assignment_strategy == "round_robin"
    members = [db.get_one(User, m.user_id) for m in db.scalars(select(TeamMember).where(TeamMember.team_id == team.id))]
    assert len(members) == 8 and all(u.role == "rep" and u.active for u in members)

    for form in (english, chinese):
        assert form.allowed_origins == SITE_ORIGINS
        assert form.hidden["lead_source"] == "Web Site"
        assert form.consent_text and form.notify_owner
    assert english.auto_reply and [f["name"] for f in english.fields][:2] == ["first_name", "last_name"]
    assert chinese.thank_you and "mobile" in [f["name"] for f in chinese.fields]


# -- what it prints --------------------------------------------------------------------------------------


def test_make_demo_prints_the_first_form_s_page_and_snippet(demo: dict[str, Any], db: Session) -> None:
    english = _form(db, DEMO_FORM_NAME)
    base = f"http://{HOST}:{PORT}"
    lines = demo["make_output"].splitlines()
    page_line = f"Web form 'Website inquiry': open {links.url(base, 'hosted_form', public_id=english.public_id)}"
    assert page_line in lines
    at = lines.index("Embed it on a page served from http://localhost:8080 by pasting:")
    assert lines[at + 1] == f'<script src="{links.url(base, "embed_js", public_id=english.public_id)}" async></script>'
    assert "http://localhost:8080" in english.allowed_origins  # the page it names may embed the form
    assert "Starting mail-worker, scheduler, web. Press Ctrl-C to stop." in lines
    assert not any("uv sync" in line or "pip install" in line for line in lines)  # nothing was reinstalled


# -- and the served app answers it -------------------------------------------------------------------------


def test_the_printed_page_and_snippet_work_on_the_app_crm_up_serves(demo: dict[str, Any], db: Session) -> None:
    english = _form(db, DEMO_FORM_NAME)
    page = demo["page"]
    assert page["status"] == 200 and "text/html" in page["headers"]["content-type"]
    assert english.consent_text in page["body"] and 'name="last_name"' in page["body"]
    assert "frame-ancestors 'self' http://localhost:8080 http://127.0.0.1:8080" in page["headers"][
        "content-security-policy"]

    chinese = _form(db, CHINESE_FORM)
    page = demo["chinese_page"]  # the second form is served too, in its own language
    assert page["status"] == 200 and f'<html lang="{languages.get("zh_Hant").page_tag}">' in page["body"]
    assert chinese.consent_text in page["body"]

    embed = demo["embed"]
    assert embed["status"] == 200 and embed["headers"]["content-type"].startswith("text/javascript")
    config = _script_config(embed["body"])
    assert config["form"] == english.public_id and config["consent"] == english.consent_text
    assert config["action"] == links.url(f"http://{HOST}:{PORT}", "form_api", public_id=english.public_id)
    assert demo["preflight"]["status"] == 204
    assert demo["preflight"]["headers"]["access-control-allow-origin"] == "http://localhost:8080"

    answer = demo["embedded_submit"]
    assert answer["status"] == 201, answer
    assert answer["headers"]["access-control-allow-origin"] == "http://localhost:8080"
    assert json.loads(answer["body"])["status"] == "received"
    hosted = demo["hosted_submit"]
    assert hosted["status"] == 303, hosted["body"][:2000]
    assert urlsplit(hosted["headers"]["location"]).path == links.path("form_thanks", public_id=english.public_id)
    assert demo["thanks"]["status"] == 200

    # Both became leads of the round robin's first two reps while the services ran, within seconds.
    assert list(demo["outcomes_while_running"].values()) == ["new_lead", "new_lead"], demo["outcomes_while_running"]
    assert demo["processed_seconds"] < 3.0
    leads = {lead.email: lead for lead in db.scalars(select(Lead).where(Lead.email.like("%@visitor.example")))}
    first, second = leads["mei.lin@visitor.example"], leads["wei.chang@visitor.example"]
    owners = [db.get_one(User, lead.owner_id).email for lead in (first, second)]
    assert owners == ["rep1@example.com", "rep2@example.com"]
    assert first.lead_source == second.lead_source == "Web Site" and first.company == "Lin Trading"
    # ... and the mail worker of `crm up` delivered their owners' notices as .eml files.
    assert len(demo["notices_while_running"]) == 2
    sent = db.scalars(select(OutboxMessage).where(OutboxMessage.template == "new_web_lead")
                      .order_by(OutboxMessage.id)).all()
    assert [(m.recipient, m.status) for m in sent][:2] == [(o, "sent") for o in owners]


# -- stopping --------------------------------------------------------------------------------------------------


def test_ctrl_c_stops_every_service_make_demo_started(demo: dict[str, Any]) -> None:
    stopped = demo["ctrl_c"]
    assert stopped["code"] is not None and stopped["seconds"] < 30
    assert stopped["left_running"] == {} and not stopped["port_open"]
    assert "All services stopped." in demo["make_output"]


def test_sigterm_stops_crm_up_after_its_web_service_took_a_submission(demo: dict[str, Any], db: Session) -> None:
    children = sorted(demo["up_children"], key=lambda argv: ("gunicorn" in argv, "flows" in argv))
    mail, scheduler, web = children
    assert mail[-2:] == ["mail", "worker"]
    assert scheduler[-2:] == ["flows", "serve"]  # the scheduler, with its local Prefect server
    assert web[1:4] == ["-m", "gunicorn", "webform.asgi:app"]  # `crm serve` became gunicorn ...
    assert web[web.index("--bind") + 1] == f"{HOST}:{PORT}"  # ... on the address the links name
    assert web[web.index("--workers") + 1] == "2"  # CRM_WEB_WORKERS' default
    answer = demo["up_submit"]
    assert answer["status"] == 201, answer

    stopped = demo["sigterm"]
    assert stopped["code"] == 0 and stopped["seconds"] < 30
    assert stopped["left_running"] == {} and not stopped["port_open"]
    assert demo["up_output"].rstrip().endswith("All services stopped.")
    public_id = json.loads(answer["body"])["submission"]
    row = db.scalars(select(WebSubmission).where(WebSubmission.public_id == public_id)).one()
    assert row.outcome == "new_lead"  # taken before the stop, a lead once stopped
