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
    assert (f"{path}:7: links[0].probes[1]: unknown probe kind 'icmpp'; known kinds: "
            "dns, http, icmp, lan, path, snmp_if, tcp, throughput, udp_echo") in result.stderr


def test_a_bad_value_names_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text('site: {id: "1", name: "X", province: "Y"}\nlinks:\n  - {name: leased, kind: leased_line, contracted_mbps: 0}\n',
                    encoding="utf-8")
    result = check(path)
    assert result.returncode == 1
    assert f"{path}:3: links[0].contracted_mbps: Input should be greater than 0 (got 0)" in result.stderr
    assert result.stdout == ""


SNMP_SITE = """\
site: {id: "26734", name: "Phường Phước Tân", province: "Đồng Nai"}
links:
  - name: leased
    kind: leased_line
    contracted_mbps: 1000
    probes: []
    snmp: {host: 10.77.1.1, community: netmon-lab, if_name: leased, timeout: 1, retries: 1}
probes:
  snmp_if:
    interval: %s
    timeout: %s
"""


def test_an_snmp_timeout_that_cannot_hold_the_alignment_wait_is_refused_with_the_reason(tmp_path: Path) -> None:
    # the combination that once read a saturated line as 0.54 and then 1.71
    path = tmp_path / "site.yaml"
    path.write_text(SNMP_SITE % ("5s", "4.5s"), encoding="utf-8")
    result = check(path)
    assert result.returncode == 1, result.stdout
    assert (f"{path}:11: probes.snmp_if.timeout: 4.5 s cannot hold an aligned sample of link 'leased': a first "
            "SNMP request (up to 2 s: snmp.timeout 1 s x 2 tries), align_seconds 4 s of waiting for the counters "
            "to move, and a last request (up to 2 s) need 8 s; raise timeout to 8 s or lower align_seconds or "
            "the link's snmp.timeout/retries") in result.stderr


def test_an_interval_too_long_for_32_bit_counters_at_the_contracted_rate_is_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(SNMP_SITE % ("60s", "8s"), encoding="utf-8")
    result = check(path)
    assert result.returncode == 0, result.stderr
    assert (f"{path}:10: warning: probes.snmp_if.interval: 60 s is too long for 32-bit octet counters on link "
            "'leased': at its contracted 1000 Mbit/s they wrap every 34 s; if its router has no 64-bit counters "
            "(ifHCInOctets) the link gets no rates. Poll at most every 27 s") in result.stderr
    path.write_text(SNMP_SITE % ("20s", "8s"), encoding="utf-8")
    assert "warning" not in check(path).stderr


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
