"""The collector serves HTTPS itself when given a certificate; agents verify it with their CA file."""

from __future__ import annotations

import asyncio
import ssl
import urllib.error
import urllib.request
from pathlib import Path

import httpx
import pytest

from netmon.config.site import CollectorConnection
from netmon.contract import Observation
from netmon.lab.certs import make_ca
from netmon.lab.collector import lab_site, sample_batch, start_collector, write_central, write_registry
from netmon.probes.agent.collector_client import CollectorClient
from netmon.probes.agent.outbox import Outbox
from tests.conftest import netmon_env


def test_https_with_a_lab_ca(tmp_path: Path) -> None:
    ca = make_ca(tmp_path / "pki")
    issued = ca.issue(tmp_path / "pki", "collector", ["127.0.0.1"])
    registry = write_registry(tmp_path / "sites.yaml", [lab_site("26734")])
    config = write_central(tmp_path, registry, tls=(issued.cert_path, issued.key_path))
    with start_collector(config, env=netmon_env(), ca_file=ca.cert_path) as collector:
        assert collector.url.startswith("https://127.0.0.1:")
        token = collector.enrol("26734")
        assert collector.post_batch(token, sample_batch("26734", [1, 2]), gzipped=True)[1]["accepted"] == 2
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            urllib.request.urlopen(collector.url + "/healthz", timeout=5, context=ssl.create_default_context())


def test_an_agent_keeps_one_tls_connection_across_batches(tmp_path: Path) -> None:
    """Ship interval 7 s, above httpx's and uvicorn's 5-s idle defaults: the agent's second batch
    still goes over the first batch's connection (no new TCP or TLS handshake per batch)."""
    ca = make_ca(tmp_path / "pki")
    issued = ca.issue(tmp_path / "pki", "collector", ["127.0.0.1"])
    registry = write_registry(tmp_path / "sites.yaml", [lab_site("26734")])
    config = write_central(tmp_path, registry, tls=(issued.cert_path, issued.key_path))
    with start_collector(config, env=netmon_env(), ca_file=ca.cert_path) as collector:
        token_file = tmp_path / "token"
        token_file.write_text(collector.enrol("26734"))
        connection = CollectorConnection(url=collector.url, token_file=str(token_file), ca_file=str(ca.cert_path))
        outbox = Outbox(tmp_path / "outbox.sqlite3", site_id="26734", agent_id="26734-agent", max_results=1000,
                        max_age_seconds=3600)

        async def ship_twice() -> list[tuple[int, int]]:
            client = CollectorClient(connection, site_id="26734", agent_id="26734-agent")
            client_ports: list[tuple[int, int]] = []

            async def note_port(response: httpx.Response) -> None:
                stream = response.extensions["network_stream"]
                client_ports.append((stream.get_extra_info("client_addr")[1], response.status_code))

            client.http.event_hooks["response"].append(note_port)
            try:
                for _ in range(2):
                    outbox.add([Observation(probe="icmp", link="leased", link_kind="leased_line", target="isp-edge",
                                            status="ok", values={"rtt_avg_seconds": 0.012})])
                    items = outbox.oldest(10, ())
                    settlement = await client.post(items, 0)
                    outbox.acknowledge(tuple(settlement.acked))
                    await asyncio.sleep(7)  # longer than httpx's and uvicorn's idle defaults (5 s)
            finally:
                await client.aclose()
            return client_ports

        ports = asyncio.run(ship_twice())
        outbox.close()
    assert [status for _, status in ports] == [200, 200]
    assert ports[0][0] == ports[1][0], f"a new connection for the second batch: {ports}"
