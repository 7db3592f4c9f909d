"""The icmp probe against iputils ping on the same lab paths, measured in the same test."""

from __future__ import annotations

import math
import socket
import time

import pytest

from netmon.contract import Status
from netmon.errors import ConfigError
from netmon.lab.topology import SiteTopology
from netmon.probes.echo_session import EchoOutcome, echo_status, echo_values
from netmon.probes.icmp import IcmpOptions, IcmpProbe
from netmon.probes.icmp.sockets import IcmpEchoCodec
from netmon.probes.kinds import default_kinds
from netmon.probes.plan import build_tasks
from tests.probes.lab_probing import make_task, measure, measure_one, median, ms, ping_rtts_seconds, udp_overload
from tests.probes.test_contract import sample_config

COUNT = 20
SPACING = 0.03


def interleaved(topo: SiteTopology, host: str, rounds: int, **options: object) -> tuple[list[float], list[float], list]:
    """Alternate ping and probe runs on one path so machine load hits both alike.
    Returns (probe median per round, every ping RTT, probe observations)."""
    probe_medians: list[float] = []
    ping_rtts: list[float] = []
    observations = []
    task = make_task(IcmpProbe, host, IcmpOptions(count=COUNT, spacing=SPACING, timeout=5, **options))
    for round_ in range(rounds):
        if round_ % 2 == 0:
            ping_rtts += ping_rtts_seconds(topo.site, host, COUNT, SPACING)
        observation = measure_one(topo.site, IcmpProbe, task)
        observations.append(observation)
        if "rtt_median_seconds" in observation.values:
            probe_medians.append(observation.values["rtt_median_seconds"])
        if round_ % 2 == 1:
            ping_rtts += ping_rtts_seconds(topo.site, host, COUNT, SPACING)
    return probe_medians, ping_rtts, observations


@pytest.mark.netns
@pytest.mark.parametrize("socket_kind", ["datagram", "raw"])
def test_idle_path_median_rtt_is_within_50_microseconds_of_ping(site_topo: SiteTopology, socket_kind: str) -> None:
    if socket_kind == "raw":  # the agent's group is not allowed ICMP datagram sockets: auto falls back to raw
        site_topo.site.sysctl("net.ipv4.ping_group_range", "1 0")
    probe_medians, ping_rtts, observations = interleaved(site_topo, site_topo.leased.centre_ip, rounds=4)
    for observation in observations:
        assert observation.status is Status.OK, observation.reason
        assert observation.values["sent_packets"] == COUNT
        assert observation.values["received_packets"] == COUNT
        assert observation.values["loss_ratio"] == 0.0
        assert observation.info == {"socket": socket_kind, "send_stamps": "kernel"}
        v = observation.values
        assert 0 < v["rtt_min_seconds"] <= v["rtt_median_seconds"] <= v["rtt_max_seconds"] < 0.01
        assert v["rtt_min_seconds"] <= v["rtt_avg_seconds"] <= v["rtt_max_seconds"]
    assert len(ping_rtts) == 4 * COUNT
    difference = median(probe_medians) - median(ping_rtts)
    print(f"idle {socket_kind}: probe {ms(median(probe_medians))} ping {ms(median(ping_rtts))}")
    assert abs(difference) <= 0.05e-3, f"probe {ms(median(probe_medians))} vs ping {ms(median(ping_rtts))}"


@pytest.mark.netns
def test_saturated_leased_line_median_rtt_is_within_10_percent_of_ping(site_topo: SiteTopology) -> None:
    """UDP at 1.5x the 20 Mbit/s line through the router fills its tbf queue (latency 50 ms)."""
    with udp_overload(site_topo):
        probe_medians, ping_rtts, observations = interleaved(site_topo, site_topo.leased.centre_ip, rounds=2,
                                                             reply_timeout=1)
    ping_median = median(ping_rtts)
    assert ping_median > 0.03, f"the line was not saturated: ping median {ms(ping_median)}"
    assert len(probe_medians) == 2, [o.reason for o in observations]
    probe_median = median(probe_medians)
    print(f"saturated: probe {ms(probe_median)} ping {ms(ping_median)}")
    assert abs(probe_median - ping_median) <= 0.10 * ping_median, f"probe {ms(probe_median)} vs ping {ms(ping_median)}"


@pytest.mark.netns
def test_a_dead_address_is_total_loss_and_failed(site_topo: SiteTopology) -> None:
    options = IcmpOptions(count=5, spacing=0.05, reply_timeout=0.5, timeout=2)
    start = time.monotonic()
    observation = measure_one(site_topo.site, IcmpProbe, make_task(IcmpProbe, "10.77.2.99", options))
    assert time.monotonic() - start < 2.5
    assert observation.status is Status.FAILED
    assert observation.reason == "5/5 echo requests lost"
    assert observation.values == {"sent_packets": 5.0, "received_packets": 0.0, "loss_ratio": 1.0}


@pytest.mark.netns
def test_ipv6_path_matches_ping(site_topo: SiteTopology) -> None:
    probe_medians, ping_rtts, observations = interleaved(site_topo, site_topo.leased.centre_ip6, rounds=2)
    assert [o.status for o in observations] == [Status.OK, Status.OK]
    assert [o.values["received_packets"] for o in observations] == [COUNT, COUNT]
    assert len(ping_rtts) == 2 * COUNT
    assert abs(median(probe_medians) - median(ping_rtts)) <= 0.05e-3, (probe_medians, median(ping_rtts))


@pytest.mark.netns
@pytest.mark.parametrize("mode", ["datagram", "raw"])
def test_concurrent_tasks_each_get_all_their_replies(site_topo: SiteTopology, mode: str) -> None:
    """Three cycles at once (two to the same host, one IPv6 with big packets) while a ping
    floods the same host: raw sockets see every echo reply and must keep only their own."""
    site_topo.site.start(["ping", "-n", "-i", "0.005", "-c", "400", site_topo.leased.centre_ip], name="ping-noise")
    options = IcmpOptions(count=COUNT, spacing=0.02, timeout=3, socket=mode)
    tasks = [
        make_task(IcmpProbe, site_topo.leased.centre_ip, options, target="a"),
        make_task(IcmpProbe, site_topo.leased.centre_ip, options, target="b"),
        make_task(IcmpProbe, site_topo.tslcd.centre_ip6, options.model_copy(update={"size": 1400}), target="c"),
    ]
    observations = measure(site_topo.site, IcmpProbe, tasks)
    for observation in observations:
        assert observation.status is Status.OK, (observation.target, observation.reason)
        assert observation.values["received_packets"] == COUNT, observation.target
        assert observation.info["socket"] == mode


@pytest.mark.netns
def test_source_address_of_the_link_is_used_and_checked(site_topo: SiteTopology) -> None:
    from netmon.config.site import LinkConfig

    good = LinkConfig(name="leased", kind="leased_line", contracted_mbps=20, source_address=site_topo.site_ip)
    absent = good.model_copy(update={"source_address": "10.77.1.77"})
    options = IcmpOptions(count=3, spacing=0.02, timeout=2)
    ok, bad = measure(site_topo.site, IcmpProbe, [
        make_task(IcmpProbe, site_topo.leased.centre_ip, options, link=good),
        make_task(IcmpProbe, site_topo.leased.centre_ip, options, link=absent),
    ])
    assert ok.status is Status.OK and ok.values["received_packets"] == 3
    assert bad.status is Status.ERROR
    assert bad.reason == "source_address 10.77.1.77 is not configured on this host"


def test_statistics_follow_iputils_definitions() -> None:
    outcome = EchoOutcome(requested=5, rtts_seconds=[0.001, 0.002, 0.004, 0.003], errors=[], kernel_tx_stamps=4)
    values = echo_values(outcome)
    assert values["rtt_min_seconds"] == 0.001 and values["rtt_max_seconds"] == 0.004
    assert values["rtt_avg_seconds"] == pytest.approx(0.0025)
    assert values["rtt_median_seconds"] == pytest.approx(0.0025)
    # ping's mdev: sqrt(mean(rtt^2) - mean(rtt)^2) = sqrt(7.5 - 6.25) ms
    assert values["rtt_mdev_seconds"] == pytest.approx(math.sqrt(1.25) / 1000)
    assert values["jitter_seconds"] == pytest.approx((1 + 2 + 1) / 3 / 1000)
    assert values["loss_ratio"] == pytest.approx(0.2)
    assert (values["sent_packets"], values["received_packets"]) == (5, 4)
    assert echo_status(outcome, "echo requests") == (Status.DEGRADED, "1/5 echo requests lost")
    lost = EchoOutcome(requested=20, rtts_seconds=[], errors=["Network is unreachable"], kernel_tx_stamps=0)
    assert echo_status(lost, "echo requests") == (
        Status.FAILED, "20/20 echo requests lost (Network is unreachable)")
    assert set(echo_values(lost)) == {"sent_packets", "received_packets", "loss_ratio"}


def test_raw_socket_codec_ignores_other_identifiers_and_cookies() -> None:
    mine = IcmpEchoCodec(socket.AF_INET, raw=True, identifier=0x1234, payload_bytes=56)
    other = IcmpEchoCodec(socket.AF_INET, raw=True, identifier=0x4321, payload_bytes=56)
    ip_header = bytes([0x45]) + bytes(19)

    def as_reply(request: bytes) -> bytes:
        return ip_header + bytes([0]) + request[1:]

    assert mine.parse_reply(as_reply(mine.request(7))) == (7, 0)
    assert mine.parse_reply(as_reply(other.request(7))) is None
    assert mine.parse_reply(ip_header + mine.request(7)) is None  # an echo request, not a reply


def test_a_cycle_longer_than_the_timeout_is_a_config_error() -> None:
    config = sample_config("icmp").model_copy(update={"probes": {"icmp": {"count": 200, "spacing": "100ms"}}})
    with pytest.raises(ConfigError) as caught:
        build_tasks(config, default_kinds(), source="site.yaml")
    assert caught.value.problems == [
        ("probes.icmp", None, "count × spacing (19.9 s of sending) must be shorter than timeout (10 s) "
                              "(got {'count': 200, 'spacing': '100ms'})")]
