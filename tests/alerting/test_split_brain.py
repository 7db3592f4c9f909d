"""Split brain: one collector loses PostgreSQL while its agents still reach it.

Two real collectors share one real PostgreSQL; the first reaches it through a TCP forwarder
(``netmon.lab.forwarder``) that the test cuts, so the first keeps serving HTTP with no shared
state. Real agents ship to the first. Past ``state.postgres.cut_off_after`` the first answers
503 + ``X-Netmon-Cut-Off``, the agents move to the second, and nobody is paged "site silent":
not the second (it receives them), not the first (blind until it can exchange again). After the
link is back an agent really stops: its silence is paged once and its return resolved once.
Every result is in InfluxDB once and counted once.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from netmon.lab.agent import metrics_url, start_agent
from netmon.lab.collector import (
    CollectorProcess,
    enrol,
    influx_settings,
    lab_site,
    start_collector,
    write_central,
    write_registry,
)
from netmon.lab.forwarder import TcpForwarder
from netmon.lab.netns import Proc, wait_until
from netmon.lab.services import Server
from netmon.lab.standins import WebhookReceiver
from tests.agent.ha import (
    agent_samples,
    collector_samples,
    own_site_accepted,
    shared_site_accepted,
    shared_state,
    stored_once,
)
from tests.agent.helpers import SITE, write_config
from tests.conftest import netmon_env

SITES = [("26734", "Phường Phước Tân"), ("26735", "Phường Tam Phước")]
CUT_OFF_AFTER = 3.0
SILENT_AFTER = 10  # ship intervals of 1 s: "site silent" after 10 s without results
RULES = f"""rules:
  - name: SiteSilent
    type: absence
    after_intervals: {SILENT_AFTER}
    severity: critical
"""


@pytest.fixture
def link(postgres: Any) -> Iterator[TcpForwarder]:
    forwarder = TcpForwarder(postgres.port).start()
    yield forwarder
    forwarder.close()


def through(dsn: str, port: int) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(netloc=f"{parts.netloc.rsplit(':', 1)[0]}:{port}"))


def gauge(collector: CollectorProcess, family: str) -> float:
    return sum(value for _, _, value in collector_samples(collector, family))


def messages(hook: WebhookReceiver) -> list[tuple[str, str, str]]:
    return [(b["status"], a["labels"]["alertname"], a["labels"]["site"]) for b in hook.bodies() for a in b["alerts"]]


def test_a_collector_cut_off_from_postgres_sends_its_agents_away_and_nobody_is_paged(
        tmp_path: Path, pg_dsn: str, link: TcpForwarder, influx: Server, hook: WebhookReceiver) -> None:
    (tmp_path / "rules.yaml").write_text(RULES)
    registry = write_registry(tmp_path / "sites.yaml", [lab_site(s, name=n, province=SITE["province"]) for s, n in SITES],
                              provinces=[{"name": SITE["province"], "default_team": "rrt-dong-nai"}])
    alerting = {"rules_file": str(tmp_path / "rules.yaml"), "group_wait": "1s", "storm": {"wait": "1s"},
                "channels": [{"name": "hook", "type": "webhook", "url": hook.url}],
                "teams": [{"name": "rrt-dong-nai", "channels": ["hook"]}]}
    states = {"a": shared_state(tmp_path, through(pg_dsn, link.port), "a.dsn", cut_off_after=CUT_OFF_AFTER),
              "b": shared_state(tmp_path, pg_dsn, "b.dsn", cut_off_after=CUT_OFF_AFTER)}
    configs = []
    for name, state in states.items():
        (tmp_path / name).mkdir()
        configs.append(write_central(tmp_path / name, registry, influx=influx_settings(influx, "v1"),
                                     expected_ship_interval="1s", alerting=alerting,
                                     state={**state, "instance": f"col-{name}"}))
    first = start_collector(configs[0], env=netmon_env())
    second: CollectorProcess | None = None
    agents: dict[str, Proc] = {}
    try:
        second = start_collector(configs[1], env=netmon_env())
        for site_id, name in SITES:
            home = tmp_path / f"agent-{site_id}"
            home.mkdir()
            (home / "token").write_text(enrol(configs[0], site_id, env=netmon_env()) + "\n")
            config = write_config(home / "site.yaml", site={**SITE, "id": site_id, "name": name},
                                  agent={"heartbeat_interval": 0.2}, collector={
                                      "urls": [first.url, second.url], "insecure_http": True,
                                      "token_file": str(home / "token"), "ship_interval": 1, "request_timeout": 3,
                                      "connect_timeout": 2, "failback_after": 3600, "config_poll_interval": 1})
            agents[site_id] = start_agent(None, config, name=f"agent-{site_id}")
        wait_until(lambda: all(own_site_accepted(first, s) >= 10 for s in agents), 20, interval=0.2,
                   what="every agent shipping to the first collector")
        time.sleep(6)  # the collectors have exchanged when they last received each site

        link.cut()
        cut_at = time.monotonic()
        wait_until(lambda: all(own_site_accepted(second, s) > 0 for s in agents), 20, interval=0.1,
                   what="every agent moving to the second collector")
        moved_after = time.monotonic() - cut_at
        print(f"split brain: every agent delivering to the second collector {moved_after:.2f} s after the first "
              f"lost PostgreSQL (cut_off_after {CUT_OFF_AFTER:.0f} s)")
        # cut_off_after counts from the last push PostgreSQL answered, up to a ship interval (1 s)
        # before the cut (seen 2.98 s): so never much before cut_off_after, and not long after it
        assert CUT_OFF_AFTER - 1 <= moved_after < CUT_OFF_AFTER + 7, moved_after
        assert gauge(first, "netmon_collector_shared_state_cut_off") == 1
        refused = {labels["reason"]: value for name, labels, value in
                   collector_samples(first, "netmon_collector_rejected_requests") if name.endswith("_total")}
        assert refused.get("cut_off", 0) >= len(agents), refused
        time.sleep(max(0.0, cut_at + SILENT_AFTER + 6 - time.monotonic()))  # well past the silence limit
        assert messages(hook) == []  # the first cannot send; the second sees every site

        link.restore()
        wait_until(lambda: gauge(first, "netmon_collector_shared_state_cut_off") == 0, 15,
                   what="the first collector reaching PostgreSQL again")
        time.sleep(8)  # exchanges resume: the first learns where its sites went before judging silence
        assert messages(hook) == []
        # nor opened and closed at once unsent: the NOC's history shows no silence that never was
        assert first.get_json("/api/v1/incidents?state=all")["incidents"] == []
        for site_id, agent in agents.items():
            samples = agent_samples(str(metrics_url(agent)))
            assert samples[("netmon_agent_collector_switches_total", (("reason", "failover"),))] == 1, site_id
        assert first.proc.log().count("cut off from the shared state for") == 1  # once per outage

        # the alerting still works on both: an agent that really stops is paged once, its return once
        stopped = SITES[1][0]
        agents[stopped].signal(signal.SIGSTOP)
        wait_until(lambda: messages(hook) == [("firing", "SiteSilent", stopped)], SILENT_AFTER + 15,
                   what="the stopped site's silence paged")
        agents[stopped].signal(signal.SIGCONT)
        wait_until(lambda: len(messages(hook)) == 2, 20, what="the stopped site's return")
        assert messages(hook)[1] == ("resolved", "SiteSilent", stopped)

        for agent in agents.values():
            agent.signal(signal.SIGTERM)
        for agent in agents.values():
            assert agent.popen.wait(15) == 0
        for collector in (first, second):
            wait_until(lambda c=collector: c.get_json("/api/v1/stats")["totals"]["journal_pending_results"] == 0,
                       20, what="the journal drained to InfluxDB")  # type: ignore[misc]
        for site_id in agents:
            delivered = stored_once(influx, tmp_path / f"agent-{site_id}" / "state", site_id)
            for collector in (first, second):  # what the first took in just before the cut, counted once too
                wait_until(lambda c=collector, s=site_id, n=delivered: shared_site_accepted(c, s) == len(n), 15,
                           what=f"the shared count of {site_id}'s accepted results exact")  # type: ignore[misc]
        assert len(messages(hook)) == 2
    finally:
        for agent in agents.values():
            if agent.alive():
                agent.signal(signal.SIGCONT)
                agent.kill()
        first.stop()
        if second is not None:
            second.stop()


def test_when_every_collector_is_cut_off_the_agent_asks_for_the_last_resort_once_a_minute(
        tmp_path: Path, pg_dsn: str, link: TcpForwarder, influx: Server) -> None:
    """PostgreSQL away from the only collector: refusing would only move the results to the agent's
    disk, so the agent resends with ``X-Netmon-Last-Resort`` and the collector keeps them."""
    site_id, name = SITES[0]
    registry = write_registry(tmp_path / "sites.yaml", [lab_site(site_id, name=name, province=SITE["province"])])
    (tmp_path / "a").mkdir()
    config = write_central(tmp_path / "a", registry, influx=influx_settings(influx, "v1"),
                           state=shared_state(tmp_path, through(pg_dsn, link.port), cut_off_after=CUT_OFF_AFTER))
    collector = start_collector(config, env=netmon_env())
    agent = None
    try:
        home = tmp_path / "agent"
        home.mkdir()
        (home / "token").write_text(collector.enrol(site_id) + "\n")
        agent = start_agent(None, write_config(
            home / "site.yaml", site={**SITE, "id": site_id, "name": name}, agent={"heartbeat_interval": 0.2},
            collector={"url": collector.url, "insecure_http": True, "token_file": str(home / "token"),
                       "ship_interval": 1, "request_timeout": 3, "connect_timeout": 2}))
        wait_until(lambda: own_site_accepted(collector, site_id) >= 10, 20, what="the agent shipping")
        link.cut()
        wait_until(lambda: gauge(collector, "netmon_collector_shared_state_cut_off") == 1, 10,
                   what="the collector cut off")
        at_cut_off = own_site_accepted(collector, site_id)
        time.sleep(8)
        assert own_site_accepted(collector, site_id) >= at_cut_off + 30  # 5 results a second, still taken in
        refused = {labels["reason"]: value for n, labels, value in
                   collector_samples(collector, "netmon_collector_rejected_requests") if n.endswith("_total")}
        assert refused.get("cut_off") == 1, refused  # one refusal, then the header for a minute
        assert agent.log().count("every collector answered that it is cut off") == 1
        link.restore()
        wait_until(lambda: gauge(collector, "netmon_collector_shared_state_cut_off") == 0, 15,
                   what="the collector reaching PostgreSQL again")
        agent.signal(signal.SIGTERM)
        assert agent.popen.wait(15) == 0
        wait_until(lambda: collector.get_json("/api/v1/stats")["totals"]["journal_pending_results"] == 0, 20,
                   what="the journal drained to InfluxDB")
        delivered = stored_once(influx, home / "state", site_id)
        wait_until(lambda: shared_site_accepted(collector, site_id) == len(delivered), 15,
                   what="the shared count exact")
    finally:
        if agent is not None and agent.alive():
            agent.kill()
        collector.stop()


def test_a_cut_off_rule_slower_than_the_silence_limit_is_refused_at_start(tmp_path: Path, pg_dsn: str) -> None:
    """cut_off_after + one ship interval must be below the shortest silence limit (10 x 1 s here):
    else a collector that loses PostgreSQL keeps its agents until the others page their sites."""
    (tmp_path / "rules.yaml").write_text(RULES)
    registry = write_registry(tmp_path / "sites.yaml", [lab_site(SITES[0][0], name=SITES[0][1])])

    def central(cut_off_after: float) -> Path:
        return write_central(tmp_path, registry, expected_ship_interval="1s",
                             state=shared_state(tmp_path, pg_dsn, cut_off_after=cut_off_after),
                             alerting={"rules_file": str(tmp_path / "rules.yaml")})

    config = central(9.5)
    line = next(n for n, text in enumerate(config.read_text().splitlines(), 1) if "cut_off_after" in text)
    for command in (["collector", "serve", "--config"], ["config", "check", "--central"]):  # at start, and before
        refused = subprocess.run([sys.executable, "-m", "netmon", *command, str(config)],
                                 capture_output=True, text=True, env=netmon_env(), timeout=60)
        assert refused.returncode == 1, command
        assert (f"{config}:{line}: state.postgres.cut_off_after: 9.5 s plus one expected_ship_interval (1 s) is "
                "not below the shortest silence limit, 10 s (rule 'SiteSilent'): when this collector loses "
                "PostgreSQL the others would page its sites as silent before their agents move to them; make it "
                "shorter (or the rule's after_intervals longer)") in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr

    collector = start_collector(central(8.5), env=netmon_env())  # 8.5 + 1 < 10: it starts
    try:
        assert collector.get_json("/healthz")
    finally:
        collector.stop()
