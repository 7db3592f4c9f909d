"""snmp_if against Debian's snmpd in the site router's namespace, with iperf3 traffic as the reference.

Rates are checked against a known ``iperf3 -u -b`` rate on the wire (payload + UDP/IP/Ethernet
headers). A real 64-bit counter wrap cannot be produced on a test bed (at 10 Gbit/s it takes
centuries); wraps are checked twice instead: the arithmetic on ``Sample`` objects with values
near 2**64, and end to end through the real snmpd, whose ``pass`` hook serves a counter the
test sets near 2**64 and then past it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from netmon.config.site import SiteConfig
from netmon.contract import Observation, Status
from netmon.lab.iperf import start_iperf3
from netmon.lab.netns import Lab
from netmon.lab.nsloop import NamespaceLoop
from netmon.lab.snmpd import SnmpAgent, start_snmpd
from netmon.lab.topology import SiteTopology
from netmon.probes.base import ProbeContext, ProbeTask
from netmon.probes.kinds import ProbeKinds
from netmon.probes.plan import build_tasks
from netmon.probes.snmp_if import SnmpIfOptions, SnmpIfProbe
from netmon.probes.snmp_if.counters import Rates, Rebaseline, Sample, compute_rates

SITE = {"id": "26734", "name": "Phường Phước Tân", "province": "Đồng Nai"}
ROUTER = "10.77.1.1"
UDP_PAYLOAD = 1400
WIRE_FACTOR = (UDP_PAYLOAD + 8 + 20 + 14) / UDP_PAYLOAD  # UDP, IPv4, Ethernet headers counted by ifHCOctets


def snmp_task(if_name: str = "leased", contracted_mbps: float = 20, options: dict[str, Any] | None = None,
              **snmp: Any) -> ProbeTask:
    section = {"host": ROUTER, "version": "2c", "community": "netmon-lab", "if_name": if_name, "timeout": 0.5,
               "retries": 0, **snmp}
    config = SiteConfig.model_validate({
        "site": SITE,
        "links": [{"name": "leased", "kind": "leased_line", "contracted_mbps": contracted_mbps, "probes": [],
                   "snmp": section}],
        "probes": {"snmp_if": {"timeout": 8, **(options or {})}},
    })
    kinds = ProbeKinds()
    kinds.register(SnmpIfProbe)
    (task,) = build_tasks(config, kinds)
    return task


@pytest.fixture
def agent(site_topo: SiteTopology, lab: Lab) -> SnmpAgent:
    return start_snmpd(site_topo.router, ROUTER, lab.workdir / "snmpd")


def rate_values(observation: Observation) -> set[str]:
    return set(observation.values) & {"in_bps", "out_bps", "utilisation_ratio", "window_seconds"}


def test_utilisation_matches_a_known_udp_rate_in_each_direction(site_topo: SiteTopology, agent: SnmpAgent,
                                                                tmp_path: Path) -> None:
    centre = site_topo.leased.centre_ip
    start_iperf3(site_topo.centre, centre, 5201)
    start_iperf3(site_topo.centre, centre, 5202)
    common = ["-u", "-l", str(UDP_PAYLOAD), "-t", "18"]
    # upload leaves the router on 'leased' (out), download arrives on it (in)
    site_topo.site.start(["iperf3", "-c", centre, "-p", "5201", "-b", "10M", *common], name="udp-up")
    site_topo.site.start(["iperf3", "-c", centre, "-p", "5202", "-b", "5M", "-R", *common], name="udp-down")
    task = snmp_task()
    probe = SnmpIfProbe(ProbeContext(state_dir=tmp_path))

    async def series() -> tuple[Observation, Observation]:
        await asyncio.sleep(1.5)  # past iperf3's start
        first = await probe.measure(task)
        await asyncio.sleep(6)
        second = await probe.measure(task)
        await probe.aclose()
        return first, second

    with NamespaceLoop(site_topo.site) as loop:
        first, second = loop.run(series())

    assert first.status is Status.OK, first.reason
    assert "baseline taken" in first.info["baseline"]
    assert not rate_values(first)
    assert first.values["oper_up"] == 1.0
    assert first.values["if_speed_bps"] == 10_000e6  # a veth's ifHighSpeed, whatever tbf does
    assert first.values["contracted_bps"] == 20e6
    assert first.info["aligned"] == "yes"

    assert second.status is Status.OK, second.reason
    assert second.info["aligned"] == "yes"
    expected_out, expected_in = 10e6 * WIRE_FACTOR, 5e6 * WIRE_FACTOR
    out_bps, in_bps = second.values["out_bps"], second.values["in_bps"]
    print(f"SNMP out {out_bps / 1e6:.3f} Mbit/s vs {expected_out / 1e6:.3f} on the wire "
          f"({(out_bps / expected_out - 1) * 100:+.2f} %), in {in_bps / 1e6:.3f} vs {expected_in / 1e6:.3f} "
          f"({(in_bps / expected_in - 1) * 100:+.2f} %), window {second.values['window_seconds']:.2f} s")
    assert out_bps == pytest.approx(expected_out, rel=0.05)
    assert in_bps == pytest.approx(expected_in, rel=0.05)
    assert second.values["out_utilisation_ratio"] == pytest.approx(expected_out / 20e6, rel=0.05)
    assert second.values["in_utilisation_ratio"] == pytest.approx(expected_in / 20e6, rel=0.05)
    assert second.values["utilisation_ratio"] == second.values["out_utilisation_ratio"]
    assert 5.5 < second.values["window_seconds"] < 12
    assert second.values["in_errors_per_second"] == 0 and second.values["out_discards_per_second"] == 0


def test_an_snmpd_restart_mid_series_rebaselines_and_never_reports_a_bogus_rate(
        site_topo: SiteTopology, agent: SnmpAgent, tmp_path: Path) -> None:
    task = snmp_task(options={"align_seconds": 0})
    probe = SnmpIfProbe(ProbeContext(state_dir=tmp_path))
    with NamespaceLoop(site_topo.site) as loop:
        baseline = loop.run(probe.measure(task))
        agent.stop()
        down = loop.run(probe.measure(task))
        agent.start()
        after_restart = loop.run(probe.measure(task))
        loop.run(asyncio.sleep(0.5))
        resumed = loop.run(probe.measure(task))
        loop.run(probe.aclose())

    assert baseline.status is Status.OK and not rate_values(baseline)
    assert down.status is Status.FAILED
    assert down.reason == f"SNMP agent {ROUTER}:161 did not answer within 0.5 s (0 retries): agent down, unreachable, or wrong community/credentials"
    assert after_restart.status is Status.OK
    assert not rate_values(after_restart), after_restart.values
    assert "agent restarted (sysUpTime " in after_restart.info["baseline"]
    assert after_restart.values["sys_uptime_seconds"] < baseline.values["sys_uptime_seconds"] + 5
    assert resumed.status is Status.OK and "baseline" not in resumed.info
    assert 0 <= resumed.values["in_bps"] < 1e6 and 0 <= resumed.values["out_bps"] < 1e6


PASS_SCRIPT = """#!/bin/sh
# snmpd 'pass' hook: serve ifHCInOctets/ifHCOutOctets of one ifIndex from files the test writes
[ "$1" = "-g" ] || exit 0
case "$2" in
  .1.3.6.1.2.1.31.1.1.1.6.*)  file={dir}/in ;;
  .1.3.6.1.2.1.31.1.1.1.10.*) file={dir}/out ;;
  *) exit 0 ;;
esac
echo "$2"; echo counter64; cat "$file"
"""


def test_a_counter_wrap_served_by_a_real_agent_is_a_rate_and_an_impossible_one_a_rebaseline(
        site_topo: SiteTopology, lab: Lab, tmp_path: Path) -> None:
    index = site_topo.router.run("cat", "/sys/class/net/lan/ifindex").stdout.strip()
    values_dir = lab.workdir / "counters"
    values_dir.mkdir()
    script = lab.workdir / "ifhc-pass.sh"
    script.write_text(PASS_SCRIPT.replace("{dir}", str(values_dir)))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    extra = "".join(f"pass .1.3.6.1.2.1.31.1.1.1.{column}.{index} {script}\n" for column in (6, 10))
    start_snmpd(site_topo.router, ROUTER, lab.workdir / "snmpd", extra_conf=extra)

    def set_counters(in_octets: int, out_octets: int) -> None:
        (values_dir / "in").write_text(f"{in_octets}\n")
        (values_dir / "out").write_text(f"{out_octets}\n")

    task = snmp_task(if_name="lan", contracted_mbps=100, options={"align_seconds": 0})
    probe = SnmpIfProbe(ProbeContext(state_dir=tmp_path))
    with NamespaceLoop(site_topo.site) as loop:
        set_counters(2**64 - 5_000_000, 1000)
        baseline = loop.run(probe.measure(task))
        loop.run(asyncio.sleep(2.0))
        set_counters(7_500_000, 1000 + 2_500_000)  # in wrapped: 12.5 MB, about 50 Mbit/s over 2 s
        wrapped = loop.run(probe.measure(task))
        loop.run(asyncio.sleep(1.0))
        set_counters(2**40, 1000 + 2_500_000)  # forward by 1.1 TB in about 1 s: above a 10 Gbit/s port
        absurd = loop.run(probe.measure(task))
        loop.run(asyncio.sleep(1.0))
        set_counters(10**6, 1000 + 2_500_000)  # backwards without a restart; as a wrap: 1.5e20 bit/s
        reset = loop.run(probe.measure(task))
        loop.run(probe.aclose())

    assert baseline.status is Status.OK and not rate_values(baseline)
    assert wrapped.status is Status.OK and wrapped.info.get("wrapped") == "ifHCInOctets"
    window = wrapped.values["window_seconds"]
    assert wrapped.values["in_bps"] == pytest.approx(12_500_000 * 8 / window)
    assert wrapped.values["out_bps"] == pytest.approx(2_500_000 * 8 / window)
    assert 1.5 < window < 3.5
    for observation in (absurd, reset):
        assert observation.status is Status.OK
        assert not rate_values(observation), observation.values
    assert "above the interface speed: not a real rate" in absurd.info["baseline"]
    assert "went backwards" in reset.info["baseline"] and "treated as a counter reset" in reset.info["baseline"]


def test_snmpv3_authpriv_reads_the_interface_and_a_wrong_key_fails_with_a_clear_reason(
        site_topo: SiteTopology, agent: SnmpAgent, tmp_path: Path) -> None:
    key_file = tmp_path / "auth.key"
    key_file.write_text(agent.auth_key + "\n")
    v3 = {"version": "3", "community": None, "user": agent.user, "auth_protocol": "sha256", "auth_key_file": str(key_file),
          "priv_protocol": "aes", "priv_key": agent.priv_key}
    good = snmp_task(if_name="tslcd", options={"align_seconds": 0}, **v3)
    bad = snmp_task(if_name="tslcd", options={"align_seconds": 0}, **{**v3, "auth_key_file": None,
                                                                       "auth_key": "not-the-auth-key"})
    probe = SnmpIfProbe(ProbeContext(state_dir=tmp_path))

    no_file = snmp_task(if_name="tslcd", **{**v3, "auth_key_file": str(tmp_path / "missing.key")})

    async def all_of_them() -> tuple[Observation, ...]:
        try:
            return (await probe.measure(good), await probe.measure(bad), await probe.measure(good),
                    await probe.measure(no_file))
        finally:
            await probe.aclose()

    with NamespaceLoop(site_topo.site) as loop:
        ok, wrong, ok_again, unreadable = loop.run(all_of_them())
    assert ok.status is Status.OK and ok.values["oper_up"] == 1.0, ok.reason
    assert wrong.status is Status.FAILED
    assert wrong.reason == (f"SNMP agent {ROUTER}:161 rejected SNMPv3 authentication (wrong digest): "
                            "check auth_key and auth_protocol")
    # the bad credentials had their own engine: the good ones still work and have a rate now
    assert ok_again.status is Status.OK and "in_bps" in ok_again.values
    # a key file that is not there is the agent's configuration problem, not the network's
    assert unreadable.status is Status.ERROR
    assert unreadable.reason == f"cannot read SNMPv3 auth key file {tmp_path / 'missing.key'}: No such file or directory"


def test_an_unknown_if_name_fails_with_the_names_seen_and_a_down_link_is_degraded(
        site_topo: SiteTopology, agent: SnmpAgent, tmp_path: Path) -> None:
    probe = SnmpIfProbe(ProbeContext(state_dir=tmp_path))
    site_topo.set_link_down(site_topo.tslcd)

    async def both() -> tuple[Observation, Observation]:
        try:
            unknown = await probe.measure(snmp_task(if_name="eth9", options={"align_seconds": 0}))
            await asyncio.sleep(3.2)  # snmpd's interface cache (about 3 s) says up until it reloads
            down = await probe.measure(snmp_task(if_name="tslcd", options={"align_seconds": 0}))
            return unknown, down
        finally:
            await probe.aclose()

    with NamespaceLoop(site_topo.site) as loop:
        unknown, down = loop.run(both())
    assert unknown.status is Status.FAILED
    assert unknown.reason == (f"SNMP agent {ROUTER} has no interface with ifName or ifDescr 'eth9'; "
                              "ifNames seen: lan, leased, lo, tslcd")
    assert down.status is Status.DEGRADED
    assert down.reason == "interface tslcd is down (ifOperStatus 2)"
    assert down.values["oper_up"] == 0.0


def test_an_agent_on_ipv6_is_read_the_same_way(site_topo: SiteTopology, lab: Lab, tmp_path: Path) -> None:
    start_snmpd(site_topo.router, site_topo.gateway_ip6, lab.workdir / "snmpd6")
    task = snmp_task(host=site_topo.gateway_ip6, options={"align_seconds": 0})
    probe = SnmpIfProbe(ProbeContext(state_dir=tmp_path))

    async def twice() -> tuple[Observation, Observation]:
        try:
            first = await probe.measure(task)
            await asyncio.sleep(0.5)
            return first, await probe.measure(task)
        finally:
            await probe.aclose()

    with NamespaceLoop(site_topo.site) as loop:
        first, second = loop.run(twice())
    assert first.status is Status.OK and second.status is Status.OK, (first.reason, second.reason)
    assert second.values["oper_up"] == 1.0 and second.values["out_bps"] >= 0


def test_a_recreated_interface_is_found_again_by_name(site_topo: SiteTopology, lab: Lab, tmp_path: Path) -> None:
    router = site_topo.router

    def create() -> None:
        router.run("ip", "link", "add", "extra0", "type", "veth", "peer", "name", "extra1")
        for dev in ("extra0", "extra1"):
            router.run("ip", "link", "set", dev, "up")

    create()
    start_snmpd(site_topo.router, ROUTER, lab.workdir / "snmpd")  # after create(): its table has extra0
    task = snmp_task(if_name="extra0", options={"align_seconds": 0})
    probe = SnmpIfProbe(ProbeContext(state_dir=tmp_path))
    with NamespaceLoop(site_topo.site) as loop:
        first = loop.run(probe.measure(task))
        router.run("ip", "link", "del", "extra0")
        create()
        loop.run(asyncio.sleep(3.2))  # snmpd reloads its interface table about every 3 s
        again = loop.run(probe.measure(task))
        loop.run(probe.aclose())
    assert first.status is Status.OK, first.reason
    assert again.status is Status.OK, again.reason
    assert again.info["if_index"] != first.info["if_index"]
    assert again.info["moved"] == f"extra0 moved from ifIndex {first.info['if_index']} to {again.info['if_index']}"
    assert again.info["baseline"] == (f"baseline taken: interface moved from ifIndex {first.info['if_index']} "
                                      f"to {again.info['if_index']}")
    assert not rate_values(again)


def _sample(t: float, in_octets: int, out_octets: int = 0, uptime: int = 100_000, disc: int = 0, index: int = 3,
            speed_mbps: int = 10_000) -> Sample:
    return Sample(if_index=index, monotonic_seconds=t, wall_ns=int(t * 1e9), sys_uptime_ticks=uptime + int(t * 100),
                  discontinuity_ticks=disc, in_octets=in_octets, out_octets=out_octets, high_speed_mbps=speed_mbps)


def test_wrap_arithmetic_near_2_64() -> None:
    top = 2**64
    # 1 000 000 octets across the wrap in 10 s: 800 kbit/s
    rates = compute_rates(_sample(0, top - 400_000), _sample(10, 600_000), contracted_bps=20e6)
    assert isinstance(rates, Rates)
    assert rates.in_bps == pytest.approx(800_000.0) and rates.wrapped == ("ifHCInOctets",)
    # exactly at the top and at zero
    rates = compute_rates(_sample(0, top - 1, top - 1), _sample(1, 0, 124), contracted_bps=20e6)
    assert isinstance(rates, Rates) and rates.in_bps == 8.0 and rates.out_bps == 125 * 8.0
    # a drop to near zero without reboot: as a wrap that is 1.5e20 bit/s: a reset, not a rate
    verdict = compute_rates(_sample(0, 10**9), _sample(60, 10**3), contracted_bps=20e6)
    assert isinstance(verdict, Rebaseline) and "treated as a counter reset" in verdict.reason
    # a plausible-by-speed wrap that is still more than 4x the contracted rate is refused
    verdict = compute_rates(_sample(0, top - 10**9), _sample(60, 10**9), contracted_bps=20e6)  # 267 Mbit/s
    assert isinstance(verdict, Rebaseline) and "4x the contracted rate" in verdict.reason
    # the agent rebooted: counters restarted, uptime went back
    verdict = compute_rates(_sample(0, 10**12, uptime=10**6), _sample(60, 10**3, uptime=0), contracted_bps=20e6)
    assert isinstance(verdict, Rebaseline) and verdict.reason.startswith("agent restarted")
    # the agent says the interface's counters were reset
    verdict = compute_rates(_sample(0, 5000), _sample(60, 9000, disc=4200), contracted_bps=20e6)
    assert isinstance(verdict, Rebaseline) and "ifCounterDiscontinuityTime" in verdict.reason
    # 32-bit error counters wrap on their own modulus
    before = Sample(**{**_sample(0, 0).__dict__, "in_errors": 2**32 - 2})
    after = Sample(**{**_sample(2, 0).__dict__, "in_errors": 4})
    rates = compute_rates(before, after, contracted_bps=20e6)
    assert isinstance(rates, Rates) and rates.in_errors_per_second == 3.0


def test_a_cut_alignment_wait_never_becomes_a_rate_and_a_saturated_line_reads_1(
        site_topo: SiteTopology, agent: SnmpAgent, tmp_path: Path) -> None:
    """The combination that once read a line saturated at its contract rate as 0.54 and then 1.71:
    interval 5 s, timeout 4.5 s, SNMP timeout 1 s x 2 tries. ``config check`` refuses it; built
    here anyway, the probe itself must not turn a cut wait into a rate."""
    centre = site_topo.leased.centre_ip
    start_iperf3(site_topo.centre, centre, 5201)
    site_topo.site.start(["iperf3", "-c", centre, "-p", "5201", "-u", "-b", "30M", "-l", str(UDP_PAYLOAD),
                          "-t", "60"], name="saturate")  # 1.5x the 20 Mbit/s line: the router's tbf is full
    sound = snmp_task(options={"interval": 5, "timeout": 8}, timeout=1, retries=1)  # 2 + 4 + 2 s
    cut = dataclasses.replace(sound, options=SnmpIfOptions(interval=5, timeout=4.5))
    # cut harder: about 0.3 s of waiting, so most samples miss snmpd's refresh
    tight = dataclasses.replace(sound, options=SnmpIfOptions(interval=5, timeout=2.3))

    async def series(task: ProbeTask, count: int) -> list[Observation]:
        probe = SnmpIfProbe(ProbeContext(state_dir=tmp_path))
        results = []
        try:
            for _ in range(count):
                started = time.monotonic()
                results.append(await probe.measure(task))
                await asyncio.sleep(max(0.0, 5 - (time.monotonic() - started)))
        finally:
            await probe.aclose()
        return results

    with NamespaceLoop(site_topo.site) as loop:
        loop.run(asyncio.sleep(1.5))  # past iperf3's start
        cut_results = loop.run(series(cut, 5))
        tight_results = loop.run(series(tight, 3))
        sound_results = loop.run(series(sound, 4))

    for result in cut_results + tight_results:
        print(result.status.value, result.info["aligned"], result.values.get("utilisation_ratio"), result.reason)
        if result.info["aligned"].startswith("no"):
            assert result.status is Status.DEGRADED and "utilisation_ratio" not in result.values
            assert result.reason is not None and result.reason.startswith(
                "sample not aligned with the agent's counter refresh (counters did not move in ")
        else:
            assert result.info["aligned"] == "yes"
        if "utilisation_ratio" in result.values:  # from two aligned samples only: the line's real load
            assert result.values["out_utilisation_ratio"] == pytest.approx(1.0, abs=0.03)
    assert any(r.info["aligned"].startswith("no") for r in tight_results)
    rated = [r for r in sound_results[1:] if "utilisation_ratio" in r.values]
    print([(r.info["aligned"], round(r.values["out_utilisation_ratio"], 4)) for r in rated])
    assert len(rated) == 3 and all(r.info["aligned"] == "yes" for r in rated)
    for result in rated:
        assert result.values["out_utilisation_ratio"] == pytest.approx(1.0, abs=0.03)
        assert 2.5 < result.values["window_seconds"] < 8.5  # from refresh to refresh (about 3 s apart)
