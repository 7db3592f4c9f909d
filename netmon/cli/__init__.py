"""The ``netmon`` command line. Each command group lives in its own module and imports its
heavy dependencies inside the commands, so ``netmon probe run`` never loads FastAPI."""

from __future__ import annotations

import typer

from netmon.cli import (
    alerts_cmd,
    ansible_cmd,
    collector_cmd,
    config_cmd,
    dashboards_cmd,
    demo_cmd,
    probe_cmd,
    readiness_cmd,
    reflector_cmd,
    sites_cmd,
    tokens_cmd,
)

app = typer.Typer(
    name="netmon",
    help="Network health monitoring for commune offices: probe agents, collector, alerting, dashboards.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(config_cmd.app, name="config")
app.add_typer(ansible_cmd.app, name="ansible")
app.add_typer(probe_cmd.app, name="probe")
app.add_typer(reflector_cmd.app, name="reflector")
app.add_typer(collector_cmd.app, name="collector")
app.add_typer(sites_cmd.app, name="sites")
app.add_typer(tokens_cmd.app, name="tokens")
app.add_typer(alerts_cmd.app, name="alerts")
app.add_typer(dashboards_cmd.app, name="dashboards")
app.add_typer(readiness_cmd.app, name="readiness")
app.command("demo")(demo_cmd.demo)


def main() -> None:
    app()
