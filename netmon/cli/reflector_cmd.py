"""``netmon reflector serve``: the UDP echo reflector the udp_echo probe measures against."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(help="UDP echo reflector for the udp_echo probe.", no_args_is_help=True)


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="address to listen on ('::' for IPv6 and IPv4)")] = "0.0.0.0",
    port: Annotated[int, typer.Option(min=1, max=65535, help="UDP port")] = 8765,
    rate: Annotated[float, typer.Option(min=0.1, help="replies per second allowed per source")] = 50.0,
    burst: Annotated[int, typer.Option(min=1, help="replies a source may get at once before --rate applies")] = 100,
    max_total_rate: Annotated[float, typer.Option(min=1, help="replies per second for all sources together")
                              ] = 5000.0,
) -> None:
    """Answer netmon udp_echo requests until SIGTERM or SIGINT. Anything else is ignored;
    a reply is never larger than its request."""
    from netmon.probes.udp_echo.reflector import run

    def ready(where: str) -> None:
        typer.echo(f"netmon reflector: listening on udp {where} (per source {rate:g}/s, burst {burst}; "
                   f"total {max_total_rate:g}/s)")

    try:
        stats = run(host, port, rate_per_source=rate, burst=burst, max_total_rate=max_total_rate, on_ready=ready)
    except OSError as exc:
        typer.echo(f"netmon reflector: cannot listen on {host} port {port}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"netmon reflector: stopped; {stats.summary()}")
