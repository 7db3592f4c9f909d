"""The options every command spells the same way (docs/cli.md is their reference).

``-c/--config`` names the site file for agent commands (default ``/etc/netmon/site.yaml``,
``NETMON_SITE_CONFIG``) and the central file for centre commands (``/etc/netmon/central.yaml``,
``NETMON_CENTRAL_CONFIG``); ``--log-level`` (``NETMON_LOG_LEVEL``, any case) for both services;
``--json`` on what lists or reports; durations always with their units.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from netmon.config.units import DURATION_EXAMPLES, duration_with_units, format_duration

SITE_CONFIG = Path("/etc/netmon/site.yaml")
CENTRAL_CONFIG = Path("/etc/netmon/central.yaml")
SITE_CONFIG_ENV = "NETMON_SITE_CONFIG"
CENTRAL_CONFIG_ENV = "NETMON_CENTRAL_CONFIG"
LOG_LEVEL_ENV = "NETMON_LOG_LEVEL"

SiteConfigFile = Annotated[Path, typer.Option("--config", "-c", envvar=SITE_CONFIG_ENV, help="site config (YAML)")]
CentralConfigFile = Annotated[Path, typer.Option("--config", "-c", envvar=CENTRAL_CONFIG_ENV,
                                             help="central config (YAML)")]


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


LogLevelOption = Annotated[LogLevel, typer.Option(
    "--log-level", envvar=LOG_LEVEL_ENV, case_sensitive=False,
    help="debug, info, warning or error, in any case")]


def json_option(what: str) -> object:
    """``--json``: ``what`` says what is printed instead of the table (e.g. one JSON object per site)."""
    return typer.Option("--json", help=what)


def parse_duration_option(text: str | float, *, minimum: float = 0.0, maximum: float | None = None) -> float:
    """Seconds from ``2h``, ``30m``, ``1h30m``; a bare number is refused (``--for 2``: hours? minutes?).
    A number (not text) is an option's own default, already in seconds."""
    if isinstance(text, int | float):
        return float(text)
    seconds = duration_with_units(text)
    if seconds is None:
        try:
            bare = float(text)
        except ValueError:
            raise typer.BadParameter(f"{text!r} is not a duration; write it with units: {DURATION_EXAMPLES}") \
                from None
        raise typer.BadParameter(f"{text!r} has no unit; write {bare:g}s, {bare:g}m or {bare:g}h") from None
    if seconds <= 0:
        raise typer.BadParameter(f"{text!r} is not a positive duration")
    if seconds < minimum:
        raise typer.BadParameter(f"{text!r} is shorter than the {format_duration(minimum)} needed")
    if maximum is not None and seconds > maximum:
        raise typer.BadParameter(f"{text!r} is longer than the {format_duration(maximum)} allowed")
    return seconds


def duration_parser(*, minimum: float = 0.0, maximum: float | None = None) -> Callable[[str], float]:
    return functools.partial(parse_duration_option, minimum=minimum, maximum=maximum)
