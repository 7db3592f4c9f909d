"""Site config files: the documented shape loads; mistakes are named by file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from netmon.config.loader import load_model
from netmon.config.site import SiteConfig
from netmon.config.units import parse_bytes, parse_duration
from netmon.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "site.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_documented_example_loads() -> None:
    config = load_model(EXAMPLE, SiteConfig)
    assert config.site.name == "Phường Phước Tân"
    assert [link.name for link in config.links] == ["lan", "leased", "tslcd"]
    assert config.links[1].contracted_bps == 100e6
    assert config.links[1].snmp is not None and config.links[1].snmp.version.value == "2c"
    assert config.links[2].throughput is not None and config.links[2].throughput.max_bytes_per_day == 500_000_000
    assert config.agent_id == "26734-agent"


def test_a_wrong_value_names_file_line_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, """\
site: {id: "1", name: "X", province: "Y"}
links:
  - name: lan
    kind: lan
  - name: leased
    kind: leased_line
    contracted_mbps: -5
""")
    with pytest.raises(ConfigError) as info:
        load_model(path, SiteConfig)
    assert info.value.problems == [("links[1].contracted_mbps", 7, "Input should be greater than 0 (got -5)")]
    assert f"{path}:7: links[1].contracted_mbps: Input should be greater than 0" in str(info.value)


def test_every_problem_is_reported_not_just_the_first(tmp_path: Path) -> None:
    path = write(tmp_path, """\
site: {id: "1", name: "X"}
links:
  - name: tslcd
    kind: data_netwrk
    contracted_mbps: 200
  - name: leased
    kind: leased_line
    snmp: {host: 192.0.2.1, if_name: eth1}
  - name: leased2
    kind: leased_line
""")
    with pytest.raises(ConfigError) as info:
        load_model(path, SiteConfig)
    keys = {key: line for key, line, _ in info.value.problems}
    assert keys == {"site.province": 1, "links[0].kind": 4, "links[1].snmp": 8, "links[2]": 9}
    messages = dict((k, m) for k, _, m in info.value.problems)
    assert "'lan', 'leased_line' or 'data_network'" in messages["links[0].kind"]
    assert "needs contracted_mbps" in messages["links[2]"]
    assert "SNMP v2c needs 'community'" in messages["links[1].snmp"]


def test_unknown_keys_are_refused_not_ignored(tmp_path: Path) -> None:
    path = write(tmp_path, 'site: {id: "1", name: "X", province: "Y"}\nlinkz: []\n')
    with pytest.raises(ConfigError) as info:
        load_model(path, SiteConfig)
    assert info.value.problems[0][:2] == ("linkz", 2)
    assert "unknown key" in info.value.problems[0][2]


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, 'site: {id: "1", name: "X", province: "Y"}\nlinks:\n  - name: [unclosed\n')
    with pytest.raises(ConfigError) as info:
        load_model(path, SiteConfig)
    assert info.value.problems[0][1] == 4
    assert "not valid YAML" in info.value.problems[0][2]


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_model(tmp_path / "nope.yaml", SiteConfig)


def test_snmp_v3_is_authpriv_only(tmp_path: Path) -> None:
    path = write(tmp_path, """\
site: {id: "1", name: "X", province: "Y"}
links:
  - name: leased
    kind: leased_line
    contracted_mbps: 100
    snmp: {host: 192.0.2.1, version: 3, user: noc, auth_key: secretsecret, if_name: eth1}
""")
    with pytest.raises(ConfigError, match="authPriv only"):
        load_model(path, SiteConfig)


@pytest.mark.parametrize(("text", "seconds"), [(30, 30.0), ("250ms", 0.25), ("5m", 300.0), ("2h", 7200.0), ("1d", 86400.0)])
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(("text", "size"), [(1000, 1000), ("500MB", 500_000_000), ("1GiB", 2**30), ("64KiB", 65536)])
def test_byte_sizes(text: object, size: int) -> None:
    assert parse_bytes(text) == size


def test_nonsense_units_are_refused() -> None:
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration("soon")
    with pytest.raises(ValueError, match="expected a size"):
        parse_bytes("lots")


def test_a_channel_key_is_named_as_written_not_with_the_channel_type(tmp_path: Path) -> None:
    """Channels are a union tagged by ``type``; the key path must be the file's, with that key's line."""
    from netmon.config.central import load_central

    path = tmp_path / "central.yaml"
    path.write_text("""\
registry: sites.yaml
alerting:
  channels:
    - name: rrt-telegram
      type: telegram
      token_file: /etc/netmon/telegram.token
      chatid: "-100123"
""", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_central(path)
    assert [(key, line) for key, line, _ in info.value.problems] == [
        ("alerting.channels[0].chat_id", 4), ("alerting.channels[0].chatid", 7)], info.value.problems


def test_central_paths_are_relative_to_the_file_wherever_the_collector_starts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """systemd starts the collector in /; a rules file or a bot token named next to central.yaml
    must be found there, as the registry and state_dir are."""
    from netmon.config.central import load_central

    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "central.yaml").write_text("""\
registry: sites.yaml
state_dir: state
alerting:
  rules_file: rules.yaml
  admin_token_file: /etc/netmon/admin.token
  channels:
    - {name: tg, type: telegram, token_file: secrets/telegram.token, chat_id: "-100"}
    - {name: log, type: console, path: alerts.log}
    - {name: mail, type: smtp, host: 127.0.0.1, to: [noc@example.org], password_file: smtp.pw}
""", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    config = load_central("etc/central.yaml")
    base = etc.resolve()
    assert config.alerting is not None
    assert (config.registry, config.state_dir) == (str(base / "sites.yaml"), str(base / "state"))
    assert config.alerting.rules_file == str(base / "rules.yaml")
    assert config.alerting.admin_token_file == "/etc/netmon/admin.token"  # absolute stays as written
    tg, log, mail = config.alerting.channels
    assert tg.token_file == str(base / "secrets/telegram.token")
    assert log.path == str(base / "alerts.log")
    assert mail.password_file == str(base / "smtp.pw")


@pytest.mark.parametrize("written", ["00127", "127", "1e3", "0x1F", "1.10", "12:30", "1_000", "017", "0b101"])
def test_identifiers_keep_the_text_they_were_written_with(tmp_path: Path, written: str) -> None:
    # YAML 1.1 reads 00127 as 87, 0x1F as 31, 1.10 as 1.1, 12:30 as 750: none of that is a name
    path = write(tmp_path, f"""\
site: {{id: {written}, name: {written}, province: Đồng Nai, district: {written}}}
agent: {{id: {written}}}
links:
  - name: {written}
    kind: leased_line
    contracted_mbps: 100
    targets: [{{host: 10.0.0.1, name: {written}}}]
    snmp: {{host: 10.0.0.1, if_name: {written}, community: {written}}}
platforms:
  - {{name: {written}, system: other, url: "http://10.0.0.2/", link: {written}}}
""")
    config = load_model(path, SiteConfig)
    link = config.links[0]
    assert link.snmp is not None
    assert [config.site.id, config.site.name, config.site.district, config.agent_id, link.name,
            link.targets[0].name, link.snmp.if_name, link.snmp.community, config.platforms[0].name,
            config.platforms[0].link] == [written] * 10
    assert config.model_dump(mode="json")["site"]["id"] == written


def test_numbers_stay_the_numbers_yaml_means(tmp_path: Path) -> None:
    path = write(tmp_path, """\
site: {id: 00127, name: X, province: Y}
links:
  - {name: leased, kind: leased_line, contracted_mbps: 1_000, snmp: {host: h, if_name: eth1, community: c, retries: 0x2}}
collector: {url: "http://c", insecure_http: true, token_file: t, ship_interval: 010}
""")
    config = load_model(path, SiteConfig)
    assert config.links[0].contracted_mbps == 1000.0
    assert config.links[0].snmp is not None and config.links[0].snmp.retries == 2
    assert config.collector is not None and config.collector.ship_interval == 8.0  # octal, as every YAML tool reads it


def test_a_truth_word_or_a_date_as_a_name_asks_for_quotes(tmp_path: Path) -> None:
    path = write(tmp_path, """\
site: {id: "00127", name: X, province: Y}
links:
  - name: on
    kind: leased_line
    contracted_mbps: 100
    targets: [{host: 10.0.0.1, name: 2025-07-01}]
""")
    with pytest.raises(ConfigError) as info:
        load_model(path, SiteConfig)
    hint = ("; unquoted, YAML reads yes/no/on/off/true/false as a truth value and 2025-07-01 as a date: "
            "put the text in quotes")
    assert info.value.problems == [
        ("links[0].name", 3, "Input should be a valid string (got True)" + hint),
        ("links[0].targets[0].name", 6, "Input should be a valid string (got datetime.date(2025, 7, 1))" + hint)]
