"""What `pip install` puts on a box: one top-level package, its data and type marker, a base
install that runs the CLI, and netmon[agent] running the agent without the centre's libraries.

The clean venvs reach PyPI through pip's usual configuration and cache, as an operator's would.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.wheels import base_version, build_wheel

pytestmark = pytest.mark.slow

ROOT = Path(REPO_ROOT)
# what the centre extra brings and a site box must not carry
CENTRE_ONLY = ("fastapi", "uvicorn", "influxdb-client", "grafana-foundation-sdk", "grafana-client", "jinja2",
               "starlette", "aiosmtpd")
DATA_SUFFIXES = (".yaml", ".j2", ".html", ".service")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("wheel")
    log = out / "build.log"
    return build_wheel(out, log=log), log.read_text()


def names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def metadata(path: Path) -> str:
    with zipfile.ZipFile(path) as archive:
        return archive.read(f"netmon-{base_version()}.dist-info/METADATA").decode()


def test_the_wheel_installs_one_package_with_its_data_and_type_marker(wheel: tuple[Path, str]) -> None:
    path, log = wheel
    files = names(path)
    assert {name.split("/")[0] for name in files} == {"netmon", f"netmon-{base_version()}.dist-info"}
    # one py.typed at the top covers every subpackage (PEP 561), netmon.probes included
    assert [name for name in files if name.endswith("py.typed")] == ["netmon/py.typed"]
    source_data = sorted(str(p.relative_to(ROOT)) for folder in ("netmon", "probes", "collectors", "alerting",
                                                                  "dashboards", "lab")
                         for p in (ROOT / folder).rglob("*") if p.suffix in DATA_SUFFIXES and "__pycache__" not in
                         p.parts)
    shipped = sorted(name for name in files if name.endswith(DATA_SUFFIXES))
    expected = sorted(name if name.startswith("netmon/") else f"netmon/{name}" for name in source_data)
    assert shipped == expected
    assert {"netmon/deploy/systemd/netmon-agent.service", "netmon/deploy/systemd/netmon-collector.service"} <= set(shipped)
    assert f"netmon-{base_version()}.dist-info/licenses/LICENSE" in files
    text = metadata(path)
    assert "License-Expression: Apache-2.0" in text
    assert "bdist_wheel" in log  # the build backend's own output, where setuptools warns
    assert [line for line in log.lower().splitlines() if "license" in line and "deprecat" in line] == []
    requires = [line.removeprefix("Requires-Dist: ") for line in text.splitlines() if line.startswith("Requires-Dist")]
    base = sorted(re.match(r"[A-Za-z0-9._-]+", r).group(0).lower() for r in requires  # type: ignore[union-attr]
                  if "extra ==" not in r)
    assert base == ["pydantic", "pyyaml", "rich", "typer"]
    assert {line.removeprefix("Provides-Extra: ") for line in text.splitlines()
            if line.startswith("Provides-Extra")} == {"agent", "centre", "dev"}
    agent = [r for r in requires if 'extra == "agent"' in r]
    assert not any(r.lower().startswith(CENTRE_ONLY) for r in agent), agent
    assert not any(r.lower().startswith("aiosmtpd") for r in requires if 'extra == "dev"' not in r)


@pytest.fixture
def echo_port() -> Iterator[int]:
    """A TCP port on 127.0.0.1 that accepts (the tcp probe's target)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield listener.getsockname()[1]
    listener.close()


def run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, **kwargs)  # type: ignore[call-overload]


def test_base_then_agent_extra_in_a_clean_venv(wheel: tuple[Path, str], tmp_path: Path, echo_port: int) -> None:
    path, _ = wheel
    venv = tmp_path / "venv"
    assert run([sys.executable, "-m", "venv", str(venv)]).returncode == 0
    pip, netmon = str(venv / "bin" / "pip"), str(venv / "bin" / "netmon")
    installed = run([pip, "install", "--disable-pip-version-check", str(path)])
    assert installed.returncode == 0, installed.stderr

    # the base install: the CLI and the config models
    assert run([netmon, "--version"]).stdout == f"netmon {base_version()}\n"
    assert run([netmon, "--help"]).returncode == 0
    config = tmp_path / "site.yaml"
    state = tmp_path / "state"
    config.write_text(f"""\
site: {{id: "99001", name: "Xã Thử", province: "Đồng Nai"}}
state_dir: {state}
links:
  - name: lan
    kind: lan
    targets: [{{host: 127.0.0.1, name: loopback, port: {echo_port}}}]
    probes: [icmp, tcp]
probes:
  icmp: {{count: 3}}
""", encoding="utf-8")
    checked = run([netmon, "config", "check", "-c", str(config)])
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout == f"{config}: ok — site 99001 (Xã Thử, Đồng Nai), 1 link(s), 0 platform(s), 2 probe task(s)\n"
    refused = run([netmon, "probe", "once", "-c", str(config)])
    assert refused.returncode == 1
    assert refused.stderr.startswith("netmon probe once needs the agent extra (missing: APScheduler, ")
    assert refused.stderr.endswith("): pip install 'netmon[agent]'\n") and refused.stderr.count("\n") == 1

    # netmon[agent]: the agent runs, and nothing of the centre came with it
    installed = run([pip, "install", "--disable-pip-version-check", f"{path}[agent]"])
    assert installed.returncode == 0, installed.stderr
    once = run([netmon, "probe", "once", "-c", str(config), "--json"])
    assert once.returncode == 0, once.stderr
    records = [json.loads(line) for line in once.stdout.splitlines()]
    assert [(r["probe"], r["target"], r["status"]) for r in records] == [("icmp", "loopback", "ok"),
                                                                           ("tcp", "loopback", "ok")]
    assert records[0]["values"]["received_packets"] == 3
    assert not state.exists()  # probe once reads only
    listed = {line.split("==")[0].lower() for line in run([pip, "freeze"]).stdout.splitlines()}
    assert {"apscheduler", "pysnmp", "scapy", "httpx", "dnspython", "prometheus_client"} <= \
        {name.replace("-", "_") for name in listed} | listed
    assert not [name for name in CENTRE_ONLY if name in listed], listed
    serve = run([netmon, "collector", "serve", "-c", str(tmp_path / "central.yaml")])
    assert serve.returncode == 1
    assert serve.stderr.startswith("netmon collector serve needs the centre extra (missing: fastapi, uvicorn")
    assert serve.stderr.endswith("): pip install 'netmon[centre]'\n") and serve.stderr.count("\n") == 1
    assert run([str(venv / "bin" / "python"), "-c", "import fastapi"]).returncode == 1
