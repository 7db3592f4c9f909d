"""Debian's ``iperf3 -s`` inside a lab namespace (the throughput probe's server, as perfSONAR runs it)."""

from __future__ import annotations

import dataclasses
import json
import socket
from collections.abc import Sequence
from typing import Any

from netmon.lab.netns import LabError, Namespace, Proc, debian_binary

IPERF3 = "iperf3"


def tcp_port_open(address: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            sock.connect((address, port))
        return True
    except OSError:
        return False


def _listening(ns: Namespace, port: int) -> bool:
    out = ns.run("ss", "-H", "-ltn", f"sport = :{port}", check=False).stdout
    return bool(out.strip())


@dataclasses.dataclass
class IperfServer:
    ns: Namespace
    address: str
    port: int
    proc: Proc

    def stop(self) -> None:
        self.proc.stop()


def start_iperf3(ns: Namespace, address: str, port: int = 5201, ready_timeout: float = 10.0) -> IperfServer:
    """``iperf3 -s -B address -p port`` in ``ns``; returns once the port accepts connections.

    Readiness is the listening socket as ``ss`` sees it, not a connect: iperf3 treats a bare
    connect as an aborted test, and a real client arriving while it resets from that was
    answered with "connection reset by peer" on a loaded machine.
    """
    debian_binary(IPERF3, package="iperf3")
    proc = ns.start([IPERF3, "-s", "-B", address, "-p", str(port)], name=f"iperf3-{port}",
                    ready=lambda: _listening(ns, port),
                    ready_timeout=ready_timeout)
    return IperfServer(ns=ns, address=address, port=port, proc=proc)


def iperf3_client(ns: Namespace, server: str, port: int = 5201, *, seconds: float = 3.0, omit_seconds: int = 1,
                  reverse: bool = False, congestion: str | None = "cubic", udp_bitrate: str | None = None,
                  length: int | None = None, extra: Sequence[str] = ()) -> dict[str, Any]:
    """Run iperf3's own client in ``ns`` and return its JSON report (the reference the tests compare with)."""
    argv = [IPERF3, "-c", server, "-p", str(port), "-t", f"{seconds:g}", "-J"]
    if omit_seconds:
        argv += ["-O", str(omit_seconds)]
    if reverse:
        argv.append("-R")
    if udp_bitrate is not None:
        argv += ["-u", "-b", udp_bitrate]
    elif congestion:
        argv += ["-C", congestion]
    if length is not None:
        argv += ["-l", str(length)]
    argv += list(extra)
    proc = ns.run(*argv, check=False, timeout=seconds + omit_seconds + 30)
    try:
        report: dict[str, Any] = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise LabError(f"iperf3 client gave no JSON ({proc.returncode}): {proc.stderr or proc.stdout}") from exc
    if "error" in report:
        raise LabError(f"iperf3 client failed: {report['error']}")
    return report


def received_bps(report: dict[str, Any]) -> float:
    """Receiver-side bits per second of a TCP iperf3 JSON report (either direction)."""
    return float(report["end"]["sum_received"]["bits_per_second"])
