"""The ``readiness:`` section of ``central.yaml``: what a commune must meet to be "ready" for the
shared platforms, and over which window it is judged.

Every key has a default, so ``readiness: {}`` (or no section) gives the go-live defaults::

    readiness:
      window: 24h                      # judge the last 24 hours
      data_network:                    # the TSLCD link to the provincial data centre
        rtt_percentile: 95
        max_rtt: 50ms
        max_jitter: 30ms
        max_loss_ratio: 0.01
        target: null                   # a target name (e.g. provincial-dc); null = every target on the link
      throughput:                      # what an online meeting needs, measured by the throughput probe
        min_download_mbps: 10          # (null: not required, for a province that runs no throughput test)
        min_upload_mbps: 10
      utilisation: null                # opt in: {link_kinds: [leased_line, data_network], percentile: 95,
                                       #          max_ratio: 0.8}: no line full (SNMP, of the contracted rate)
      platforms:
        required: []                   # platform names; empty = every platform probed in the province
        min_success_ratio: 0.95
        response_percentile: 95
        max_response: 3s
      reporting:                       # the site itself reports reliably
        bucket: 5m
        min_ratio: 0.95                # share of 5-minute buckets with an agent heartbeat
"""

from __future__ import annotations

from pydantic import Field

from netmon.config.site import Strict
from netmon.config.units import PositiveSeconds
from netmon.contract import Identifier, LinkKind


class DataNetworkRequirement(Strict):
    link_kind: LinkKind = LinkKind.DATA_NETWORK
    target: Identifier | None = None
    rtt_percentile: float = Field(default=95, gt=0, le=100)
    max_rtt: PositiveSeconds = 0.050
    max_jitter: PositiveSeconds = 0.030
    max_loss_ratio: float = Field(default=0.01, ge=0, le=1)


class ThroughputRequirement(Strict):
    # An online meeting room sending and receiving HD video takes about 4 Mbit/s each way per
    # stream; 10 Mbit/s leaves room for a second stream and the office's other traffic.
    link_kind: LinkKind = LinkKind.DATA_NETWORK
    min_download_mbps: float = Field(default=10.0, gt=0)
    min_upload_mbps: float = Field(default=10.0, gt=0)


class UtilisationRequirement(Strict):
    """No line is full: this percentile of its SNMP utilisation of the contracted rate, per link."""

    link_kinds: list[LinkKind] = Field(default_factory=lambda: [LinkKind.LEASED_LINE, LinkKind.DATA_NETWORK],
                                       min_length=1)
    percentile: float = Field(default=95, gt=0, le=100)
    max_ratio: float = Field(default=0.8, gt=0)


class PlatformRequirement(Strict):
    required: list[Identifier] = Field(default_factory=list)
    min_success_ratio: float = Field(default=0.95, ge=0, le=1)
    response_percentile: float = Field(default=95, gt=0, le=100)
    max_response: PositiveSeconds = 3.0


class ReportingRequirement(Strict):
    bucket: PositiveSeconds = 300.0
    min_ratio: float = Field(default=0.95, ge=0, le=1)


class ReadinessConfig(Strict):
    window: PositiveSeconds = 24 * 3600.0
    data_network: DataNetworkRequirement = Field(default_factory=DataNetworkRequirement)
    throughput: ThroughputRequirement | None = Field(default_factory=ThroughputRequirement)
    utilisation: UtilisationRequirement | None = None
    platforms: PlatformRequirement = Field(default_factory=PlatformRequirement)
    reporting: ReportingRequirement = Field(default_factory=ReportingRequirement)
