"""Start real storage servers on free ports in temp dirs: InfluxDB 1.x and VictoriaMetrics.

Used by tests, benchmarks and the demo. Each returns a ``Proc`` whose ``stop()`` ends it;
given a lab ``Namespace`` the server runs inside it (and the lab stops it), otherwise in
the root namespace on loopback.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from netmon.lab.netns import LabError, Namespace, Proc, call_in_namespace, debian_binary
from netmon.lab.topology import free_port


def spawn(argv: Sequence[str], log_path: Path, ns: Namespace | None = None, ready: Callable[[], bool] | None = None,
          ready_timeout: float = 20.0, name: str | None = None, env: dict[str, str] | None = None) -> Proc:
    """Start ``argv`` (inside ``ns`` when given), wait until ``ready()``; stop it if it never gets ready.
    ``env`` is added to this process's environment."""
    if ns is not None:
        return ns.start(argv, name=name, env=env, ready=ready, ready_timeout=ready_timeout)
    with open(log_path, "wb") as log_file:
        popen = subprocess.Popen(list(argv), stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
                                 env={**os.environ, **(env or {})})
    proc = Proc(name or Path(argv[0]).name, popen, log_path)
    if ready is not None:
        deadline = time.monotonic() + ready_timeout
        while not ready():
            if not proc.alive() or time.monotonic() > deadline:
                proc.kill()
                raise LabError(f"{proc.name} did not become ready (exit {popen.returncode}):\n{proc.log()[-2000:]}")
            time.sleep(0.05)
    return proc


def http_ok(url: str, expect: tuple[int, ...] = (200, 204)) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return int(response.status) in expect
    except (urllib.error.URLError, OSError):
        return False


def _ready(url: str, ns: Namespace | None) -> Callable[[], bool]:
    if ns is None:
        return lambda: http_ok(url)
    return lambda: call_in_namespace(ns, lambda: http_ok(url))


@dataclasses.dataclass
class Server:
    proc: Proc
    host: str
    port: int
    data_dir: Path
    scheme: str = "http"

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    def stop(self) -> None:
        self.proc.stop()

    def flush(self) -> None:
        """VictoriaMetrics buffers fresh samples ~10 s before they are searchable; make them visible now."""
        with urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=5) as response:
            response.read()

    def kill(self) -> None:
        self.proc.kill()


def start_influxdb(data_dir: Path, host: str = "127.0.0.1", port: int | None = None,
                   ns: Namespace | None = None) -> Server:
    """Debian's ``influxd`` (1.x API: ``/write``, ``/query``). Restartable on the same ``data_dir``."""
    binary = debian_binary("influxd", package="influxdb")
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port(host)
    rpc_port = free_port(host)
    conf = data_dir / "influxdb.conf"
    conf.write_text(f"""
reporting-disabled = true
bind-address = "{host}:{rpc_port}"
[meta]
  dir = "{data_dir}/meta"
  logging-enabled = false
[data]
  dir = "{data_dir}/data"
  wal-dir = "{data_dir}/wal"
  query-log-enabled = false
  wal-fsync-delay = "0s"
[http]
  bind-address = "{host}:{port}"
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
""")
    url = f"http://{host}:{port}"
    # /ping answers before the meta store serves queries; a 404 on the first write was seen under load.
    proc = spawn([binary, "-config", str(conf)], data_dir / "influxd.log", ns=ns,
                 ready=_ready(f"{url}/query?q=SHOW%20DATABASES", ns), name="influxd")
    return Server(proc=proc, host=host, port=port, data_dir=data_dir)


def start_victoriametrics(data_dir: Path, host: str = "127.0.0.1", port: int | None = None,
                          ns: Namespace | None = None) -> Server:
    """Debian's ``victoria-metrics``: accepts InfluxDB line protocol on ``/api/v2/write`` (and ``/write``)."""
    binary = debian_binary("victoria-metrics", package="victoria-metrics")
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port(host)
    url = f"http://{host}:{port}"
    argv = [binary, f"-storageDataPath={data_dir}/vm", f"-httpListenAddr={host}:{port}", "-retentionPeriod=10y",
            "-search.latencyOffset=0s", "-search.disableCache", "-loggerLevel=WARN"]
    proc = spawn(argv, data_dir / "victoria-metrics.log", ns=ns, ready=_ready(f"{url}/health", ns),
                 name="victoria-metrics")
    return Server(proc=proc, host=host, port=port, data_dir=data_dir)
