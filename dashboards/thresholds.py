"""The limits dashboards colour by, read from the alert rules — never a copy of their numbers.

A panel that turns red where no alert fires (or the reverse) teaches NOC staff to ignore one
of them, so the warning/critical values are defined once, in the rules: alerting's go-live
rules (``alerting/default_rules.yaml``: utilisation 80 % / 95 % of the contracted rate; RTT,
jitter and loss per link kind; platform response time) for ``default_limits()``, and the rules
file the collector actually alerts with for ``netmon dashboards build --config``
(``limits_from_rules``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping

from pydantic import BaseModel, ConfigDict, Field, model_validator

from netmon.alerting.rules import DEFAULT_RULES_FILE, Rule, load_rules
from netmon.contract import LinkKind, Status
from netmon.errors import ConfigError

# The rules whose thresholds the panels show.
UTILISATION_RULE = "LinkUtilisationHigh"
RTT_RULE = "LinkRttHigh"
JITTER_RULE = "LinkJitterHigh"
LOSS_RULE = "LinkLossHigh"
PLATFORM_RULE = "PlatformSlow"


class Limit(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    warning: float = Field(ge=0)
    critical: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Limit:
        if self.critical < self.warning:
            raise ValueError("critical must be at or above warning")
        return self


class LinkKindLimits(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rtt_seconds: Limit
    jitter_seconds: Limit
    loss_ratio: Limit


class DashboardLimits(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    utilisation_ratio: Limit
    # Normal values differ by an order of magnitude between an office LAN, a leased Internet
    # line and the provincial data network, so each kind has its own limits.
    link_kinds: dict[LinkKind, LinkKindLimits]
    platform_response_seconds: Limit

    def for_kind(self, kind: LinkKind) -> LinkKindLimits:
        return self.link_kinds[kind]


# How a status_level (schema: 0 ok, 1 degraded, 2 failed, 3 error) reads and is coloured.
STATUS_TEXT_VI: dict[Status, str] = {
    Status.OK: "Tốt",
    Status.DEGRADED: "Suy giảm",
    Status.FAILED: "Mất kết nối",
    Status.ERROR: "Lỗi đo",
}
STATUS_COLOUR: dict[Status, str] = {
    Status.OK: "green",
    Status.DEGRADED: "yellow",
    Status.FAILED: "red",
    Status.ERROR: "purple",
}
STATUS_LEVEL: dict[Status, int] = {Status.OK: 0, Status.DEGRADED: 1, Status.FAILED: 2, Status.ERROR: 3}

LINK_KIND_VI: dict[LinkKind, str] = {
    LinkKind.LAN: "mạng LAN",
    LinkKind.LEASED_LINE: "kênh thuê riêng",
    LinkKind.DATA_NETWORK: "mạng truyền số liệu chuyên dùng",
}


def _rule_limit(rule: Rule | None, kind: LinkKind | None) -> Limit | None:
    """The rule's (warning, critical) for ``kind``; a rule with only one of them colours both at it."""
    found = rule.thresholds_for(kind) if rule is not None else None
    if found is None:
        return None
    warning = found.warning if found.warning is not None else found.critical
    critical = found.critical if found.critical is not None else found.warning
    if warning is None or critical is None:
        return None
    return Limit(warning=warning, critical=critical)


def _limits(rules: Mapping[str, Rule], fallback: DashboardLimits | None) -> DashboardLimits:
    def limit(rule: str, kind: LinkKind | None, default: Limit | None) -> Limit:
        found = _rule_limit(rules.get(rule), kind)
        if found is not None:
            return found
        if default is None:
            where = f"{rule} ({kind.value})" if kind else rule
            raise ConfigError(str(DEFAULT_RULES_FILE), [(where, None, "the dashboards colour by this rule's "
                                                                     "thresholds; the go-live rules must give them")])
        return default

    def kind_limits(kind: LinkKind) -> LinkKindLimits:
        base = fallback.for_kind(kind) if fallback is not None else None
        return LinkKindLimits(rtt_seconds=limit(RTT_RULE, kind, base.rtt_seconds if base else None),
                              jitter_seconds=limit(JITTER_RULE, kind, base.jitter_seconds if base else None),
                              loss_ratio=limit(LOSS_RULE, kind, base.loss_ratio if base else None))

    return DashboardLimits(
        utilisation_ratio=limit(UTILISATION_RULE, None, fallback.utilisation_ratio if fallback is not None else None),
        link_kinds={kind: kind_limits(kind) for kind in LinkKind},
        platform_response_seconds=limit(PLATFORM_RULE, None,
                                        fallback.platform_response_seconds if fallback is not None else None))


@functools.cache
def default_limits() -> DashboardLimits:
    """The limits of alerting's go-live rules."""
    return _limits({rule.name: rule for rule in load_rules(DEFAULT_RULES_FILE)}, None)


def limits_from_rules(rules: Iterable[Rule]) -> DashboardLimits:
    """The limits of the rules in force (``alerting.rules.load_rules``). A rule that is
    disabled or missing, or has no thresholds for a link kind, keeps the go-live rule's."""
    return _limits({rule.name: rule for rule in rules}, default_limits())
