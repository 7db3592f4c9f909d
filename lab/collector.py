"""Start the real collector (``netmon collector serve`` under uvicorn) for tests, benchmarks, the demo.

    registry = write_registry(tmp / "sites.yaml", [lab_site("26734")])
    config = write_central(tmp, registry, influx=influx_settings(server, "v1"))
    with start_collector(config) as collector:          # free port, waits for /healthz
        token = collector.enrol("26734")                 # `netmon sites enrol --json`
        status, body = collector.post_batch(token, sample_batch("26734", range(1, 101)))
        stats = collector.get_json("/api/v1/stats")      # with a viewer token issued on first use

Given a lab ``Namespace`` the collector runs inside it (and the lab stops it too); its
address must then be one the namespace owns. ``kill()`` is ``kill -9``; ``restart()`` starts
it again on the same port and state.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

import netmon
from netmon.lab.netns import LabError, Namespace, Proc, call_in_namespace
from netmon.lab.services import Server, listens_on
from netmon.lab.topology import free_port

# the folder holding the ``netmon`` package: the checkout, or site-packages when installed
REPO_ROOT = Path(netmon.__file__).resolve().parents[1]


def netmon_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1", **extra}


def netmon_argv(*args: str) -> list[str]:
    """The CLI as a subprocess of this interpreter; with ``netmon_env`` it imports this checkout."""
    return [sys.executable, "-m", "netmon", *args]


def lab_site(site_id: str, province: str = "Đồng Nai", district: str | None = "Biên Hòa", **extra: Any
             ) -> dict[str, Any]:
    """A registry entry with a leased line (100 Mbit/s) and a data-network link (200 Mbit/s)."""
    site = {"id": site_id, "name": f"Xã {site_id}", "province": province,
            "links": [{"name": "leased", "kind": "leased_line", "contracted_mbps": 100},
                      {"name": "tslcd", "kind": "data_network", "contracted_mbps": 200}], **extra}
    if district:
        site["district"] = district
    return site


def write_registry(path: Path, sites: Iterable[dict[str, Any]], provinces: Iterable[dict[str, Any]] = ()) -> Path:
    path.write_text(yaml.safe_dump({"provinces": list(provinces), "sites": list(sites)}, allow_unicode=True),
                    encoding="utf-8")
    return path


def influx_settings(server: Server, api: str, **extra: Any) -> dict[str, Any]:
    """The ``influxdb:`` section for a lab server: v1 (InfluxDB 1.x) or v2 (VictoriaMetrics et al.)."""
    if api == "v1":
        return {"url": server.url, "api": "v1", "database": "netmon", "flush_interval": "200ms", **extra}
    return {"url": server.url, "api": "v2", "org": "noc", "bucket": "netmon", "flush_interval": "200ms", **extra}


def write_central(workdir: Path, registry: Path, *, host: str = "127.0.0.1", port: int | None = None,
                  influx: dict[str, Any] | list[dict[str, Any]] | None = None, tls: tuple[Path, Path] | None = None,
                  viewer_address: bool = False, **sections: Any) -> Path:
    """central.yaml in ``workdir``; ``influx``: one ``influxdb:`` mapping or a list of them (several TSDB
    targets); ``tls``: (certificate, key) files to serve HTTPS (netmon.lab.certs); ``viewer_address``: a
    second port for the read routes (``listen.viewer``)."""
    listen: dict[str, Any] = {"host": host, "port": port or free_port(host)}
    if viewer_address:
        listen["viewer"] = {"host": host, "port": free_port(host)}
    if tls is not None:
        listen.update(tls_cert_file=str(tls[0]), tls_key_file=str(tls[1]))
    config: dict[str, Any] = {"listen": listen, "state_dir": str(workdir / "state"), "registry": str(registry),
                              **sections}
    if influx is not None:
        config["influxdb"] = influx
    path = workdir / "central.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def sample_batch(site_id: str, seqs: Iterable[int], *, agent_id: str | None = None, link: str = "leased",
                 target: str = "isp-edge", time_ns: int | None = None, step_ns: int = 1_000_000_000,
                 dropped_total: int = 0) -> dict[str, Any]:
    """A valid batch of icmp results, one per seq, ``step_ns`` apart (distinct timestamps per series)."""
    agent = agent_id or f"{site_id}-agent"
    base = time_ns if time_ns is not None else time.time_ns() - 3600 * 10**9
    results = [{"site_id": site_id, "agent_id": agent, "seq": seq, "probe": "icmp", "link": link,
                "link_kind": "leased_line", "target": target, "time_ns": base + seq * step_ns, "status": "ok",
                "values": {"rtt_avg_seconds": 0.010 + (seq % 10) / 1000, "loss_ratio": 0.0, "sent_packets": 5.0,
                           "received_packets": 5.0}} for seq in seqs]
    return {"site_id": site_id, "agent_id": agent, "dropped_total": dropped_total, "results": results}


@dataclasses.dataclass
class CollectorProcess:
    config_path: Path
    host: str
    port: int
    proc: Proc
    ns: Namespace | None = None
    env: dict[str, str] | None = None
    # the CA that issued the collector's certificate when it serves HTTPS
    ca_file: Path | None = None
    tls: bool = False
    # tokens issued through the CLI by ``role_token`` (kept across restarts: sites.db keeps them)
    role_tokens: dict[str, str] = dataclasses.field(default_factory=dict)
    # listen.viewer's port, when the config splits the agents' address from the viewer one
    viewer_port: int | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    @property
    def viewer_url(self) -> str:
        """Where people and Prometheus read: ``listen.viewer`` when set, else the agents' address."""
        if self.viewer_port is None:
            return self.url
        return self.url.rsplit(":", 1)[0] + f":{self.viewer_port}"

    @property
    def state_dir(self) -> Path:
        return Path(yaml.safe_load(self.config_path.read_text())["state_dir"])

    def __enter__(self) -> CollectorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.proc.stop()

    def kill(self) -> None:
        """``kill -9``: no shutdown, no flush."""
        self.proc.kill()

    def reload(self) -> None:
        self.proc.signal(signal.SIGHUP)

    def restart(self) -> CollectorProcess:
        self.stop()
        fresh = start_collector(self.config_path, ns=self.ns, env=self.env, ca_file=self.ca_file)
        self.proc = fresh.proc
        return self

    def enrol(self, site_id: str, rotate: bool = False, agent_id: str | None = None) -> str:
        return enrol(self.config_path, site_id, rotate=rotate, env=self.env, agent_id=agent_id)

    def role_token(self, role: str = "viewer") -> str:
        """A token of ``role`` (viewer, operator, admin), issued once per handle by `netmon tokens issue`."""
        if role not in self.role_tokens:
            # one name per collector: with tokens in a shared PostgreSQL, issuing "lab-viewer" again
            # for a second collector would rotate (revoke) the first one's
            name = f"lab-{role}-{hashlib.sha256(str(self.config_path).encode()).hexdigest()[:8]}"
            self.role_tokens[role] = issue_token(self.config_path, name, role, env=self.env)
        return self.role_tokens[role]

    def read_headers(self, role: str = "viewer") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.role_token(role)}"}

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
                timeout: float = 10.0, viewer: bool | None = None) -> tuple[int, dict[str, str], bytes]:
        """One HTTP request; ``viewer``: to the viewer address (default: for anything but the agent routes)."""
        context = ssl.create_default_context(cafile=str(self.ca_file)) if self.tls and self.ca_file else None
        to_viewer = viewer if viewer is not None else not path.startswith(("/api/v1/results", "/api/v1/agents/"))
        base = self.viewer_url if to_viewer else self.url

        def call() -> tuple[int, dict[str, str], bytes]:
            req = urllib.request.Request(base + path, data=body, method=method, headers=headers or {})
            try:
                with urllib.request.urlopen(req, timeout=timeout, context=context) as response:
                    return int(response.status), dict(response.headers), response.read()
            except urllib.error.HTTPError as exc:
                return exc.code, dict(exc.headers), exc.read()
        return call_in_namespace(self.ns, call) if self.ns is not None else call()

    def read(self, path: str, role: str = "viewer", timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
        """GET ``path`` with a token of ``role`` (status, headers, body)."""
        return self.request("GET", path, headers=self.read_headers(role), timeout=timeout)

    def get_json(self, path: str, token: str | None = None) -> Any:
        """GET with ``token``, by default a viewer token."""
        status, _, body = self.request("GET", path, headers={"Authorization": f"Bearer {token or self.role_token()}"})
        if status != 200:
            raise LabError(f"GET {path} answered {status}: {body[:300]!r}")
        return json.loads(body)

    def post_batch(self, token: str | None, batch: dict[str, Any] | bytes, *, gzipped: bool = False,
                   headers: dict[str, str] | None = None) -> tuple[int, Any]:
        raw = batch if isinstance(batch, bytes) else json.dumps(batch).encode()
        sent = {"Content-Type": "application/json", **(headers or {})}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        if gzipped:
            raw = gzip.compress(raw)
            sent["Content-Encoding"] = "gzip"
        status, _, body = self.request("POST", "/api/v1/results", raw, sent)
        try:
            return status, json.loads(body)
        except ValueError:
            return status, body.decode(errors="replace")


def _healthy(url: str, ca_file: Path | None = None) -> bool:
    context = ssl.create_default_context(cafile=str(ca_file)) if url.startswith("https") and ca_file else None
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=1, context=context) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def start_collector(config_path: Path, *, ns: Namespace | None = None, env: dict[str, str] | None = None,
                    ca_file: Path | None = None, ready_timeout: float = 30.0) -> CollectorProcess:
    """Start the collector of ``config_path`` and wait for ``/healthz`` (``ca_file`` when it serves HTTPS)."""
    listen = yaml.safe_load(config_path.read_text())["listen"]
    argv = netmon_argv("collector", "serve", "--config", str(config_path))
    full_env = env or netmon_env()
    handle = CollectorProcess(config_path, listen["host"], int(listen["port"]), None, ns, env,  # type: ignore[arg-type]
                              ca_file=ca_file, tls=bool(listen.get("tls_cert_file")),
                              viewer_port=int(listen["viewer"]["port"]) if listen.get("viewer") else None)
    if ns is not None:
        ready = lambda: call_in_namespace(ns, lambda: _healthy(handle.url, ca_file))  # noqa: E731
        handle.proc = ns.start(argv, name="collector", env=full_env, ready=ready, ready_timeout=ready_timeout)
        return handle
    log_path = config_path.parent / "collector.log"
    with open(log_path, "ab") as log_file:
        popen = subprocess.Popen(argv, stdout=log_file, stderr=subprocess.STDOUT, env=full_env,
                                 start_new_session=True)
    handle.proc = Proc("collector", popen, log_path)
    deadline = time.monotonic() + ready_timeout
    while not _healthy(handle.url, ca_file):
        if not handle.proc.alive() or time.monotonic() > deadline:
            handle.proc.kill()
            raise LabError(f"collector did not become ready (exit {popen.returncode}):\n{handle.proc.log()[-3000:]}")
        time.sleep(0.05)
    if not listens_on(handle.proc.pid, handle.port):  # /healthz answered, but from another process
        handle.proc.kill()
        raise LabError(f"port {handle.port} was taken by another process; the collector could not listen")
    return handle


def enrol(config_path: Path, site_id: str, *, rotate: bool = False, env: dict[str, str] | None = None,
          agent_id: str | None = None) -> str:
    """A fresh token for ``site_id`` through the real CLI (``netmon sites enrol --json``)."""
    argv = netmon_argv("sites", "enrol", site_id, "--json", "--config", str(config_path))
    argv += (["--rotate"] if rotate else []) + (["--agent-id", agent_id] if agent_id else [])
    out = subprocess.run(argv, capture_output=True, text=True, env=env or netmon_env(), timeout=60)
    if out.returncode != 0:
        raise LabError(f"netmon sites enrol {site_id} failed: {out.stderr.strip()}")
    return str(json.loads(out.stdout)["token"])


def issue_token(config_path: Path, name: str, role: str, *, env: dict[str, str] | None = None) -> str:
    """A viewer, operator or admin token through the real CLI (``netmon tokens issue --json``)."""
    argv = netmon_argv("tokens", "issue", name, "--role", role, "--rotate", "--json", "--config", str(config_path))
    out = subprocess.run(argv, capture_output=True, text=True, env=env or netmon_env(), timeout=60)
    if out.returncode != 0:
        raise LabError(f"netmon tokens issue {name} failed: {out.stderr.strip()}")
    return str(json.loads(out.stdout)["token"])
