"""udp_echo against a real ``netmon reflector serve`` in the centre namespace."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess

import pytest

from netmon.contract import Status
from netmon.lab.netns import Namespace, Proc, call_in_namespace, wait_until
from netmon.lab.topology import SiteTopology
from netmon.probes.udp_echo import UdpEchoOptions, UdpEchoProbe
from netmon.probes.udp_echo.packet import REPLY, UdpEchoCodec
from netmon.probes.udp_echo.rate_limit import TokenBuckets
from netmon.probes.udp_echo.reflector import source_key
from tests.conftest import netmon_argv, netmon_env
from tests.probes.lab_probing import make_task, measure, measure_one, median, ms, ping_rtts_seconds

PORT = 8765
COUNT = 20
SPACING = 0.03


def start_reflector(ns: Namespace, *args: str, host: str = "::", port: int = PORT) -> Proc:
    proc = ns.start(netmon_argv("reflector", "serve", "--host", host, "--port", str(port), *args), env=netmon_env(),
                    name="reflector")
    wait_until(lambda: "listening" in proc.log() or not proc.alive(), 20, what="reflector")
    assert proc.alive(), proc.log()
    return proc


def stop_and_summary(proc: Proc) -> str:
    assert proc.stop() == 0, proc.log()
    match = re.search(r"stopped; (.*)", proc.log())
    assert match, proc.log()
    return match.group(1)


def exchange(ns: Namespace, host: str, datagrams: list[tuple[bytes, int]], wait: float = 0.3) -> list[list[bytes]]:
    """Send each (payload, source port) from ``ns`` and collect what comes back to that port."""

    def body() -> list[list[bytes]]:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        answers: list[list[bytes]] = []
        for payload, source_port in datagrams:
            with socket.socket(family, socket.SOCK_DGRAM) as sock:
                sock.bind(("", source_port))
                sock.sendto(payload, (host, PORT))
                sock.settimeout(wait)
                got = []
                try:
                    while True:
                        got.append(sock.recv(65535))
                except TimeoutError:
                    pass
                answers.append(got)
        return answers

    return call_in_namespace(ns, body)


@pytest.mark.netns
def test_idle_path_median_rtt_is_within_50_microseconds_of_ping(site_topo: SiteTopology) -> None:
    start_reflector(site_topo.centre)
    host = site_topo.leased.centre_ip
    task = make_task(UdpEchoProbe, host, UdpEchoOptions(count=COUNT, spacing=SPACING, timeout=5))
    probe_medians: list[float] = []
    ping_rtts: list[float] = []
    for round_ in range(4):
        if round_ % 2 == 0:
            ping_rtts += ping_rtts_seconds(site_topo.site, host, COUNT, SPACING)
        observation = measure_one(site_topo.site, UdpEchoProbe, task)
        assert observation.status is Status.OK, observation.reason
        assert observation.values["received_packets"] == COUNT
        assert observation.values["loss_ratio"] == 0.0
        assert observation.info == {"send_stamps": "kernel"}
        probe_medians.append(observation.values["rtt_median_seconds"])
        if round_ % 2 == 1:
            ping_rtts += ping_rtts_seconds(site_topo.site, host, COUNT, SPACING)
    assert len(ping_rtts) == 4 * COUNT
    print(f"udp_echo idle: probe {ms(median(probe_medians))} ping {ms(median(ping_rtts))}")
    assert abs(median(probe_medians) - median(ping_rtts)) <= 0.05e-3, (probe_medians, median(ping_rtts))


@pytest.mark.netns
def test_one_wildcard_reflector_answers_every_link_and_family_from_the_right_address(site_topo: SiteTopology) -> None:
    start_reflector(site_topo.centre)
    options = UdpEchoOptions(count=10, spacing=0.02, timeout=3)
    hosts = [site_topo.leased.centre_ip6, site_topo.tslcd.centre_ip, site_topo.tslcd.centre_ip6]
    observations = measure(site_topo.site, UdpEchoProbe, [make_task(UdpEchoProbe, h, options, target=f"t{i}")
                                                          for i, h in enumerate(hosts)])
    for host, observation in zip(hosts, observations, strict=True):
        assert observation.status is Status.OK, (host, observation.reason)
        assert observation.values["received_packets"] == 10, host


@pytest.mark.netns
def test_a_stopped_reflector_is_total_loss_with_the_reason(site_topo: SiteTopology) -> None:
    reflector = start_reflector(site_topo.centre)
    host = site_topo.leased.centre_ip
    task = make_task(UdpEchoProbe, host, UdpEchoOptions(count=5, spacing=0.02, timeout=2, reply_timeout=0.5))
    assert measure_one(site_topo.site, UdpEchoProbe, task).status is Status.OK
    assert stop_and_summary(reflector) == (
        "received 5, replied 5, dropped: 0 foreign, 0 rate-limited, 0 from privileged ports")
    observation = measure_one(site_topo.site, UdpEchoProbe, task)
    assert observation.status is Status.FAILED
    assert observation.values["loss_ratio"] == 1.0
    assert observation.reason == f"5/5 datagrams lost: no reflector listening on {host} port {PORT} (connection refused)"


@pytest.mark.netns
def test_reflector_ignores_foreign_packets_and_never_answers_larger(site_topo: SiteTopology) -> None:
    reflector = start_reflector(site_topo.centre, host=site_topo.leased.centre_ip)
    codec = UdpEchoCodec(64)
    request = codec.request(1)
    sizes = [36, 100, 1400]
    datagrams = [
        (os.urandom(64), 40001),  # random bytes
        (b"GET / HTTP/1.0\r\n\r\n" + bytes(500), 40002),  # bigger than any reply we would send: nothing
        (request[:5] + bytes((REPLY,)) + request[6:], 40003),  # a reply: answering it would loop reflectors
        (request[:30], 40004),  # truncated header
        (request, 999),  # privileged source port (echo/chargen loop protection)
        *[(UdpEchoCodec(size).request(7), 40010 + i) for i, size in enumerate(sizes)],
    ]
    answers = exchange(site_topo.site, site_topo.leased.centre_ip, datagrams)
    assert answers[:5] == [[], [], [], [], []]
    for size, got in zip(sizes, answers[5:], strict=True):
        assert [len(reply) for reply in got] == [size]
        assert got[0][5] == REPLY
    assert stop_and_summary(reflector) == (
        "received 8, replied 3, dropped: 4 foreign, 0 rate-limited, 1 from privileged ports")


@pytest.mark.netns
def test_reflector_rate_limits_each_source(site_topo: SiteTopology) -> None:
    reflector = start_reflector(site_topo.centre, "--rate", "1", "--burst", "10", host=site_topo.leased.centre_ip)

    def flood() -> int:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect((site_topo.leased.centre_ip, PORT))
            codec = UdpEchoCodec(64)
            for seq in range(50):
                sock.send(codec.request(seq))
            sock.settimeout(0.5)
            replies = 0
            try:
                while sock.recv(2048):
                    replies += 1
            except TimeoutError:
                return replies
        return replies

    assert call_in_namespace(site_topo.site, flood) == 10
    assert stop_and_summary(reflector) == (
        "received 50, replied 10, dropped: 0 foreign, 40 rate-limited, 0 from privileged ports")


@pytest.mark.netns
def test_reflector_stops_cleanly_on_sigint_and_refuses_a_busy_port(site_topo: SiteTopology) -> None:
    first = start_reflector(site_topo.centre, host=site_topo.leased.centre_ip)
    second = site_topo.centre.start(netmon_argv("reflector", "serve", "--host", site_topo.leased.centre_ip,
                                                "--port", str(PORT)), env=netmon_env(), name="reflector-2")
    second.popen.wait(20)
    assert second.popen.returncode == 1
    assert f"cannot listen on {site_topo.leased.centre_ip} port {PORT}: Address already in use" in second.log()
    first.signal(signal.SIGINT)
    first.popen.wait(10)
    assert first.popen.returncode == 0
    assert "stopped; received 0, replied 0" in first.log()


def test_reflector_help() -> None:
    result = subprocess.run(netmon_argv("reflector", "serve", "--help"), env=netmon_env(), capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    for option in ("--host", "--port", "--rate", "--burst", "--max-total-rate"):
        assert option in result.stdout


def test_rate_limit_keys_and_buckets() -> None:
    assert source_key("10.77.1.2") == "10.77.1.2"
    assert source_key("::ffff:10.77.1.2") == "10.77.1.2"
    assert source_key("fd77:1::2") == source_key("fd77:1::ffff") == "fd77:1::/64"
    buckets = TokenBuckets(rate_per_second=2, burst=3, max_keys=2)
    assert [buckets.allow("a", 0.0) for _ in range(4)] == [True, True, True, False]
    assert buckets.allow("a", 0.5)  # one token back after half a second at 2/s
    assert buckets.allow("b", 0.5)
    assert not buckets.allow("c", 0.5)  # table full of active sources: fail closed
    assert buckets.allow("c", 100.0)  # idle sources are forgotten to make room
    assert len(buckets) == 1


def test_time_inside_the_reflector_is_taken_off_the_rtt() -> None:
    from netmon.probes.udp_echo.packet import reply_for

    codec = UdpEchoCodec(64)
    reply = reply_for(codec.request(3), received_ns=1_000_000, sending_ns=1_250_000)
    assert len(reply) == 64
    assert codec.parse_reply(reply) == (3, 250_000)
    assert UdpEchoCodec(64).parse_reply(reply) is None  # another cycle's cookie
