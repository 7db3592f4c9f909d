"""The site registry loads from YAML and CSV; errors point at the row and column people edit."""

from __future__ import annotations

from pathlib import Path

import pytest

from netmon.alerting.routing import Router
from netmon.config.alerting import AlertingConfig
from netmon.config.registry import load_registry
from netmon.errors import ConfigError

HEADER = "site_id,name,province,district,upstream,team,agent_host,lan_subnet,leased_mbps,leased_if,tslcd_mbps,tslcd_if,snmp_host,snmp_version\n"


def test_csv_rows_become_sites_with_their_links(tmp_path: Path) -> None:
    path = tmp_path / "sites.csv"
    path.write_text(HEADER
                    + "26734,Phường Phước Tân,Đồng Nai,Biên Hòa,dn-bh,,10.1.0.2,192.168.1.0/24,100,eth1,200,eth2,192.168.1.1,2c\n"
                    + "26740,Xã An Viễn,Đồng Nai,,,rrt-x,,,50,,,,,\n", encoding="utf-8")
    registry = load_registry(path)
    site = registry.site("26734")
    assert site is not None and site.name == "Phường Phước Tân" and site.upstream == "dn-bh"
    assert [(x.name, x.kind.value, x.contracted_mbps, x.if_name) for x in site.links] == [
        ("lan", "lan", None, None), ("leased", "leased_line", 100.0, "eth1"), ("tslcd", "data_network", 200.0, "eth2")]
    other = registry.site("26740")
    assert other is not None and [x.name for x in other.links] == ["leased"] and other.team == "rrt-x"


def test_csv_errors_name_the_line_site_and_column(tmp_path: Path) -> None:
    path = tmp_path / "sites.csv"
    path.write_text(HEADER + "26734,A,Đồng Nai,,,,,,100,,,,,\n" + "26735,B,Đồng Nai,,,,,,,,abc,eth2,,\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_registry(path)
    (key, line, message), = info.value.problems
    assert (key, line) == ("site 26735: tslcd_mbps", 3)
    assert "valid number" in message


def test_duplicate_site_ids_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "sites.csv"
    path.write_text(HEADER + "1,A,P,,,,,,10,,,,,\n1,B,P,,,,,,10,,,,,\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="repeated: 1"):
        load_registry(path)


def test_yaml_registry_and_team_fallback_to_province(tmp_path: Path) -> None:
    path = tmp_path / "sites.yaml"
    path.write_text("""
provinces: [{name: "Đồng Nai", default_team: rrt-dong-nai, upstream: dn-core}]
sites:
  - {id: "26734", name: "Phường Phước Tân", province: "Đồng Nai",
     links: [{name: leased, kind: leased_line, contracted_mbps: 100}]}
""", encoding="utf-8")
    registry = load_registry(path)
    site = registry.site("26734")
    assert site is not None and site.team is None
    # which team answers is alerting's one question, Router.team_for_site: the province's default team
    alerting = AlertingConfig.model_validate({"channels": [{"name": "log", "type": "console"}],
                                              "teams": [{"name": "rrt-dong-nai", "channels": ["log"]}]})
    assert Router(alerting, registry).team_for_site(site) == "rrt-dong-nai"


def test_commune_codes_and_names_keep_their_leading_zeros_in_yaml_and_csv(tmp_path: Path) -> None:
    # Administrative codes are zero-padded five-digit strings; YAML 1.1 reads 00127 as octal 87
    yaml_path = tmp_path / "sites.yaml"
    yaml_path.write_text("""
provinces: [{name: Hà Nội, default_team: 001, upstream: 0x1F}]
sites:
  - {id: 00127, name: Phường Ba Đình, province: Hà Nội, upstream: 012,
     links: [{name: 01, kind: leased_line, contracted_mbps: 100, if_name: 1.10}]}
  - {id: 127, name: Xã B, province: Hà Nội}
""", encoding="utf-8")
    registry = load_registry(yaml_path)
    assert [s.id for s in registry.sites] == ["00127", "127"]
    site = registry.site("00127")
    assert site is not None and registry.site("87") is None
    assert (site.upstream, site.links[0].name, site.links[0].if_name) == ("012", "01", "1.10")
    assert (registry.provinces[0].default_team, registry.provinces[0].upstream) == ("001", "0x1F")

    csv_path = tmp_path / "sites.csv"
    csv_path.write_text(HEADER + "00127,Phường Ba Đình,Hà Nội,,012,001,,,100,01,,,,\n", encoding="utf-8")
    (site,) = load_registry(csv_path).sites
    assert (site.id, site.upstream, site.team, site.links[0].if_name) == ("00127", "012", "001", "01")


def test_a_repeated_code_is_named_as_written(tmp_path: Path) -> None:
    path = tmp_path / "sites.yaml"
    path.write_text("sites:\n  - {id: 00127, name: A, province: P}\n  - {id: 00127, name: B, province: P}\n"
                    "  - {id: 87, name: C, province: P}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_registry(path)
    assert [message for _, _, message in info.value.problems] == [
        "site ids must be unique; repeated: 00127"]
