"""The ``netmon`` command line. Each command group lives in its own module and imports its
heavy dependencies inside the commands, so ``netmon probe run`` never loads FastAPI.

How every command ends is decided here (docs/cli.md, "Exit status"): 0 done; 1 an error or
problems found, as one line (or a config file's ``file:line: key: message`` lines); 2 the
command line is wrong (unknown option, a bad value); 130 interrupted. Never a traceback for
a mistake of the user's.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

# typer carries its own copy of click (typer >= 0.2x); its exceptions are what the commands raise
from typer._click.core import Command
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError

import netmon
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
from netmon.cli.extras import missing_module_message

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

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


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"netmon {netmon.__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_print_version,
                                                help="print the version and exit")] = False) -> None:
    """Network health monitoring for commune offices: probe agents, collector, alerting, dashboards."""


def command() -> Command:
    """The click command tree (what the tests walk to compare with the README)."""
    return typer.main.get_command(app)


def run(args: list[str] | None = None) -> int:
    """Run the command line; return its exit status instead of raising it."""
    try:
        result = command().main(args=args, prog_name="netmon", standalone_mode=False)
    except NoArgsIsHelpError as exc:  # `netmon alerts`: the group's help, as a usage error
        exc.show()
        return EXIT_USAGE
    except UsageError as exc:
        where = exc.ctx.command_path if exc.ctx is not None else "netmon"
        message = exc.format_message().replace(": Value error, ", ": ")  # typer's wording for a bad choice
        typer.echo(f"{where}: {message} (see {where} --help)", err=True)
        return EXIT_USAGE
    except ClickException as exc:  # e.g. a file argument click could not open
        typer.echo(f"netmon: {exc.format_message()}", err=True)
        return exc.exit_code
    except typer.Abort:
        typer.echo("netmon: interrupted", err=True)
        return EXIT_INTERRUPTED
    except ModuleNotFoundError as exc:
        missing = missing_module_message(exc)
        if missing is None:
            raise
        typer.echo(missing, err=True)
        return EXIT_ERROR
    # standalone_mode=False gives the code of a typer.Exit as the result, None for a plain return
    return result if isinstance(result, int) else EXIT_OK


def main() -> None:
    sys.exit(run())
