"""`netmon config check`: what an operator sees before deploying a site config."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import REPO_ROOT, netmon_argv, netmon_env


def check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(netmon_argv("config", "check", str(path)), capture_output=True, text=True,
                          env=netmon_env(), timeout=60)


def test_the_documented_example_passes_and_is_summarised() -> None:
    result = check(Path(REPO_ROOT) / "examples" / "site.yaml")
    assert result.returncode == 0, result.stderr
    assert "ok — site 26734 (Phường Phước Tân, Đồng Nai), 3 link(s), 2 platform(s)" in result.stdout


def test_an_unknown_probe_kind_is_refused_with_the_known_kinds(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text("""\
site: {id: "26734", name: "Phường Phước Tân", province: "Đồng Nai"}
links:
  - name: tslcd
    kind: data_network
    contracted_mbps: 200
    targets: [{host: 10.77.3.2, name: provincial-dc}]
    probes: [icmp, icmpp]
""", encoding="utf-8")
    result = check(path)
    assert result.returncode == 1
    assert (f"{path}: links[0].probes[1]: unknown probe kind 'icmpp'; known kinds: "
            "dns, http, icmp, lan, path, snmp_if, tcp, throughput, udp_echo") in result.stderr


def test_a_bad_value_names_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text('site: {id: "1", name: "X", province: "Y"}\nlinks:\n  - {name: leased, kind: leased_line, contracted_mbps: 0}\n',
                    encoding="utf-8")
    result = check(path)
    assert result.returncode == 1
    assert f"{path}:3: links[0].contracted_mbps: Input should be greater than 0 (got 0)" in result.stderr
    assert result.stdout == ""


def test_a_zero_padded_commune_code_is_checked_and_shown_as_written(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text("""\
site: {id: 00127, name: Phường Ba Đình, province: Hà Nội}
links:
  - {name: 0x1F, kind: leased_line, contracted_mbps: 100, targets: [{host: 10.77.2.2, name: 1.10}]}
""", encoding="utf-8")
    result = check(path)
    assert result.returncode == 0, result.stderr
    assert f"{path}: ok — site 00127 (Phường Ba Đình, Hà Nội), 1 link(s), 0 platform(s), 1 probe task(s)" \
        in result.stdout
