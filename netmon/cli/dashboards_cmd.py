"""``netmon dashboards build|push``: Grafana dashboards as code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from netmon.cli.extras import require
from netmon.cli.failures import exit_on_error
from netmon.cli.options import CENTRAL_CONFIG_ENV
from netmon.errors import ConfigError

if TYPE_CHECKING:
    from netmon.config.central import CentralConfig, InfluxConfig

# A site is shown as silent after this many expected shipping intervals without a result.
SILENT_AFTER_INTERVALS = 6

app = typer.Typer(help="Build Grafana dashboards and provisioning files, or push them to Grafana.",
                  no_args_is_help=True)

ConfigOption = Annotated[Path | None, typer.Option(
    "--config", "-c", envvar=CENTRAL_CONFIG_ENV,
    help="central.yaml: InfluxDB connection for the datasource, expected ship interval, rules")]
JsonOption = Annotated[bool, typer.Option("--json", help="one JSON object instead of the lines")]


def _central(config_path: Path | None, influx_url: str | None, database: str | None
             ) -> tuple[InfluxConfig, CentralConfig | None]:
    """The InfluxDB the datasource points at, and the central config when one was given."""
    from netmon.config.central import InfluxConfig, load_central

    if config_path is not None:
        central = load_central(config_path)
        if central.query_influx is None:
            raise ConfigError(str(config_path), [("influxdb", None, "dashboards need the 'influxdb' section")])
        return central.query_influx, central
    return InfluxConfig(url=influx_url or "http://127.0.0.1:8086", api="v1", database=database or "netmon"), None


def _options(central: CentralConfig | None, config_path: Path | None) -> dict[str, Any]:
    """Dashboard settings from central.yaml: silence after 6 shipping intervals, the readiness
    requirements, and the thresholds of the alert rules the collector runs with."""
    from netmon.alerting.rules import load_rules
    from netmon.dashboards.thresholds import limits_from_rules

    if central is None or config_path is None:
        return {"silent_after_seconds": SILENT_AFTER_INTERVALS * 10.0}
    rules_file = central.alerting.rules_file if central.alerting else None
    if rules_file is not None and not Path(rules_file).is_absolute():
        rules_file = str(config_path.resolve().parent / rules_file)
    return {"silent_after_seconds": SILENT_AFTER_INTERVALS * central.expected_ship_interval,
            "readiness": central.readiness, "limits": limits_from_rules(load_rules(rules_file))}


@app.command("build")
def build(
    out: Annotated[Path, typer.Option("--out", help="directory to write dashboards/ and provisioning/ into")],
    config: ConfigOption = None,
    prometheus_url: Annotated[str, typer.Option(help="URL Grafana uses for Prometheus")] = "http://127.0.0.1:9090",
    influx_url: Annotated[str | None, typer.Option(help="without --config: InfluxDB URL (1.x API)")] = None,
    influx_database: Annotated[str | None, typer.Option(help="without --config: InfluxDB database")] = None,
    dashboards_path: Annotated[str | None, typer.Option(
        help="where Grafana will find the dashboard files (default: OUT/dashboards, absolute)")] = None,
    as_json: JsonOption = False,
) -> None:
    """Write every dashboard as JSON plus Grafana file-provisioning YAML (dashboards and datasources)."""
    require("centre", "dashboards build")
    from netmon.dashboards.build import write

    with exit_on_error():
        influx, central = _central(config, influx_url, influx_database)
        options = _options(central, config)
    written = write(out, influx, prometheus_url, dashboards_path=dashboards_path, **options)
    if as_json:
        typer.echo(json.dumps({"written": [str(path) for path in written]}))
        return
    for path in written:
        typer.echo(str(path))


@app.command("push")
def push(
    url: Annotated[str, typer.Option("--url", help="Grafana base URL, e.g. https://grafana.example.gov.vn")],
    token_file: Annotated[Path, typer.Option("--token-file", help="file holding a Grafana service-account token")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create the netmon folder and dashboards in Grafana; unchanged dashboards are left alone."""
    require("centre", "dashboards push")
    from netmon.dashboards.build import build_all
    from netmon.dashboards.push import push as push_dashboards

    try:
        token = token_file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        typer.echo(f"{token_file}: cannot read token: {exc.strerror}", err=True)
        raise typer.Exit(1) from None
    if not token:
        typer.echo(f"{token_file}: the token file is empty", err=True)
        raise typer.Exit(1)
    with exit_on_error():
        central = _central(config, None, None)[1] if config is not None else None
        options = _options(central, config)
    with exit_on_error("push failed"):
        report = push_dashboards(url, token, build_all(**options))
    if as_json:
        typer.echo(json.dumps({"folder": report.folder, "created": report.created, "updated": report.updated,
                               "unchanged": report.unchanged}, ensure_ascii=False))
        return
    typer.echo(f"folder: {report.folder}; created: {', '.join(report.created) or '-'}; "
               f"updated: {', '.join(report.updated) or '-'}; unchanged: {', '.join(report.unchanged) or '-'}")
