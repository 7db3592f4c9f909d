"""``netmon config check``: validate a site or central config before it is deployed. Reads only."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from netmon.cli.options import CENTRAL_CONFIG, CENTRAL_CONFIG_ENV, SITE_CONFIG, SITE_CONFIG_ENV

if TYPE_CHECKING:
    from netmon.errors import ConfigError

app = typer.Typer(help="Check configuration files.", no_args_is_help=True)

# top-level keys only a central file has; a site file always has `site:`
CENTRAL_KEYS = frozenset({"listen", "registry", "journal", "influxdb", "alerting", "surge", "readiness"})


@app.command("check")
def check(
    file: Annotated[Path | None, typer.Argument(help="the file to check (the same as -c FILE)")] = None,
    config: Annotated[Path | None, typer.Option(
        "--config", "-c", help=f"the file to check; default ${SITE_CONFIG_ENV} or {SITE_CONFIG} "
                               f"(with --central: ${CENTRAL_CONFIG_ENV} or {CENTRAL_CONFIG})")] = None,
    central: Annotated[bool, typer.Option(
        "--central", help="check a central config with the registry and rules it names "
                          "(a file with registry: or listen: and no site: is one anyway)")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object: file, kind, ok, problems, summary")
                       ] = False,
) -> None:
    """Validate a config; print every problem with its file, line and key, exit 1 if there are any.

    Warnings (settings that work but may cost measurements, e.g. an interval too long for
    32-bit counters) are printed the same way and do not fail the check."""
    if file is not None and config is not None and file != config:
        raise typer.BadParameter("give the file once: as FILE or as -c FILE", param_hint="FILE")
    chosen = file or config
    if chosen is None:
        chosen = Path(os.environ.get(CENTRAL_CONFIG_ENV) or CENTRAL_CONFIG) if central else \
            Path(os.environ.get(SITE_CONFIG_ENV) or SITE_CONFIG)
    from netmon.errors import ConfigError

    kind = "central" if central or _looks_central(chosen) else "site"
    try:
        summary, warnings = _check_central(chosen) if kind == "central" else _check_site(chosen)
    except ConfigError as exc:
        _report(chosen, kind, as_json, error=exc)
        raise typer.Exit(1) from None
    _report(chosen, kind, as_json, warnings=warnings, summary=summary)


def _looks_central(path: Path) -> bool:
    from netmon.config.loader import read_yaml
    from netmon.errors import ConfigError

    try:
        data, _ = read_yaml(path)
    except ConfigError:
        return False  # the site check reports it
    return isinstance(data, dict) and "site" not in data and bool(CENTRAL_KEYS & set(data))


def _check_site(file: Path) -> tuple[list[str], list[tuple[str, int | None, str]]]:
    from netmon.cli.probe_cmd import load_site
    from netmon.config.loader import line_of
    from netmon.probes.plan import task_problems

    config, tasks, kinds = load_site(file)
    warnings = [(key, line_of(file, key), message)
                for key, message, fatal in task_problems(config, tasks, kinds) if not fatal]
    return [f"{file}: ok — site {config.site.id} ({config.site.name}, {config.site.province}), "
            f"{len(config.links)} link(s), {len(config.platforms)} platform(s), {len(tasks)} probe task(s)"], warnings


def _check_central(file: Path) -> tuple[list[str], list[tuple[str, int | None, str]]]:
    from netmon.deploy.checks import check_central

    return check_central(file), []


def _report(file: Path, kind: str, as_json: bool, *, error: ConfigError | None = None,
            warnings: Sequence[tuple[str, int | None, str]] = (), summary: Sequence[str] = ()) -> None:
    if as_json:
        problems: list[dict[str, Any]] = []
        if error is not None:
            problems += [{"file": error.file, "line": line, "key": key, "message": message, "severity": "error"}
                         for key, line, message in error.problems]
        problems += [{"file": str(file), "line": line, "key": key, "message": message, "severity": "warning"}
                     for key, line, message in warnings]
        typer.echo(json.dumps({"file": str(file), "kind": kind, "ok": error is None, "problems": problems,
                               "summary": list(summary)}, ensure_ascii=False))
        return
    if error is not None:
        typer.echo(error.render(), err=True)
        return
    for key, line, message in warnings:
        where = f"{file}:{line}" if line else str(file)
        typer.echo(f"  {where}: warning: {key}: {message}", err=True)
    typer.echo("\n".join(summary))
