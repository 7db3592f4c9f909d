"""A plan from the centre says what to measure, never what to run: programs and files in it are
refused (the whole plan, every key named), and the local file's own are used instead; the
collector connection must be HTTPS unless the site file says insecure_http."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from pydantic import ValidationError

from netmon.config.site import CollectorConnection, SiteConfig, ThroughputConfig
from netmon.errors import ConfigError
from netmon.probes.agent.plan_source import validate_plan
from netmon.probes.kinds import default_kinds
from netmon.probes.throughput.probe import ThroughputOptions

SNMP_V3 = {"host": "192.0.2.1", "if_name": "eth1", "version": "3", "user": "netmon"}


def local_site(**extra: Any) -> SiteConfig:
    return SiteConfig.model_validate({
        "site": {"id": "26734", "name": "Xã A", "province": "Đồng Nai"},
        "links": [{"name": "leased", "kind": "leased_line", "contracted_mbps": 20,
                   "snmp": {**SNMP_V3, "auth_key_file": "/etc/netmon/snmp.auth", "priv_key_file": "/etc/netmon/snmp.priv"},
                   "throughput": {"server": "10.0.0.9"}}],
        "platforms": [{"name": "dvc", "system": "admin_procedures", "url": "https://dvc.example.vn/",
                       "ca_file": "/etc/netmon/gov-ca.pem"}],
        "probes": {"throughput": {"iperf3": "/usr/local/bin/iperf3", "interval": "2h"}},
        "collector": {"url": "https://noc.example.vn", "token_file": "/etc/netmon/agent.token"}, **extra})


def centre_plan(**changes: Any) -> dict[str, Any]:
    plan: dict[str, Any] = {
        "links": [{"name": "leased", "kind": "leased_line", "contracted_mbps": 20, "snmp": dict(SNMP_V3),
                   "throughput": {"server": "10.0.0.9", "max_bytes_per_day": "200MB"}}],
        "platforms": [{"name": "dvc", "system": "admin_procedures", "url": "https://dvc.example.vn/"}],
        "probes": {"throughput": {"interval": "6h"}, "icmp": {"interval": "30s"}}}
    plan.update(changes)
    return plan


def test_a_plan_naming_a_program_or_a_file_is_refused_with_every_key() -> None:
    hostile = centre_plan()
    hostile["probes"]["throughput"]["iperf3"] = "/bin/sh"  # issue 11: sh -c "<server>" ran a command
    hostile["links"][0]["snmp"]["auth_key_file"] = "/etc/shadow"
    hostile["platforms"][0]["ca_file"] = "/tmp/evil-ca.pem"
    with pytest.raises(ConfigError) as refused:
        validate_plan(json.dumps(hostile), local_site(), default_kinds(), "plan from the centre")
    keys = [key for key, _, _ in refused.value.problems]
    assert keys == ["probes.throughput.iperf3", "links[0].snmp.auth_key_file", "platforms[0].ca_file"]
    assert all("only the agent's own site file may set it, never the centre" in m for _, _, m in refused.value.problems)


def test_the_local_files_programs_and_files_are_used_with_the_centres_plan() -> None:
    sent, plan, config, tasks = validate_plan(json.dumps(centre_plan()), local_site(), default_kinds(), "centre")
    assert sent == centre_plan()  # what is cached: the plan as the centre sent it
    assert plan.probes["throughput"] == {"interval": "6h", "iperf3": "/usr/local/bin/iperf3"}
    snmp = config.links[0].snmp
    assert snmp is not None and (snmp.auth_key_file, snmp.priv_key_file) == ("/etc/netmon/snmp.auth",
                                                                            "/etc/netmon/snmp.priv")
    assert config.platforms[0].ca_file == "/etc/netmon/gov-ca.pem"
    [throughput] = [t for t in tasks if t.kind.value == "throughput"]
    options = throughput.options_as(ThroughputOptions)
    assert (options.iperf3, options.interval) == ("/usr/local/bin/iperf3", 6 * 3600)


def test_an_iperf3_server_or_congestion_that_reads_as_an_option_is_refused() -> None:
    for server in ("-h", "--help", "a b", "x;id"):
        with pytest.raises(ValidationError):
            ThroughputConfig(server=server)
    with pytest.raises(ValidationError):
        ThroughputOptions(congestion="--logfile=/tmp/x")
    assert ThroughputConfig(server="[fe80::1%eth0]").server == "[fe80::1%eth0]"


def test_the_collector_must_be_https_unless_the_site_file_says_insecure_http() -> None:
    with pytest.raises(ValidationError, match=re.escape("collector url http://10.0.0.1:8080 is plain http: the "
                                                        "token and the results would cross the network in clear")):
        CollectorConnection(url="http://10.0.0.1:8080", token_file="t")
    assert CollectorConnection(url="http://10.0.0.1:8080", token_file="t", insecure_http=True).insecure_http
    assert not CollectorConnection(url="https://noc.example.vn", token_file="t").insecure_http
