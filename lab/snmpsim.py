"""snmpsim (PyPI ``snmpsim``) serving recorded walks of real devices (PyPI ``snmpsim-data``).

One process serves every recording of its data directory; SNMPv1/v2c choose one by
community (the file's name without ``.snmprec``), SNMPv3 by context name (the same). The
recordings are static snapshots; ``with_rates`` rewrites an interface's octet counters and
sysUpTime to snmpsim's ``numeric`` variation, so they grow at a known rate.

Recordings are served trimmed to the subtrees snmp_if reads (system, interfaces, ifMIB):
snmpsim indexes every line of every file before it answers, which for the whole package
takes minutes and half a gigabyte of index for one large switch alone.

The simulator listens on loopback only, on a free port, with its data and index cache in
a temp dir the caller owns; ``SnmpSim.stop`` (or the context manager) always ends it.
"""

from __future__ import annotations

import bz2
import dataclasses
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from netmon.lab.netns import LabError
from netmon.lab.topology import free_port

IF_TABLE = "1.3.6.1.2.1.2.2.1."
IF_X_TABLE = "1.3.6.1.2.1.31.1.1.1."
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
_TEXT_COLUMNS = {IF_TABLE + "2.": "descr", IF_X_TABLE + "1.": "name", IF_X_TABLE + "18.": "alias"}
_INT_COLUMNS = {IF_TABLE + "8.": "oper", IF_TABLE + "5.": "speed", IF_TABLE + "10.": "in_octets",
                IF_X_TABLE + "15.": "high_speed"}
DEVICE_KINDS = ("router", "switch", "firewall")
SERVED_SUBTREES = ("1.3.6.1.2.1.1.", "1.3.6.1.2.1.2.", "1.3.6.1.2.1.31.")
V3_USER, V3_AUTH_KEY, V3_PRIV_KEY = "netmon-sim", "netmon-sim-auth", "netmon-sim-priv"


def _fields(line: str) -> tuple[str, str, str]:
    """``oid|tag|value`` (tag may name a variation module: ``65:numeric``)."""
    oid, tag, value = [*line.split("|", 2), "", ""][:3]
    return oid, tag, value


def _value(tag: str, value: str) -> str:
    if tag.startswith("4x"):
        return bytes.fromhex(value).decode("utf-8", "replace").rstrip("\x00 \t\r\n")
    return value.rstrip("\x00 \t\r\n")


@dataclasses.dataclass
class Recording:
    """One .snmprec file: ``community`` is the name it is served under."""

    community: str
    source: Path

    def lines(self) -> list[str]:
        """The recorded lines under ``SERVED_SUBTREES``, in the file's (OID) order."""
        opener = bz2.open if self.source.suffix == ".bz2" else open
        with opener(self.source, "rt", encoding="utf-8", errors="replace") as handle:
            return [line.rstrip("\n") for line in handle if line.startswith(SERVED_SUBTREES)]

    def interfaces(self) -> dict[int, dict[str, str]]:
        """ifIndex -> {descr, name, alias, oper, speed, in_octets, high_speed} as recorded (the columns present)."""
        rows: dict[int, dict[str, str]] = {}
        for line in self.lines():
            oid, tag, value = _fields(line)
            for prefix, field in (*_TEXT_COLUMNS.items(), *_INT_COLUMNS.items()):
                if oid.startswith(prefix) and oid[len(prefix):].isdigit():
                    rows.setdefault(int(oid[len(prefix):]), {})[field] = _value(tag, value)
            if oid.startswith(IF_TABLE) and oid[len(IF_TABLE):].split(".")[0] in {"1", "10"}:
                rows.setdefault(int(oid.rsplit(".", 1)[1]), {})
        return rows


def device_recordings() -> list[Recording]:
    """Every router, switch and firewall recording in snmpsim-data with at least one ifTable row."""
    import snmpsim_data

    base = Path(snmpsim_data.__file__).parent / "data" / "network"
    found = []
    for kind in DEVICE_KINDS:
        for path in sorted((base / kind).glob("*.snmprec*")):
            stem = path.name.split(".snmprec")[0]
            recording = Recording(f"{kind}-{stem}", path)
            if any(line.startswith(IF_TABLE) for line in recording.lines()):
                found.append(recording)
    return found


def with_rates(recording: Recording, community: str, if_index: int, in_bps: float, out_bps: float,
               counters: str = "64", wrap_at_epoch: float | None = None) -> list[str]:
    """The recording's lines with sysUpTime advancing and one interface's octet counters growing
    at ``in_bps``/``out_bps`` (snmpsim ``numeric``). ``counters`` "64" rewrites ifHCIn/OutOctets,
    "32" ifIn/OutOctets. With ``wrap_at_epoch`` the 32-bit in-counter follows the wall clock
    (``atime``) and wraps at that Unix time, then every 2^32 octets."""
    columns = {"64": (IF_X_TABLE + "6", IF_X_TABLE + "10", "70"), "32": (IF_TABLE + "10", IF_TABLE + "16", "65")}
    in_oid, out_oid, tag = columns[counters]
    modulus = 2**64 - 1 if counters == "64" else 2**32 - 1  # snmpsim wraps modulo its "max"
    wanted = {f"{in_oid}.{if_index}": in_bps / 8, f"{out_oid}.{if_index}": out_bps / 8}
    out: list[str] = []
    for line in recording.lines():
        oid, _, value = _fields(line)
        if oid == SYS_UPTIME:
            start = value if value.isdigit() else "100000"
            line = f"{oid}|67:numeric|rate=100,initial={start}"
        elif oid in wanted:
            options = f"rate={wanted.pop(oid)!r},wrap=1"
            if wrap_at_epoch is not None and oid.startswith(in_oid):
                # v = (initial + rate * unix_time) mod max: choose initial so v passes 0 at wrap_at_epoch
                initial = int(-in_bps / 8 * wrap_at_epoch) % modulus
                options += f",atime=1,initial={initial}"
            line = f"{oid}|{tag}:numeric|{options}"
        out.append(line)
    if wanted:
        raise LabError(f"{recording.community} has no {', '.join(wanted)} to vary")
    return out


class SnmpSim:
    """``snmpsim-command-responder`` on 127.0.0.1:<free port> over ``workdir/data``."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def add(self, community: str, lines: Iterable[str]) -> None:
        (self.data_dir / f"{community}.snmprec").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def add_recording(self, recording: Recording) -> None:
        self.add(recording.community, recording.lines())

    def argv(self) -> list[str]:
        binary = Path(sys.executable).parent / "snmpsim-command-responder"
        return [str(binary), f"--data-dir={self.data_dir}", f"--cache-dir={self.workdir / 'cache'}",
                f"--agent-udpv4-endpoint=127.0.0.1:{self.port}", "--logging-method=null",
                f"--v3-user={V3_USER}", f"--v3-auth-key={V3_AUTH_KEY}", "--v3-auth-proto=SHA",
                f"--v3-priv-key={V3_PRIV_KEY}", "--v3-priv-proto=AES"]

    def answers(self, community: str) -> bool:
        proc = subprocess.run(["snmpget", "-v2c", "-c", community, "-t", "0.5", "-r", "0", "-On",
                               f"127.0.0.1:{self.port}", SYS_UPTIME], capture_output=True, text=True, timeout=5)
        return proc.returncode == 0 and "Timeticks" in proc.stdout

    def start(self, probe_community: str, ready_timeout: float = 120.0) -> SnmpSim:
        if shutil.which("snmpget") is None:
            raise LabError("snmpget not found: install Debian's 'snmp' (scripts/install-system-deps.sh)")
        self.port = free_port(kind=2)  # SOCK_DGRAM
        log = open(self.workdir / "snmpsim.log", "wb")  # noqa: SIM115 - the child's for its lifetime
        # As root snmpsim insists on dropping to another user, who could not read an interpreter
        # installed under /root; it listens on loopback only, over files of this temp dir.
        env = {**os.environ, "SNMPSIM_ALLOW_ROOT": "true"}
        self.proc = subprocess.Popen(self.argv(), stdout=log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        log.close()
        deadline = time.monotonic() + ready_timeout  # it indexes every recording before answering
        while not self.answers(probe_community):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                text = (self.workdir / "snmpsim.log").read_text(errors="replace")[-2000:]
                self.stop()
                raise LabError(f"snmpsim did not start answering on 127.0.0.1:{self.port}:\n{text}")
            time.sleep(0.2)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def __enter__(self) -> SnmpSim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
