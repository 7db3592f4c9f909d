"""``netmon tokens issue|revoke|list``: viewer, operator and admin tokens, in the collector's state.

Like site tokens (``netmon sites enrol``) they are 256 random bits, printed once (or written to
``--save FILE``, mode 0600) and stored only as a SHA-256 hash in ``state_dir/sites.db``; the
running collector honours an issue or a revocation within 0.1 s (within about a second on every
collector when the tokens are in the shared PostgreSQL). Roles (docs/security.md):
viewer reads, operator also acknowledges and silences, admin also lists tokens. Names say who
holds the token (``noc-hanoi``, ``prometheus``); issuing a name again replaces its token.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer

from netmon.cli.collector_cmd import ConfigOption
from netmon.cli.sites_cmd import DEFAULT_CONFIG, check_identifier, open_stores

app = typer.Typer(help="Viewer, operator and admin tokens (site tokens: 'netmon sites').", no_args_is_help=True)
ROLES = ("viewer", "operator", "admin")


def _when(ns: int | None) -> str | None:
    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC).isoformat(timespec="seconds") if ns else None


@app.command("issue")
def issue(name: Annotated[str, typer.Argument(help="who holds it, e.g. noc-hanoi or prometheus")],
          role: Annotated[str, typer.Option(help="viewer | operator | admin")] = "viewer",
          config: ConfigOption = DEFAULT_CONFIG,
          save: Annotated[Path | None, typer.Option(help="write the token to this file (mode 600) instead of "
                                                           "printing it")] = None,
          rotate: Annotated[bool, typer.Option(help="replace the active token of NAME")] = False,
          as_json: Annotated[bool, typer.Option("--json", help='print {"name", "role", "token"}')] = False) -> None:
    """Issue a token; it is shown once (or saved) and stored only as a SHA-256 hash."""
    from netmon.collectors.abc import Role
    from netmon.config.statefiles import write_private
    from netmon.contract import Identifier

    check_identifier(name, "NAME", Identifier)
    if role not in ROLES:
        typer.echo(f"--role {role!r}: one of {', '.join(ROLES)} (site tokens: 'netmon sites enrol')", err=True)
        raise typer.Exit(2)
    _, tokens = open_stores(config)
    if tokens.has_active_role(name) and not rotate:
        typer.echo(f"{name} already has an active token; use --rotate to replace it (the old one stops working "
                   "at once)", err=True)
        raise typer.Exit(1)
    token = tokens.issue(Role(role), name)
    if save is not None:
        write_private(save, token + "\n")
        typer.echo(f"{role} token {name} written to {save} (mode 600); only its hash is kept", err=True)
    elif as_json:
        typer.echo(json.dumps({"name": name, "role": role, "token": token}))
    else:
        typer.echo(f"{role} token {name} (shown once):", err=True)
        typer.echo(token)


@app.command("revoke")
def revoke(name: Annotated[str, typer.Argument(help="the name it was issued under")],
           config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Revoke NAME's token; the running collectors refuse it within a second."""
    _, tokens = open_stores(config)
    if not tokens.revoke_role(name):
        typer.echo(f"{name} has no active token", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked the token of {name}")


@app.command("list")
def list_tokens(config: ConfigOption = DEFAULT_CONFIG,
                revoked: Annotated[bool, typer.Option("--all", help="revoked ones too")] = False,
                as_json: Annotated[bool, typer.Option("--json", help="one JSON object per token")] = False) -> None:
    """Viewer, operator and admin tokens: name, role, since when (never the tokens themselves)."""
    _, tokens = open_stores(config)
    for token in tokens.role_tokens():
        if not token.active and not revoked:
            continue
        row = {"name": token.name, "role": token.role.value, "created": _when(token.created_ns),
               "revoked": _when(token.revoked_ns)}
        if as_json:
            typer.echo(json.dumps(row))
        else:
            state = f"revoked {row['revoked']}" if row["revoked"] else "active"
            typer.echo(f"{token.name:<24} {token.role.value:<9} since {row['created']}  {state}")
