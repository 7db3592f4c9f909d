"""dns against Debian's dnsmasq answering names this test defines, in the centre namespace."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from netmon.contract import Status
from netmon.errors import ConfigError
from netmon.lab.netns import Proc, wait_until
from netmon.lab.topology import SiteTopology
from netmon.probes.dns import DnsOptions, DnsProbe
from netmon.probes.kinds import default_kinds
from netmon.probes.plan import build_tasks
from tests.probes.lab_probing import make_task, measure, measure_one
from tests.probes.test_contract import sample_config

HOSTS = """\
10.77.9.1 dvc.lab.test
10.77.9.2 dvc.lab.test
10.77.9.3 dvc.lab.test
fd77:9::1 dvc.lab.test
10.77.9.10 qlvb.lab.test
"""


@pytest.fixture
def dnsmasq(site_topo: SiteTopology, tmp_path: Path) -> Proc:
    hosts = tmp_path / "hosts"
    hosts.write_text(HOSTS)
    proc = site_topo.centre.start([
        "dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--cache-size=0",
        f"--listen-address={site_topo.leased.centre_ip}", f"--listen-address={site_topo.leased.centre_ip6}",
        "--bind-interfaces", "--port=53", f"--addn-hosts={hosts}",
        # names under lab.test come only from our hosts file: unknown ones are NXDOMAIN
        "--local=/lab.test/", "--user=root", "--group=root", f"--pid-file={tmp_path}/dnsmasq.pid",
        "--log-facility=-",
    ], name="dnsmasq")
    wait_until(lambda: "5 names" in proc.log() or not proc.alive(), 10, what="dnsmasq")
    wait_until(lambda: ":53 " in site_topo.centre.run("ss", "-lunH").stdout, 10, what="dnsmasq listening")
    return proc


def options(query: str, record_type: str = "A", **extra: object) -> DnsOptions:
    return DnsOptions(query=query, record_type=record_type, timeout=2, **extra)


@pytest.mark.netns
def test_answers_from_a_real_server_count_exactly(site_topo: SiteTopology, dnsmasq: Proc) -> None:
    leased = site_topo.leased
    a, aaaa_over_v6, single, via_option = measure(site_topo.site, DnsProbe, [
        make_task(DnsProbe, leased.centre_ip, options("dvc.lab.test"), target="a"),
        make_task(DnsProbe, leased.centre_ip6, options("dvc.lab.test", "aaaa"), target="aaaa"),
        make_task(DnsProbe, leased.centre_ip, options("qlvb.lab.test"), target="single", port=53),
        # the server option wins over the target's host
        make_task(DnsProbe, "10.77.2.99", options("dvc.lab.test", server=leased.centre_ip), target="option"),
    ])
    for observation, count in ((a, 3), (aaaa_over_v6, 1), (single, 1), (via_option, 3)):
        assert observation.status is Status.OK, (observation.target, observation.reason)
        assert observation.values["answer_count"] == count, observation.target
        assert 0 < observation.values["resolve_seconds"] < 0.05


@pytest.mark.netns
def test_error_rcodes_are_failures_with_the_rcode(site_topo: SiteTopology, dnsmasq: Proc) -> None:
    server = site_topo.leased.centre_ip
    nxdomain, refused, empty = measure(site_topo.site, DnsProbe, [
        make_task(DnsProbe, server, options("nx.lab.test"), target="nx"),
        make_task(DnsProbe, server, options("outside.example"), target="refused"),  # no upstream: REFUSED
        make_task(DnsProbe, server, options("dvc.lab.test", "MX"), target="empty"),
    ])
    assert nxdomain.status is Status.FAILED
    assert nxdomain.reason == f"NXDOMAIN for nx.lab.test A from {server}"
    assert nxdomain.values["answer_count"] == 0 and nxdomain.values["resolve_seconds"] > 0
    assert refused.status is Status.FAILED
    assert refused.reason == f"REFUSED for outside.example A from {server}"
    assert empty.status is Status.FAILED
    assert empty.reason == f"empty answer (NOERROR) for dvc.lab.test MX from {server}"
    assert empty.values["answer_count"] == 0


@pytest.mark.netns
def test_a_stopped_server_and_a_dead_address_fail(site_topo: SiteTopology, dnsmasq: Proc) -> None:
    server = site_topo.leased.centre_ip
    assert measure_one(site_topo.site, DnsProbe, make_task(DnsProbe, server, options("dvc.lab.test"))).status \
        is Status.OK
    dnsmasq.stop()
    stopped = measure_one(site_topo.site, DnsProbe, make_task(DnsProbe, server, options("dvc.lab.test")))
    assert stopped.status is Status.FAILED
    assert stopped.reason == f"connection refused: no DNS server on {server} port 53"
    start = time.monotonic()
    dead = measure_one(site_topo.site, DnsProbe,
                       make_task(DnsProbe, "10.77.2.99", DnsOptions(query="dvc.lab.test", timeout=1)))
    assert 0.9 < time.monotonic() - start < 1.5
    assert dead.status is Status.FAILED
    assert dead.reason == "no answer for dvc.lab.test A from 10.77.2.99 within 1 s"
    assert dead.values == {}


def test_an_unknown_record_type_is_a_config_error() -> None:
    config = sample_config("dns").model_copy(update={"probes": {"dns": {"record_type": "AAAAA"}}})
    with pytest.raises(ConfigError) as caught:
        build_tasks(config, default_kinds(), source="site.yaml")
    assert caught.value.problems == [("probes.dns.record_type", None, "unknown DNS record type 'AAAAA'")]
