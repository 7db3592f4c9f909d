"""``netmon readiness report``: which communes of a province meet the go-live requirements."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from netmon.cli.extras import require
from netmon.cli.failures import exit_on_error
from netmon.cli.options import CENTRAL_CONFIG, CentralConfigFile

app = typer.Typer(help="Go-live readiness of a province's communes.", no_args_is_help=True)


class OutputFormat(StrEnum):
    HTML = "html"
    CSV = "csv"
    JSON = "json"


@app.command("report")
def report(
    province: Annotated[str, typer.Option("--province", help="province name as in the site registry")],
    fmt: Annotated[OutputFormat, typer.Option("--format", help="html: one self-contained file; csv; json")] = (
        OutputFormat.HTML),
    config: CentralConfigFile = CENTRAL_CONFIG,
    out: Annotated[Path | None, typer.Option("--out", help="write here instead of standard output")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="the same as --format json")] = False,
) -> None:
    """Per commune pass/fail with the measured value against each requirement; per province the share ready."""
    require("centre", "readiness report")
    if as_json:
        fmt = OutputFormat.JSON
    from netmon.config.central import load_central
    from netmon.dashboards.readiness.render import render
    from netmon.dashboards.readiness.report import build_from_central

    with exit_on_error("readiness report failed"):
        central = load_central(config)
        result = build_from_central(central, province, config_dir=config.parent)
    text = render(result, fmt.value)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8-sig" if fmt is OutputFormat.CSV else "utf-8")
        summary = result.summary
        typer.echo(f"{out}: {summary.ready}/{summary.sites} communes of {province} ready", err=True)
