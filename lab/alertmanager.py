"""Start Debian's Alertmanager on a free loopback port in a temp dir, for tests, benchmarks and the demo.

Single node (``--cluster.listen-address=`` empty, so no gossip port), its own storage
directory, a do-nothing receiver: what matters is what it holds (``amtool alert query``).
"""

from __future__ import annotations

from pathlib import Path

from netmon.lab.netns import debian_binary
from netmon.lab.services import Server, _ready, spawn
from netmon.lab.topology import free_port

CONFIG = """\
route:
  receiver: blackhole
  group_wait: 1s
  group_interval: 1s
receivers:
  - name: blackhole
"""


def alertmanager_binary() -> str:
    return debian_binary("prometheus-alertmanager", "alertmanager", package="prometheus-alertmanager")


def start_alertmanager(data_dir: Path, host: str = "127.0.0.1", port: int | None = None) -> Server:
    binary = alertmanager_binary()
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port(host)
    config = data_dir / "alertmanager.yml"
    config.write_text(CONFIG)
    url = f"http://{host}:{port}"
    argv = [binary, f"--config.file={config}", f"--storage.path={data_dir}/data",
            f"--web.listen-address={host}:{port}", "--cluster.listen-address=", "--log.level=warn"]
    proc = spawn(argv, data_dir / "alertmanager.log", ready=_ready(f"{url}/-/ready", None), name="alertmanager")
    return Server(proc=proc, host=host, port=port, data_dir=data_dir)
