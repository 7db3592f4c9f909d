"""The ``alerting:`` section of ``central.yaml``: teams, channels, grouping, storm control.

Rules live in their own file (``rules_file``, see ``alerting.rules``); without one the
go-live defaults in ``alerting/default_rules.yaml`` apply. Secrets (bot tokens, SMTP
passwords, the admin token) are read from files named here, never written in this file.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from netmon.config.site import Strict
from netmon.config.units import PositiveSeconds, Seconds
from netmon.contract import Identifier

Language = Literal["vi", "en"]
# The longest silence (API and CLI): beyond a year a silence is a rule that should change, and
# its end stays a date every calendar holds.
MAX_SILENCE_SECONDS = 366 * 86400.0
HttpUrl = Annotated[str, Field(pattern=r"^https?://")]


class ChannelBase(Strict):
    name: Identifier
    # Per-channel rate limit (token bucket): Telegram allows ~20 messages/minute in a group.
    rate_per_minute: float = Field(default=20.0, gt=0)
    burst: int = Field(default=5, ge=1)
    timeout: PositiveSeconds = 10.0
    # Keep retrying a failed delivery (backoff) this long.
    give_up_after: PositiveSeconds = 6 * 3600.0
    # A Retry-After (Telegram's retry_after) longer than this is cut to it: a service asking for
    # hours would otherwise hold every later message of the channel that long.
    max_retry_after: PositiveSeconds = 300.0
    # A message still rate limited this long after it was queued is given up on this channel and
    # sent through its team's escalate_to channels instead (counted as rate_limited).
    rate_limited_give_up_after: PositiveSeconds = 900.0


class ZaloChannelConfig(ChannelBase):
    """Zalo Bot Platform: Telegram-style ``POST {base_url}/bot{token}/sendMessage``."""

    type: Literal["zalo"]
    token_file: str
    chat_id: str = Field(min_length=1, max_length=128)
    base_url: HttpUrl = "https://bot-api.zaloplatforms.com"


class TelegramChannelConfig(ChannelBase):
    type: Literal["telegram"]
    token_file: str
    chat_id: str = Field(min_length=1, max_length=128)
    base_url: HttpUrl = "https://api.telegram.org"


class SmtpChannelConfig(ChannelBase):
    type: Literal["smtp"]
    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True
    # Implicit TLS (port 465) instead of STARTTLS.
    ssl: bool = False
    username: str | None = None
    password_file: str | None = None
    from_address: str = "netmon@localhost"
    to: list[str] = Field(min_length=1)
    ca_file: str | None = None
    tls_verify: bool = True


class WebhookChannelConfig(ChannelBase):
    """POSTs Alertmanager's webhook JSON (version 4), so existing receivers work unchanged."""

    type: Literal["webhook"]
    url: HttpUrl
    bearer_token_file: str | None = None
    # 0 = no limit; otherwise extra alerts are dropped and counted in truncatedAlerts.
    max_alerts: int = Field(default=0, ge=0)
    rate_per_minute: float = Field(default=120.0, gt=0)


class AlertmanagerChannelConfig(ChannelBase):
    """Pushes to an existing Alertmanager's ``/api/v2/alerts`` (its routes then take over)."""

    type: Literal["alertmanager"]
    url: HttpUrl
    bearer_token_file: str | None = None
    # Like Prometheus: firing alerts are re-pushed this often with endsAt ahead of now, so
    # Alertmanager resolves them by itself if netmon stops.
    resend_interval: PositiveSeconds = 60.0
    rate_per_minute: float = Field(default=600.0, gt=0)


class ConsoleChannelConfig(ChannelBase):
    """Prints messages (stdout or a file): the demo's channel."""

    type: Literal["console"]
    path: str | None = None
    rate_per_minute: float = Field(default=6000.0, gt=0)


ChannelConfig = Annotated[
    ZaloChannelConfig | TelegramChannelConfig | SmtpChannelConfig | WebhookChannelConfig
    | AlertmanagerChannelConfig | ConsoleChannelConfig,
    Field(discriminator="type"),
]


class TeamConfig(Strict):
    name: Identifier
    # The province this team answers for when the registry names no team for a site.
    province: str | None = None
    channels: list[Identifier] = Field(min_length=1)
    escalate_after: PositiveSeconds | None = None
    escalate_to: list[Identifier] = Field(default_factory=list)
    language: Language | None = None


class StormConfig(Strict):
    """Many sites behind one upstream (or failing one platform) -> one incident."""

    min_sites: int = Field(default=5, ge=2)
    # Site alerts that may belong to a storm wait this long before being sent alone, so the
    # storm is seen first (silence is detected per site, up to one ship interval apart).
    wait: Seconds = 15.0
    # The storm incident resolves after its count stayed below min_sites this long.
    clear_for: Seconds = 30.0


class AlertingConfig(Strict):
    rules_file: str | None = None
    channels: list[ChannelConfig] = Field(default_factory=list)
    teams: list[TeamConfig] = Field(default_factory=list)
    language: Language = "vi"
    timezone: str = "Asia/Ho_Chi_Minh"
    # Team for sites no rule above routes (and for platform incidents spanning provinces).
    default_team: Identifier | None = None
    platform_team: Identifier | None = None
    # Alerts for the same team becoming due within this window go out as one message.
    group_wait: Seconds = 2.0
    storm: StormConfig = Field(default_factory=StormConfig)
    platform: StormConfig = Field(default_factory=lambda: StormConfig(min_sites=3))
    # A result older than expected_ship_interval + late_margin when it arrives (an agent's
    # backlog after an outage) is late: it updates history and resolves incidents, but opens
    # none for a condition that is over by the time the results are current (docs/alerting.md).
    late_margin: PositiveSeconds = 15.0
    # Results older than this when they arrive are stored but not evaluated at all.
    stale_after: PositiveSeconds = 300.0
    # File holding the admin token (or "sha256:<hex>" of it) for ack and silences.
    admin_token_file: str | None = None
    # This collector's public URL (webhook ``externalURL``, Alertmanager ``generatorURL``).
    external_url: HttpUrl | None = None
    tick_interval: PositiveSeconds = 1.0

    @field_validator("channels")
    @classmethod
    def _unique_channels(cls, channels: list[Any]) -> list[Any]:
        names = [c.name for c in channels]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"channel names must be unique; repeated: {', '.join(dupes)}")
        return channels

    @field_validator("teams")
    @classmethod
    def _teams_name_known_channels(cls, teams: list[TeamConfig], info: ValidationInfo) -> list[TeamConfig]:
        names = [t.name for t in teams]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"team names must be unique; repeated: {', '.join(dupes)}")
        known = {c.name for c in info.data.get("channels", [])}
        for team in teams:
            for channel in [*team.channels, *team.escalate_to]:
                if channel not in known:
                    raise ValueError(f"team {team.name!r} names unknown channel {channel!r}; "
                                     f"known: {', '.join(sorted(known)) or '(none)'}")
        return teams

    @field_validator("default_team", "platform_team")
    @classmethod
    def _team_known(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and value not in {t.name for t in info.data.get("teams", [])}:
            raise ValueError(f"{value!r} is not one of the teams")
        return value

    def team(self, name: str | None) -> TeamConfig | None:
        return next((t for t in self.teams if t.name == name), None) if name else None
