"""End to end: ``netmon probe run`` in the lab's site namespace ships over the lab links to the
real collector (``netmon collector serve``) in the centre namespace, with InfluxDB 1.x behind
it. Intervals are shortened about 5x so a "2-minute" outage takes ~30 s of wall time.

Counting is by seq: the agent's outbox file says which seqs it ever assigned (base_seq+1 ..
last_seq) and which are still queued; InfluxDB must hold every other one exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from netmon.config.site import CollectorConnection, SiteIdentity
from netmon.contract import Observation, ProbeKind, Status
from netmon.lab.certs import make_ca
from netmon.lab.collector import (
    CollectorProcess,
    influx_settings,
    lab_site,
    start_collector,
    write_central,
    write_registry,
)
from netmon.lab.netns import Proc, call_in_namespace, wait_until
from netmon.lab.services import Server, start_influxdb
from netmon.lab.topology import SiteTopology
from netmon.lab.tsdbquery import influxql
from netmon.probes.agent.async_outbox import AsyncOutbox
from netmon.probes.agent.collector_client import CollectorClient
from netmon.probes.agent.metrics import AgentMetrics
from netmon.probes.agent.outbox import Outbox, OutboxStats
from netmon.probes.agent.shipper import Shipper
from tests.agent.helpers import fetch, metrics_url, outbox_rows, start_agent, write_config

pytestmark = pytest.mark.netns
SITE_ID = "26734"
SHIP_INTERVAL = 2.0
ICMP = {"interval": "1s", "timeout": "1s", "count": 3, "spacing": "50ms", "reply_timeout": "500ms"}


@dataclasses.dataclass
class Stack:
    topo: SiteTopology
    collector: CollectorProcess
    influx: Server
    token_file: Path
    tmp: Path
    ca_file: Path

    def agent_config(self, name: str = "site.yaml", collector: dict[str, Any] | None = None, **sections: Any) -> Path:
        """The agent's file: icmp over both links and tcp to the collector's port, every second."""
        leased, tslcd = self.topo.leased, self.topo.tslcd
        defaults: dict[str, Any] = {
            "agent": {"metrics_port": 0, "heartbeat_interval": 1},
            "collector": {"url": self.collector.url, "token_file": str(self.token_file), "ca_file": str(self.ca_file),
                          "insecure_http": self.collector.url.startswith("http://"),
                          "ship_interval": SHIP_INTERVAL, "batch_max_results": 25, "request_timeout": 3,
                          "drain_max_results_per_second": 25, "config_poll_interval": 300, **(collector or {})},
            "links": [
                {"name": "leased", "kind": "leased_line", "contracted_mbps": 20, "probes": ["icmp", "tcp"],
                 "targets": [{"host": leased.centre_ip, "name": "isp-edge", "port": self.collector.port}]},
                {"name": "tslcd", "kind": "data_network", "contracted_mbps": 100, "probes": ["icmp"],
                 "targets": [{"host": tslcd.centre_ip, "name": "provincial-dc"}]}],
            "probes": {"icmp": ICMP, "tcp": {"interval": "1s", "timeout": "1s"}},
        }
        return write_config(self.tmp / name, **{**defaults, **sections})

    def site(self) -> dict[str, Any]:
        return self.collector.get_json(f"/api/v1/sites/{SITE_ID}")  # type: ignore[no-any-return]

    def influx_seqs(self) -> list[int]:
        query = f"SELECT \"seq\" FROM /.*/ WHERE \"site\" = '{SITE_ID}'"
        rows = call_in_namespace(self.topo.centre, lambda: influxql(self.influx.url, "netmon", query))
        return sorted(int(r["seq"]) for r in rows)


@pytest.fixture
def stack(site_topo: SiteTopology, tmp_path: Path) -> Iterator[Stack]:
    influx = start_influxdb(tmp_path / "influx", host="127.0.0.1", ns=site_topo.centre)
    registry = write_registry(tmp_path / "sites.yaml", [lab_site(SITE_ID)])
    (tmp_path / "centre").mkdir()
    # HTTPS with a private CA, as a province runs it; the agent trusts it through collector.ca_file
    ca = make_ca(tmp_path / "ca")
    cert = ca.issue(tmp_path / "ca", "collector", [site_topo.leased.centre_ip])
    # the centre namespace is the lab's own: any port is free there
    central = write_central(tmp_path / "centre", registry, host=site_topo.leased.centre_ip, port=8443,
                            influx=influx_settings(influx, "v1"), expected_ship_interval=f"{SHIP_INTERVAL}s",
                            tls=(cert.cert_path, cert.key_path))
    collector = start_collector(central, ns=site_topo.centre, ca_file=ca.cert_path)
    token_file = tmp_path / "token"
    token_file.write_text(collector.enrol(SITE_ID))
    yield Stack(site_topo, collector, influx, token_file, tmp_path, ca.cert_path)


def agent_metrics(stack: Stack, agent: Proc) -> dict[str, float]:
    url = metrics_url(agent)
    assert url is not None
    text = fetch(stack.topo.site, url)
    return {s.name + "".join(f"|{v}" for _, v in sorted(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def stop_and_account(stack: Stack, agent: Proc) -> tuple[set[int], dict[str, int]]:
    """SIGTERM the agent; return the seqs that left its outbox for the centre, and its counters."""
    agent.signal(signal.SIGTERM)
    assert agent.popen.wait(15) == 0, agent.log()[-2000:]
    queued, meta, integrity = outbox_rows(stack.tmp / "state")
    assert integrity == "ok"
    assigned = set(range(meta["base_seq"] + 1, meta["last_seq"] + 1))
    return assigned - set(queued), meta


def wait_in_influx(stack: Stack, expected: set[int], timeout: float = 30) -> list[int]:
    seqs: list[int] = []

    def arrived() -> bool:
        nonlocal seqs
        seqs = stack.influx_seqs()
        return set(seqs) >= expected

    wait_until(arrived, timeout, interval=0.3, what=f"{len(expected)} results in InfluxDB")
    return seqs


def test_an_outage_loses_nothing_and_the_centre_sees_the_site_back_within_one_ship_interval(stack: Stack) -> None:
    agent = start_agent(stack.topo.site, stack.agent_config(), debug=False)
    wait_until(lambda: stack.site()["accepted"] >= 10, 20, what="first results at the centre")

    stack.topo.set_uplink_down()
    time.sleep(30)  # "2 minutes" at 5x speed: ~15 ship intervals without a line
    backlog = agent_metrics(stack, agent)["netmon_agent_outbox_queued"]
    accepted_before = stack.site()["accepted"]
    restored_ns = time.time_ns()
    stack.topo.set_uplink_down(False)

    first: dict[str, Any] = {}

    def seen_again() -> bool:
        nonlocal first
        first = stack.site()
        return bool(first["last_seen_ns"] and first["last_seen_ns"] > restored_ns)

    wait_until(seen_again, 10, interval=0.05, what="the centre to hear from the site again")
    back_after = (first["last_seen_ns"] - restored_ns) / 1e9
    assert back_after <= SHIP_INTERVAL + 0.5, back_after
    # the first batch back led with the newest heartbeat, recorded in the outage's last second,
    # while most of the backlog had not arrived yet
    heartbeat = next(r for r in first["other_results"] if r["probe"] == "agent")
    assert heartbeat["time_ns"] >= restored_ns - 1.6e9, (restored_ns - heartbeat["time_ns"]) / 1e9
    assert first["accepted"] - accepted_before <= 25 < backlog

    wait_until(lambda: agent_metrics(stack, agent)["netmon_agent_outbox_queued"] < 8, 30, interval=0.2,
               what="the backlog to drain")
    drain_seconds = (time.time_ns() - restored_ns) / 1e9
    assert drain_seconds >= (backlog - 25) / 25 - 0.5, (backlog, drain_seconds)  # drain_max_results_per_second

    shipped, meta = stop_and_account(stack, agent)
    seqs = wait_in_influx(stack, shipped)
    assert len(seqs) == len(set(seqs)) == len(shipped) and set(seqs) == shipped
    site = stack.site()
    assert site["accepted"] == len(shipped)
    assert site["rejected"] == 0 and site["agent_dropped_total"] == meta["dropped_total"] == 0
    assert meta["acknowledged_total"] == len(shipped)
    assert backlog >= 100  # the outage really held results back (~4 per second for 30 s)


def test_kill_9_of_the_agent_and_of_the_collector_mid_batch_loses_nothing_and_stores_nothing_twice(
        stack: Stack) -> None:
    # heartbeats every 10 ms build a backlog of ~800 in 8 s, drained in back-to-back batches of 100
    config = stack.agent_config(agent={"heartbeat_interval": 0.01},
                                collector={"batch_max_results": 100, "drain_max_results_per_second": 100_000,
                                           "ship_interval": 1})
    collector = stack.collector
    stack.topo.set_uplink_down()
    agent = start_agent(stack.topo.site, config, name="agent1", debug=False)
    time.sleep(8)
    stack.topo.set_uplink_down(False)
    wait_until(lambda: stack.site()["accepted"] >= 100, 10, interval=0.02, what="the drain to start")

    # Freeze the collector: within a few ms the draining agent has a batch on the wire with no answer.
    # kill -9 the agent then, mid-batch; the collector resumes and may still commit that batch.
    collector.proc.signal(signal.SIGSTOP)
    time.sleep(0.5)
    agent.kill()
    collector.proc.signal(signal.SIGCONT)
    accepted = stack.site()["accepted"]
    agent = start_agent(stack.topo.site, config, name="agent2", debug=False)
    wait_until(lambda: stack.site()["accepted"] >= accepted + 100, 15, interval=0.02, what="the restarted drain")

    # Same freeze, then kill -9 the collector with the agent's batch in its socket, and restart it.
    collector.proc.signal(signal.SIGSTOP)
    time.sleep(0.5)
    collector.kill()
    time.sleep(1.5)  # the agent keeps producing and retrying against a dead collector
    collector.restart()

    wait_until(lambda: agent_metrics(stack, agent)["netmon_agent_outbox_queued"] < 50, 40, interval=0.3,
               what="the backlog to drain after both crashes")
    assert "collector unreachable" in agent.log()  # its batch in flight was cut off by the crash
    shipped, meta = stop_and_account(stack, agent)
    seqs = wait_in_influx(stack, shipped)
    assert len(seqs) == len(set(seqs)) == len(shipped) and set(seqs) == shipped
    site = stack.site()
    assert site["accepted"] == len(shipped) == meta["acknowledged_total"] and site["rejected"] == 0
    assert len(shipped) >= 800


def test_a_full_outbox_drops_oldest_first_and_the_centre_shows_the_count(stack: Stack) -> None:
    config = stack.agent_config(outbox={"max_results": 100}, agent={"heartbeat_interval": 0.05},
                                collector={"batch_max_results": 100, "drain_max_results_per_second": 1000,
                                           "ship_interval": 1})
    agent = start_agent(stack.topo.site, config, debug=False)
    wait_until(lambda: stack.site()["accepted"] >= 40, 15, what="results before the outage")
    # cut the line just after an acknowledged batch, so no batch is on the wire when it goes: a
    # batch the collector stored but whose answer the outage swallowed would be dropped later,
    # counted as lost though it arrived, and the counts below could not be exact. A batch sent into the
    # dead line on the kept-alive connection is withdrawn when the agent gives up on it (RST,
    # probes/agent/collector_client.py ABORT_ON_CLOSE); without that the kernel delivered it after the
    # outage (1 run in 3).
    acked = agent_metrics(stack, agent)["netmon_agent_batches_acknowledged_total"]
    wait_until(lambda: agent_metrics(stack, agent)["netmon_agent_batches_acknowledged_total"] > acked, 5,
               interval=0.02, what="a batch acknowledged")
    stack.topo.set_uplink_down()
    wait_until(lambda: agent_metrics(stack, agent)["netmon_agent_outbox_dropped_total"] >= 150, 20, interval=0.2,
               what="the outbox to overflow")
    stack.topo.set_uplink_down(False)
    wait_until(lambda: stack.site()["agent_dropped_total"] >= 150, 10, what="the centre to learn of the drops")
    wait_until(lambda: agent_metrics(stack, agent)["netmon_agent_outbox_queued"] < 30, 20, what="the drain")
    left, meta = stop_and_account(stack, agent)  # acknowledged or dropped
    dropped, acknowledged = meta["dropped_total"], meta["acknowledged_total"]
    assert len(left) == dropped + acknowledged
    wait_until(lambda: len(stack.influx_seqs()) >= acknowledged, 30, interval=0.3, what="InfluxDB to catch up")
    seqs = stack.influx_seqs()
    assert len(seqs) == len(set(seqs)) == acknowledged and set(seqs) <= left
    site = stack.site()
    assert site["agent_dropped_total"] == dropped >= 150  # the cumulative count the last batch carried
    assert site["accepted"] == acknowledged and site["rejected"] == 0
    missing = sorted(left - set(seqs))
    # oldest first: what never arrived is exactly `dropped` consecutive seqs, and everything older
    # than them had reached the centre before the outage
    assert missing == list(range(missing[0], missing[0] + dropped))
    assert set(range(meta["base_seq"] + 1, missing[0])) <= set(seqs)


def test_the_agent_follows_the_centres_plan_and_keeps_the_last_good_one(stack: Stack) -> None:
    leased, tslcd = stack.topo.leased, stack.topo.tslcd
    link = {"name": "leased", "kind": "leased_line", "contracted_mbps": 20}
    plan_a = {"links": [{**link, "probes": ["icmp"], "targets": [{"host": leased.centre_ip, "name": "isp-edge"}]}],
              "probes": {"icmp": ICMP}}
    plan_b = {"links": [{**link, "probes": ["icmp"], "targets": [{"host": leased.centre_ip, "name": "isp-edge"},
                                                                  {"host": tslcd.centre_ip, "name": "provincial-dc"},
                                                                  {"host": leased.router_ip, "name": "router"}]}],
              "probes": {"icmp": ICMP}}
    plan_bad = {**plan_b, "links": [{**plan_b["links"][0], "probes": ["icmp", "icmpp"]}]}  # a kind it lacks

    def serve(plan: dict[str, Any]) -> None:
        write_registry(stack.tmp / "sites.yaml", [lab_site(SITE_ID, plan=plan)])
        stack.collector.reload()

    def tasks_and_polls() -> tuple[float, dict[str, float]]:
        m = agent_metrics(stack, agent)
        polls = {k.split("|")[1]: v for k, v in m.items() if k.startswith("netmon_agent_plan_polls_total|")}
        return m["netmon_agent_probe_tasks"], polls

    serve(plan_a)
    time.sleep(0.5)
    config = stack.agent_config(collector={"config_poll_interval": 0.5})  # its own plan: 3 tasks
    agent = start_agent(stack.topo.site, config, debug=False)
    wait_until(lambda: "plan from local file" in agent.log(), 10, what="the start-up line naming the plan")
    wait_until(lambda: tasks_and_polls()[0] == 1, 10, interval=0.2, what="plan A (1 task) applied")
    cache = stack.tmp / "state" / "plan.json"
    assert [t["name"] for t in yaml.safe_load(cache.read_text())["links"][0]["targets"]] == ["isp-edge"]

    serve(plan_b)
    wait_until(lambda: tasks_and_polls()[0] == 3, 10, interval=0.2, what="plan B (3 tasks) applied")
    assert tasks_and_polls()[1]["applied"] == 2

    serve(plan_bad)
    wait_until(lambda: tasks_and_polls()[1].get("invalid", 0) >= 2, 10, interval=0.2, what="the invalid plan")
    assert tasks_and_polls()[0] == 3  # still plan B
    assert "the centre served an invalid plan; keeping the current one" in agent.log()
    assert "links[0].probes[1]: unknown probe kind 'icmpp'" in agent.log()

    agent.signal(signal.SIGTERM)
    assert agent.popen.wait(15) == 0
    agent = start_agent(stack.topo.site, config, name="agent-restarted", debug=False)
    wait_until(lambda: f"plan from centre (cached in {cache})" in agent.log(), 10,
               what="the start-up line naming the cached plan")
    assert tasks_and_polls()[0] == 3
    wait_until(lambda: tasks_and_polls()[1].get("invalid", 0) >= 1, 10, interval=0.2, what="a poll after restart")
    assert tasks_and_polls()[0] == 3
    targets = {r["target"] for link in stack.site()["links"] for r in link["results"] if r["probe"] == "icmp"}
    assert {"isp-edge", "provincial-dc", "router"} <= targets


def test_each_refusal_of_the_collector_is_handled_and_nothing_else_is_lost(
        site_topo: SiteTopology, tmp_path: Path) -> None:
    """The shipper in-process (in the site namespace) against a strict real collector: 401 keeps
    everything, 413 splits, 422 drops exactly the refused record, 429 waits its Retry-After."""
    registry = write_registry(tmp_path / "sites.yaml", [lab_site(SITE_ID)])
    (tmp_path / "centre").mkdir()
    central = write_central(tmp_path / "centre", registry, host=site_topo.leased.centre_ip, port=8080,
                            limits={"max_body_bytes": "64KiB", "site_results_per_minute": 1200})
    collector = start_collector(central, ns=site_topo.centre)
    token_file = tmp_path / "token"
    token_file.write_text("not-the-token\n")
    connection = CollectorConnection(url=collector.url, token_file=str(token_file), batch_max_results=500,
                                     drain_max_results_per_second=100_000, max_backoff=1, insecure_http=True)
    state = tmp_path / "state" / "outbox.sqlite3"
    bad_seq = fill_outbox_with_one_invalid_record(state, before=600, after=660)

    async def scenario() -> tuple[list[str], OutboxStats, AgentMetrics, float]:
        outbox = await AsyncOutbox.open(state, site_id=SITE_ID, agent_id=f"{SITE_ID}-agent", max_results=10_000,
                                        max_age_seconds=86400)
        metrics = AgentMetrics(SiteIdentity(id=SITE_ID, name="x", province="y"), f"{SITE_ID}-agent",
                               lambda: outbox.snapshot)
        client = CollectorClient(connection, site_id=SITE_ID, agent_id=f"{SITE_ID}-agent")
        shipper = Shipper(outbox, client, connection, metrics)
        waits = [await shipper.cycle()]  # 401
        assert outbox.snapshot.queued == 1261 and collector_accepted() == 0
        token_file.write_text(collector.enrol(SITE_ID) + "\n")  # the operator fixes the token
        slept = 0.0
        while outbox.snapshot.queued and len(waits) < 20:
            waits.append(await shipper.cycle())
            if outbox.snapshot.queued:
                slept += waits[-1]
                await asyncio.sleep(waits[-1])
        await client.aclose()
        stats = outbox.snapshot
        await outbox.close()
        return [str(w) for w in waits], stats, metrics, slept

    def collector_accepted() -> int:
        return int(collector.get_json(f"/api/v1/sites/{SITE_ID}")["accepted"])

    with caplog_of("netmon.probes.agent.shipper") as log:
        waits, stats, metrics, slept = call_in_namespace(site_topo.site, lambda: asyncio.run(scenario()))
    text = "\n".join(log)
    assert "COLLECTOR REFUSED THE BATCH: collector answered 401" in text
    assert "collector said the batch is too large; sending 250 at a time" in text
    assert f"collector rejected 1 result(s), dropped from the outbox: seq {bad_seq}: results[" in text
    assert "values ['bogus_seconds'] are not defined for probe 'icmp'" in text
    assert "collector answered 429" in text and slept >= 1.0  # it waited as long as Retry-After said
    site = collector.get_json(f"/api/v1/sites/{SITE_ID}")
    assert (site["accepted"], site["rejected"], site["duplicate"]) == (1260, 1, 0)
    assert (stats.queued, stats.acknowledged_total, stats.rejected_total, stats.dropped_total) == (0, 1260, 1, 0)
    failures = {r: metrics.registry.get_sample_value("netmon_agent_ship_failures_total", {"reason": r})
                for r in ("auth", "rate_limited")}
    assert failures["auth"] == 1 and (failures["rate_limited"] or 0) >= 1, (failures, waits)


def fill_outbox_with_one_invalid_record(path: Path, before: int, after: int) -> int:
    """Heartbeat results around one icmp record the wire contract refuses (as an older agent
    version might have queued); returns the invalid record's seq."""
    def beats(n: int) -> list[Observation]:
        return [Observation(probe=ProbeKind.AGENT, target=f"{SITE_ID}-agent", status=Status.OK,
                            values={"uptime_seconds": float(i), "rss_bytes": 4e7}) for i in range(n)]

    box = Outbox(path, site_id=SITE_ID, agent_id=f"{SITE_ID}-agent", max_results=10_000, max_age_seconds=86400)
    box.add(beats(before))
    bad_seq = box.snapshot.last_seq + 1
    box.close()
    record = beats(1)[0].to_record(site_id=SITE_ID, agent_id=f"{SITE_ID}-agent", seq=bad_seq).model_dump(mode="json")
    record.update(probe="icmp", values={"bogus_seconds": 1.0})
    db = sqlite3.connect(path)
    with db:
        db.execute("INSERT INTO results (seq, probe, time_ns, body) VALUES (?, 'icmp', ?, ?)",
                   (bad_seq, record["time_ns"], json.dumps(record)))
        db.execute("UPDATE meta SET value = ? WHERE key = 'last_seq'", (bad_seq,))
    db.close()
    box = Outbox(path, site_id=SITE_ID, agent_id=f"{SITE_ID}-agent", max_results=10_000, max_age_seconds=86400)
    box.add(beats(after))
    box.close()
    return bad_seq


@contextlib.contextmanager
def caplog_of(name: str) -> Iterator[list[str]]:
    """Messages logged by ``name`` (from any thread) while the block runs."""
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger = logging.getLogger(name)
    handler, level = Keep(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_a_zero_padded_commune_code_is_kept_from_the_files_to_influxdb(site_topo: SiteTopology, tmp_path: Path) -> None:
    """Registry and site config written by hand, unquoted, as operators do: the site is 00127
    everywhere (token, API, InfluxDB tag), never YAML 1.1's octal 87."""
    influx = start_influxdb(tmp_path / "influx", host="127.0.0.1", ns=site_topo.centre)
    registry = tmp_path / "sites.yaml"
    registry.write_text("sites:\n  - {id: 00127, name: Phường Ba Đình, province: Hà Nội,\n"
                        "     links: [{name: 01, kind: leased_line, contracted_mbps: 20}]}\n", encoding="utf-8")
    (tmp_path / "centre").mkdir()
    central = write_central(tmp_path / "centre", registry, host=site_topo.leased.centre_ip, port=8080,
                            influx=influx_settings(influx, "v1"), expected_ship_interval=f"{SHIP_INTERVAL}s")
    collector = start_collector(central, ns=site_topo.centre)
    token_file = tmp_path / "token"
    token_file.write_text(collector.enrol("00127"))  # `netmon sites enrol 00127`
    config = tmp_path / "site.yaml"
    config.write_text(f"""\
site: {{id: 00127, name: Phường Ba Đình, province: Hà Nội}}
state_dir: {tmp_path / "state"}
agent: {{metrics_port: 0, heartbeat_interval: 1}}
collector: {{url: "{collector.url}", insecure_http: true, token_file: {token_file}, ship_interval: {SHIP_INTERVAL}}}
links:
  - name: 01
    kind: leased_line
    contracted_mbps: 20
    probes: [tcp]
    targets: [{{host: {site_topo.leased.centre_ip}, name: 0x1F, port: {collector.port}}}]
probes: {{tcp: {{interval: 1s, timeout: 1s}}}}
""", encoding="utf-8")
    agent = start_agent(site_topo.site, config, debug=False)
    try:
        def tcp_rows() -> list[dict[str, Any]]:
            try:
                return call_in_namespace(site_topo.centre, lambda: influxql(
                    influx.url, "netmon", "SELECT \"connect_seconds\" FROM \"tcp\" GROUP BY *"))
            except RuntimeError:  # the collector creates the database with its first write
                return []

        wait_until(lambda: len(tcp_rows()) >= 3, 30, interval=0.3, what="tcp results of site 00127 in InfluxDB")
        tags = {(r["site"], r["link"], r["target"]) for r in tcp_rows()}
        assert tags == {("00127", "01", "0x1F")}
        site_tags = call_in_namespace(site_topo.centre, lambda: influxql(
            influx.url, "netmon", "SHOW TAG VALUES WITH KEY = \"site\""))
        assert {r["value"] for r in site_tags} == {"00127"}
        site = collector.get_json("/api/v1/sites/00127")
        assert site["accepted"] >= 3 and site["rejected"] == 0
    finally:
        agent.signal(signal.SIGTERM)
        agent.popen.wait(15)
        collector.stop()
