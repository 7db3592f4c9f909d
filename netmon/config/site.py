"""The site (agent) configuration file: who this site is, its links, platforms, and where results go.

The part the centre may override (``links``, ``platforms``, ``probes``) is the probe *plan*;
``GET /api/v1/agents/{site}/config`` returns a ``ProbePlan``. Identity, the collector
connection and local paths always come from the local file: a plan from the centre that names
a file or a program (``LOCAL_ONLY`` below, and options a probe kind marks ``local_only``) is
refused by the agent, which takes those settings from its own file instead.
"""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from netmon.config.units import Bytes, PositiveSeconds
from netmon.contract import Identifier, LinkKind

Host = Annotated[str, Field(min_length=1, max_length=255)]
# A host handed to a program as an argument (iperf3 -c): never one that reads as an option
ArgumentHost = Annotated[str, Field(min_length=1, max_length=255,
                                    pattern=r"^[A-Za-z0-9_.:\[\]%][A-Za-z0-9_.:\[\]%-]*$")]

# Settings of a plan only the local file may give: files the agent would read, as
# (section, key) of a link or a platform. Probe options say it themselves (``local_only``).
LOCAL_ONLY = {"links.snmp": ("auth_key_file", "priv_key_file"), "platforms": ("ca_file",)}


def local_only(description: str) -> Any:
    """Mark a probe option the centre may not set (a program or a file): ``Field(**local_only(...))``."""
    return {"description": description + " (local file only: never taken from the centre)",
            "json_schema_extra": {"local_only": True}}


class Strict(BaseModel):
    # A number given to a text field becomes its text, and a number read from YAML
    # (netmon.config.written) knows the text it was written as: ``id: 00127`` is "00127",
    # ``name: 1.10`` is "1.10", never YAML 1.1's 87 or 1.1.
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)


class SiteIdentity(Strict):
    id: Identifier
    name: str = Field(min_length=1, max_length=200)
    province: str = Field(min_length=1, max_length=100)
    district: str | None = None


class Target(Strict):
    host: Host
    name: Identifier
    port: int | None = Field(default=None, ge=1, le=65535)


class SnmpVersion(StrEnum):
    V1 = "1"
    V2C = "2c"
    V3 = "3"


class SnmpConfig(Strict):
    host: Host
    port: int = Field(default=161, ge=1, le=65535)
    version: SnmpVersion = SnmpVersion.V2C
    # The interface that carries this link: exactly one of if_name, if_alias, if_index.
    if_name: str | None = Field(default=None, min_length=1, description=(
        "ifName of the interface, else its ifDescr; Cisco long and short forms match each other "
        "(GigabitEthernet0/1 = Gi0/1)"))
    if_alias: str | None = Field(default=None, min_length=1, description="ifAlias (where carriers put the circuit id)")
    if_index: int | None = Field(default=None, ge=1, le=2**31 - 1, description="ifIndex, when names are not unique")
    community: str | None = None
    # SNMPv3 (USM). Keys may come from files so they stay out of the config repo.
    user: str | None = None
    auth_protocol: Literal["md5", "sha", "sha224", "sha256", "sha384", "sha512"] = "sha256"
    auth_key: str | None = None
    auth_key_file: str | None = None
    priv_protocol: Literal["des", "aes", "aes192", "aes256"] = "aes"
    priv_key: str | None = None
    priv_key_file: str | None = None
    context_name: str = Field(default="", description="SNMPv3 context (empty on most routers)")
    timeout: PositiveSeconds = 2.0
    retries: int = Field(default=1, ge=0, le=5)

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _credentials(self) -> SnmpConfig:
        chosen = [key for key in ("if_name", "if_alias", "if_index") if getattr(self, key) is not None]
        if len(chosen) != 1:
            raise ValueError("set exactly one of if_name, if_alias, if_index to choose the interface"
                             + (f" (got {', '.join(chosen)})" if chosen else ""))
        if self.version in (SnmpVersion.V1, SnmpVersion.V2C) and not self.community:
            raise ValueError(f"SNMP v{self.version.value} needs 'community'")
        if self.version is SnmpVersion.V3:
            if not self.user:
                raise ValueError("SNMP v3 needs 'user'")
            if not (self.auth_key or self.auth_key_file) or not (self.priv_key or self.priv_key_file):
                raise ValueError("SNMP v3 is authPriv only: set auth_key(_file) and priv_key(_file)")
        return self

    @property
    def interface(self) -> str:
        """How the interface was chosen, for reasons: ``ifName 'Gi0/1'``, ``ifIndex 3``."""
        if self.if_index is not None:
            return f"ifIndex {self.if_index}"
        if self.if_alias is not None:
            return f"ifAlias {self.if_alias!r}"
        return f"ifName {self.if_name!r}"

    @property
    def request_seconds(self) -> float:
        """The longest one request can take: every try timing out."""
        return self.timeout * (self.retries + 1)


_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]|24):([0-5]\d)$")


class ThroughputConfig(Strict):
    server: ArgumentHost
    port: int = Field(default=5201, ge=1, le=65535)
    max_bytes_per_day: Bytes = 500 * 10**6
    duration: PositiveSeconds = 5.0
    # Local times when no test may run, e.g. ["07:30-11:30", "13:30-17:00"] (office hours).
    quiet_hours: list[str] = Field(default_factory=list)
    # Refuse to test when SNMP shows the link already above this share of its contracted rate.
    busy_threshold_ratio: float = Field(default=0.5, gt=0, le=1)
    # When the link's load cannot be read (no snmp section, SNMP failing): "skip" the test
    # (default: never load a line of unknown load) or "test" anyway (a line kept for tests).
    when_load_unknown: Literal["skip", "test"] = "skip"

    @field_validator("quiet_hours")
    @classmethod
    def _windows(cls, value: list[str]) -> list[str]:
        for window in value:
            if not _CLOCK.match(window):
                raise ValueError(f"quiet hour window {window!r} is not HH:MM-HH:MM")
        return value


class LanConfig(Strict):
    subnet: str = Field(description="office subnet to sweep, e.g. 192.168.1.0/24")
    interface: str | None = None
    gateway: str | None = None

    @field_validator("subnet")
    @classmethod
    def _subnet(cls, value: str) -> str:
        net = ipaddress.ip_network(value, strict=False)
        if net.version == 4 and net.num_addresses > 4096:
            raise ValueError(f"{value} is larger than a /20; an ARP sweep of it would flood the LAN")
        return str(net)


class ContractedLink(Strict):
    """A link as it was sold: its name, its kind and the rate utilisation is measured against
    (the site config's links and the site registry's share it)."""

    name: Identifier
    kind: LinkKind
    contracted_mbps: float | None = Field(default=None, gt=0, le=100_000)

    @property
    def contracted_bps(self) -> float | None:
        return self.contracted_mbps * 1e6 if self.contracted_mbps is not None else None

    @model_validator(mode="after")
    def _rate_where_needed(self) -> Self:
        if self.kind is not LinkKind.LAN and self.contracted_mbps is None:
            raise ValueError(f"a {self.kind.value} link needs contracted_mbps (utilisation is measured against it)")
        return self


class LinkConfig(ContractedLink):
    # Address to send this link's probes from (multi-homed boxes); routing does the rest.
    source_address: str | None = None
    targets: list[Target] = Field(default_factory=list)
    # Probe kinds run against every target of this link.
    probes: list[str] = Field(default_factory=lambda: ["icmp"])
    snmp: SnmpConfig | None = None
    throughput: ThroughputConfig | None = None
    lan: LanConfig | None = None


class PlatformSystem(StrEnum):
    ADMIN_PROCEDURES = "admin_procedures"
    DOCUMENT_MANAGEMENT = "document_management"
    ONLINE_MEETING = "online_meeting"
    DATA_SHARING = "data_sharing"  # LGSP
    REPORTING = "reporting"
    PUBLIC_SERVICE_PORTAL = "public_service_portal"
    CITIZEN_REQUESTS = "citizen_requests"  # 1022
    OTHER = "other"


class PlatformConfig(Strict):
    name: Identifier
    system: PlatformSystem
    url: Annotated[str, Field(pattern=r"^https?://")]
    link: Identifier | None = Field(default=None, description="link the platform is reached over")
    expect_status: list[int] = Field(default_factory=lambda: list(range(200, 400)))
    verify_tls: bool = True
    ca_file: str | None = None


class ProbePlan(Strict):
    """What to measure. The centre can hand out a newer plan; the agent validates it first."""

    links: list[LinkConfig] = Field(default_factory=list)
    platforms: list[PlatformConfig] = Field(default_factory=list)
    # Per-kind options, validated by each probe's own Options model (interval, timeout, ...).
    probes: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _unique_names(self) -> ProbePlan:
        for label, names in (("link", [x.name for x in self.links]), ("platform", [p.name for p in self.platforms])):
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"{label} names must be unique; repeated: {', '.join(dupes)}")
        link_names = {x.name for x in self.links}
        for platform in self.platforms:
            if platform.link is not None and platform.link not in link_names:
                raise ValueError(f"platform {platform.name!r} names unknown link {platform.link!r}")
        return self


CollectorUrl = Annotated[str, Field(pattern=r"^https?://")]


class CollectorConnection(Strict):
    # One collector (``url``), or several side by side (``urls``, first = this site's home collector):
    # the agent moves to the next on a connection failure or a 5xx and goes back to the first
    # ``failback_after`` later. Give one of the two.
    url: CollectorUrl | None = None
    urls: list[CollectorUrl] = Field(default_factory=list, max_length=10)
    failback_after: PositiveSeconds = 300.0
    # How long a TCP (and TLS) handshake may take before the next collector is tried.
    connect_timeout: PositiveSeconds = 5.0
    token_file: str
    # Plain http:// sends the site token and every result in clear, and lets anyone on the path
    # answer in the collector's name: refused unless set here (a lab, a test bench).
    insecure_http: bool = False
    ca_file: str | None = None
    ship_interval: PositiveSeconds = 10.0
    batch_max_results: int = Field(default=500, ge=1, le=10_000)
    request_timeout: PositiveSeconds = 15.0
    # After an outage, send at most this many results per second so a recovering thin
    # line is not filled by our own backlog.
    drain_max_results_per_second: float = Field(default=2000, gt=0)
    config_poll_interval: PositiveSeconds = 300.0
    # Exponential backoff (full jitter) after the collector answered 5xx stops growing here.
    # Failures that never reached it (our own line down) retry within one ship_interval.
    max_backoff: PositiveSeconds = 300.0
    # A Retry-After from the collector longer than this is cut to it (a broken or hostile answer
    # must not stop shipping for hours).
    max_retry_after: PositiveSeconds = 300.0

    @model_validator(mode="after")
    def _one_way_to_name_collectors(self) -> Self:
        if (self.url is None) == (not self.urls):
            raise ValueError("give the collector as 'url' or as a list 'urls', not both and not neither")
        if len({u.rstrip("/") for u in self.collector_urls}) != len(self.collector_urls):
            raise ValueError("'urls' names the same collector twice")
        return self

    @property
    def collector_urls(self) -> list[str]:
        """The collectors in order of preference, without a trailing slash."""
        return [u.rstrip("/") for u in ([self.url] if self.url is not None else self.urls)]

    @model_validator(mode="after")
    def _https(self) -> CollectorConnection:
        for url in self.collector_urls if not self.insecure_http else ():
            if url.lower().startswith("http://"):
                raise ValueError(f"collector url {url} is plain http: the token and the results would cross the "
                                 "network in clear; use https:// (ca_file for a private CA), or set insecure_http: "
                                 "true for a lab")
        return self


class OutboxConfig(Strict):
    max_results: int = Field(default=500_000, ge=100)
    max_age: PositiveSeconds = 7 * 86400.0


class AgentSettings(Strict):
    id: Identifier | None = Field(default=None, description="defaults to '<site id>-agent'")
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9469, ge=0, le=65535)
    # How often the agent records its own heartbeat (ProbeKind.AGENT): uptime, outbox depth.
    heartbeat_interval: PositiveSeconds = 60.0
    # Probes measured at the same moment at most (``probe once`` runs every task at once).
    max_concurrent_probes: int = Field(default=16, ge=1, le=1000)


class SiteConfig(ProbePlan):
    site: SiteIdentity
    agent: AgentSettings = Field(default_factory=AgentSettings)
    collector: CollectorConnection | None = None
    state_dir: str = "/var/lib/netmon-agent"
    outbox: OutboxConfig = Field(default_factory=OutboxConfig)

    @property
    def agent_id(self) -> str:
        return self.agent.id or f"{self.site.id}-agent"

    def plan(self) -> ProbePlan:
        return ProbePlan(links=self.links, platforms=self.platforms, probes=self.probes)

    def with_plan(self, plan: ProbePlan) -> SiteConfig:
        return self.model_copy(update={"links": plan.links, "platforms": plan.platforms, "probes": plan.probes})
