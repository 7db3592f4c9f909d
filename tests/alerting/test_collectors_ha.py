"""Two real collectors (``netmon collector serve``) active-active on one real PostgreSQL.

Results of one site reach both: its alert is opened once and sent once. A site shipping to the
first collector is never "silent" at the second. The first (the dispatcher) is killed with
SIGKILL; a site falls silent and another clears while it is dead: the survivor sends each
message once, takes over sending within seconds, and the restarted first sends nothing again.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from netmon.lab.collector import (
    CollectorProcess,
    lab_site,
    start_collector,
    write_central,
    write_registry,
)
from netmon.lab.netns import wait_until
from netmon.lab.postgres import PostgresServer
from netmon.lab.standins import WebhookReceiver
from tests.conftest import netmon_env

SILENT, OTHER, BUSY = "26734", "26740", "26799"  # silent later / always fine / a saturated link
RULES = """rules:
  - name: SiteSilent
    type: absence
    after_intervals: 6
    severity: critical
  - name: LinkUtilisationHigh
    probe: snmp_if
    value: utilisation_ratio
    warning: 0.8
    clear: 0.7
    for: 2s
"""


def heartbeat(site: str, seq: int) -> dict[str, Any]:
    return {"site_id": site, "agent_id": f"{site}-agent", "seq": seq, "probe": "agent", "target": f"{site}-agent",
            "time_ns": time.time_ns(), "status": "ok", "values": {"uptime_seconds": float(seq)}}


def utilisation(site: str, seq: int, ratio: float) -> dict[str, Any]:
    return {"site_id": site, "agent_id": f"{site}-agent", "seq": seq, "probe": "snmp_if", "link": "leased",
            "link_kind": "leased_line", "target": "router", "time_ns": time.time_ns(), "status": "ok",
            "values": {"utilisation_ratio": ratio, "contracted_bps": 100e6}}


def post(collector: CollectorProcess, token: str, *records: dict[str, Any]) -> None:
    status, answer = collector.post_batch(token, {"site_id": records[0]["site_id"],
                                                  "agent_id": records[0]["agent_id"], "results": list(records)})
    assert status == 200, answer


def dispatching(collector: CollectorProcess) -> float:
    text = collector.read("/metrics")[2].decode()
    return next(s.value for f in text_string_to_metric_families(text) if f.name == "netmon_alert_dispatching"
                for s in f.samples)


def messages(hook: WebhookReceiver) -> list[tuple[str, str, str]]:
    return [(b["status"], a["labels"]["alertname"], a["labels"]["site"]) for b in hook.bodies() for a in b["alerts"]]


@pytest.fixture
def pair(tmp_path: Path, pg_dsn: str, hook: WebhookReceiver) -> Iterator[tuple[list[Path], dict[str, str]]]:
    (tmp_path / "rules.yaml").write_text(RULES)
    (tmp_path / "state.dsn").write_text(pg_dsn + "\n")
    registry = write_registry(tmp_path / "sites.yaml", [lab_site(s) for s in (SILENT, OTHER, BUSY)],
                              provinces=[{"name": "Đồng Nai", "default_team": "rrt-dong-nai"}])
    configs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        configs.append(write_central(
            tmp_path / name, registry, expected_ship_interval="1s",
            # these tests stop PostgreSQL itself, with both collectors cut off alike: never send the
            # agents away (the default 30 s would be refused against a 6 s silence limit anyway)
            state={"postgres": {"dsn_file": str(tmp_path / "state.dsn"), "cut_off_after": None},
                   "instance": f"col-{name}"},
            alerting={"rules_file": str(tmp_path / "rules.yaml"), "group_wait": "1s", "storm": {"wait": "1s"},
                      "channels": [{"name": "hook", "type": "webhook", "url": hook.url}],
                      "teams": [{"name": "rrt-dong-nai", "channels": ["hook"]}]}))
    from netmon.lab.collector import enrol

    tokens = {site: enrol(configs[0], site, env=netmon_env()) for site in (SILENT, OTHER, BUSY)}
    yield configs, tokens


def test_two_collectors_on_one_postgres_alert_once_and_survive_kill_9(
        pair: tuple[list[Path], dict[str, str]], pg_dsn: str, hook: WebhookReceiver) -> None:
    configs, tokens = pair
    first = start_collector(configs[0], env=netmon_env())
    second: CollectorProcess | None = None
    try:
        wait_until(lambda: dispatching(first) == 1.0, 10, what="the first collector taking the dispatch lease")
        second = start_collector(configs[1], env=netmon_env())
        seq = 0

        def beat(collector: CollectorProcess, site: str) -> None:
            nonlocal seq
            seq += 1
            post(collector, tokens[site], heartbeat(site, seq))

        beat(second, SILENT)  # SILENT's agent shipped to the second first, then moved to the first
        end = time.monotonic() + 12
        while time.monotonic() < end:  # steady state: BUSY saturated, its results reaching both collectors
            beat(first, SILENT)
            beat(second, OTHER)
            seq += 1
            for collector in (first, second):
                post(collector, tokens[BUSY], utilisation(BUSY, seq, 0.97))
            time.sleep(0.5)
        assert messages(hook) == [("firing", "LinkUtilisationHigh", BUSY)]  # once, and nobody is silent
        assert dispatching(second) == 0.0

        def delivered() -> int:
            with psycopg.connect(pg_dsn) as conn:
                row = conn.execute("SELECT count(*) FROM deliveries WHERE delivered_at IS NOT NULL").fetchone()
            return int(row[0]) if row else 0

        wait_until(lambda: delivered() == 1, 10, what="the delivery recorded")  # see test_collector_restart
        first.kill()
        killed_at, killed_wall = time.monotonic(), time.time()
        end = killed_at + 15
        while time.monotonic() < end:  # SILENT's agent is gone too; BUSY clears, at the survivor
            beat(second, OTHER)
            seq += 1
            post(second, tokens[BUSY], utilisation(BUSY, seq, 0.3))
            time.sleep(0.5)
        sent = messages(hook)
        took_over = min(r["at"] for r in hook.requests if r["at"] > killed_wall) - killed_wall
        print(f"first message from the survivor {took_over:.1f} s after kill -9 of the dispatcher")
        assert took_over < 10
        assert sorted(sent[1:]) == [("firing", "SiteSilent", SILENT), ("resolved", "LinkUtilisationHigh", BUSY)]
        assert dispatching(second) == 1.0
        def everyone_at_the_survivor(seconds: float) -> None:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                for site in (SILENT, OTHER, BUSY):
                    beat(second, site)
                time.sleep(0.5)

        everyone_at_the_survivor(6)  # SILENT comes back, at the survivor
        wait_until(lambda: len(messages(hook)) == 4, 10, what="the resolve of SiteSilent")
        assert messages(hook)[3] == ("resolved", "SiteSilent", SILENT)

        first.restart()  # back, as a second dispatcher candidate: nothing is sent again
        everyone_at_the_survivor(5)
        assert len(messages(hook)) == 4 and dispatching(first) == 0.0
        listed = first.get_json("/api/v1/incidents?state=all")["incidents"]
        assert sorted((i["rule"], i["site_id"], i["status"]) for i in listed) == [
            ("LinkUtilisationHigh", BUSY, "resolved"), ("SiteSilent", SILENT, "resolved")]
        assert second.get_json("/api/v1/incidents?state=all") == first.get_json("/api/v1/incidents?state=all")
    finally:
        first.stop()
        if second is not None:
            second.stop()


def test_enrolment_and_revocation_through_either_collector_hold_on_both(
        pair: tuple[list[Path], dict[str, str]]) -> None:
    """Tokens live in PostgreSQL: the CLI run against either collector's central.yaml decides for both."""
    import json
    import subprocess

    from netmon.lab.collector import enrol, netmon_argv

    configs, _ = pair
    first, second = start_collector(configs[0], env=netmon_env()), start_collector(configs[1], env=netmon_env())
    try:
        token = enrol(configs[1], OTHER, env=netmon_env(), rotate=True)  # through the second collector
        post(first, token, heartbeat(OTHER, 1))
        post(second, token, heartbeat(OTHER, 2))
        listed = subprocess.run(netmon_argv("sites", "list", "--json", "--config", str(configs[0])),
                                capture_output=True, text=True, env=netmon_env(), timeout=60)
        assert listed.returncode == 0, listed.stderr
        rows = {row["site_id"]: row for row in map(json.loads, listed.stdout.splitlines())}
        assert rows[OTHER]["agent_id"] == f"{OTHER}-agent" and rows[OTHER]["token_since"] is not None
        revoked = subprocess.run(netmon_argv("sites", "revoke", OTHER, "--config", str(configs[1])),
                                 capture_output=True, text=True, env=netmon_env(), timeout=60)
        assert revoked.returncode == 0, revoked.stderr
        started = time.monotonic()
        for collector in (first, second):
            wait_until(lambda c=collector: c.post_batch(token, {
                "site_id": OTHER, "agent_id": f"{OTHER}-agent", "results": [heartbeat(OTHER, 3)]})[0] == 401,
                3, what=f"{collector.url} refusing the revoked token")
        print(f"revocation through the second collector refused by both after {time.monotonic() - started:.2f} s")

        def registry_digests(collector: CollectorProcess) -> list[str]:
            text = collector.read("/metrics")[2].decode()
            return [s.labels["sha256"] for f in text_string_to_metric_families(text)
                    if f.name == "netmon_collector_registry_info" for s in f.samples]

        import hashlib

        registry_file = configs[0].parent.parent / "sites.yaml"
        assert registry_digests(first) == registry_digests(second) == [
            hashlib.sha256(registry_file.read_bytes()).hexdigest()]
    finally:
        first.stop()
        second.stop()


def test_postgres_restarted_under_load_loses_no_result_and_no_alert(
        pair: tuple[list[Path], dict[str, str]], postgres: PostgresServer, hook: WebhookReceiver) -> None:
    configs, tokens = pair
    collector = start_collector(configs[0], env=netmon_env())
    seq = 0
    posted = 0
    slowest = [0.0]

    def feed(seconds: float, ratio: float, while_running: threading.Thread | None = None) -> None:
        nonlocal seq, posted
        end = time.monotonic() + seconds
        while time.monotonic() < end or (while_running is not None and while_running.is_alive()):
            for site in (SILENT, OTHER):
                seq += 1
                post(collector, tokens[site], heartbeat(site, seq))
            seq += 1
            began = time.monotonic()
            post(collector, tokens[BUSY], utilisation(BUSY, seq, ratio), heartbeat(BUSY, seq + 1))
            slowest[0] = max(slowest[0], time.monotonic() - began)
            seq += 1
            posted += 4
            time.sleep(0.5)

    try:
        # The viewer token used below is issued and used now, seconds before the kill: the lab's
        # PostgreSQL runs with synchronous_commit=off, so a token issued just before kill -9 may not
        # survive its crash (in production every commit is durable).
        assert collector.get_json("/api/v1/stats")["totals"]["accepted"] == 0
        feed(3, 0.3)
        postgres.kill()  # kill -9 of the whole cluster, while results arrive
        try:
            feed(6, 0.97)  # every result still answered 200 (the journal is local); the alert starts now
            status, _, body = collector.read("/api/v1/incidents")
            assert status == 503 and b"state store unavailable" in body
            assert hook.bodies() == []  # nothing can be sent: the queue is in PostgreSQL
        finally:  # PostgreSQL's crash recovery takes a while: the sites keep shipping meanwhile
            restart = threading.Thread(target=postgres.start)
            restart.start()
        feed(6, 0.97, while_running=restart)
        restart.join()
        wait_until(lambda: len(hook.bodies()) == 1, 15, what="the alert that started during the outage")
        assert messages(hook) == [("firing", "LinkUtilisationHigh", BUSY)]
        # the counts are shared in PostgreSQL through the journal's outbox: the ones queued during the
        # outage are pushed within a few ship intervals of its return, and then the totals are exact
        def accepted() -> int | None:
            status, _, body = collector.read("/api/v1/stats")
            return json.loads(body)["totals"]["accepted"] if status == 200 else None

        wait_until(lambda: accepted() == posted, 10, interval=0.2,
                   what=f"the shared accepted count ({accepted()}) to reach the {posted} results posted")
        assert collector.get_json("/api/v1/stats")["totals"]["rejected"] == 0
        text = collector.read("/metrics")[2].decode()
        failures = next(s.value for f in text_string_to_metric_families(text)
                        if f.name == "netmon_alert_state_write_failures" for s in f.samples)
        assert failures >= 1
        assert dispatching(collector) == 1.0
        print(f"slowest answer while PostgreSQL was killed and restarted: {slowest[0] * 1000:.0f} ms")
    finally:
        collector.stop()


def test_a_collector_does_not_start_without_its_postgres_and_says_why(tmp_path: Path) -> None:
    import subprocess

    from netmon.lab.collector import netmon_argv
    from netmon.lab.topology import free_port

    port = free_port()  # nothing listens there
    (tmp_path / "state.dsn").write_text(f"postgresql://netmon:Vk3-sEcr3t-pw@127.0.0.1:{port}/netmon\n")
    registry = write_registry(tmp_path / "sites.yaml", [lab_site(SILENT)])
    central = write_central(tmp_path, registry, state={"postgres": {"dsn_file": "state.dsn", "connect_timeout": 2}})
    out = subprocess.run(netmon_argv("collector", "serve", "--config", str(central)), capture_output=True, text=True,
                         env=netmon_env(), timeout=60)
    assert out.returncode == 1
    # whichever part of the shared state opens PostgreSQL first says so (the token digests, the ingest counts, the alert state)
    assert f"(state.postgres): PostgreSQL 127.0.0.1:{port}/netmon: cannot connect" in out.stderr, \
        out.stderr[-2000:]
    assert "Vk3-sEcr3t-pw" not in out.stderr + out.stdout and "Traceback" not in out.stderr
