"""A stand-in for the provincial shared platforms' web front ends: for the tests, benchmarks and demo.

Paths (GET): ``/delay/<ms>`` waits that long before answering (server think time);
``/status/<code>`` answers that status; ``/bytes/<n>`` sends an n-byte body; any other path
(``/``, ``/dvc/``, ``/qlvb/`` ...) answers 200 with a small page. Optional TLS with a certificate
from ``netmon.lab.certs``. An optional control file (JSON, re-read when it changes) makes it slow
or failing for chosen client subnets, the way a platform that "freezes" for some communes looks
from those communes::

    {"slow": {"10.103.": 2.5}, "fail": {"10.104.": 503}}

Started with ``start_platforms`` (through ``netmon.lab.services.spawn``, inside a lab namespace or
on loopback) or as its own process::

    python -m netmon.lab.platforms --host 10.78.0.2 --port 8081 [--cert C --key K] [--control FILE]

It binds only to the address given (a lab namespace address or loopback).
"""

from __future__ import annotations

import argparse
import json
import socket
import ssl
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from netmon.lab.collector import netmon_env
from netmon.lab.iperf import tcp_port_open
from netmon.lab.netns import Namespace, call_in_namespace
from netmon.lab.services import Server, spawn

MAX_DELAY_SECONDS = 30.0


class Control:
    """The control file's rules; the last good ones are kept while a writer is mid-update."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.mtime = 0.0
        self.data: dict[str, Any] = {}

    def current(self) -> dict[str, Any]:
        if self.path is None or not self.path.exists():
            return {}
        mtime = self.path.stat().st_mtime
        if mtime != self.mtime:
            try:
                self.data = json.loads(self.path.read_text())
                self.mtime = mtime
            except (OSError, ValueError):
                pass
        return self.data

    def for_client(self, client: str) -> tuple[float, int | None]:
        """(delay in seconds, forced status or None) for a client address."""
        rules = self.current()
        delay = _match(rules.get("slow", {}), client)
        status = _match(rules.get("fail", {}), client)
        return min(float(delay or 0), MAX_DELAY_SECONDS), int(status) if status else None


def _match(rules: dict[str, Any], client: str) -> Any:
    return next((value for prefix, value in rules.items() if client.startswith(prefix)), None)


def _answer(path: str) -> tuple[int, bytes]:
    parts = [p for p in path.split("?")[0].split("/") if p]
    if len(parts) == 2 and parts[1].isdigit():
        number = int(parts[1])
        if parts[0] == "delay":
            time.sleep(min(number / 1000, MAX_DELAY_SECONDS))
            return 200, b"ok\n"
        if parts[0] == "status":
            return number, f"status {number}\n".encode()
        if parts[0] == "bytes":
            return 200, b"x" * min(number, 64 * 2**20)
    return 200, f"<html><body>{path} ok</body></html>\n".encode()


def make_handler(control: Control) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "netmon-lab-platform/1"

        def do_GET(self) -> None:
            delay, forced = control.for_client(self.client_address[0])
            if delay:
                time.sleep(delay)
            status, body = _answer(self.path)
            status = forced or status
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    return Handler


def serve(host: str, port: int, cert: str | None = None, key: str | None = None, control: Path | None = None) -> None:
    class _Server(ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        daemon_threads = True

    server = _Server((host, port), make_handler(Control(control)))
    if cert and key:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        # handshake in the handler thread (on first read), so one silent client cannot stall accept()
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    server.serve_forever()


def start_platforms(host: str, port: int, data_dir: Path, *, ns: Namespace | None = None, cert: Path | None = None,
                    key: Path | None = None, control: Path | None = None) -> Server:
    """Start the stand-in (inside ``ns`` when given) and wait until it accepts connections.
    ``data_dir`` holds its log when it runs outside a lab (a lab keeps its own logs)."""
    argv = [sys.executable, "-m", "netmon.lab.platforms", "--host", host, "--port", str(port)]
    if cert and key:
        argv += ["--cert", str(cert), "--key", str(key)]
    if control is not None:
        argv += ["--control", str(control)]
    probe_host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    if ns is None:
        ready = lambda: tcp_port_open(probe_host, port)  # noqa: E731
    else:
        ready = lambda: call_in_namespace(ns, lambda: tcp_port_open(probe_host, port))  # noqa: E731
    data_dir.mkdir(parents=True, exist_ok=True)
    proc = spawn(argv, data_dir / f"platforms-{port}.log", ns=ns, ready=ready, name=f"platforms-{port}",
                 env=netmon_env())
    return Server(proc=proc, host=host, port=port, data_dir=data_dir, scheme="https" if cert else "http")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--control", type=Path)
    args = parser.parse_args()
    serve(args.host, args.port, args.cert, args.key, args.control)


if __name__ == "__main__":
    main()
