"""A compromised centre (or a bad registry, or a bad surge section) cannot make an agent run anything:
the agent takes from the centre only what to measure and how often. Issue 11: a centre-served plan
naming the iperf3 executable as /bin/sh, with a crafted "server", ran a shell command on the agent."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import pytest

from netmon.config.registry import load_registry
from netmon.config.site import SiteConfig
from netmon.errors import ConfigError
from netmon.lab.collector import lab_site, write_registry
from netmon.probes.agent.collector_client import CollectorClient
from netmon.probes.agent.metrics import AgentMetrics
from netmon.probes.agent.plan_source import PlanPoller
from netmon.probes.kinds import default_kinds
from netmon.probes.throughput.probe import ThroughputOptions
from tests.conftest import netmon_argv, netmon_env
from tests.hostile.conftest import SITES, MakeCentre
from tests.hostile.lane import Centre

HOSTILE_SITE = SITES[0]
LINK = {"name": "leased", "kind": "leased_line", "contracted_mbps": 100,
        "targets": [{"host": "127.0.0.1", "name": "isp-edge"}], "throughput": {"server": "127.0.0.1"}}


@pytest.fixture(scope="module")
def centre(make_centre: MakeCentre) -> Centre:
    hostile = {"links": [LINK], "probes": {"throughput": {"iperf3": "/bin/sh", "interval": "1s"}}}
    return make_centre(plans={HOSTILE_SITE: hostile, SITES[1]: {"links": [LINK], "probes": {"icmp": {"interval": "7s"}}}})


def local_config(tmp_path: Path, site: str, token: str) -> SiteConfig:
    (tmp_path / "token").write_text(token + "\n")
    return SiteConfig.model_validate({
        "site": {"id": site, "name": f"Xã {site}", "province": "Đồng Nai"}, "state_dir": str(tmp_path / "state"),
        "links": [LINK], "probes": {"throughput": {"iperf3": "iperf3"}},
        "collector": {"url": "http://127.0.0.1:1", "token_file": str(tmp_path / "token"), "insecure_http": True}})


def poll(centre: Centre, local: SiteConfig) -> tuple[str, list[Any]]:
    """One plan poll of the real agent code against the real collector; (outcome, tasks applied)."""
    applied: list[Any] = []

    async def run() -> str:
        assert local.collector is not None
        connection = local.collector.model_copy(update={"url": centre.collector.url})
        client = CollectorClient(connection, site_id=local.site.id, agent_id=local.agent_id)
        metrics = AgentMetrics(local.site, local.agent_id, lambda: None)

        async def apply(config: SiteConfig, tasks: list[Any]) -> None:
            applied.extend(tasks)

        try:
            return await PlanPoller(client, local, local.plan(), default_kinds(), apply, metrics).poll_once()
        finally:
            await client.aclose()

    return asyncio.run(run()), applied


def test_a_plan_naming_a_program_is_refused_and_the_agent_keeps_its_own(centre: Centre, tmp_path: Path) -> None:
    outcome, applied = poll(centre, local_config(tmp_path, HOSTILE_SITE, centre.tokens[HOSTILE_SITE]))
    assert (outcome, applied) == ("invalid", [])
    assert not (tmp_path / "state" / "plan.json").exists()  # not cached either


def test_a_plan_of_intervals_and_targets_is_applied_with_the_local_programs(centre: Centre, tmp_path: Path) -> None:
    outcome, applied = poll(centre, local_config(tmp_path, SITES[1], centre.tokens[SITES[1]]))
    assert outcome == "applied"
    [throughput] = [t for t in applied if t.kind.value == "throughput"]
    assert throughput.options_as(ThroughputOptions).iperf3 == "iperf3"  # the local file's, not the centre's
    assert {t.options.interval for t in applied if t.kind.value == "icmp"} == {7.0}


def test_the_centre_refuses_a_registry_whose_iperf3_server_reads_as_a_command(tmp_path: Path) -> None:
    crafted = {**LINK, "throughput": {"server": "-c touch /tmp/pwned"}}
    registry = write_registry(tmp_path / "sites.yaml", [lab_site("26734", plan={"links": [crafted]})])
    with pytest.raises(ConfigError) as refused:
        load_registry(registry)
    assert [key for key, _, _ in refused.value.problems] == ["sites[0].plan.links[0].throughput.server"]


def test_an_agent_refuses_a_plain_http_collector_unless_told_it_is_a_lab(tmp_path: Path) -> None:
    site_file = tmp_path / "site.yaml"
    site_file.write_text('site: {id: "26734", name: "Xã A", province: "Đồng Nai"}\n'
                         "collector: {url: 'http://10.0.0.1:8080', token_file: /etc/netmon/agent.token}\n")
    checked = subprocess.run(netmon_argv("config", "check", str(site_file)), capture_output=True, text=True,
                             env=netmon_env(), timeout=60)
    assert checked.returncode == 1
    assert f"{site_file}:2: collector: collector url http://10.0.0.1:8080 is plain http" in checked.stderr
