"""snmp_if against recorded walks of real routers, switches and firewalls (snmpsim + snmpsim-data).

One snmpsim process serves every qualifying recording (community = file name); each must
give an interface and a result that is not an error. A handful were checked by hand
against their .snmprec (ifName/ifDescr/ifAlias/ifSpeed columns as recorded). Rates are
checked on recordings whose counters snmpsim's ``numeric`` variation makes grow at a
known rate, 64-bit over SNMPv3 and 32-bit with a wrap over SNMPv1.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from netmon.config.site import SiteConfig
from netmon.contract import Observation, Status
from netmon.lab.snmpsim import V3_AUTH_KEY, V3_PRIV_KEY, V3_USER, Recording, SnmpSim, device_recordings, with_rates
from netmon.probes.base import ProbeContext, ProbeTask
from netmon.probes.kinds import ProbeKinds
from netmon.probes.plan import build_tasks
from netmon.probes.snmp_if import SnmpIfProbe

SITE = {"id": "26734", "name": "Phường Phước Tân", "province": "Đồng Nai"}
RECORDINGS = device_recordings()
BY_NAME = {recording.community: recording for recording in RECORDINGS}


def sim_task(port: int, community: str | None, contracted_mbps: float = 100, options: dict[str, Any] | None = None,
             **snmp: Any) -> ProbeTask:
    section = {"host": "127.0.0.1", "port": port, "version": "2c", "community": community, "timeout": 2,
               "retries": 1, **snmp}
    config = SiteConfig.model_validate({
        "site": SITE,
        "links": [{"name": "leased", "kind": "leased_line", "contracted_mbps": contracted_mbps, "probes": [],
                   "snmp": section}],
        "probes": {"snmp_if": {"interval": 20, "timeout": 15, "align_seconds": 0, **(options or {})}},
    })
    kinds = ProbeKinds()
    kinds.register(SnmpIfProbe)
    (task,) = build_tasks(config, kinds)
    return task


def measure_all(*tasks: ProbeTask, pause: float = 0.0, context: ProbeContext | None = None) -> list[Observation]:
    async def run() -> list[Observation]:
        probe = SnmpIfProbe(context or ProbeContext(state_dir=Path("/nonexistent")))
        try:
            out = []
            for i, task in enumerate(tasks):
                if i and pause:
                    await asyncio.sleep(pause)
                out.append(await probe.measure(task))
            return out
        finally:
            await probe.aclose()

    return asyncio.run(run())


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SnmpSim]:
    with SnmpSim(tmp_path_factory.mktemp("snmpsim")) as server:
        for recording in RECORDINGS:
            server.add_recording(recording)
        server.start(RECORDINGS[0].community)
        yield server


def test_the_recordings_are_the_ones_expected() -> None:
    # router/switch/firewall recordings with at least one ifTable row (h3c-comware-lsq1wcmd0 has none)
    assert len(RECORDINGS) == 51
    assert "switch-h3c-comware-lsq1wcmd0" not in BY_NAME
    assert {"router-ruijie-n18010", "firewall-topsec-ngfw4000-uf", "switch-cisco-c3560"} <= set(BY_NAME)


def an_interface(recording: Recording) -> tuple[str, int]:
    """A name that is unique in the recording (ifName, else ifDescr), preferring a row that is up
    and has counters, as the port of a link would."""
    rows = recording.interfaces()
    column = "name" if any("name" in row for row in rows.values()) else "descr"
    names = [row.get(column, "") for row in rows.values()]
    usable = [(index, row) for index, row in sorted(rows.items())
              if row.get(column) and names.count(row[column]) == 1]
    index, row = max(usable, key=lambda item: (item[1].get("oper") == "1", "in_octets" in item[1], -item[0]))
    return row[column], index


@pytest.mark.parametrize("community", sorted(BY_NAME))
def test_every_router_switch_and_firewall_recording_is_read(sim: SnmpSim, community: str) -> None:
    name, index = an_interface(BY_NAME[community])
    task = sim_task(sim.port, community, if_name=name)
    first, second = measure_all(task, task)
    for observation in (first, second):
        assert observation.status in (Status.OK, Status.DEGRADED), observation.reason
        assert observation.info["if_index"] == str(index)
        assert observation.values["if_speed_bps"] > 0
    if "in_octets" in BY_NAME[community].interfaces()[index]:
        assert "baseline taken: first sample" in first.info["baseline"]
    else:
        assert first.status is Status.DEGRADED and first.reason is not None and "no utilisation" in first.reason
    # static recordings: counters and sysUpTime stand still, so either a rate of 0 or a reason
    assert second.values.get("utilisation_ratio", 0.0) == 0.0
    assert "utilisation_ratio" in second.values or "baseline" in second.info or second.reason


def test_cisco_long_and_short_names_find_each_other(sim: SnmpSim) -> None:
    short_form, long_form, spaced, huawei = measure_all(
        sim_task(sim.port, "switch-cisco-c3560", if_name="Gi0/2"),  # ifName Gi0/2, ifDescr GigabitEthernet0/2
        sim_task(sim.port, "switch-cisco-c3560", if_name="GigabitEthernet0/2"),
        sim_task(sim.port, "router-ruijie-n18010", if_name="Gi1/1/3"),  # ifDescr "GigabitEthernet 1/1/3"
        sim_task(sim.port, "router-huawei-s5720", if_name="Gi0/0/1"))  # ifName GigabitEthernet0/0/1
    assert (short_form.info["if_index"], short_form.info["found_by"]) == ("10102", "ifName 'Gi0/2'")
    assert (long_form.info["if_index"], long_form.info["found_by"]) == ("10102", "ifDescr 'GigabitEthernet0/2'")
    assert (spaced.info["if_index"], spaced.info["found_by"]) == ("3", "ifDescr 'GigabitEthernet 1/1/3' (for 'Gi1/1/3')")
    assert (huawei.info["if_index"], huawei.info["found_by"]) == ("6", "ifName 'GigabitEthernet0/0/1' (for 'Gi0/0/1')")
    assert huawei.values["if_speed_bps"] == 1e9 and huawei.info["counters"] == "ifHCInOctets/ifHCOutOctets (64-bit)"


def test_partial_agents_fall_back_and_say_what_is_missing(sim: SnmpSim) -> None:
    ruijie, alias, topsec, metel, zte, brocade, no_speed, by_index = measure_all(
        sim_task(sim.port, "router-ruijie-n18010", if_name="GigabitEthernet 1/1/3"),  # no ifXTable at all
        sim_task(sim.port, "router-cisco-unmarked-0", if_alias="xianlian-31.25-E126A_g1/2/1"),
        sim_task(sim.port, "firewall-topsec-ngfw4000-uf", if_name="feth10"),  # Counter64 in ifInOctets
        sim_task(sim.port, "switch-metel-poe-box", if_name="P1"),  # Counter32 in ifHCInOctets
        sim_task(sim.port, "switch-zte-zxr10-5250", if_name="1/1"),  # no ifHighSpeed column
        sim_task(sim.port, "switch-brocade-ds-5100b", if_name="eth0"),  # ifHighSpeed 0, ifSpeed 100M
        sim_task(sim.port, "firewall-topsec-ngfw4000-uf", if_name="bond0", contracted_mbps=50),  # no speed
        sim_task(sim.port, "firewall-paloalto-pa-5000", if_index=5))  # mgmt
    assert ruijie.status is Status.OK, ruijie.reason
    assert ruijie.info["counters"] == "ifInOctets/ifOutOctets (32-bit)"
    assert ruijie.info["missing"] == "ifCounterDiscontinuityTime, ifHCInOctets, ifHCOutOctets, ifHighSpeed"
    assert ruijie.values["if_speed_bps"] == 1e9  # ifSpeed
    assert (alias.info["if_index"], alias.info["found_by"]) == ("1", "ifAlias 'xianlian-31.25-E126A_g1/2/1'")
    assert alias.info["counters"] == "ifInOctets/ifOutOctets (32-bit)"  # its ifHCInOctets has one row only
    assert topsec.info["counters"] == "ifInOctets/ifOutOctets (64-bit)"
    assert topsec.values["if_speed_bps"] == 10_000.0  # as recorded: ifSpeed 10000
    assert metel.info["counters"] == "ifHCInOctets/ifHCOutOctets (32-bit)"
    assert zte.values["if_speed_bps"] == 100e6 and "ifHighSpeed" in zte.info["missing"]
    assert brocade.values["if_speed_bps"] == 100e6
    assert no_speed.values["if_speed_bps"] == 50e6
    assert no_speed.info["speed_from"] == "the contracted rate (the agent gives neither ifHighSpeed nor ifSpeed)"
    assert (by_index.info["if_index"], by_index.info["found_by"]) == ("5", "ifIndex 5")
    assert by_index.info["missing"] == "ifCounterDiscontinuityTime"  # not in its ifXTable


def test_an_unknown_name_or_alias_fails_with_what_the_agent_has(sim: SnmpSim) -> None:
    name, alias, index = measure_all(
        sim_task(sim.port, "firewall-legend-holdings-firewall", if_name="eth9"),
        sim_task(sim.port, "router-ruijie-n18010", if_alias="VNPT-HNI-0042"),
        sim_task(sim.port, "firewall-paloalto-pa-5000", if_index=4242))
    assert name.status is Status.FAILED
    assert name.reason == ("SNMP agent 127.0.0.1 has no interface with ifName or ifDescr 'eth9'; no ifName "
                           "(no ifXTable); ifDescrs seen: bond1, bond2, bond3, bond4, eth0, eth1, eth2, eth2.300, "
                           "eth3, eth4, eth5, eth6, eth7, natpt")
    assert alias.status is Status.FAILED
    assert alias.reason == ("SNMP agent 127.0.0.1 has no ifAlias column (no ifXTable): choose the interface "
                            "with if_name or if_index")
    assert index.status is Status.FAILED
    assert index.reason == "SNMP agent 127.0.0.1 has no interface with ifIndex 4242 (no IF-MIB column answers for it)"


@pytest.fixture
def rate_sim(tmp_path: Path) -> Iterator[tuple[SnmpSim, float]]:
    """Two recordings with counters that grow at a known rate; the 32-bit one wraps soon after start."""
    wrap_at = time.time() + 8
    with SnmpSim(tmp_path) as server:
        server.add("rate-64", with_rates(BY_NAME["router-huawei-s5720"], "rate-64", 6, 40e6, 12e6))
        server.add("rate-32", with_rates(BY_NAME["router-ruijie-n18010"], "rate-32", 3, 900e6, 300e6,
                                         counters="32", wrap_at_epoch=wrap_at))
        server.start("rate-64")
        yield server, wrap_at


def test_64_bit_counters_over_snmpv3_give_the_rate_they_grow_at(rate_sim: tuple[SnmpSim, float]) -> None:
    server, _ = rate_sim
    v3 = {"version": "3", "user": V3_USER, "auth_protocol": "sha", "auth_key": V3_AUTH_KEY,
          "priv_protocol": "aes", "priv_key": V3_PRIV_KEY, "context_name": "rate-64"}
    task = sim_task(server.port, None, contracted_mbps=50, if_name="GigabitEthernet0/0/1",
                    options={"align_seconds": 2}, **v3)
    first, second = measure_all(task, task, pause=3.0)
    assert first.status is Status.OK and second.status is Status.OK, (first.reason, second.reason)
    assert second.info["aligned"] == "yes" and second.info["counters"] == "ifHCInOctets/ifHCOutOctets (64-bit)"
    assert second.values["in_bps"] == pytest.approx(40e6, rel=0.03)
    assert second.values["out_bps"] == pytest.approx(12e6, rel=0.03)
    assert second.values["utilisation_ratio"] == pytest.approx(0.8, rel=0.03)
    assert second.values["out_utilisation_ratio"] == pytest.approx(0.24, rel=0.03)


def test_32_bit_counters_over_snmpv1_across_a_wrap(rate_sim: tuple[SnmpSim, float]) -> None:
    server, wrap_at = rate_sim
    task = sim_task(server.port, "rate-32", contracted_mbps=1000, if_name="Gi1/1/3", version="1",
                    options={"align_seconds": 2})
    period = (2**32 - 1) * 8 / 900e6  # 38 s
    # the window opens 5 s before a wrap and closes ~5 s after it: wide enough that a busy machine
    # delaying either sample by seconds still puts the wrap inside it, far below the 34 s in which a
    # 32-bit counter could wrap twice at the contracted rate (then the probe gives no rate at all)
    next_wrap = wrap_at + max(0, math.ceil((time.time() + 6 - wrap_at) / period)) * period
    time.sleep(max(0.0, next_wrap - 5 - time.time()))
    first, second = measure_all(task, task, pause=8.0)
    assert first.status is Status.OK and second.status is Status.OK, (first.reason, second.reason)
    assert second.info["wrapped"] == "ifInOctets"
    assert second.info["counters"] == "ifInOctets/ifOutOctets (32-bit)"
    assert second.values["in_bps"] == pytest.approx(900e6, rel=0.03)
    assert second.values["out_bps"] == pytest.approx(300e6, rel=0.03)
    assert second.values["utilisation_ratio"] == pytest.approx(0.9, rel=0.03)
