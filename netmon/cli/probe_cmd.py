"""``netmon probe once`` and ``netmon probe run``: the site agent."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from netmon.cli.extras import require
from netmon.cli.failures import exit_on_error
from netmon.cli.logsetup import configure_logging
from netmon.cli.options import SITE_CONFIG, LogLevel, LogLevelOption, SiteConfigFile

if TYPE_CHECKING:
    from netmon.config.site import SiteConfig
    from netmon.probes.base import ProbeTask
    from netmon.probes.kinds import ProbeKinds

app = typer.Typer(help="Run the probe agent.", no_args_is_help=True)


def load_site(file: Path) -> tuple[SiteConfig, list[ProbeTask], ProbeKinds]:
    """The site config and its probe tasks; every problem with its line, also those only the
    probe kinds can see (``probes:``, ``links[].probes[]``)."""
    from netmon.config.loader import load_model, with_lines
    from netmon.config.site import SiteConfig
    from netmon.errors import ConfigError
    from netmon.probes.kinds import default_kinds
    from netmon.probes.plan import build_tasks

    kinds = default_kinds()
    config = load_model(file, SiteConfig)
    try:
        return config, build_tasks(config, kinds, source=str(file)), kinds
    except ConfigError as exc:
        raise with_lines(exc, file) from None


@app.command("once")
def once(config_file: SiteConfigFile = SITE_CONFIG,
         json_lines: Annotated[bool, typer.Option("--json", help="one ResultRecord JSON per line")] = False) -> None:
    """Run every configured probe once and print the results; writes nothing (no outbox, no state).
    Exit 0 even when probes fail (a failed probe is a result); exit 1 when the config is wrong."""
    require("agent", "probe once")
    import asyncio

    from netmon.probes.agent.once import run_once

    with exit_on_error():
        config, tasks, kinds = load_site(config_file)
    records = asyncio.run(run_once(config, tasks, kinds))
    if json_lines:
        for record in records:
            typer.echo(record.model_dump_json(exclude_none=True))
        return
    from rich.console import Console

    from netmon.probes.agent.table import results_table

    Console().print(results_table(records))


@app.command("run")
def run(config_file: SiteConfigFile = SITE_CONFIG, log_level: LogLevelOption = LogLevel.INFO) -> None:
    """The agent: scheduled probes, durable outbox, shipping to the collector, /metrics.
    Stops cleanly on SIGTERM/SIGINT (exit 0). --log-level debug logs every stored seq."""
    require("agent", "probe run")
    import asyncio

    configure_logging(log_level)
    from netmon.probes.agent.runtime import Agent

    with exit_on_error("netmon probe run"):
        config, _, kinds = load_site(config_file)
        code = asyncio.run(Agent(config, str(config_file), kinds).run())
    raise typer.Exit(code)


@app.command("unit")
def unit(netmon: Annotated[Path | None, typer.Option(
        help="the netmon the unit starts (default: this one, e.g. /opt/netmon-agent/bin/netmon)")] = None) -> None:
    """Print the agent's systemd unit as netmon ships it, hardening included:
    netmon probe unit > /etc/systemd/system/netmon-agent.service (docs/agent.md)."""
    from netmon.deploy.units import agent_unit

    typer.echo(agent_unit(netmon), nl=False)
