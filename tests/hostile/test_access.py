"""Reads are authenticated too: every route but /healthz needs a token of the right role (a site token
sends its results and reads its plan, nothing else); tokens are issued, listed and revoked with the
CLI and honoured at once; Prometheus scrapes /metrics with its bearer token; the read routes can
live on an address of their own; the state files are the collector's alone."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from netmon.lab.collector import lab_site, start_collector, write_central, write_registry
from netmon.lab.netns import wait_until
from netmon.lab.services import http_ok, spawn
from netmon.lab.topology import free_port
from tests.conftest import netmon_argv, netmon_env
from tests.hostile.conftest import SITES, MakeCentre
from tests.hostile.lane import Centre, batch, detail, icmp

READS = ["/metrics", "/api/v1/stats", f"/api/v1/sites/{SITES[0]}", "/api/v1/incidents", "/api/v1/silences",
         "/api/v1/readiness?province=" + urllib.parse.quote("Đồng Nai"), "/openapi.json", "/docs"]


@pytest.fixture(scope="module")
def centre(make_centre: MakeCentre) -> Centre:
    return make_centre()


def call(centre: Centre, method: str, path: str, token: str | None = None, body: object = None,
         authorization: str | None = None) -> tuple[int, dict[str, str], bytes]:
    headers = {"Content-Type": "application/json"}
    if token is not None or authorization is not None:
        headers["Authorization"] = authorization or f"Bearer {token}"
    raw = None if body is None else json.dumps(body).encode()
    return centre.collector.request(method, path, raw, headers, timeout=30)


def netmon(centre: Centre, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(netmon_argv(*args, "--config", str(centre.collector.config_path)), capture_output=True,
                          text=True, env=netmon_env(), timeout=60)


def test_every_read_needs_a_viewer_token_and_a_site_token_reads_nothing(centre: Centre) -> None:
    site_token, viewer = centre.tokens[SITES[0]], centre.token("viewer")
    lane = centre.lane(SITES[0])
    lane.send(1)  # the readiness report reads InfluxDB: let the database exist
    wait_until(lambda: bool(centre.stored_seqs(lane.site_id)), 10, what="the first point in InfluxDB")
    for path in READS:
        status, headers, body = call(centre, "GET", path)
        assert status == 401, (path, status, body[:200])
        assert headers["www-authenticate"] == 'Bearer realm="netmon", Basic realm="netmon"'  # a browser asks
        status, _, body = call(centre, "GET", path, site_token)
        assert status == 403 and json.loads(body)["detail"] == (
            f"a site token may only send its site's results and read its plan, not GET {path.split('?')[0]}"), path
        status, _, body = call(centre, "GET", path, viewer)
        assert status == 200, (path, body[:300])
    # a browser on /docs: HTTP Basic with the token as the password, for the page and the document
    basic = "Basic " + base64.b64encode(f"noc:{viewer}".encode()).decode()
    status, _, page = call(centre, "GET", "/docs", authorization=basic)
    assert status == 200 and b"swagger-ui" in page and b"/openapi.json" in page
    assert call(centre, "GET", "/openapi.json", authorization=basic)[0] == 200
    assert call(centre, "GET", "/healthz")[0] == 200  # liveness stays open, and says nothing else
    assert json.loads(call(centre, "GET", "/healthz")[2]) == {"status": "ok"}
    # nor may a viewer send results, or a site token act for another role
    status, body = centre.collector.post_batch(viewer, batch(SITES[0], [icmp(SITES[0], 1, time.time_ns())]))
    assert status == 403 and detail(body) == "a viewer token cannot act for a site: agents use their site token"


def test_operators_acknowledge_and_silence_viewers_may_not_and_only_admins_list_tokens(centre: Centre) -> None:
    lane = centre.lane(SITES[1])
    lane.link_down()
    wait_until(lambda: centre.firing(lane.site_id) == ["LinkDown"], 10, what="LinkDown")
    [incident] = centre.collector.get_json(f"/api/v1/incidents?state=firing&site={lane.site_id}")["incidents"]
    ack = f"/api/v1/incidents/{incident['id']}/ack"
    silence = {"site": lane.site_id, "duration": "1h", "reason": "bảo trì"}
    viewer, operator, admin = (centre.token(role) for role in ("viewer", "operator", "admin"))
    assert call(centre, "POST", ack, viewer, {"by": "x"})[0] == 403
    assert call(centre, "POST", "/api/v1/silences", viewer, silence)[0] == 403
    assert call(centre, "POST", ack, centre.tokens[lane.site_id], {"by": "x"})[0] == 403
    status, _, body = call(centre, "POST", ack, operator, {"by": "chi.tran"})
    assert status == 200 and json.loads(body)["status"] == "acknowledged"
    status, _, body = call(centre, "POST", "/api/v1/silences", operator, silence)
    assert status == 201
    made = json.loads(body)["id"]
    forever = call(centre, "POST", "/api/v1/silences", operator, {**silence, "duration": "999999d"})
    assert forever[0] == 422 and json.loads(forever[2])["detail"][0]["loc"] == ["body", "duration"]
    assert call(centre, "DELETE", f"/api/v1/silences/{made}", operator)[0] == 204
    for token in (viewer, operator):
        status, _, body = call(centre, "GET", "/api/v1/tokens", token)
        assert status == 403 and "needs the admin role" in detail(json.loads(body))
    status, _, body = call(centre, "GET", "/api/v1/tokens", admin)
    assert status == 200
    listed = json.loads(body)["tokens"]
    assert {("agent", SITES[1], f"{SITES[1]}-agent")} <= {(t["role"], t["name"], t["agent_id"]) for t in listed}
    assert {"admin", "operator"} <= {t["role"] for t in listed if t["name"].startswith("lab-")}
    assert not any(token.encode() in body for token in (viewer, operator, admin, centre.tokens[SITES[1]]))


def test_tokens_are_issued_once_listed_and_revoked_at_once_through_the_cli(centre: Centre) -> None:
    issued = netmon(centre, "tokens", "issue", "noc-dong-nai", "--role", "viewer")
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    assert len(token) >= 43 and "shown once" in issued.stderr and token not in issued.stderr
    state = b"".join(p.read_bytes() for p in centre.collector.state_dir.iterdir() if p.name.startswith("sites.db"))
    assert token.encode() not in state
    assert call(centre, "GET", "/api/v1/stats", token)[0] == 200
    again = netmon(centre, "tokens", "issue", "noc-dong-nai")
    assert again.returncode == 1 and "already has an active token; use --rotate" in again.stderr
    assert netmon(centre, "tokens", "issue", "x", "--role", "agent").returncode == 2
    listing = [json.loads(line) for line in netmon(centre, "tokens", "list", "--json").stdout.splitlines()]
    assert {"name": "noc-dong-nai", "role": "viewer"}.items() <= next(
        r for r in listing if r["name"] == "noc-dong-nai").items()
    assert netmon(centre, "tokens", "revoke", "noc-dong-nai").returncode == 0
    time.sleep(0.2)  # the collector notices sites.db changed within 0.1 s
    assert call(centre, "GET", "/api/v1/stats", token)[0] == 401


def test_the_state_files_are_the_collectors_alone(centre: Centre) -> None:
    state = centre.collector.state_dir
    files = sorted(p.name for p in state.iterdir() if p.suffix in {".db", ".db-wal", ".db-shm"}
                   or p.name.endswith((".db-wal", ".db-shm")))
    assert {"sites.db", "journal.db", "alerting.db"} <= set(files)
    assert {name: oct(state.joinpath(name).stat().st_mode & 0o777) for name in files} == dict.fromkeys(files, "0o600")


def test_prometheus_scrapes_metrics_with_its_bearer_token(centre: Centre, tmp_path: Path) -> None:
    binary = shutil.which("prometheus")
    assert binary is not None, "prometheus not found: install Debian's 'prometheus' (scripts/install-system-deps.sh)"
    issued = netmon(centre, "tokens", "issue", "prometheus", "--role", "viewer", "--rotate", "--save",
                    str(tmp_path / "netmon-collector.token"))
    assert issued.returncode == 0 and oct((tmp_path / "netmon-collector.token").stat().st_mode & 0o777) == "0o600"
    target = centre.collector.url.removeprefix("http://")
    (tmp_path / "wrong.token").write_text("not-a-token\n")
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s}\nscrape_configs:\n"
        f"  - job_name: netmon-collector\n    authorization: {{type: Bearer, credentials_file: "
        f"'{tmp_path / 'netmon-collector.token'}'}}\n    static_configs: [{{targets: ['{target}']}}]\n"
        f"  - job_name: wrong-token\n    authorization: {{type: Bearer, credentials_file: '{tmp_path / 'wrong.token'}'}}\n"
        f"    static_configs: [{{targets: ['{target}']}}]\n")
    url = f"http://127.0.0.1:{free_port()}"
    proc = spawn([binary, f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'data'}",
                  f"--web.listen-address={url.removeprefix('http://')}", "--log.level=warn"], tmp_path / "prom.log",
                 ready=lambda: http_ok(f"{url}/-/ready"), ready_timeout=30, name="prometheus")

    def value(expr: str) -> float | None:
        with urllib.request.urlopen(f"{url}/api/v1/query?" + urllib.parse.urlencode({"query": expr}), timeout=5) as r:
            result = json.load(r)["data"]["result"]
        return float(result[0]["value"][1]) if result else None

    try:
        wait_until(lambda: value('up{job="wrong-token"}') == 0 and value('up{job="netmon-collector"}') == 1, 20,
                   what="both scrapes")
        assert value('netmon_collector_registry_sites{job="netmon-collector"}') == len(SITES)
        assert value('netmon_collector_registry_sites{job="wrong-token"}') is None
    finally:
        proc.stop()


def test_the_read_routes_can_have_an_address_of_their_own(tmp_path: Path) -> None:
    registry = write_registry(tmp_path / "sites.yaml", [lab_site("26734")])
    config = write_central(tmp_path, registry, viewer_address=True)
    with start_collector(config, env=netmon_env()) as collector:
        token, viewer = collector.enrol("26734"), collector.role_token("viewer")
        assert collector.viewer_port is not None and collector.viewer_port != collector.port
        status, ack = collector.post_batch(token, batch("26734", [icmp("26734", 1, time.time_ns())]))
        assert (status, ack["accepted"]) == (200, 1)
        auth = {"Authorization": f"Bearer {viewer}"}
        on_agents = collector.request("GET", "/api/v1/stats", headers=auth, viewer=False)
        assert on_agents[0] == 404 and json.loads(on_agents[2])["detail"] == (
            "not served on this address: ask the viewer address (listen.viewer)")
        assert collector.request("GET", "/api/v1/stats", headers=auth, viewer=True)[0] == 200
        posted = collector.request("POST", "/api/v1/results", b"{}", {"Authorization": f"Bearer {token}"}, viewer=True)
        assert posted[0] == 404 and b"the agents' address (listen)" in posted[2]
        assert collector.request("GET", "/healthz", viewer=False)[0] == 200
        assert collector.request("GET", "/healthz", viewer=True)[0] == 200
