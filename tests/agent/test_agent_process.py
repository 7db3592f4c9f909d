"""``netmon probe run`` and ``netmon probe once`` as real processes in the lab's site namespace:
crash durability of the outbox, clean SIGTERM, /metrics checked by promtool, config errors."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from netmon.contract import RECORD_ADAPTER, Status
from netmon.lab.netns import Lab, wait_until
from netmon.lab.topology import SiteTopology
from netmon.probes.kinds import default_kinds
from tests.agent.helpers import fetch, metrics_url, outbox_rows, start_agent, stored_seqs_logged, write_config
from tests.conftest import netmon_argv, netmon_env
from tests.process_metrics import assert_process_metrics

pytestmark = pytest.mark.netns


def test_kill_9_mid_write_loses_no_committed_result_and_never_reuses_a_seq(lab: Lab, tmp_path: Path) -> None:
    ns = lab.namespace("site")
    # a heartbeat every 10 ms: the agent commits (with fsync) about 100 times a second
    config = write_config(tmp_path / "site.yaml", agent={"heartbeat_interval": 0.01})
    state = tmp_path / "state"
    previous_last = None
    for round_ in range(3):
        agent = start_agent(ns, config, name=f"agent{round_}")
        wait_until(lambda a=agent: len(stored_seqs_logged(a)) >= 60, 20, what="60 stored results")  # type: ignore[misc]
        agent.kill()  # SIGKILL: no chance to finish the transaction in progress
        committed = stored_seqs_logged(agent)
        seqs, meta, integrity = outbox_rows(state)
        assert integrity == "ok"
        assert set(committed) <= set(seqs), "a result logged as stored is missing after kill -9"
        # no collector and no bound reached: every seq ever assigned is still there, none twice, none skipped
        assert seqs == list(range(meta["base_seq"] + 1, meta["last_seq"] + 1))
        if previous_last is not None:
            assert min(committed) == previous_last + 1, "the restarted agent did not continue the numbering"
        previous_last = meta["last_seq"]
    assert len(seqs) >= 180


def test_sigterm_stops_cleanly_and_metrics_pass_promtool(lab: Lab, tmp_path: Path) -> None:
    ns = lab.namespace("site")
    config = write_config(tmp_path / "site.yaml", agent={"heartbeat_interval": 0.25})
    started = time.time()
    agent = start_agent(ns, config)
    url = metrics_url(agent)
    assert url is not None
    wait_until(lambda: len(stored_seqs_logged(agent)) >= 5, 10, what="5 heartbeats")
    text = fetch(ns, url)

    check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert check.returncode == 0 and check.stdout.strip() == "" and check.stderr.strip() == "", check
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    produced = samples[("netmon_agent_results_produced_total", (("probe", "agent"),))]
    assert produced >= 5
    assert samples[("netmon_agent_outbox_queued", ())] == produced  # no collector: everything stays queued
    assert samples[("netmon_agent_outbox_dropped_total", ())] == 0
    assert 0 < samples[("netmon_agent_outbox_oldest_age_seconds", ())] <= time.time() - started
    assert samples[("netmon_agent_info", (("agent", "26734-agent"), ("province", "Đồng Nai"), ("site", "26734")))] == 1
    # the standard process and platform collectors, measured against the kernel's own view of the process
    assert_process_metrics(samples, agent.pid, started)

    agent.signal(signal.SIGTERM)
    assert agent.popen.wait(10) == 0
    log = agent.log()
    seqs, meta, _ = outbox_rows(tmp_path / "state")
    assert f"stopped: {len(seqs)} result(s) queued in the outbox, last seq {meta['last_seq']}" in log
    assert seqs == stored_seqs_logged(agent)
    assert "Traceback" not in log


def test_config_errors_exit_1_naming_file_line_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "site.yaml"
    bad.write_text('site: {id: "26734", name: X, province: Y}\n'
                   "links:\n"
                   "  - name: leased\n"
                   "    kind: leased_line\n"
                   "    contracted_mbps: -5\n")
    for command in ("once", "run"):
        proc = subprocess.run(netmon_argv("probe", command, "--config", str(bad)), capture_output=True, text=True,
                              env=netmon_env(), timeout=60)
        assert proc.returncode == 1, proc
        assert f"{bad}:5: links[0].contracted_mbps: Input should be greater than 0 (got -5)" in proc.stderr
        assert proc.stdout == ""


def test_an_unknown_probe_kind_is_refused_with_the_known_kinds(tmp_path: Path) -> None:
    config = write_config(tmp_path / "site.yaml", links=[
        {"name": "lan", "kind": "lan", "probes": ["icmpp"], "targets": [{"host": "10.77.1.1", "name": "gw"}]}])
    proc = subprocess.run(netmon_argv("probe", "once", "--config", str(config)), capture_output=True, text=True,
                          env=netmon_env(), timeout=60)
    known = ", ".join(default_kinds().names())
    assert proc.returncode == 1
    assert f"links[0].probes[0]: unknown probe kind 'icmpp'; known kinds: {known}" in proc.stderr


def test_probe_once_json_prints_one_valid_record_per_task_and_exits_0_when_probes_fail(
        site_topo: SiteTopology, tmp_path: Path) -> None:
    config = write_config(tmp_path / "site.yaml", links=[
        {"name": "lan", "kind": "lan", "probes": ["icmp"], "targets": [{"host": site_topo.gateway_ip, "name": "gw"}]},
        {"name": "leased", "kind": "leased_line", "contracted_mbps": 20, "probes": ["icmp", "tcp"],
         "targets": [{"host": site_topo.leased.centre_ip, "name": "isp-edge", "port": 9},  # nothing listens on 9
                     {"host": "10.77.2.99", "name": "nobody", "port": 9}]},  # no such host
    ], probes={"icmp": {"interval": "30s", "timeout": "2s", "count": 3, "spacing": "50ms", "reply_timeout": "500ms"},
               "tcp": {"interval": "30s", "timeout": "1s"}})
    once = site_topo.site.run(*netmon_argv("probe", "once", "--json", "--config", str(config)), check=False)
    assert once.returncode == 0, once.stderr
    records = [RECORD_ADAPTER.validate_json(line) for line in once.stdout.splitlines()]
    by_key = {(r.probe.value, r.link, r.target): r for r in records}
    assert sorted(by_key) == [("icmp", "lan", "gw"), ("icmp", "leased", "isp-edge"), ("icmp", "leased", "nobody"),
                              ("tcp", "leased", "isp-edge"), ("tcp", "leased", "nobody")]
    assert [r.seq for r in records] == [0, 1, 2, 3, 4]  # `once` numbers its records locally, in plan order
    assert {(r.site_id, r.agent_id) for r in records} == {("26734", "26734-agent")}
    assert by_key["icmp", "lan", "gw"].status is Status.OK
    assert by_key["icmp", "leased", "isp-edge"].values["loss_ratio"] == 0.0
    assert by_key["icmp", "leased", "nobody"].status is Status.FAILED
    assert by_key["icmp", "leased", "nobody"].values["loss_ratio"] == 1.0
    assert by_key["tcp", "leased", "isp-edge"].status is Status.FAILED
    assert by_key["tcp", "leased", "isp-edge"].reason

    table = site_topo.site.run("env", "COLUMNS=200", *netmon_argv("probe", "once", "--config", str(config)),
                               check=False)
    assert table.returncode == 0
    row = next(line for line in table.stdout.splitlines() if "nobody" in line and "icmp" in line)
    assert "failed" in row and "loss 100.0 %" in row and "3/3 echo requests lost" in row


def test_a_second_agent_on_the_same_state_dir_or_metrics_port_is_refused_clearly(lab: Lab, tmp_path: Path) -> None:
    ns = lab.namespace("site")
    first = start_agent(ns, write_config(tmp_path / "site.yaml"), debug=False)
    url = metrics_url(first)
    assert url is not None
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    (tmp_path / "other").mkdir()
    same_port = write_config(tmp_path / "other" / "site.yaml", agent={"metrics_port": port})
    same_state = write_config(tmp_path / "again.yaml")  # state_dir is tmp_path/state, like the first
    for config, message in ((same_port, f"{same_port}: agent.metrics_port: cannot listen on 127.0.0.1:{port}: "
                                        "Address already in use"),
                            (same_state, f"another agent is running with state_dir {tmp_path / 'state'}")):
        proc = ns.run(*netmon_argv("probe", "run", "--config", str(config)), check=False, timeout=30)
        assert proc.returncode == 1, proc
        assert message in proc.stderr
        assert "Traceback" not in proc.stderr
    assert first.alive()

