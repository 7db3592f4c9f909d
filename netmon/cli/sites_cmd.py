"""``netmon sites enrol|revoke|list``: site tokens, against the collector's state: state_dir/sites.db,
or the PostgreSQL of ``state.postgres`` shared by every collector (enrol through any one of them).

A site token speaks for one site and one agent of it (``--agent-id``, default ``<site>-agent``, the
agent's own default): the collector refuses it for any other site or agent. Viewer, operator and
admin tokens are ``netmon tokens``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from netmon.cli.failures import exit_on_error
from netmon.cli.options import CENTRAL_CONFIG, CentralConfigFile

if TYPE_CHECKING:
    from netmon.collectors.sitestore import RegistryStore
    from netmon.collectors.tokens import TokenBackend

app = typer.Typer(help="Site registry and site tokens.", no_args_is_help=True)
ConfigOption = CentralConfigFile
DEFAULT_CONFIG = CENTRAL_CONFIG


def open_stores(config: Path) -> tuple[RegistryStore, TokenBackend]:
    """The registry (loaded) and the token store of ``config``'s state; exits 1 on errors."""
    from netmon.collectors.settings import ServiceSettings, state_location
    from netmon.collectors.sitestore import RegistryStore
    from netmon.collectors.sqlite import SITES_DB, connect
    from netmon.collectors.token_stores import open_token_store
    from netmon.config.central import load_central
    from netmon.errors import StorageError

    with exit_on_error(f"{config}: state", only=StorageError):
        central = load_central(config)
        state = state_location(central, str(config), ServiceSettings())
        conn = connect(Path(central.state_dir) / SITES_DB)
        sites = RegistryStore(central.registry, conn)
        sites.load()
        return sites, open_token_store(state, conn, watch=False)


@app.command("enrol")
def enrol(site_id: Annotated[str, typer.Argument(help="site id from the registry")],
          config: ConfigOption = DEFAULT_CONFIG,
          as_json: Annotated[bool, typer.Option("--json", help='print {"site_id": ..., "token": ...}')] = False,
          rotate: Annotated[bool, typer.Option(help="replace an active token (the old one stops working)")] = False,
          agent_id: Annotated[str | None, typer.Option(
              "--agent-id", help="the agent's id (its agent.id), if not '<site>-agent'")] = None,
          ) -> None:
    """Issue a token for SITE_ID's agent. It is printed once and stored only as a SHA-256 hash."""
    from netmon.contract import Identifier

    if agent_id is not None:
        check_identifier(agent_id, "--agent-id", Identifier)
    sites, tokens = open_stores(config)
    if sites.site(site_id) is None:
        typer.echo(f"site {site_id!r} is not in the registry {sites.path}", err=True)
        raise typer.Exit(1)
    if tokens.has_active(site_id) and not rotate:
        typer.echo(f"site {site_id} already has an active token; use --rotate to replace it "
                   "(the old token stops working at once)", err=True)
        raise typer.Exit(1)
    token = tokens.enrol(site_id, agent_id)
    if as_json:
        typer.echo(json.dumps({"site_id": site_id, "token": token}))
    else:
        typer.echo(f"token for site {site_id} (shown once; put it in the agent's token_file):", err=True)
        typer.echo(token)


@app.command("revoke")
def revoke(site_id: Annotated[str, typer.Argument(help="site id")], config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Revoke SITE_ID's token; the running collectors refuse it within a second."""
    _, tokens = open_stores(config)
    count = tokens.revoke(site_id)
    if not count:
        typer.echo(f"site {site_id} has no active token", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked the token of site {site_id}")


@app.command("list")
def list_sites(config: ConfigOption = DEFAULT_CONFIG,
               as_json: Annotated[bool, typer.Option("--json", help="one JSON object per site")] = False) -> None:
    """Every registry site with its token state. Reads only: the registry file and the tokens in
    the shared PostgreSQL or, when the collector has made it, state_dir/sites.db (no file is created)."""
    from netmon.collectors.settings import ServiceSettings, state_location
    from netmon.collectors.sqlite import SITES_DB, connect
    from netmon.collectors.tokens import TokenStore
    from netmon.config.central import load_central
    from netmon.config.registry import load_registry
    from netmon.errors import StorageError

    with exit_on_error(f"{config}: state", only=StorageError):
        central = load_central(config)
        registry = load_registry(central.registry)
        state = state_location(central, str(config), ServiceSettings())
        db = Path(central.state_dir) / SITES_DB
        if state.postgres_dsn is not None:
            from netmon.collectors.tokens_pg import PostgresTokenStore

            shared = PostgresTokenStore(state.postgres_dsn, application_name="netmon sites list",
                                        connect_timeout=state.connect_timeout_seconds, watch=False)
            try:
                active = {t.site_id: t for t in shared.tokens() if t.active}
            finally:
                shared.close()
        elif db.exists():
            conn = connect(db, readonly=True)
            active = {t.site_id: t for t in TokenStore(conn).tokens() if t.active}
            conn.close()
        else:
            active = {}
            typer.echo(f"no {db} yet (the collector has not run, no site is enrolled): no site has a token",
                       err=True)
    for site in registry.sites:
        token = active.get(site.id)
        since = dt.datetime.fromtimestamp(token.created_ns / 1e9, dt.UTC).isoformat(timespec="seconds") if token \
            else None
        agent = token.agent_id if token else None
        if as_json:
            typer.echo(json.dumps({"site_id": site.id, "name": site.name, "province": site.province,
                                   "district": site.district, "token_since": since, "agent_id": agent},
                                  ensure_ascii=False))
        else:
            shown = f"token since {since} for {agent or 'its first agent'}" if since else "no token"
            typer.echo(f"{site.id:<10} {site.province:<20} {site.name:<40} {shown}")


def check_identifier(value: str, option: str, kind: Any) -> None:
    from pydantic import TypeAdapter, ValidationError

    try:
        TypeAdapter(kind).validate_python(value)
    except ValidationError:
        typer.echo(f"{option} {value!r}: 1-64 letters, digits and . _ : - (starting with a letter or digit)",
                   err=True)
        raise typer.Exit(2) from None
