"""Alert rules: what to watch, when it counts as a problem, when it counts as over.

Modelled on Prometheus alerting rules (``for``, ``keep_firing_for``, labels, annotations)
with what Prometheus lacks here: thresholds per link kind, a clear threshold (hysteresis,
Zabbix's recovery expression), baselines per series and absence timers per site.
The rules file is YAML::

    include_defaults: true          # start from alerting/default_rules.yaml
    disable: [LinkJitterHigh]
    rules:
      - name: LinkUtilisationHigh
        probe: snmp_if
        value: utilisation_ratio
        warning: 0.80
        critical: 0.95
        clear: 0.70
        for: 2m
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, ValidationError, field_validator

from netmon.config.loader import line_for, read_yaml, validation_problems, with_lines
from netmon.config.site import Strict
from netmon.config.units import Seconds
from netmon.contract import VALUE_NAMES, LinkKind, ProbeKind, Status
from netmon.errors import ConfigError

if TYPE_CHECKING:
    from netmon.config.central import CentralConfig

DEFAULT_RULES_FILE = Path(__file__).with_name("default_rules.yaml")
Severity = Literal["warning", "critical"]
SEVERITY_RANK = {None: 0, "warning": 1, "critical": 2}


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class Thresholds(Strict):
    warning: float | None = None
    critical: float | None = None
    # Below this (``op: above``) the alert is over; between clear and warning it stays as it is.
    clear: float | None = None


class BaselineSpec(Strict):
    """EWMA of the series' own healthy values; thresholds of a baseline rule are factors of it."""

    alpha: float = Field(default=0.05, gt=0, le=1)
    min_samples: int = Field(default=20, ge=1)
    # Never alert on less than this absolute rise (0.2 ms -> 0.8 ms on a LAN is not a problem).
    min_delta: float = Field(default=0.0, ge=0)


class Rule(Thresholds):
    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$", max_length=64)
    type: Literal["threshold", "baseline", "absence"] = "threshold"
    probe: list[ProbeKind] = Field(default_factory=list)
    value: list[str] = Field(default_factory=list)
    # Instead of a value: the result's status (e.g. a platform probe that failed).
    status: list[Status] = Field(default_factory=list)
    link_kind: list[LinkKind] = Field(default_factory=list)
    target: list[str] = Field(default_factory=list)
    op: Literal["above", "below"] = "above"
    link_kinds: dict[LinkKind, Thresholds] = Field(default_factory=dict)
    # Severity of status and absence rules (value rules take it from the threshold crossed).
    severity: Severity = "critical"
    for_seconds: Seconds = Field(default=0.0, alias="for")
    clear_for: Seconds = 0.0
    keep_firing_for: Seconds = 0.0
    baseline: BaselineSpec | None = None
    # absence: silent for longer than this many shipping intervals
    after_intervals: float | None = Field(default=None, gt=0)
    # Counts towards an upstream storm (many sites behind one upstream -> one incident).
    storm: bool = False
    # "target": the same target failing from several sites -> one platform incident.
    aggregate: Literal["target"] | None = None
    # While this fires, alerts of these rules ("*" = any) with equal labels are not sent.
    inhibits: list[str] = Field(default_factory=list)
    inhibit_equal: list[Literal["site", "link", "target"]] = Field(default_factory=lambda: ["site", "link"])  # type: ignore[arg-type]
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)

    @field_validator("probe", "value", "status", "link_kind", "target", "inhibits", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _as_list(value)

    def thresholds_for(self, link_kind: LinkKind | None) -> Thresholds | None:
        if link_kind is not None and link_kind in self.link_kinds:
            return self.link_kinds[link_kind]
        if self.warning is None and self.critical is None:
            return None
        return self


class RulesFile(Strict):
    include_defaults: bool = False
    disable: list[str] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)


def _check(rule: Rule) -> list[tuple[str, str]]:
    """Problems the model alone cannot see, as (field, message)."""
    problems: list[tuple[str, str]] = []
    if rule.type == "absence":
        if rule.after_intervals is None:
            problems.append(("after_intervals", "an absence rule needs after_intervals (shipping intervals)"))
        return problems
    if not rule.probe:
        problems.append(("probe", f"a {rule.type} rule needs a probe kind"))
    if bool(rule.value) == bool(rule.status):
        problems.append(("value", "give either value (a value name) or status (result statuses), not both"))
    for kind in rule.probe:
        unknown = [v for v in rule.value if v not in VALUE_NAMES[kind]]
        if unknown:
            problems.append(("value", f"{', '.join(unknown)} is not a value of probe {kind.value!r}; "
                                      f"known: {', '.join(sorted(VALUE_NAMES[kind]))}"))
    if rule.type == "baseline" and rule.baseline is None:
        problems.append(("baseline", "a baseline rule needs a baseline section (alpha, min_samples, min_delta)"))
    if rule.value:
        sets = [("", rule), *((f"link_kinds.{k.value}.", t) for k, t in rule.link_kinds.items())]
        if all(t.warning is None and t.critical is None for _, t in sets):
            problems.append(("warning", "a value rule needs a warning or critical threshold"))
        for prefix, t in sets:
            problems.extend((f"{prefix}{field}", msg) for field, msg in _order(t, rule.op))
    return problems


def _order(t: Thresholds, op: str) -> list[tuple[str, str]]:
    sign = 1 if op == "above" else -1
    if t.warning is not None and t.critical is not None and sign * (t.critical - t.warning) < 0:
        return [("critical", f"with op {op!r} critical must be {'>=' if sign > 0 else '<='} warning")]
    lowest = t.warning if t.warning is not None else t.critical
    if t.clear is not None and lowest is not None and sign * (lowest - t.clear) < 0:
        return [("clear", f"with op {op!r} clear must be {'<=' if sign > 0 else '>='} the lowest threshold "
                          f"({lowest}); it is where the alert ends")]
    return []


def _validate(path: Path) -> list[Rule]:
    data, index = read_yaml(path)
    if data is None:
        raise ConfigError(str(path), [("", None, "the file is empty")])
    try:
        parsed = RulesFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(str(path), validation_problems(exc, index)) from None
    problems: list[tuple[str, int | None, str]] = []
    seen: dict[str, int] = {}
    for i, rule in enumerate(parsed.rules):
        for field, message in _check(rule):
            loc: tuple[int | str, ...] = ("rules", i, *field.split("."))
            problems.append((f"rules[{i}].{field}", line_for(loc, index), message))
        if rule.name in seen:
            problems.append((f"rules[{i}].name", line_for(("rules", i, "name"), index),
                             f"rule {rule.name!r} is already defined at rules[{seen[rule.name]}]"))
        seen.setdefault(rule.name, i)
    rules = parsed.rules
    if parsed.include_defaults and path != DEFAULT_RULES_FILE:
        own = {r.name for r in rules}
        rules = [r for r in _validate(DEFAULT_RULES_FILE) if r.name not in own] + rules
    names = {r.name for r in rules}
    for i, name in enumerate(parsed.disable):
        if name not in names:
            problems.append((f"disable[{i}]", line_for(("disable", i), index), f"no rule named {name!r}"))
    rules = [r for r in rules if r.name not in set(parsed.disable)]
    names = {r.name for r in rules}
    for i, rule in enumerate(parsed.rules):
        for j, target in enumerate(rule.inhibits):
            if target != "*" and target not in names:
                problems.append((f"rules[{i}].inhibits[{j}]", line_for(("rules", i, "inhibits", j), index),
                                 f"no rule named {target!r}"))
    if problems:
        raise ConfigError(str(path), problems)
    return rules


def load_rules(path: str | Path | None = None) -> list[Rule]:
    """The rules of ``path``, or the go-live defaults; ConfigError names file, line and key."""
    return _validate(Path(path) if path is not None else DEFAULT_RULES_FILE)


def absence_limits(rules: Sequence[Rule], ship_interval_seconds: float) -> list[tuple[str, float]]:
    """(rule name, seconds without results before it fires) of each absence rule."""
    return [(r.name, (r.after_intervals or 1.0) * ship_interval_seconds) for r in rules if r.type == "absence"]


def cut_off_problem(cut_off_after_seconds: float | None, rules: Sequence[Rule],
                    ship_interval_seconds: float) -> str | None:
    """Why ``state.postgres.cut_off_after`` is too long for these rules, or None. A cut-off collector's
    agents reach another one only after cut_off_after and one more ship interval; by then their
    sites must not yet be silent anywhere, or the other collectors page every one of them."""
    limits = absence_limits(rules, ship_interval_seconds)
    if cut_off_after_seconds is None or not limits:
        return None
    name, shortest = min(limits, key=lambda limit: limit[1])
    if cut_off_after_seconds + ship_interval_seconds < shortest:
        return None
    return (f"{cut_off_after_seconds:g} s plus one expected_ship_interval ({ship_interval_seconds:g} s) is not below "
            f"the shortest silence limit, {shortest:g} s (rule {name!r}): when this collector loses PostgreSQL the "
            f"others would page its sites as silent before their agents move to them; make it shorter "
            f"(or the rule's after_intervals longer)")


def check_cut_off(central: CentralConfig, rules: Sequence[Rule], file: str) -> None:
    """ConfigError (file, line, key) when central.yaml's cut_off_after is too long for ``rules``."""
    postgres = central.state.postgres
    problem = None if postgres is None else \
        cut_off_problem(postgres.cut_off_after, rules, central.expected_ship_interval)
    if problem is not None:
        raise with_lines(ConfigError(file, [("state.postgres.cut_off_after", None, problem)]), Path(file))
