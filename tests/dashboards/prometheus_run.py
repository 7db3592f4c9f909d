"""Real Prometheus (Debian ``prometheus``) scraping the collector, and the dashboards' PromQL run
as Grafana would run it: ``$province`` (a single-value variable: Grafana's Prometheus datasource
escapes only backslashes and quotes), ``$__rate_interval`` = max($__interval + scrape interval,
4 x scrape interval), instant queries at "now"."""

from __future__ import annotations

import json
import shutil
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from netmon.lab.netns import LabError, Namespace, Proc, call_in_namespace
from netmon.lab.services import http_ok
from netmon.lab.topology import free_port

SCRAPE_SECONDS = 1.0


def start_prometheus(ns: Namespace, workdir: Path, target: str, token: str) -> tuple[Proc, str]:
    """Prometheus scraping the collector at ``target`` with the viewer ``token`` (as docs/collector.md shows)."""
    binary = shutil.which("prometheus")
    if binary is None:
        raise LabError("prometheus not found: install Debian's 'prometheus' (scripts/install-system-deps.sh)")
    workdir.mkdir(parents=True, exist_ok=True)
    token_file = workdir / "netmon-collector.token"
    token_file.write_text(token + "\n")
    token_file.chmod(0o600)
    config = workdir / "prometheus.yml"
    config.write_text(f"global: {{scrape_interval: {SCRAPE_SECONDS:g}s, evaluation_interval: {SCRAPE_SECONDS:g}s}}\n"
                      f"scrape_configs:\n  - job_name: netmon-collector\n"
                      f"    authorization: {{type: Bearer, credentials_file: '{token_file}'}}\n"
                      f"    static_configs: [{{targets: ['{target}']}}]\n")
    url = f"http://127.0.0.1:{free_port()}"
    argv = [binary, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address={url.removeprefix('http://')}", "--log.level=warn"]
    proc = ns.start(argv, name="prometheus", ready=lambda: call_in_namespace(ns, lambda: http_ok(f"{url}/-/ready")),
                    ready_timeout=30)
    return proc, url


def interpolate(expr: str, province: str, interval_seconds: float) -> str:
    escaped = province.replace("\\", "\\\\").replace("'", "\\\\'")
    rate = max(interval_seconds + SCRAPE_SECONDS, 4 * SCRAPE_SECONDS)
    return (expr.replace("$__rate_interval", f"{rate:g}s").replace("$__interval", f"{interval_seconds:g}s")
            .replace("$province", escaped))


def query(ns: Namespace, url: str, expr: str) -> list[dict[str, Any]]:
    """An instant query: the result vector (each ``{"metric": labels, "value": [t, "v"]}``)."""
    def get() -> list[dict[str, Any]]:
        params = urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(f"{url}/api/v1/query?{params}", timeout=10) as response:
            body = json.load(response)
        assert body["status"] == "success", body
        return list(body["data"]["result"])

    return call_in_namespace(ns, get)
