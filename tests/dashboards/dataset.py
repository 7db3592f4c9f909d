"""A province whose every number is known, as wire-contract records, for running the dashboards'
queries against real InfluxDB and checking what comes back.

Sites of "Hồ Chí Minh" (a province name with spaces and diacritics, as Grafana will send it):

- ``26734`` all good;
- ``26735`` data network degraded (status 1, RTT 70 ms), data network at 85 % of its contracted
  rate, platform ``qlvb`` failing;
- ``26736`` data network down (status 2, loss 100 %, no RTT), leased line at 97 %;
- ``26740.2`` all good — its id has a regex metacharacter;
- ``2674092`` all good — what ``/^26740.2$/`` would also match if Grafana did not escape the dot.

Plus ``27001`` in "Đồng Nai", which no "Hồ Chí Minh" query may return.
Records are every 30 s over the last 20 minutes, utilisation also hourly over the last 3 days.
"""

from __future__ import annotations

import dataclasses

from netmon.contract import LinkKind, ProbeKind, ResultRecord, Status

PROVINCE = "Hồ Chí Minh"
OTHER_PROVINCE = "Đồng Nai"
GOOD, DEGRADED, DOWN, DOTTED, DECOY, ELSEWHERE = "26734", "26735", "26736", "26740.2", "2674092", "27001"
HCM_SITES = [GOOD, DEGRADED, DOWN, DOTTED, DECOY]
LINKS = {"lan": LinkKind.LAN, "leased": LinkKind.LEASED_LINE, "tslcd": LinkKind.DATA_NETWORK}
TARGETS = {"lan": "gateway", "leased": "isp-edge", "tslcd": "provincial-dc"}
CONTRACTED_BPS = {"leased": 20e6, "tslcd": 100e6}
PLATFORMS = ["dvc", "qlvb"]
STEP_NS = 30 * 10**9
RECENT_STEPS = 40  # 20 minutes


@dataclasses.dataclass(frozen=True)
class LinkState:
    status: Status = Status.OK
    rtt_seconds: float = 0.010
    loss_ratio: float = 0.0
    jitter_seconds: float = 0.002
    utilisation_ratio: float = 0.30


def link_state(site: str, link: str) -> LinkState:
    rtt = {"lan": 0.0005, "leased": 0.030, "tslcd": 0.012}[link]
    if site == DEGRADED and link == "tslcd":
        return LinkState(status=Status.DEGRADED, rtt_seconds=0.070, loss_ratio=0.02, jitter_seconds=0.015,
                         utilisation_ratio=0.85)
    if site == DOWN and link == "tslcd":
        return LinkState(status=Status.FAILED, loss_ratio=1.0, utilisation_ratio=0.0)
    if site == DOWN and link == "leased":
        return LinkState(rtt_seconds=rtt, utilisation_ratio=0.97)
    return LinkState(rtt_seconds=rtt, utilisation_ratio=0.30 if link != "lan" else 0.0)


def platform_ok(site: str, platform: str) -> bool:
    return not (site == DEGRADED and platform == "qlvb")


PLATFORM_SECONDS = {"dvc": 0.250, "qlvb": 0.400}
THROUGHPUT_BPS = {GOOD: 95e6, DEGRADED: 40e6, DOTTED: 90e6, DECOY: 90e6, ELSEWHERE: 90e6}


def province_of(site: str) -> str:
    return OTHER_PROVINCE if site == ELSEWHERE else PROVINCE


class _Seq:
    def __init__(self) -> None:
        self.value = 0

    def __call__(self) -> int:
        self.value += 1
        return self.value


def records(now_ns: int) -> list[ResultRecord]:
    out: list[ResultRecord] = []
    for site in [*HCM_SITES, ELSEWHERE]:
        seq = _Seq()

        def add(site: str = site, seq: _Seq = seq, **fields: object) -> None:
            out.append(ResultRecord.model_validate({"site_id": site, "agent_id": f"{site}-agent", "seq": seq(),
                                                    **fields}))

        for step in range(RECENT_STEPS):
            t = now_ns - step * STEP_NS
            for link, kind in LINKS.items():
                state = link_state(site, link)
                values: dict[str, float] = {"loss_ratio": state.loss_ratio, "sent_packets": 20,
                                            "received_packets": round(20 * (1 - state.loss_ratio))}
                if state.status is not Status.FAILED:
                    values |= {"rtt_min_seconds": state.rtt_seconds * 0.8, "rtt_avg_seconds": state.rtt_seconds,
                               "rtt_max_seconds": state.rtt_seconds * 1.5, "jitter_seconds": state.jitter_seconds}
                add(probe=ProbeKind.ICMP, link=link, link_kind=kind, target=TARGETS[link], time_ns=t,
                    status=state.status, reason=None if state.status is Status.OK else "measured limits exceeded",
                    values=values)
                if link in CONTRACTED_BPS:
                    contracted = CONTRACTED_BPS[link]
                    bps = state.utilisation_ratio * contracted
                    add(probe=ProbeKind.SNMP_IF, link=link, link_kind=kind, target="router", time_ns=t,
                        status=Status.OK, values={"in_bps": bps, "out_bps": bps / 2, "contracted_bps": contracted,
                                                  "utilisation_ratio": state.utilisation_ratio,
                                                  "in_errors_per_second": 0.5 if site == DEGRADED else 0.0,
                                                  "out_errors_per_second": 0.0, "in_discards_per_second": 0.0,
                                                  "out_discards_per_second": 0.0})
            for platform in PLATFORMS:
                ok = platform_ok(site, platform)
                add(probe=ProbeKind.HTTP, target=platform, time_ns=t, status=Status.OK if ok else Status.FAILED,
                    reason=None if ok else "connect timeout",
                    values={"status_code": 200, "total_seconds": PLATFORM_SECONDS[platform]} if ok else {})
            add(probe=ProbeKind.AGENT, target=f"{site}-agent", time_ns=t, status=Status.OK,
                values={"uptime_seconds": 3600 - step * 30, "outbox_queued_count": 100 if site == DOWN else 0,
                        "outbox_dropped_total": 7 - min(step, 7) if site == DOWN else 0,
                        "outbox_oldest_age_seconds": 600 if site == DOWN else 0})
        if site in THROUGHPUT_BPS:
            for step in (5, 15):
                down = THROUGHPUT_BPS[site]
                add(probe=ProbeKind.THROUGHPUT, link="tslcd", link_kind=LinkKind.DATA_NETWORK, target="iperf",
                    time_ns=now_ns - step * 60 * 10**9, status=Status.OK,
                    values={"download_bps": down, "upload_bps": down * 0.9, "contracted_bps": 100e6,
                            "download_ratio": down / 100e6, "upload_ratio": down * 0.9 / 100e6})
        for hour in range(1, 72):
            for link in CONTRACTED_BPS:
                state = link_state(site, link)
                add(probe=ProbeKind.SNMP_IF, link=link, link_kind=LINKS[link], target="router",
                    time_ns=now_ns - hour * 3600 * 10**9, status=Status.OK,
                    values={"utilisation_ratio": state.utilisation_ratio, "contracted_bps": CONTRACTED_BPS[link]})
    return out
