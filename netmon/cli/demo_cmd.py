"""``netmon demo``: a simulated province going live on this machine (see docs/demo.md)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from netmon.cli.extras import require
from netmon.cli.options import duration_parser


def demo(
    sites: Annotated[int, typer.Option(min=3, max=150, help="communes in the simulated province")] = 12,
    duration: Annotated[float, typer.Option(
        parser=duration_parser(minimum=20), metavar="DURATION",
        help="how long the go-live story lasts after the warm-up, with units: 90s, 4m, 1h (at least 20s)")] = 240.0,
    out: Annotated[Path, typer.Option(help="output folder: summary, alerts log, readiness HTML, dashboards")
                   ] = Path("demo-out"),
    loopback: Annotated[bool, typer.Option(help="reduced demo without root: 127.0.0.1 only, no shaping")] = False,
    live: Annotated[bool, typer.Option(help="live terminal view (--no-live: plain lines, for CI logs)")] = True,
    webhook: Annotated[str | None, typer.Option(help="also deliver alerts to this webhook URL")] = None,
    alerting_config: Annotated[Path | None, typer.Option(
        help="YAML with an 'alerting:' mapping (channels, e.g. Telegram/Zalo/e-mail) added to the demo's")] = None,
) -> None:
    """Build a simulated province (namespaces, shaped lines, snmpd, real agents, the collector), play a
    go-live story with alerts, show it live, write a summary, the readiness report and dashboards."""
    require("agent", "demo")
    require("centre", "demo")
    from rich.console import Console

    from netmon.lab.demo.run import DemoOptions, run_demo

    console = Console()
    opts = DemoOptions(sites=sites, duration_seconds=duration, out=out, loopback=loopback,
                       live=live and sys.stdout.isatty(), webhook=webhook, alerting_config=alerting_config)
    raise typer.Exit(run_demo(opts, console))
