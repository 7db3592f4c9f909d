"""Wire contract v1: what an agent sends and the collector accepts.

Defined once, here. The agent builds these records, the collector validates the raw
request body against them (``BATCH_ADAPTER.validate_json``) and its OpenAPI document is
generated from them. Nothing else may redefine their fields.

Identity: ``(agent_id, seq)`` is unique and stable. ``seq`` is assigned by the agent's
durable outbox, strictly increasing per agent and never reused, even across restarts, so
the collector can drop re-sent records without losing any.

Values carry their unit in their name (``rtt_avg_seconds``, ``utilisation_ratio``,
``upload_bps``); the names each probe kind emits are listed in ``VALUE_NAMES`` so that
alert rules and dashboards can be checked against them.
"""

from __future__ import annotations

import math
import time
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

SCHEMA_VERSION: Literal[1] = 1

# Bounded, printable identifiers: these become InfluxDB tags and Prometheus label values.
Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
# SQLite and InfluxDB store signed 64-bit integers; the contract refuses what they cannot hold.
INT64_MAX = 2**63 - 1
# Free text we show to people (reasons, names): bounded so a broken agent cannot bloat storage.
ShortText = Annotated[str, Field(max_length=500)]  # TEXT_MAX_CHARS


class ProbeKind(StrEnum):
    ICMP = "icmp"
    UDP_ECHO = "udp_echo"
    TCP = "tcp"
    HTTP = "http"
    DNS = "dns"
    THROUGHPUT = "throughput"
    SNMP_IF = "snmp_if"
    LAN = "lan"
    PATH = "path"
    # The agent's own heartbeat: sent with every batch so the centre knows the agent is
    # alive even when every probe fails, and how deep its outbox is.
    AGENT = "agent"


class LinkKind(StrEnum):
    LAN = "lan"
    LEASED_LINE = "leased_line"
    DATA_NETWORK = "data_network"


class Status(StrEnum):
    OK = "ok"
    # Measured, but worse than the probe's own sanity limits (e.g. some loss).
    DEGRADED = "degraded"
    # The network did not answer: 100 % loss, connection refused, timeout on the wire.
    FAILED = "failed"
    # The probe itself could not run (bad parameters, missing capability, internal fault).
    ERROR = "error"


# Value names per probe kind. A probe may omit values it could not measure (a failed
# ICMP probe has loss_ratio but no RTTs); it must not emit names outside its list.
VALUE_NAMES: dict[ProbeKind, frozenset[str]] = {
    ProbeKind.ICMP: frozenset(
        {
            "rtt_min_seconds", "rtt_avg_seconds", "rtt_max_seconds", "rtt_median_seconds",
            "rtt_mdev_seconds", "jitter_seconds", "loss_ratio", "sent_packets", "received_packets",
        }
    ),
    ProbeKind.UDP_ECHO: frozenset(
        {
            "rtt_min_seconds", "rtt_avg_seconds", "rtt_max_seconds", "rtt_median_seconds",
            "rtt_mdev_seconds", "jitter_seconds", "loss_ratio", "sent_packets", "received_packets",
        }
    ),
    ProbeKind.TCP: frozenset({"connect_seconds"}),
    ProbeKind.HTTP: frozenset(
        {
            "status_code", "dns_seconds", "connect_seconds", "tls_seconds", "first_byte_seconds",
            "total_seconds", "cert_days_left", "response_bytes",
        }
    ),
    ProbeKind.DNS: frozenset({"resolve_seconds", "answer_count"}),
    ProbeKind.THROUGHPUT: frozenset(
        {"upload_bps", "download_bps", "contracted_bps", "upload_ratio", "download_ratio",
         "bytes_used", "budget_remaining_bytes", "duration_seconds",
         # a test during which other traffic took the line: what was left, not its capacity
         "upload_leftover_bps", "download_leftover_bps"}
    ),
    ProbeKind.SNMP_IF: frozenset(
        {
            "in_bps", "out_bps", "contracted_bps", "in_utilisation_ratio", "out_utilisation_ratio",
            "utilisation_ratio", "in_errors_per_second", "out_errors_per_second",
            "in_discards_per_second", "out_discards_per_second", "if_speed_bps", "oper_up",
            "sys_uptime_seconds", "window_seconds",
        }
    ),
    ProbeKind.LAN: frozenset(
        {"hosts_live_count", "duplicate_ip_count", "gateway_mac_changed", "gateway_up", "sweep_seconds"}
    ),
    ProbeKind.PATH: frozenset({"hop_count", "path_mtu_bytes", "path_changed", "last_hop_rtt_seconds"}),
    ProbeKind.AGENT: frozenset(
        {
            "uptime_seconds", "outbox_queued_count", "outbox_dropped_total", "outbox_oldest_age_seconds",
            "produced_total", "acknowledged_total", "rss_bytes",
        }
    ),
}


# The storage schema's tag keys (docs/schema.md) and the fields every point carries besides its
# values. An ``info`` entry becomes a string field of the same name: one named like a tag would
# stand beside that tag and be read instead of it, one named like a value would change that
# field's type for every site. So none of these names is ever an ``info`` key (nor, by
# ``VALUE_NAMES``, a value).
TAG_KEYS = frozenset({"province", "district", "site", "link", "link_kind", "target"})
POINT_FIELDS = frozenset({"status", "status_level", "seq", "reason", "time"})
RESERVED_INFO_KEYS = TAG_KEYS | POINT_FIELDS | frozenset().union(*VALUE_NAMES.values())
TEXT_MAX_CHARS = 500

# ``POST /api/v1/results`` request header: the agent's clock minus the collector's, in seconds,
# measured from the collector's ``Date`` answers (RFC 9110). A header, so agents and collectors
# of either age ignore what they do not know.
CLOCK_OFFSET_HEADER = "X-Netmon-Clock-Offset"
# A collector of several that has lost the shared state (PostgreSQL) for longer than
# ``state.postgres.cut_off_after`` answers uploads 503 with this header (the seconds since it last
# reached PostgreSQL), so the agent takes its results to another collector. An agent that finds
# every collector cut off sends again with ``X-Netmon-Last-Resort: 1``, which is accepted: the
# journal is local, and results are better kept at the centre than on the commune's box.
CUT_OFF_HEADER = "X-Netmon-Cut-Off"
LAST_RESORT_HEADER = "X-Netmon-Last-Resort"


def now_ns() -> int:
    return time.time_ns()


class Observation(BaseModel):
    """What a probe measured, before the outbox gives it an identity."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    probe: ProbeKind
    link: Identifier | None = None
    link_kind: LinkKind | None = None
    target: Identifier
    target_host: Annotated[str, Field(max_length=255)] | None = None
    time_ns: int = Field(default_factory=now_ns, ge=0, le=INT64_MAX)
    status: Status
    reason: ShortText | None = None
    values: dict[str, float] = Field(default_factory=dict)
    # Short facts that are not numbers: a gateway MAC, a traceroute hop list.
    info: dict[Identifier, ShortText] = Field(default_factory=dict)

    @field_validator("values")
    @classmethod
    def _finite_values(cls, values: dict[str, float]) -> dict[str, float]:
        for name, value in values.items():
            if not math.isfinite(value):
                raise ValueError(f"value {name!r} is not a finite number")
        return values

    @field_validator("info")
    @classmethod
    def _no_reserved_info_keys(cls, info: dict[str, str]) -> dict[str, str]:
        if info and not RESERVED_INFO_KEYS.isdisjoint(info):
            taken = sorted(RESERVED_INFO_KEYS.intersection(info))
            raise ValueError(f"info key(s) {taken} are reserved: tag, field or value names of the storage schema")
        return info

    @model_validator(mode="after")
    def _reason_when_not_ok(self) -> Observation:
        if self.status is not Status.OK and not self.reason:
            raise ValueError(f"status {self.status.value!r} needs a reason")
        allowed = VALUE_NAMES[self.probe]
        unknown = sorted(set(self.values) - allowed)
        if unknown:
            raise ValueError(f"values {unknown} are not defined for probe {self.probe.value!r}")
        return self

    def to_record(self, *, site_id: str, agent_id: str, seq: int) -> ResultRecord:
        return ResultRecord(site_id=site_id, agent_id=agent_id, seq=seq, **self.model_dump())


class ResultRecord(Observation):
    """One probe result on the wire."""

    schema_version: Literal[1] = SCHEMA_VERSION
    site_id: Identifier
    agent_id: Identifier
    seq: int = Field(ge=0, le=INT64_MAX, description="Per-agent, strictly increasing, never reused.")


class ResultBatch(BaseModel):
    """The body of ``POST /api/v1/results`` (gzip allowed)."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = SCHEMA_VERSION
    site_id: Identifier
    agent_id: Identifier
    sent_at_ns: int = Field(default_factory=now_ns, ge=0, le=INT64_MAX)
    # Results the agent's outbox had to drop (oldest first) since it started counting:
    # cumulative, so a lost batch cannot make the centre under-count.
    dropped_total: int = Field(default=0, ge=0, le=INT64_MAX)
    results: list[ResultRecord] = Field(max_length=10_000)


class BatchAck(BaseModel):
    """The collector's answer: what it made durable and what it refused."""

    accepted: int
    duplicates: int
    rejected: list[RejectedRecord] = Field(default_factory=list)
    # Highest seq the collector holds durably for this agent: the agent may delete every
    # outbox row at or below the seqs it just sent and that were accepted or duplicates.
    acked_seqs: list[int] = Field(default_factory=list)


class RejectedRecord(BaseModel):
    index: int
    seq: int | None
    errors: list[FieldError]


class FieldError(BaseModel):
    path: str
    message: str


BATCH_ADAPTER: TypeAdapter[ResultBatch] = TypeAdapter(ResultBatch)
RECORD_ADAPTER: TypeAdapter[ResultRecord] = TypeAdapter(ResultRecord)

BatchAck.model_rebuild()
RejectedRecord.model_rebuild()
