"""How busy a link is right now, read from its router over SNMP before (and after) a test.

The throughput probe must not load a line that is busy or whose load is unknown. The
latest ``snmp_if`` result is not enough: at agent start-up or in ``probe once`` there is
none yet, while SNMP fails there is none, and right after our own test it measured us.
So the probe reads the link's counters itself, with the snmp_if machinery: two aligned
samples ``seconds`` apart. The second sample is also the start of the window watched
during the test; one more sample after the test tells how much of the traffic in that
window was not ours.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time

from netmon.config.site import SnmpConfig
from netmon.errors import SnmpFailure
from netmon.probes.snmp_if.client import SnmpClient
from netmon.probes.snmp_if.counters import Rebaseline, Sample, compute_rates
from netmon.probes.snmp_if.interfaces import Binding, resolve
from netmon.probes.snmp_if.sampling import aligned


@dataclasses.dataclass(frozen=True)
class LinkLoad:
    """The link's load now; ``ratio`` None when it could not be read (``reason`` says why)."""

    ratio: float | None
    reason: str
    last: Sample | None = None  # the reading's newer sample, when there is one


class LoadMeter:
    def __init__(self) -> None:
        self._client: SnmpClient | None = None
        self._bindings: dict[str, Binding] = {}

    def _for(self, cfg: SnmpConfig) -> tuple[SnmpClient, str]:
        if self._client is None:
            self._client = SnmpClient(max_concurrent_requests=4)
        return self._client, cfg.model_dump_json()

    async def sample(self, cfg: SnmpConfig, align_seconds: float) -> Sample:
        """One aligned sample of the link's interface; raises ``SnmpFailure`` with the reason."""
        client, key = self._for(cfg)
        binding = self._bindings.get(key)
        if binding is None:
            binding = self._bindings[key] = await resolve(client, cfg)
        if binding.counters is None:
            raise SnmpFailure(f"SNMP agent {cfg.host} has no octet counters for {binding.found_by}")
        # room for the first and the last request, each with every try timing out
        deadline = time.monotonic() + 2 * cfg.request_seconds + align_seconds
        try:
            reading = await aligned(client, cfg, binding, align_seconds, 0.05, deadline)
        except SnmpFailure:
            self._bindings.pop(key, None)  # the interface may have moved: find it again next time
            raise
        if not reading.usable:
            raise SnmpFailure(f"SNMP sample not aligned with the agent's counter refresh ({reading.aligned[4:]})")
        return reading.sample

    async def reading(self, cfg: SnmpConfig, contracted_bps: float, seconds: float, align_seconds: float) -> LinkLoad:
        """Utilisation over about ``seconds``, from two aligned samples."""
        try:
            first = await self.sample(cfg, align_seconds)
            await asyncio.sleep(max(0.0, first.monotonic_seconds + seconds - time.monotonic()))
            last = await self.sample(cfg, align_seconds)
        except SnmpFailure as exc:
            return LinkLoad(None, f"SNMP: {exc}")
        rates = compute_rates(first, last, contracted_bps)
        if isinstance(rates, Rebaseline):
            return LinkLoad(None, f"SNMP: {rates.reason}")
        ratio = max(rates.in_bps, rates.out_bps) / contracted_bps
        return LinkLoad(ratio, f"SNMP read over {rates.window_seconds:.1f} s just now: in {rates.in_bps / 1e6:.2f}, "
                               f"out {rates.out_bps / 1e6:.2f} Mbit/s", last)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        self._bindings.clear()


# iperf3 reports TCP payload; the interface counts frames: Ethernet/IP/TCP headers on the
# data (1514 bytes for 1448 of payload) and the ACKs flowing the other way (66 bytes per one
# or two segments). Over-estimating our own share only makes "others" smaller.
DATA_OVERHEAD = 1.05
ACK_SHARE = 0.05


def others_during(before: Sample, after: Sample, contracted_bps: float, upload_bytes: int,
                  download_bytes: int) -> tuple[float, str] | None:
    """The share of the contracted rate that was *not* our test during [before, after], and how
    it was found; None when the two samples give no rate (restart, reset)."""
    rates = compute_rates(before, after, contracted_bps)
    if isinstance(rates, Rebaseline):
        return None
    window = rates.window_seconds
    ours_out = (upload_bytes * DATA_OVERHEAD + download_bytes * ACK_SHARE) * 8 / window
    ours_in = (download_bytes * DATA_OVERHEAD + upload_bytes * ACK_SHARE) * 8 / window
    other_out, other_in = max(0.0, rates.out_bps - ours_out), max(0.0, rates.in_bps - ours_in)
    ratio = max(other_out, other_in) / contracted_bps
    return ratio, (f"over the {window:.1f} s of the test SNMP counted in {rates.in_bps / 1e6:.2f}, out "
                   f"{rates.out_bps / 1e6:.2f} Mbit/s; not ours: in {other_in / 1e6:.2f}, out {other_out / 1e6:.2f}")
