"""How a command ends on one of netmon's own errors: the message on stderr and exit status 1,
never a traceback (a traceback is for bugs)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import typer

from netmon.errors import ConfigError, NetmonError


@contextlib.contextmanager
def exit_on_error(prefix: str | None = None, *, only: type[NetmonError] = NetmonError) -> Iterator[None]:
    """A ``ConfigError`` is printed as its ``file:line: key: message`` lines. With ``prefix``, any
    other error of type ``only`` is printed as ``prefix: error``; without, it is not caught."""
    try:
        yield
    except ConfigError as exc:
        typer.echo(exc.render(), err=True)
        raise typer.Exit(1) from None
    except NetmonError as exc:
        if prefix is None or not isinstance(exc, only):
            raise
        typer.echo(f"{prefix}: {exc}", err=True)
        raise typer.Exit(1) from None
