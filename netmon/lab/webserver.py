"""A stand-in for a shared platform's web front end, run inside a lab namespace.

Paths (GET): ``/`` answers 200; ``/delay/<ms>`` waits that long before answering (server
think time); ``/status/<code>`` answers that status; ``/bytes/<n>`` sends an n-byte body.
Optional TLS with a certificate from ``netmon.lab.certs``. Runs as its own process::

    python -m netmon.lab.webserver --host 10.77.2.2 --port 8443 [--cert C --key K]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import socket
import ssl
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from netmon.lab.netns import Namespace, Proc, call_in_namespace

_REPO_ROOT = Path(__file__).resolve().parents[2]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "netmon-lab-platform/1"

    def do_GET(self) -> None:
        parts = [p for p in self.path.split("?")[0].split("/") if p]
        status, body = 200, b"ok\n"
        if len(parts) == 2 and parts[0] == "delay" and parts[1].isdigit():
            time.sleep(int(parts[1]) / 1000)
        elif len(parts) == 2 and parts[0] == "status" and parts[1].isdigit():
            status, body = int(parts[1]), f"status {parts[1]}\n".encode()
        elif len(parts) == 2 and parts[0] == "bytes" and parts[1].isdigit():
            body = b"x" * min(int(parts[1]), 64 * 2**20)
        elif parts:
            status, body = 404, b"not found\n"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"{self.address_string()} {format % args}\n")


def serve(host: str, port: int, cert: str | None, key: str | None) -> None:
    server_class = ThreadingHTTPServer
    if ":" in host:
        class _V6(ThreadingHTTPServer):
            address_family = socket.AF_INET6
        server_class = _V6
    server = server_class((host, port), _Handler)
    if cert and key:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        # handshake in the handler thread (on first read), so one silent client cannot stall accept()
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    server.serve_forever()


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclasses.dataclass
class WebServer:
    proc: Proc
    host: str
    port: int
    tls: bool

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    def stop(self) -> None:
        self.proc.stop()


def start_webserver(ns: Namespace, host: str, port: int, cert: Path | None = None,
                    key: Path | None = None) -> WebServer:
    argv = [sys.executable, "-m", "netmon.lab.webserver", "--host", host, "--port", str(port)]
    if cert and key:
        argv += ["--cert", str(cert), "--key", str(key)]
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(_REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    proc = ns.start(argv, name=f"web-{port}", env=env,
                    ready=lambda: call_in_namespace(ns, lambda: _port_open(host, port)))
    return WebServer(proc=proc, host=host, port=port, tls=cert is not None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args()
    serve(args.host, args.port, args.cert, args.key)


if __name__ == "__main__":
    main()
