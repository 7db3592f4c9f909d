"""tcp connect time against real listeners in the centre namespace."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from netmon.contract import Status
from netmon.lab.netns import call_in_namespace
from netmon.lab.topology import SiteTopology
from netmon.probes.tcp import TcpOptions, TcpProbe
from tests.probes.lab_probing import make_task, measure, measure_one, median, ms, ping_rtts_seconds, udp_overload

PORT = 7443


@pytest.fixture
def listeners(site_topo: SiteTopology) -> Iterator[list[socket.socket]]:
    """Listening sockets in the centre namespace; the kernel completes handshakes into the backlog."""

    def listen(host: str) -> socket.socket:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.bind((host, PORT))
        sock.listen(256)
        return sock

    socks = [call_in_namespace(site_topo.centre, lambda h=h: listen(h))  # type: ignore[misc]
             for h in (site_topo.leased.centre_ip, site_topo.leased.centre_ip6)]
    yield socks
    for sock in socks:
        sock.close()


@pytest.mark.netns
def test_connect_time_on_the_idle_path_is_one_round_trip(site_topo: SiteTopology,
                                                         listeners: list[socket.socket]) -> None:
    host = site_topo.leased.centre_ip
    task = make_task(TcpProbe, host, TcpOptions(timeout=2), port=PORT)
    connects: list[float] = []
    ping_rtts: list[float] = []
    for _ in range(3):
        ping_rtts += ping_rtts_seconds(site_topo.site, host, 10, 0.02)
        for observation in measure(site_topo.site, TcpProbe, [task] * 10):
            assert observation.status is Status.OK, observation.reason
            assert set(observation.values) == {"connect_seconds"}
            assert observation.info == {"connect_timing": "kernel"}
            connects.append(observation.values["connect_seconds"])
    print(f"tcp idle: connect {ms(median(connects))} ping {ms(median(ping_rtts))}")
    # a handshake is one round trip, timed by the kernel: ten concurrent probes' event-loop
    # delays (about 1 ms here) must not show in it
    assert 0 < median(connects) <= median(ping_rtts) + 0.05e-3


@pytest.mark.netns
def test_connect_time_on_a_saturated_line_is_within_10_percent_of_ping(site_topo: SiteTopology,
                                                                       listeners: list[socket.socket]) -> None:
    host = site_topo.leased.centre_ip
    task = make_task(TcpProbe, host, TcpOptions(timeout=3), port=PORT)
    with udp_overload(site_topo):
        ping_rtts = ping_rtts_seconds(site_topo.site, host, 20, 0.05)
        observations = [measure_one(site_topo.site, TcpProbe, task) for _ in range(10)]
        ping_rtts += ping_rtts_seconds(site_topo.site, host, 20, 0.05)
    assert all(o.status is Status.OK for o in observations), [o.reason for o in observations]
    # the full queue drops SYNs too: a retransmitted SYN is timed by the wall clock (>= 1 s), honestly
    kernel_timed = [o.values["connect_seconds"] for o in observations if o.info["connect_timing"] == "kernel"]
    assert all(o.values["connect_seconds"] >= 1 for o in observations if o.info["connect_timing"] != "kernel")
    assert len(kernel_timed) >= 3, observations
    print(f"tcp saturated: connect {ms(median(kernel_timed))} ping {ms(median(ping_rtts))}")
    assert median(ping_rtts) > 0.03, "the line was not saturated"
    assert abs(median(kernel_timed) - median(ping_rtts)) <= 0.1 * median(ping_rtts)


@pytest.mark.netns
def test_ipv6_and_the_default_port_from_options(site_topo: SiteTopology, listeners: list[socket.socket]) -> None:
    observation = measure_one(site_topo.site, TcpProbe,
                              make_task(TcpProbe, site_topo.leased.centre_ip6, TcpOptions(port=PORT, timeout=2)))
    assert observation.status is Status.OK, observation.reason
    assert 0 < observation.values["connect_seconds"] < 0.01


@pytest.mark.netns
def test_a_closed_port_is_connection_refused(site_topo: SiteTopology) -> None:
    observation = measure_one(site_topo.site, TcpProbe,
                              make_task(TcpProbe, site_topo.leased.centre_ip, TcpOptions(timeout=2), port=PORT + 1))
    assert observation.status is Status.FAILED
    assert observation.reason == "connection refused"
    assert observation.values == {}


@pytest.mark.netns
def test_a_dead_address_is_no_answer_within_the_timeout(site_topo: SiteTopology) -> None:
    start = time.monotonic()
    observation = measure_one(site_topo.site, TcpProbe,
                              make_task(TcpProbe, "10.77.2.99", TcpOptions(timeout=1), port=PORT))
    elapsed = time.monotonic() - start
    assert observation.status is Status.FAILED
    assert observation.reason == "no answer within 1 s"
    assert 0.9 <= elapsed < 1.5
