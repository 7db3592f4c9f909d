"""``netmon probe once`` and ``netmon probe run``: the site agent."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from netmon.cli.failures import exit_on_error
from netmon.cli.logsetup import configure_logging

if TYPE_CHECKING:
    from netmon.config.site import SiteConfig
    from netmon.probes.base import ProbeTask
    from netmon.probes.kinds import ProbeKinds

app = typer.Typer(help="Run the probe agent.", no_args_is_help=True)

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="site config (YAML)")]


def _load(file: Path) -> tuple[SiteConfig, list[ProbeTask], ProbeKinds]:
    from netmon.config.loader import load_model
    from netmon.config.site import SiteConfig
    from netmon.probes.kinds import default_kinds
    from netmon.probes.plan import build_tasks

    kinds = default_kinds()
    config = load_model(file, SiteConfig)
    return config, build_tasks(config, kinds, source=str(file)), kinds


@app.command("once")
def once(config_file: ConfigOption,
         json_lines: Annotated[bool, typer.Option("--json", help="one ResultRecord JSON per line")] = False) -> None:
    """Run every configured probe once and print the results. Exit 0 even when probes fail
    (a failed probe is a result); exit 1 when the config is wrong."""
    import asyncio

    from netmon.probes.agent.once import run_once

    with exit_on_error():
        config, tasks, kinds = _load(config_file)
    records = asyncio.run(run_once(config, tasks, kinds))
    if json_lines:
        for record in records:
            typer.echo(record.model_dump_json(exclude_none=True))
        return
    from rich.console import Console

    from netmon.probes.agent.table import results_table

    Console().print(results_table(records))


@app.command("run")
def run(config_file: ConfigOption,
        log_level: Annotated[str, typer.Option(help="debug logs every stored seq")] = "info") -> None:
    """The agent: scheduled probes, durable outbox, shipping to the collector, /metrics.
    Stops cleanly on SIGTERM/SIGINT (exit 0)."""
    import asyncio

    configure_logging(log_level)
    from netmon.probes.agent.runtime import Agent

    with exit_on_error("netmon probe run"):
        config, _, kinds = _load(config_file)
        code = asyncio.run(Agent(config, str(config_file), kinds).run())
    raise typer.Exit(code)
