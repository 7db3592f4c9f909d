"""The incidents API (real HTTP, uvicorn on loopback) and ``netmon alerts`` against it: reading needs a
viewer token, acknowledging and silencing an operator one (or the admin token of alerting.admin_token_file);
a silence that would never end is refused, and one stored before that was refused does not break a listing."""

from __future__ import annotations

import hashlib
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from netmon.alerting.api import incidents_router
from netmon.alerting.engine import AlertEngine
from netmon.collectors.abc import Role
from netmon.collectors.auth import Authenticator, admin_file_digest
from netmon.collectors.http_errors import install_error_handlers
from netmon.collectors.sitestore import RegistryStore
from netmon.collectors.sqlite import connect
from netmon.collectors.tokens import TokenStore
from netmon.lab.collector import lab_site, write_registry
from netmon.lab.topology import free_port
from netmon.statedb import StateLocation
from tests.alerting.helpers import alerting_config, engine, registry, utilisation
from tests.conftest import netmon_argv, netmon_env

TOKEN = "adm-7f3c9e1b2a4d6f8e0c2b4a6d8f0e2c4b"


def authenticator(tmp_path: Path, admin_file: str | None) -> tuple[Authenticator, dict[str, str]]:
    """The collector's own token check, with a viewer and an operator token issued."""
    conn = connect(tmp_path / "sites.db", check_same_thread=False)
    sites = RegistryStore(write_registry(tmp_path / "sites.yaml", [lab_site("26000")]), conn)
    sites.load()
    tokens = TokenStore(conn)
    issued = {role: tokens.issue(Role(role), f"noc-{role}") for role in ("viewer", "operator")}
    return Authenticator(tokens, sites, admin_file_digest(admin_file)), issued


class Api:
    def __init__(self, eng: AlertEngine, auth: Authenticator) -> None:
        app = FastAPI()
        app.include_router(incidents_router(eng, auth.require))
        install_error_handlers(app)
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def firing(alert_state: StateLocation, tmp_path: Path) -> Iterator[AlertEngine]:
    reg = registry(2)
    eng = engine(alert_state, alerting_config([{"name": "c", "type": "console", "path": str(tmp_path / "out.log")}]),
                 reg, now=time.time() - 300)
    base = time.time() - 300
    for i in range(13):
        for s in reg.sites:
            eng.observe(s, [utilisation(s.id, base + 10 * i, 0.97)], base + 10 * i)
    yield eng
    eng.store.close()


@pytest.fixture
def tokens(tmp_path: Path) -> tuple[Authenticator, dict[str, str]]:
    admin_file = tmp_path / "admin.hash"
    admin_file.write_text(f"sha256:{hashlib.sha256(TOKEN.encode()).hexdigest()}\n")
    return authenticator(tmp_path, str(admin_file))


@pytest.fixture
def api(firing: AlertEngine, tokens: tuple[Authenticator, dict[str, str]]) -> Iterator[Api]:
    server = Api(firing, tokens[0])
    yield server
    server.close()


def cli(*args: str, token: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = netmon_env(NETMON_COLLECTOR_URL="", NETMON_TOKEN_FILE=str(token or "/nonexistent"))
    return subprocess.run(netmon_argv("alerts", *args), env=env, capture_output=True, text=True, timeout=60)


def token_file(tmp_path: Path, name: str, token: str) -> Path:
    path = tmp_path / f"{name}.token"
    path.write_text(token + "\n")
    return path


def test_list_ack_and_silence_over_http_and_cli(api: Api, firing: AlertEngine, tmp_path: Path,
                                                 tokens: tuple[Authenticator, dict[str, str]]) -> None:
    viewer, operator = ({"Authorization": f"Bearer {tokens[1][role]}"} for role in ("viewer", "operator"))
    unauthenticated = httpx.get(f"{api.url}/api/v1/incidents")
    assert unauthenticated.status_code == 401 and unauthenticated.headers["www-authenticate"].startswith("Bearer")
    listed = httpx.get(f"{api.url}/api/v1/incidents", headers=viewer).json()["incidents"]
    assert [(i["rule"], i["status"], i["site_id"]) for i in listed] == [
        ("LinkUtilisationHigh", "firing", "26001"), ("LinkUtilisationHigh", "firing", "26000")]
    viewer_file = token_file(tmp_path, "viewer", tokens[1]["viewer"])
    out = cli("list", "--url", api.url, token=viewer_file)
    assert out.returncode == 0, out.stderr
    assert "Phường Trảng Dài / leased" in out.stdout and "2 incident(s)" in out.stdout
    incident = listed[1]["id"]
    # changing anything needs an operator (or admin) token
    assert httpx.post(f"{api.url}/api/v1/incidents/{incident}/ack").status_code == 401
    wrong = httpx.post(f"{api.url}/api/v1/incidents/{incident}/ack", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["detail"] == "invalid or revoked token"
    reader = httpx.post(f"{api.url}/api/v1/incidents/{incident}/ack", headers=viewer)
    assert reader.status_code == 403 and reader.json()["detail"] == (
        f"POST /api/v1/incidents/{incident}/ack needs the operator role; this token is a viewer token")
    assert cli("ack", str(incident), "--url", api.url, token=viewer_file).returncode == 1
    operator_file = token_file(tmp_path, "operator", tokens[1]["operator"])
    out = cli("ack", str(incident), "--url", api.url, "--by", "chi.tran", "--comment", "đã báo VNPT",
              token=operator_file)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"incident {incident} acknowledged by chi.tran (LinkUtilisationHigh, acknowledged)"
    got = httpx.get(f"{api.url}/api/v1/incidents/{incident}", headers=operator).json()
    assert (got["status"], got["acked_by"], got["ack_comment"]) == ("acknowledged", "chi.tran", "đã báo VNPT")
    out = cli("silence", "--site", "26001", "--for", "2h", "--reason", "bảo trì router", "--url", api.url,
              token=token_file(tmp_path, "admin", TOKEN))  # the admin token of alerting.admin_token_file
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("silence 1: site=26001 until ") and "(bảo trì router)" in out.stdout
    [silence] = firing.silences()
    assert silence.matchers == {"site": "26001"} and 7190 < silence.ends_at - silence.starts_at <= 7200
    firing.tick()
    assert firing.incidents(site="26001")[0].status == "silenced"
    assert "bảo trì router" in cli("silences", "--url", api.url, token=viewer_file).stdout
    [listed_silence] = [json.loads(line) for line in
                        cli("silences", "--url", api.url, "--json", token=viewer_file).stdout.splitlines()]
    assert listed_silence["matchers"] == {"site": "26001"} and listed_silence["reason"] == "bảo trì router"
    out = cli("silence", "--site", "26001", "--for", "1h30m", "--reason", "x", "--url", api.url, token=operator_file)
    assert out.returncode == 0, out.stderr
    assert 5390 < firing.silences()[-1].ends_at - firing.silences()[-1].starts_at <= 5400
    assert cli("unsilence", "2", "--url", api.url, token=operator_file).returncode == 0
    assert cli("unsilence", "1", "--url", api.url, token=operator_file).returncode == 0
    assert firing.silences() == []


def test_bad_requests_answer_4xx_with_the_field(api: Api, firing: AlertEngine, tmp_path: Path,
                                                tokens: tuple[Authenticator, dict[str, str]]) -> None:
    auth = {"Authorization": f"Bearer {tokens[1]['operator']}"}
    bad = httpx.post(f"{api.url}/api/v1/silences", json={"site": "26000", "duration": "soon", "reason": "x"},
                     headers=auth)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "duration"]
    none = httpx.post(f"{api.url}/api/v1/silences", json={"duration": "1h", "reason": "x"}, headers=auth)
    assert none.status_code == 422 and "at least one of site" in none.text
    assert httpx.post(f"{api.url}/api/v1/incidents/999/ack", headers=auth).status_code == 404
    assert httpx.get(f"{api.url}/api/v1/incidents", params={"state": "everything"}, headers=auth).status_code == 422
    assert httpx.delete(f"{api.url}/api/v1/silences/42", headers=auth).status_code == 404
    # a silence beyond a year is refused with its field (the CLI refuses it before asking)
    long = httpx.post(f"{api.url}/api/v1/silences", json={"site": "26000", "duration": "100000000d", "reason": "x"},
                      headers=auth)
    assert long.status_code == 422 and long.json()["detail"][0]["loc"] == ["body", "duration"]
    out = cli("ack", "999", "--url", api.url)
    assert out.returncode == 1 and "cannot read the token file /nonexistent" in out.stderr
    # a silence that would outlast the calendar (it used to break every later listing): refused with the field
    for duration in ("100000d", 1e400):
        answer = httpx.post(f"{api.url}/api/v1/silences", headers={**auth, "Content-Type": "application/json"},
                            content=f'{{"site": "26000", "duration": {json.dumps(duration)}, "reason": "x"}}'
                            .replace("Infinity", "1e400"))
        assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body", "duration"], answer.text
    # the CLI refuses it before asking (exit 2, a usage error: tests/test_cli_grammar.py)
    out = cli("silence", "--site", "26000", "--for", "99999999d", "--reason", "x", "--url", api.url,
              token=token_file(tmp_path, "operator", tokens[1]["operator"]))
    assert out.returncode == 2 and "is longer than the 366d allowed" in out.stderr, out.stderr
    assert firing.silences() == []
    with pytest.raises(ValueError, match="at most 366 days"):
        firing.silence({"site": "26000"}, float("inf"), "x", by=None)
    # one stored by a release that did not refuse it still lists
    firing.store.add_silence({"site": "26000"}, time.time(), float("inf"), "forever", None, time.time())
    listing = cli("silences", "--url", api.url, token=token_file(tmp_path, "viewer", tokens[1]["viewer"]))
    assert listing.returncode == 0 and "site=26000" in listing.stdout and "forever" in listing.stdout, listing.stderr


def test_token_command_stores_only_the_hash_and_the_collector_accepts_it_as_admin(tmp_path: Path,
                                                                                  firing: AlertEngine) -> None:
    target = tmp_path / "etc" / "admin.token"
    saved = tmp_path / "cli" / "token"
    out = subprocess.run(netmon_argv("alerts", "token", "--write", str(target), "--save", str(saved)),
                         env=netmon_env(), capture_output=True, text=True, check=True)
    value = out.stdout.strip()
    stored = target.read_text()
    assert stored.startswith("sha256:") and value not in stored
    assert saved.read_text().strip() == value
    assert [oct(p.stat().st_mode & 0o777) for p in (target, saved)] == ["0o600", "0o600"]
    auth, _ = authenticator(tmp_path, str(target))
    server = Api(firing, auth)
    try:
        assert httpx.get(f"{server.url}/api/v1/silences", headers={"Authorization": f"Bearer {value}"}).status_code \
            == 200
        assert httpx.get(f"{server.url}/api/v1/silences", headers={"Authorization": f"Bearer {value}x"}).status_code \
            == 401
    finally:
        server.close()


def test_rules_check_command(tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text("rules:\n  - name: A\n    probe: icmp\n    value: rtt\n    warning: 1\n")
    out = subprocess.run(netmon_argv("alerts", "rules", "check", str(bad)), env=netmon_env(), capture_output=True,
                         text=True)
    assert out.returncode == 1 and f"{bad}:4: rules[0].value: rtt is not a value of probe 'icmp'" in out.stderr
    out = subprocess.run(netmon_argv("alerts", "rules", "check"), env=netmon_env(), capture_output=True, text=True)
    assert out.returncode == 0 and "defaults: ok — 14 rule(s)" in out.stdout
