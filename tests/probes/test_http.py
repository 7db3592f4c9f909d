"""http against stand-in platform servers in the centre namespace (plain HTTP and TLS from a test CA)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from netmon.config.site import SiteConfig
from netmon.contract import Observation, Status
from netmon.lab.certs import Issued, make_ca
from netmon.lab.etc import netns_etc_files
from netmon.lab.netns import Lab, call_in_namespace
from netmon.lab.platforms import start_platforms
from netmon.lab.topology import SiteTopology
from netmon.probes.base import ProbeContext, ProbeTask
from netmon.probes.http import HttpProbe
from netmon.probes.kinds import ProbeKinds
from netmon.probes.plan import build_tasks
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.netns

SITE = {"id": "26734", "name": "Phường Phước Tân", "province": "Đồng Nai"}
NAME = "dvc.lab.test"


@dataclasses.dataclass
class Platforms:
    topo: SiteTopology
    ca_file: str
    good: Issued
    expired: Issued
    plain: str  # http://10.77.2.2:8080
    tls: str  # https://10.77.2.2:8443, certificate for the address and NAME
    tls_expired: str  # https://10.77.3.2:8443, certificate expired yesterday


@pytest.fixture
def platforms(site_topo: SiteTopology, lab: Lab) -> Platforms:
    ca = make_ca(lab.workdir / "pki")
    now = dt.datetime.now(dt.UTC)
    good = ca.issue(lab.workdir / "pki", "dvc", [NAME, "10.77.2.2"], not_after=now + dt.timedelta(days=47))
    expired = ca.issue(lab.workdir / "pki", "old", ["10.77.3.2"], not_before=now - dt.timedelta(days=400),
                       not_after=now - dt.timedelta(days=1))
    centre = site_topo.centre
    web = lab.workdir / "platforms"
    plain = start_platforms("10.77.2.2", 8080, web, ns=centre)
    tls = start_platforms("10.77.2.2", 8443, web, ns=centre, cert=good.cert_path, key=good.key_path)
    old = start_platforms("10.77.3.2", 8443, web, ns=centre, cert=expired.cert_path, key=expired.key_path)
    return Platforms(site_topo, str(ca.cert_path), good, expired, plain.url, tls.url, old.url)


def http_task(url: str, options: dict[str, Any] | None = None, **platform: Any) -> ProbeTask:
    config = SiteConfig.model_validate({
        "site": SITE,
        "platforms": [{"name": "dvc", "system": "admin_procedures", "url": url, **platform}],
        "probes": {"http": {"timeout": 2, **(options or {})}},
    })
    kinds = ProbeKinds()
    kinds.register(HttpProbe)
    (task,) = build_tasks(config, kinds)
    return task


def measure(topo: SiteTopology, *tasks: ProbeTask) -> list[Observation]:
    async def run() -> list[Observation]:
        probe = HttpProbe(ProbeContext(state_dir=Path("/nonexistent")))
        try:
            return [await probe.measure(task) for task in tasks]
        finally:
            await probe.aclose()

    return call_in_namespace(topo.site, lambda: asyncio.run(run()))


def test_tls_platform_reports_status_phases_body_and_certificate_days_left(platforms: Platforms) -> None:
    (result,) = measure(platforms.topo, http_task(platforms.tls + "/bytes/5000", ca_file=platforms.ca_file))
    assert result.status is Status.OK, result.reason
    values = result.values
    assert values["status_code"] == 200
    assert values["response_bytes"] == 5000
    expected_days = (platforms.good.not_after - dt.datetime.now(dt.UTC)).total_seconds() / 86400
    assert values["cert_days_left"] == pytest.approx(expected_days, abs=0.001)
    assert 46.9 < values["cert_days_left"] < 47.0
    assert 0 < values["connect_seconds"] < 0.05
    assert 0 < values["tls_seconds"] < 0.2
    assert values["total_seconds"] >= values["connect_seconds"] + values["tls_seconds"] + values["first_byte_seconds"]
    assert "dns_seconds" not in values  # an address in the URL: nothing to resolve
    assert result.info["address"] == "10.77.2.2"


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_known_server_delay_shows_in_first_byte_time(platforms: Platforms, scheme: str) -> None:
    base = platforms.plain if scheme == "http" else platforms.tls
    fast, slow = measure(platforms.topo, http_task(base + "/", ca_file=platforms.ca_file),
                         http_task(base + "/delay/300", ca_file=platforms.ca_file))
    assert fast.status is Status.OK and slow.status is Status.OK, (fast.reason, slow.reason)
    assert fast.values["first_byte_seconds"] < 0.05
    # 300 ms of server think time, plus one round trip and the server's own handling
    assert 0.300 <= slow.values["first_byte_seconds"] < 0.300 + 0.05
    assert slow.values["total_seconds"] >= slow.values["first_byte_seconds"]


def test_unexpected_status_is_degraded_with_the_status(platforms: Platforms) -> None:
    unavailable, wrong = measure(platforms.topo, http_task(platforms.plain + "/status/503"),
                                 http_task(platforms.plain + "/status/302", expect_status=[200, 204]))
    assert unavailable.status is Status.DEGRADED
    assert unavailable.reason == (f"HTTP 503 Service Unavailable from {platforms.plain}/status/503, "
                                  "expected 200-399")
    assert unavailable.values["status_code"] == 503
    assert wrong.status is Status.DEGRADED
    assert wrong.reason == f"HTTP 302 Found from {platforms.plain}/status/302, expected 200, 204"


def test_certificate_problems_fail_with_the_reason(platforms: Platforms) -> None:
    expired, unknown_ca, unverified = measure(
        platforms.topo,
        http_task(platforms.tls_expired + "/", ca_file=platforms.ca_file),
        http_task(platforms.tls + "/"),  # the system store does not know the lab CA
        http_task(platforms.tls_expired + "/", verify_tls=False),
    )
    assert expired.status is Status.FAILED
    assert expired.reason == "TLS certificate of 10.77.3.2:8443 not accepted: certificate has expired"
    assert unknown_ca.status is Status.FAILED
    assert unknown_ca.reason == "TLS certificate of 10.77.2.2:8443 not accepted: unable to get local issuer certificate"
    # told not to verify: it answers, and the certificate's age is still reported
    assert unverified.status is Status.OK, unverified.reason
    assert unverified.values["cert_days_left"] == pytest.approx(-1, abs=0.01)


def test_dead_host_and_closed_port_fail_with_the_reason(platforms: Platforms) -> None:
    dead, closed = measure(platforms.topo, http_task("http://10.77.2.99:8080/", options={"timeout": 1}),
                           http_task("http://10.77.2.2:8099/"))
    assert dead.status is Status.FAILED
    assert dead.reason in {"connecting to 10.77.2.99:8080 timed out after 1 s",
                           "cannot connect to 10.77.2.99:8080: No route to host"}
    assert closed.status is Status.FAILED
    assert closed.reason == "connection to 10.77.2.2:8099 refused"


PROBE_ONCE = """
import asyncio, json, sys
from pathlib import Path
from netmon.config.site import SiteConfig
from netmon.probes.base import ProbeContext
from netmon.probes.http import HttpProbe
from netmon.probes.plan import build_tasks
from netmon.probes.kinds import ProbeKinds
kinds = ProbeKinds(); kinds.register(HttpProbe)
config = SiteConfig.model_validate(json.loads(sys.argv[1]))
async def main():
    probe = HttpProbe(ProbeContext(state_dir=Path("/nonexistent")))
    for task in build_tasks(config, kinds):
        print((await probe.measure(task)).model_dump_json())
asyncio.run(main())
"""


def test_a_host_name_is_resolved_timed_and_checked_against_the_certificate(platforms: Platforms) -> None:
    topo = platforms.topo
    config = {"site": SITE, "probes": {"http": {"timeout": 2}}, "platforms": [
        {"name": "dvc", "system": "admin_procedures", "url": f"https://{NAME}:8443/", "ca_file": platforms.ca_file},
        {"name": "nxdomain", "system": "other", "url": "https://nowhere.lab.test:8443/"},
    ]}
    # ip netns exec mounts these over /etc/hosts and /etc/resolv.conf for the probe process only;
    # the resolver points at the lab router, which runs no DNS: nothing leaves the lab
    with netns_etc_files(topo.site, {"hosts": f"127.0.0.1 localhost\n10.77.2.2 {NAME}\n",
                                     "resolv.conf": "nameserver 10.77.1.1\noptions timeout:1 attempts:1\n"}):
        out = topo.site.run("env", f"PYTHONPATH={REPO_ROOT}", sys.executable, "-c", PROBE_ONCE, json.dumps(config),
                            timeout=30).stdout
    by_name, unresolved = (json.loads(line) for line in out.splitlines())
    assert by_name["status"] == "ok", by_name["reason"]
    assert 0 < by_name["values"]["dns_seconds"] < 0.05
    assert by_name["info"]["address"] == "10.77.2.2"
    assert by_name["values"]["cert_days_left"] > 46
    assert unresolved["status"] == "failed"
    assert unresolved["reason"].startswith("cannot resolve nowhere.lab.test: ")


PROBE_AND_CURL = """
import asyncio, json, subprocess, sys
from pathlib import Path
from netmon.config.site import SiteConfig
from netmon.probes.base import ProbeContext
from netmon.probes.http import HttpProbe
from netmon.probes.plan import build_tasks
from netmon.probes.kinds import ProbeKinds
CURL_FORMAT = "%{time_namelookup} %{time_connect} %{time_appconnect} %{time_starttransfer} %{time_total}"
kinds = ProbeKinds(); kinds.register(HttpProbe)
config = SiteConfig.model_validate(json.loads(sys.argv[1]))
runs = int(sys.argv[2])
async def main():
    probe = HttpProbe(ProbeContext(state_dir=Path("/nonexistent")))
    for task in build_tasks(config, kinds):
        for _ in range(runs):  # alternate, so both clients see the same moments of a busy machine
            result = await probe.measure(task)
            argv = ["curl", "--silent", "--show-error", "--output", "/dev/null", "--max-time", "5",
                    "--write-out", CURL_FORMAT, task.platform.url]
            if task.platform.ca_file:
                argv[1:1] = ["--cacert", task.platform.ca_file]
            curl = subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split()
            print(json.dumps({"url": task.platform.url, "probe": result.model_dump(mode="json"),
                              "curl": [float(x) for x in curl]}))
    await probe.aclose()
asyncio.run(main())
"""


def _lower_quartile(values: list[float]) -> float:
    """Of repeated runs on a shared machine: scheduling delays only ever add time, to both
    clients and to the slower one more, so the lower quartile is the typical undisturbed run."""
    ordered = sorted(values)
    return ordered[len(ordered) // 4]


def test_phase_times_match_curl_against_the_same_server_plain_and_tls(platforms: Platforms) -> None:
    """Each phase against curl's ``-w`` timings, alternating run by run against one server:
    the probe times the exchange, not its own set-up (CA store, client, lazy imports)."""
    topo, runs = platforms.topo, 15
    config = {"site": SITE, "probes": {"http": {"timeout": 5}}, "platforms": [
        {"name": "plain", "system": "other", "url": f"http://{NAME}:8080/bytes/20000"},
        {"name": "tls", "system": "other", "url": f"https://{NAME}:8443/bytes/20000", "ca_file": platforms.ca_file},
    ]}
    with netns_etc_files(topo.site, {"hosts": f"127.0.0.1 localhost\n10.77.2.2 {NAME}\n",
                                     "resolv.conf": "nameserver 10.77.1.1\noptions timeout:1 attempts:1\n"}):
        out = topo.site.run("env", f"PYTHONPATH={REPO_ROOT}", sys.executable, "-c", PROBE_AND_CURL,
                            json.dumps(config), str(runs), timeout=120).stdout
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 2 * runs
    for url in (f"http://{NAME}:8080/bytes/20000", f"https://{NAME}:8443/bytes/20000"):
        ours: dict[str, list[float]] = {}
        theirs: dict[str, list[float]] = {}
        for row in (r for r in rows if r["url"] == url):
            assert row["probe"]["status"] == "ok", row["probe"]["reason"]
            assert row["probe"]["values"]["response_bytes"] == 20_000
            for name, value in row["probe"]["values"].items():
                ours.setdefault(name, []).append(value)
            # curl's times are cumulative from the start; ours are each phase's own duration
            lookup, connect, appconnect, first_byte, total = row["curl"]
            handshake_done = appconnect if url.startswith("https") else connect
            for name, value in (("dns_seconds", lookup), ("connect_seconds", connect - lookup),
                                ("tls_seconds", appconnect - connect if url.startswith("https") else None),
                                ("first_byte_seconds", first_byte - handshake_done), ("total_seconds", total)):
                if value is not None:
                    theirs.setdefault(name, []).append(value)
        assert ("tls_seconds" in ours) is url.startswith("https")
        assert sorted(ours.keys() & theirs.keys()) == sorted(theirs)
        typical = {name: (_lower_quartile(ours[name]), _lower_quartile(theirs[name])) for name in theirs}
        shown = {name: f"probe {a * 1000:.2f} ms, curl {b * 1000:.2f} ms" for name, (a, b) in typical.items()}
        for name, (probe_seconds, curl_seconds) in typical.items():
            assert abs(probe_seconds - curl_seconds) < 0.002, (url, name, shown)
        # and the first run, which pays for whatever is loaded lazily, is no exception
        assert ours["total_seconds"][0] < max(theirs["total_seconds"]) + 0.002, (url, ours["total_seconds"][0],
                                                                              theirs["total_seconds"])
