"""Rules files: the defaults load and make sense; a malformed file is refused naming file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from netmon.alerting.engine import AlertEngine
from netmon.alerting.rules import DEFAULT_RULES_FILE, load_rules
from netmon.config.alerting import AlertingConfig
from netmon.contract import VALUE_NAMES
from netmon.errors import ConfigError


def test_defaults_cover_go_live_and_use_contract_value_names() -> None:
    rules = {r.name: r for r in load_rules()}
    util = rules["LinkUtilisationHigh"]
    assert (util.warning, util.critical, util.clear, util.for_seconds) == (0.80, 0.95, 0.70, 120.0)
    # per link kind RTT limits differ: a LAN is held to far less than a leased line
    rtt = rules["LinkRttHigh"]
    assert rtt.link_kinds["lan"].warning < rtt.link_kinds["data_network"].warning < rtt.link_kinds["leased_line"].warning
    assert rules["SiteSilent"].type == "absence" and rules["SiteSilent"].storm
    assert rules["PlatformUnreachable"].aggregate == "target"
    for rule in rules.values():
        for kind in rule.probe:
            assert set(rule.value) <= VALUE_NAMES[kind], rule.name


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_malformed_rules_file_names_file_line_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, """\
rules:
  - name: Utilisation
    probe: snmp_if
    value: utilisation_ratio
    warning: 0.8
    fro: 2m
  - name: Rtt
    probe: icmp
    value: rtt_avg
    warning: 0.1
""")
    with pytest.raises(ConfigError) as info:
        load_rules(path)
    assert info.value.file == str(path)
    assert ("rules[0].fro", 6) in [(k, line) for k, line, _ in info.value.problems]
    text = info.value.render()
    assert f"{path}:6: rules[0].fro: unknown key" in text
    # the value check happens after the model: still reported with its line and key
    path = write(tmp_path, path.read_text().replace("fro: 2m", "for: 2m"))
    with pytest.raises(ConfigError) as info:
        load_rules(path)
    [(key, line, message)] = info.value.problems
    assert (key, line) == ("rules[1].value", 9)
    assert "rtt_avg is not a value of probe 'icmp'" in message and "rtt_avg_seconds" in message


def test_semantic_errors_are_reported_together(tmp_path: Path) -> None:
    path = write(tmp_path, """\
include_defaults: true
disable: [NoSuchRule]
rules:
  - name: LinkUtilisationHigh
    probe: snmp_if
    value: utilisation_ratio
    warning: 0.9
    critical: 0.8
    for: soon
  - name: Silly
    probe: http
    value: total_seconds
    warning: 3
    clear: 5
    inhibits: [Missing]
""")
    with pytest.raises(ConfigError) as info:
        load_rules(path)
    assert [(k, line) for k, line, _ in info.value.problems] == [("rules[0].for", 9)]
    path = write(tmp_path, path.read_text().replace("for: soon", "for: 2m"))
    with pytest.raises(ConfigError) as info:
        load_rules(path)
    found = {(k, line) for k, line, _ in info.value.problems}
    assert found == {("rules[0].critical", 8), ("rules[1].clear", 14), ("disable[0]", 2),
                     ("rules[1].inhibits[0]", 15)}


def test_engine_refuses_to_start_with_a_bad_rules_file(tmp_path: Path) -> None:
    path = write(tmp_path, "rules:\n  - name: X\n    probe: snmp_iff\n    value: utilisation_ratio\n    warning: 1\n")
    config = AlertingConfig(rules_file=str(path))
    with pytest.raises(ConfigError) as info:
        AlertEngine(config, state_path=tmp_path / "a.db")
    assert info.value.problems[0][:2] == ("rules[0].probe[0]", 3)


def test_include_defaults_overrides_by_name(tmp_path: Path) -> None:
    path = write(tmp_path, """\
include_defaults: true
disable: [LinkJitterHigh]
rules:
  - name: LinkUtilisationHigh
    probe: snmp_if
    value: utilisation_ratio
    warning: 0.7
    clear: 0.6
    for: 30s
""")
    rules = {r.name: r for r in load_rules(path)}
    defaults = {r.name for r in load_rules(DEFAULT_RULES_FILE)}
    assert set(rules) == defaults - {"LinkJitterHigh"}
    assert (rules["LinkUtilisationHigh"].warning, rules["LinkUtilisationHigh"].for_seconds) == (0.7, 30.0)
