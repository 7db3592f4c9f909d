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


def listens_on(pid: int, port: int) -> bool:
    """Whether process ``pid`` holds a listening TCP socket on ``port`` (in its own namespace).

    A free port is only free when it was asked for: another server started at the same moment
    can take it, and then a readiness check over HTTP talks to that other server while ours
    has exited on "address in use". Asking the kernel who listens tells them apart."""
    inodes = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            return False
        for line in lines:
            fields = line.split()
            # local address "0100007F:1F90", state 0A = LISTEN, inode in column 10
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    try:
        fds = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    except OSError:
        return False
    return any(fd == f"socket:[{inode}]" for fd in fds for inode in inodes)


def on_free_port(host: str, port: int | None, start: Callable[[int], Proc], what: str) -> tuple[Proc, int]:
    """Start a server with ``start(port)`` on ``port``, or on a free one, retried when another
    process took the free port first (see ``listens_on``)."""
    for _attempt in range(1 if port else 4):
        chosen = port or free_port(host)
        proc = start(chosen)
        if listens_on(proc.pid, chosen):
            return proc, chosen
        proc.kill()
    raise LabError(f"{what} could not listen on {host}:{port or 'a free port'} (taken by another process)")


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
    conf = data_dir / "influxdb.conf"

    def start(http_port: int) -> Proc:
        conf.write_text(f"""
reporting-disabled = true
bind-address = "{host}:{free_port(host)}"
[meta]
  dir = "{data_dir}/meta"
  logging-enabled = false
[data]
  dir = "{data_dir}/data"
  wal-dir = "{data_dir}/wal"
  query-log-enabled = false
  wal-fsync-delay = "0s"
[http]
  bind-address = "{host}:{http_port}"
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
""")
        # /ping answers before the meta store serves queries; a 404 on the first write was seen under load.
        return spawn([binary, "-config", str(conf)], data_dir / "influxd.log", ns=ns,
                     ready=_ready(f"http://{host}:{http_port}/query?q=SHOW%20DATABASES", ns), name="influxd")

    proc, port = on_free_port(host, port, start, "influxd")
    return Server(proc=proc, host=host, port=port, data_dir=data_dir)


def start_victoriametrics(data_dir: Path, host: str = "127.0.0.1", port: int | None = None,
                          ns: Namespace | None = None) -> Server:
    """Debian's ``victoria-metrics``: accepts InfluxDB line protocol on ``/api/v2/write`` (and ``/write``)."""
    binary = debian_binary("victoria-metrics", package="victoria-metrics")
    data_dir.mkdir(parents=True, exist_ok=True)

    def start(http_port: int) -> Proc:
        argv = [binary, f"-storageDataPath={data_dir}/vm", f"-httpListenAddr={host}:{http_port}",
                "-retentionPeriod=10y", "-search.latencyOffset=0s",
                # a point the collector writes again (a refused request VictoriaMetrics had half taken) counts once
                "-dedup.minScrapeInterval=1ms", "-search.disableCache", "-loggerLevel=WARN"]
        return spawn(argv, data_dir / "victoria-metrics.log", ns=ns,
                     ready=_ready(f"http://{host}:{http_port}/health", ns), name="victoria-metrics")

    proc, port = on_free_port(host, port, start, "victoria-metrics")
    return Server(proc=proc, host=host, port=port, data_dir=data_dir)
