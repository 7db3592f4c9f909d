"""A stand-in for the provincial shared platforms, for the demo and tests.

Serves ``/<platform>/`` for each platform name with 200 and a small page. A control file
(JSON, re-read on change) makes it slow or failing for chosen client subnets, the way a
platform that "freezes" for some communes looks from those communes:

    {"slow": {"10.103.": 2.5}, "fail": {"10.104.": 503}}

Run: ``python -m netmon.lab.platforms --host 10.78.0.2 --port 8081 --control FILE``.
Binds only to the address given (a lab namespace address or loopback).
"""

from __future__ import annotations

import argparse
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class _Control:
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
                pass  # keep the last good control while the writer is mid-update
        return self.data


def _match(rules: dict[str, Any], client: str) -> Any:
    return next((value for prefix, value in rules.items() if client.startswith(prefix)), None)


def make_handler(control: _Control) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            client = self.client_address[0]
            rules = control.current()
            delay = _match(rules.get("slow", {}), client)
            if delay:
                time.sleep(min(float(delay), 30.0))
            status = int(_match(rules.get("fail", {}), client) or 200)
            body = f"<html><body>{self.path} ok</body></html>".encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--control", type=Path)
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), make_handler(_Control(args.control)))
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
