"""``netmon config check``: validate a site config before it is deployed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Check configuration files.", no_args_is_help=True)


@app.command("check")
def check(file: Annotated[Path, typer.Argument(help="site config (YAML) to validate")]) -> None:
    """Validate FILE; print every problem with its line and key, exit 1 if there are any.

    Warnings (settings that work but may cost measurements, e.g. an interval too long for
    32-bit counters) are printed the same way and do not fail the check."""
    from netmon.config.loader import line_of, load_model, with_lines
    from netmon.config.site import SiteConfig
    from netmon.errors import ConfigError
    from netmon.probes.kinds import default_kinds
    from netmon.probes.plan import build_tasks, task_problems

    kinds = default_kinds()
    try:
        config = load_model(file, SiteConfig)
        tasks = build_tasks(config, kinds, source=str(file))
    except ConfigError as exc:
        typer.echo(with_lines(exc, file).render(), err=True)
        raise typer.Exit(1) from None
    for key, message, fatal in task_problems(config, tasks, kinds):
        if not fatal:
            line = line_of(file, key)
            typer.echo(f"  {file}:{line}: warning: {key}: {message}" if line else
                       f"  {file}: warning: {key}: {message}", err=True)
    typer.echo(f"{file}: ok — site {config.site.id} ({config.site.name}, {config.site.province}), "
               f"{len(config.links)} link(s), {len(config.platforms)} platform(s), {len(tasks)} probe task(s)")
