"""A site's lane, as a hostile-agent test drives it: post results with the site's own token, and check
what the victim cares about — every result of it in InfluxDB, on time, and its alerts firing.

``Centre`` is one real collector (``netmon collector serve``) with the alerting engine, writing to a
real ``influxd``; sites are enrolled straight into its ``sites.db`` (the CLI takes a second a site,
and ``tests/collectors/test_sites_cli.py`` covers it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from netmon.collectors.abc import Role
from netmon.collectors.sqlite import SITES_DB, connect
from netmon.collectors.tokens import TokenStore
from netmon.lab.collector import CollectorProcess
from netmon.lab.services import Server
from netmon.lab.tsdbquery import influxql

# what the victim needs from the centre while it is attacked: its results in InfluxDB this soon
MAX_LAG_SECONDS = 10.0
_seq_bases = itertools.count(1)


def icmp(site_id: str, seq: int, time_ns: int, *, loss: float = 0.0, target: str = "isp-edge",
         agent_id: str | None = None, **extra: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "site_id": site_id, "agent_id": agent_id or f"{site_id}-agent", "seq": seq, "probe": "icmp",
        "link": "leased", "link_kind": "leased_line", "target": target, "time_ns": time_ns,
        "status": "ok" if loss < 1 else "failed", "values": {"loss_ratio": loss, "sent_packets": 5.0,
                                                            "received_packets": 5.0 * (1 - loss)}}
    if loss < 1:
        record["values"]["rtt_avg_seconds"] = 0.012
    else:
        record["reason"] = "100% packet loss"
    record.update(extra)
    return record


def batch(site_id: str, records: list[dict[str, Any]], agent_id: str | None = None) -> dict[str, Any]:
    return {"site_id": site_id, "agent_id": agent_id or f"{site_id}-agent", "results": records}


@dataclasses.dataclass
class Centre:
    collector: CollectorProcess
    influx: Server
    tokens: dict[str, str]

    def token(self, role: str = "viewer") -> str:
        return self.collector.role_token(role)

    def metrics(self) -> str:
        status, _, body = self.collector.read("/metrics")
        assert status == 200, body[:300]
        return body.decode()

    def sample(self, name: str, **labels: str) -> float | None:
        """The value of one sample of /metrics (``name`` as exposed, e.g. ``..._total``), None if absent."""
        from prometheus_client.parser import text_string_to_metric_families

        for family in text_string_to_metric_families(self.metrics()):
            for found in family.samples:
                if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                    return float(found.value)
        return None

    def firing(self, site_id: str) -> list[str]:
        incidents = self.collector.get_json(f"/api/v1/incidents?state=firing&site={site_id}")["incidents"]
        return sorted(i["rule"] for i in incidents)

    def stored_seqs(self, site_id: str) -> set[int]:
        try:
            rows = influxql(self.influx.url, "netmon", f"SELECT \"seq\" FROM \"icmp\" WHERE \"site\" = '{site_id}'")
        except RuntimeError as exc:
            if "database not found" in str(exc):  # the drainer creates it with its first write
                return set()
            raise
        return {int(r["seq"]) for r in rows}

    def lane(self, site_id: str) -> Lane:
        return Lane(self, site_id, self.tokens[site_id])


def enrol_all(collector: CollectorProcess, sites: list[str]) -> dict[str, str]:
    conn = connect(collector.state_dir / SITES_DB)
    try:
        store = TokenStore(conn)
        tokens = {site: store.enrol(site) for site in sites}
        collector.role_tokens["viewer"] = store.issue(Role.VIEWER, "hostile-suite")
        return tokens
    finally:
        conn.close()


@dataclasses.dataclass
class Lane:
    """One site as its genuine agent: fresh seqs from an outbox-like base, results stamped now."""

    centre: Centre
    site_id: str
    token: str
    next_seq: int = 0

    def __post_init__(self) -> None:
        self.next_seq = time.time_ns() // 1000 + next(_seq_bases) * 10**9

    def seqs(self, n: int) -> list[int]:
        first = self.next_seq
        self.next_seq += n
        return list(range(first, first + n))

    def post(self, body: dict[str, Any] | bytes, token: str | None = None, gzipped: bool = False,
             headers: dict[str, str] | None = None) -> tuple[int, Any]:
        return self.centre.collector.post_batch(token or self.token, body, gzipped=gzipped, headers=headers)

    def send(self, n: int, ago: float = 100.0, **kwargs: Any) -> list[int]:
        """``n`` good results stamped ``ago`` seconds back (by default before the LinkDown ``link_down``
        reports), accepted as new."""
        seqs = self.seqs(n)
        then = time.time_ns() - int(ago * 1e9)
        status, ack = self.post(batch(self.site_id, [icmp(self.site_id, s, then - (n - i) * 10**6, **kwargs)
                                                     for i, s in enumerate(seqs)]))
        assert (status, ack["accepted"], ack["duplicates"]) == (200, n, 0), (status, ack)
        return seqs

    def link_down(self) -> list[int]:
        """The leased line stops answering for 70 s (LinkDown's `for` is 1 min), reported at once."""
        seqs = self.seqs(8)
        now = time.time_ns()
        records = [icmp(self.site_id, s, now - (70 - 10 * i) * 10**9, loss=1.0) for i, s in enumerate(seqs)]
        status, ack = self.post(batch(self.site_id, records))
        assert (status, ack["accepted"]) == (200, 8), (status, ack)
        return seqs

    def link_down_live(self, seconds: float = 3.0) -> list[int]:
        """The leased line stops answering now: a failed sample stamped at each send, once a second."""
        seqs: list[int] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            [seq] = self.seqs(1)
            status, ack = self.post(batch(self.site_id, [icmp(self.site_id, seq, time.time_ns(), loss=1.0)]))
            assert (status, ack["accepted"]) == (200, 1), (status, ack)
            seqs.append(seq)
            time.sleep(1.0)
        return seqs

    def measure(self, rounds: int = 4, per_round: int = 13, pause: float = 0.4) -> float:
        """Send like an agent does (a dozen results a batch) plus a LinkDown, check every result reached
        InfluxDB and LinkDown fires; returns the worst lag from a 200 to the points being in InfluxDB."""
        sent: list[tuple[float, list[int]]] = []
        for _ in range(rounds):
            sent.append((time.monotonic(), self.send(per_round)))
            time.sleep(pause)
        sent.append((time.monotonic(), self.link_down()))
        worst = 0.0
        for posted, seqs in sent:
            while not set(seqs) <= self.centre.stored_seqs(self.site_id):
                lag = time.monotonic() - posted
                assert lag < MAX_LAG_SECONDS, f"site {self.site_id}: seqs {seqs[0]}.. not in InfluxDB after {lag:.1f} s"
                time.sleep(0.1)
            worst = max(worst, time.monotonic() - posted)
        deadline = time.monotonic() + MAX_LAG_SECONDS
        while "LinkDown" not in self.centre.firing(self.site_id):
            assert time.monotonic() < deadline, f"LinkDown never fired for {self.site_id}"
            time.sleep(0.2)
        return worst


@dataclasses.dataclass
class Attack:
    """An attacker posting in a loop on its own thread; ``statuses`` counts what it was answered."""

    name: str
    once: Callable[[], tuple[int, Any]]
    statuses: dict[int, int] = dataclasses.field(default_factory=dict)
    answers: list[Any] = dataclasses.field(default_factory=list)  # the first few
    first: dict[int, Any] = dataclasses.field(default_factory=dict)  # the first answer of each status
    _stop: threading.Event = dataclasses.field(default_factory=threading.Event)

    def _run(self) -> None:
        while not self._stop.is_set():
            status, body = self.once()
            self.statuses[status] = self.statuses.get(status, 0) + 1
            self.first.setdefault(status, body)
            if len(self.answers) < 5:
                self.answers.append(body)


@contextlib.contextmanager
def flooding(attack: Attack) -> Iterator[Attack]:
    """Run ``attack`` on its own thread until the with-block ends."""
    thread = threading.Thread(target=attack._run, name=f"attack-{attack.name}", daemon=True)
    thread.start()
    try:
        time.sleep(0.3)  # under way before the victim starts
        yield attack
    finally:
        attack._stop.set()
        thread.join(30)


def detail(body: Any) -> str:
    return str(body.get("detail", "")) if isinstance(body, dict) else json.dumps(body)
