"""A Retry-After the agent cannot live with (a day, "inf", a proxy's nonsense) is cut to
``collector.max_retry_after``: the shipper in-process against a local HTTP server that answers
every batch 429 the way a broken or hostile front end might."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from netmon.config.site import CollectorConnection, SiteIdentity
from netmon.contract import Observation, ProbeKind, Status
from netmon.probes.agent.answer import retry_after_seconds
from netmon.probes.agent.async_outbox import AsyncOutbox
from netmon.probes.agent.collector_client import CollectorClient
from netmon.probes.agent.metrics import AgentMetrics
from netmon.probes.agent.shipper import Shipper


class TooManyRequests(http.server.BaseHTTPRequestHandler):
    retry_after = "86400"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        self.send_response(429)
        self.send_header("Retry-After", self.retry_after)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def front_end() -> Iterator[http.server.ThreadingHTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), TooManyRequests)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("header", "cap", "expected"), [("86400", 300, 300.0), ("86400", 7, 7.0), ("inf", 300, 10.0),
                                                         ("nan", 300, 10.0), ("3", 300, 3.0)])
async def test_the_shipper_waits_at_most_max_retry_after(front_end: http.server.ThreadingHTTPServer, tmp_path: Path,
                                                       header: str, cap: float, expected: float) -> None:
    TooManyRequests.retry_after = header
    token = tmp_path / "token"
    token.write_text("t\n")
    connection = CollectorConnection(url=f"http://127.0.0.1:{front_end.server_address[1]}", token_file=str(token),
                                     insecure_http=True, max_retry_after=cap)
    outbox = await AsyncOutbox.open(tmp_path / "outbox.sqlite3", site_id="26734", agent_id="26734-agent",
                                    max_results=100, max_age_seconds=3600)
    await outbox.add([Observation(probe=ProbeKind.AGENT, target="26734-agent", status=Status.OK,
                                  values={"uptime_seconds": 1.0})])
    metrics = AgentMetrics(SiteIdentity(id="26734", name="x", province="y"), "26734-agent", lambda: outbox.snapshot)
    client = CollectorClient(connection, site_id="26734", agent_id="26734-agent")
    try:
        assert await Shipper(outbox, client, connection, metrics).cycle() == expected
        assert outbox.snapshot.queued == 1  # nothing lost while waiting
    finally:
        await client.aclose()
        await outbox.close()


def test_retry_after_parsing() -> None:
    assert retry_after_seconds("inf", 10.0) == 10.0 and retry_after_seconds("-5", 10.0) == 0.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", 10.0) == 0.0  # a date in the past: now
