"""A fleet of SSH hosts in network namespaces, and Ansible driven against them from a controller.

::

    ctl (controller: ansible-playbook, bridge br0 10.77.60.1/24, PostgreSQL on 10.77.60.1)
     ├── p0 ── centre    eth0 10.77.60.2   sshd, the first collector once deployed
     ├── p1 ── centre-b  eth0 10.77.60.3   sshd, the second collector (same PostgreSQL)
     ├── p2 ── site1     eth0 10.77.60.11  sshd, a commune agent once deployed
     ├── p3 ── site2     eth0 10.77.60.12
     └── p4 ── site3     eth0 10.77.60.13

Every host runs Debian's sshd on its own lab address with a host key made here; the
controller trusts exactly those keys (known_hosts) and logs in with a key made here. The
namespaces share one filesystem, so each host gets its own install prefix under ``root``
(host var ``netmon_prefix``) — on real machines the prefix is empty.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from netmon.lab.netns import Lab, Namespace, Proc, call_in_namespace

SUBNET = "10.77.60"
ANSIBLE_DIR = Path(__file__).resolve().parents[2] / "ansible"
VENV_BIN = Path(sys.executable).parent


@dataclasses.dataclass
class Host:
    name: str
    ns: Namespace
    address: str
    prefix: Path
    sshd: Proc | None = None

    def path(self, absolute: str) -> Path:
        """Where ``absolute`` (a production path like /etc/netmon-agent) lives for this host."""
        return self.prefix / absolute.lstrip("/")


def _port_open(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False


def keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "netmon-test", "-f", str(path)],
                   check=True, capture_output=True)
    return Path(f"{path}.pub").read_text().strip()


def start_sshd(lab: Lab, host: Host, workdir: Path, authorized_key: str) -> str:
    """Start sshd inside ``host.ns`` on its lab address; return its public host key line."""
    workdir.mkdir(parents=True)
    host_key = workdir / "ssh_host_ed25519_key"
    public = keygen(host_key)
    (workdir / "authorized_keys").write_text(authorized_key + "\n")
    config = workdir / "sshd_config"
    config.write_text(f"""\
ListenAddress {host.address}:22
HostKey {host_key}
PidFile {workdir / 'sshd.pid'}
AuthorizedKeysFile {workdir / 'authorized_keys'}
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
# the keys live under /tmp, which is world-writable: sshd's ownership check would refuse them
StrictModes no
MaxSessions 50
MaxStartups 50:30:100
Subsystem sftp internal-sftp
LogLevel INFO
""")
    # sshd insists on its privilege-separation directory (the Debian service creates it).
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    host.sshd = host.ns.start(["/usr/sbin/sshd", "-D", "-e", "-f", str(config)], name="sshd",
                              ready=lambda: call_in_namespace(host.ns, lambda: _port_open(host.address, 22)))
    key_type, key_data = public.split()[:2]
    return f"{host.address} {key_type} {key_data}"


@dataclasses.dataclass
class Recap:
    ok: int
    changed: int
    unreachable: int
    failed: int
    skipped: int


@dataclasses.dataclass
class Run:
    returncode: int
    output: str
    recap: dict[str, Recap]

    def changed(self) -> dict[str, int]:
        return {host: r.changed for host, r in self.recap.items()}


_RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)", re.M)


def parse_recap(output: str) -> dict[str, Recap]:
    tail = output.rsplit("PLAY RECAP", 1)[-1] if "PLAY RECAP" in output else ""
    return {m.group(1): Recap(*(int(m.group(i)) for i in range(2, 7))) for m in _RECAP.finditer(tail)}


def ansible_env(workdir: Path) -> dict[str, str]:
    """The environment every Ansible command of the tests runs with: its files stay under ``workdir``."""
    return {
        **os.environ,
        "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg"),
        "ANSIBLE_HOME": str(workdir / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(workdir / "ansible-local"),
        # tasks delegated to localhost (packing wheels) use this; the fleet's hosts their host var
        "ANSIBLE_REMOTE_TEMP": str(workdir / "ansible-remote-localhost"),
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(workdir / "cp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "NO_COLOR": "1",
        "ANSIBLE_DEPRECATION_WARNINGS": "0",
        "PYTHONUNBUFFERED": "1",
    }


class Controller:
    """Runs ansible-playbook inside the controller namespace with the fleet's inventory."""

    def __init__(self, ns: Namespace, workdir: Path, inventories: list[Path], vault_password_file: Path,
                 extra_vars: Path) -> None:
        self.ns = ns
        self.workdir = workdir
        self.inventories = inventories
        # play-level settings (serial) are not read from group_vars; the operator passes them with -e
        self.extra_vars = extra_vars
        self.env = {**ansible_env(workdir), "ANSIBLE_VAULT_PASSWORD_FILE": str(vault_password_file)}

    def playbook(self, playbook: str, *args: str, timeout: float = 300, inventories: list[Path] | None = None) -> Run:
        argv = [str(VENV_BIN / "ansible-playbook"),
                *(a for inv in inventories or self.inventories for a in ("-i", str(inv))),
                str(ANSIBLE_DIR / playbook), "-e", f"@{self.extra_vars}", *args]
        proc = subprocess.run(self.ns.argv(argv), capture_output=True, text=True, timeout=timeout, env=self.env,
                              cwd=ANSIBLE_DIR)
        output = proc.stdout + proc.stderr
        (self.workdir / f"{playbook}-{len(list(self.workdir.glob('*.log')))}.log").write_text(
            shlex.join(argv) + "\n" + output)
        return Run(proc.returncode, output, parse_recap(proc.stdout))


def parse_unit(text: str, sections: dict[str, dict[str, str]] | None = None) -> dict[str, dict[str, str]]:
    """A systemd unit as {section: {key: value}} (later keys win, as systemd reads them: a drop-in's
    ``ExecStart=`` then ``ExecStart=...`` leaves the second). ``sections``: a unit read so far."""
    sections = {} if sections is None else sections
    current: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
        elif "=" in line:
            key, value = line.split("=", 1)
            current[key.strip()] = value.strip()
    return sections


def read_unit(path: Path) -> dict[str, dict[str, str]]:
    """The unit at ``path`` with its drop-ins (``<unit>.d/*.conf``, in name order), as systemd merges them."""
    sections = parse_unit(path.read_text())
    for drop_in in sorted(path.with_name(path.name + ".d").glob("*.conf")):
        parse_unit(drop_in.read_text(), sections)
    return sections


def unit_argv(unit: dict[str, dict[str, str]]) -> list[str]:
    """The unit's ExecStart run the way systemd would: as User/Group, only the unit's capabilities.

    setpriv (util-linux) applies User=, Group=, AmbientCapabilities=, CapabilityBoundingSet=
    and NoNewPrivileges= — the parts of the unit that decide what the agent may do.
    """
    service = unit["Service"]

    def caps(key: str) -> str:
        names = [c.lower().removeprefix("cap_") for c in service.get(key, "").split()]
        return ",".join(["-all", *(f"+{n}" for n in names)])

    argv = ["setpriv", f"--reuid={service['User']}", f"--regid={service['Group']}", "--init-groups",
            f"--inh-caps={caps('AmbientCapabilities')}", f"--ambient-caps={caps('AmbientCapabilities')}",
            f"--bounding-set={caps('CapabilityBoundingSet')}"]
    if service.get("NoNewPrivileges") in {"yes", "true", "1"}:
        argv.append("--no-new-privs")
    return [*argv, "--", *shlex.split(service["ExecStart"])]


def unit_env(unit: dict[str, dict[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in shlex.split(unit["Service"].get("Environment", "")):
        key, _, value = item.partition("=")
        env[key] = value
    return env


def start_from_unit(host: Host, unit_path: Path, name: str, ready_url: str | None = None) -> Proc:
    """Start what ``unit_path`` describes inside the host's namespace, as systemd would (see unit_argv)."""
    unit = read_unit(unit_path)
    ready = None
    if ready_url is not None:
        url = ready_url
        ready = lambda: call_in_namespace(host.ns, lambda: http_ok(url))  # noqa: E731
    return host.ns.start(unit_argv(unit), name=name, env=unit_env(unit), ready=ready, ready_timeout=60)


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status) == 200
    except OSError:
        return False


def get_json(ns: Namespace, url: str, token: str | None = None) -> Any:
    """GET ``url`` from inside ``ns`` (with ``token`` as the bearer: the collector's reads need one)."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})

    def fetch() -> Any:
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())
    return call_in_namespace(ns, fetch)


def get_text(ns: Namespace, url: str, token: str | None = None) -> str:
    """GET ``url`` from inside ``ns`` as text (``/metrics``)."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})

    def fetch() -> str:
        with urllib.request.urlopen(request, timeout=5) as response:
            return str(response.read().decode())
    return call_in_namespace(ns, fetch)


def proc_status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in lines)}


def post_json(ns: Namespace, url: str, body: Any, token: str | None = None) -> int:
    """POST ``body`` as JSON from inside ``ns``; return the status code."""
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")

    def send() -> int:
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)
    return call_in_namespace(ns, send)
