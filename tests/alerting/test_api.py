"""The incidents API (real HTTP, uvicorn on loopback) and ``netmon alerts`` against it."""

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
from netmon.alerting.auth import AdminToken
from netmon.alerting.engine import AlertEngine
from netmon.lab.topology import free_port
from netmon.statedb import StateLocation
from tests.alerting.helpers import alerting_config, engine, registry, utilisation
from tests.conftest import netmon_argv, netmon_env

TOKEN = "adm-7f3c9e1b2a4d6f8e0c2b4a6d8f0e2c4b"


class Api:
    def __init__(self, eng: AlertEngine, admin: AdminToken) -> None:
        app = FastAPI()
        app.include_router(incidents_router(eng, admin))
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
def api(firing: AlertEngine, tmp_path: Path) -> Iterator[Api]:
    token_file = tmp_path / "admin.hash"
    token_file.write_text(f"sha256:{hashlib.sha256(TOKEN.encode()).hexdigest()}\n")
    server = Api(firing, AdminToken.from_file(str(token_file)))
    yield server
    server.close()


def cli(*args: str, token: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = netmon_env(NETMON_COLLECTOR_URL="", NETMON_ADMIN_TOKEN_FILE=str(token or "/nonexistent"))
    return subprocess.run(netmon_argv("alerts", *args), env=env, capture_output=True, text=True, timeout=60)


def test_list_ack_and_silence_over_http_and_cli(api: Api, firing: AlertEngine, tmp_path: Path) -> None:
    listed = httpx.get(f"{api.url}/api/v1/incidents").json()["incidents"]
    assert [(i["rule"], i["status"], i["site_id"]) for i in listed] == [
        ("LinkUtilisationHigh", "firing", "26001"), ("LinkUtilisationHigh", "firing", "26000")]
    out = cli("list", "--url", api.url)
    assert out.returncode == 0, out.stderr
    assert "Phường Trảng Dài / leased" in out.stdout and "2 incident(s)" in out.stdout
    incident = listed[1]["id"]
    # changing anything needs the admin token
    assert httpx.post(f"{api.url}/api/v1/incidents/{incident}/ack").status_code == 401
    wrong = httpx.post(f"{api.url}/api/v1/incidents/{incident}/ack", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Bearer")
    token_file = tmp_path / "my.token"
    token_file.write_text(TOKEN + "\n")
    out = cli("ack", str(incident), "--url", api.url, "--by", "chi.tran", "--comment", "đã báo VNPT", token=token_file)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"incident {incident} acknowledged by chi.tran (LinkUtilisationHigh, acknowledged)"
    got = httpx.get(f"{api.url}/api/v1/incidents/{incident}").json()
    assert (got["status"], got["acked_by"], got["ack_comment"]) == ("acknowledged", "chi.tran", "đã báo VNPT")
    out = cli("silence", "--site", "26001", "--for", "2h", "--reason", "bảo trì router", "--url", api.url,
              token=token_file)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("silence 1: site=26001 until ") and "(bảo trì router)" in out.stdout
    [silence] = firing.silences()
    assert silence.matchers == {"site": "26001"} and 7190 < silence.ends_at - silence.starts_at <= 7200
    firing.tick()
    assert firing.incidents(site="26001")[0].status == "silenced"
    assert "bảo trì router" in cli("silences", "--url", api.url).stdout
    [listed_silence] = [json.loads(line) for line in cli("silences", "--url", api.url, "--json").stdout.splitlines()]
    assert listed_silence["matchers"] == {"site": "26001"} and listed_silence["reason"] == "bảo trì router"
    out = cli("silence", "--site", "26001", "--for", "1h30m", "--reason", "x", "--url", api.url, token=token_file)
    assert out.returncode == 0, out.stderr
    assert 5390 < firing.silences()[-1].ends_at - firing.silences()[-1].starts_at <= 5400
    assert cli("unsilence", "2", "--url", api.url, token=token_file).returncode == 0
    assert cli("unsilence", "1", "--url", api.url, token=token_file).returncode == 0
    assert firing.silences() == []


def test_bad_requests_answer_4xx_with_the_field(api: Api, firing: AlertEngine) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    bad = httpx.post(f"{api.url}/api/v1/silences", json={"site": "26000", "duration": "soon", "reason": "x"},
                     headers=auth)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "duration"]
    none = httpx.post(f"{api.url}/api/v1/silences", json={"duration": "1h", "reason": "x"}, headers=auth)
    assert none.status_code == 422 and "at least one of site" in none.text
    assert httpx.post(f"{api.url}/api/v1/incidents/999/ack", headers=auth).status_code == 404
    assert httpx.get(f"{api.url}/api/v1/incidents", params={"state": "everything"}).status_code == 422
    assert httpx.delete(f"{api.url}/api/v1/silences/42", headers=auth).status_code == 404
    # a silence beyond a year is refused with its field (the CLI refuses it before asking)
    long = httpx.post(f"{api.url}/api/v1/silences", json={"site": "26000", "duration": "100000000d", "reason": "x"},
                      headers=auth)
    assert long.status_code == 422 and long.json()["detail"][0]["loc"] == ["body", "duration"]
    out = cli("ack", "999", "--url", api.url)
    assert out.returncode == 1 and out.stderr == "cannot read the admin token file /nonexistent: No such file or directory\n"


def test_without_an_admin_token_file_changes_are_refused(firing: AlertEngine) -> None:
    server = Api(firing, AdminToken.from_file(None))
    try:
        answer = httpx.post(f"{server.url}/api/v1/incidents/1/ack", headers={"Authorization": "Bearer x"})
        assert answer.status_code == 403 and "admin_token_file" in answer.json()["detail"]
    finally:
        server.close()


def test_token_command_stores_only_the_hash(tmp_path: Path) -> None:
    target = tmp_path / "etc" / "admin.token"
    out = subprocess.run(netmon_argv("alerts", "token", "--write", str(target)), env=netmon_env(),
                         capture_output=True, text=True, check=True)
    value = out.stdout.strip()
    stored = target.read_text()
    assert stored.startswith("sha256:") and value not in stored
    assert AdminToken.from_file(str(target)).check(value)
    assert not AdminToken.from_file(str(target)).check(value + "x")


def test_rules_check_command(tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text("rules:\n  - name: A\n    probe: icmp\n    value: rtt\n    warning: 1\n")
    out = subprocess.run(netmon_argv("alerts", "rules", "check", str(bad)), env=netmon_env(), capture_output=True,
                         text=True)
    assert out.returncode == 1 and f"{bad}:4: rules[0].value: rtt is not a value of probe 'icmp'" in out.stderr
    out = subprocess.run(netmon_argv("alerts", "rules", "check"), env=netmon_env(), capture_output=True, text=True)
    assert out.returncode == 0 and "defaults: ok — 14 rule(s)" in out.stdout
