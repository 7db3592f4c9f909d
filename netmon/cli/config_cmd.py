"""``netmon config check``: validate a site config before it is deployed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from netmon.cli.failures import exit_on_error

app = typer.Typer(help="Check configuration files.", no_args_is_help=True)


@app.command("check")
def check(file: Annotated[Path, typer.Argument(help="site config (YAML) to validate")]) -> None:
    """Validate FILE; print every problem with its line and key, exit 1 if there are any."""
    from netmon.config.loader import load_model
    from netmon.config.site import SiteConfig
    from netmon.probes.kinds import default_kinds
    from netmon.probes.plan import build_tasks

    with exit_on_error():
        config = load_model(file, SiteConfig)
        tasks = build_tasks(config, default_kinds(), source=str(file))
    typer.echo(f"{file}: ok — site {config.site.id} ({config.site.name}, {config.site.province}), "
               f"{len(config.links)} link(s), {len(config.platforms)} platform(s), {len(tasks)} probe task(s)")
