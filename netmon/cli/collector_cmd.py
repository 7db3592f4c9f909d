"""``netmon collector serve``: the central collector under uvicorn, with its extensions.

This is where the collector is wired to the parts that plug into it: ``extensions()`` lists
them, in install order. Each implements ``netmon.collectors.abc.Extension``.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from netmon.cli.extras import require
from netmon.cli.failures import exit_on_error
from netmon.cli.logsetup import configure_logging
from netmon.cli.options import CENTRAL_CONFIG, CentralConfigFile, LogLevel, LogLevelOption

if TYPE_CHECKING:
    from netmon.collectors.abc import Extension
    from netmon.config.central import CentralConfig

app = typer.Typer(help="The central collector.", no_args_is_help=True)

# kept for the commands that import it from here (sites)
ConfigOption = CentralConfigFile


def extensions() -> list[Extension]:
    """The parts every ``netmon collector serve`` runs with (imported here, so the collector's own
    package and tests depend on none of them)."""
    from netmon.alerting.service import AlertingExtension  # sinks, /api/v1/incidents, netmon_alerts_firing
    from netmon.dashboards.readiness.api import ReadinessExtension  # GET /api/v1/readiness

    return [AlertingExtension(), ReadinessExtension()]


@app.command("serve")
def serve(config: CentralConfigFile = CENTRAL_CONFIG,
          host: Annotated[str | None, typer.Option(help="override listen.host")] = None,
          port: Annotated[int | None, typer.Option(min=0, max=65535, help="override listen.port")] = None,
          log_level: LogLevelOption = LogLevel.INFO) -> None:
    """Serve the ingest API, status API, agent config and /metrics (SIGHUP reloads the site registry).

    The port is bound before anything else starts: a port in use is one line and exit 1."""
    require("centre", "collector serve")
    from netmon.collectors.settings import load_service_settings
    from netmon.config.central import load_central
    from netmon.errors import StorageError

    configure_logging(log_level)
    with exit_on_error():
        settings = load_service_settings()
        central = load_central(config)
        listen = central.listen
        sockets = [bind(config, host or listen.host, listen.port if port is None else port)]
        if listen.viewer is not None:
            sockets.append(bind(config, listen.viewer.host, listen.viewer.port, key="listen.viewer.port"))
    # state_dir unusable, or the shared PostgreSQL unreachable at start (the message names which)
    with exit_on_error(str(config), only=StorageError):
        from netmon.collectors.app import create_app

        application = create_app(central, settings, config_file=str(config), extensions=extensions())
    tune_gc()
    raise typer.Exit(run_server(application, sockets, central, log_level, config))


def bind(config_file: Path, host: str, port: int, key: str = "listen.port") -> socket.socket:
    """The listening socket, bound now: uvicorn binds only after the application started (and logs
    "Application startup complete" first), so a port in use showed up as a startup that failed."""
    from netmon.config.loader import line_of
    from netmon.errors import ConfigError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and host == "::":
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # "::" takes IPv4 too
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        raise ConfigError(str(config_file), [(key, line_of(config_file, key),
                                             f"cannot listen on {where}: {exc.strerror or exc}")]) from None
    sock.set_inheritable(True)
    return sock


def run_server(application: Any, sockets: list[socket.socket], central: CentralConfig, log_level: str,
               config_file: Path) -> int:
    import logging

    import uvicorn

    listen = central.listen
    server = uvicorn.Server(uvicorn.Config(
        application, log_level=log_level, access_log=listen.access_log, server_header=False,
        timeout_graceful_shutdown=10, timeout_keep_alive=listen.keep_alive_seconds,
        ssl_certfile=listen.tls_cert_file, ssl_keyfile=listen.tls_key_file))
    scheme = "https" if listen.tls_cert_file else "http"
    for sock, who in zip(sockets, ("", " for viewers"), strict=False):
        host, port = sock.getsockname()[:2]
        logging.getLogger("netmon.collector").info("listening on %s://%s:%d%s (config %s)", scheme,
                                                   f"[{host}]" if ":" in host else host, port, who, config_file)
    try:  # one process, two addresses when listen.viewer is set: collectors/ports.py tells the routes apart
        server.run(sockets=sockets)
    except SystemExit as exc:  # uvicorn exits 3 when the application's startup failed; it logged why
        typer.echo(f"netmon collector serve: the collector did not start (see the log above; "
                   f"uvicorn exit {exc.code})", err=True)
        return 1
    finally:
        for sock in sockets:
            sock.close()
    return 0


def tune_gc() -> None:
    """Fewer, larger collections: each ingested batch allocates ~1,000 container objects, and with
    the default gen-0 threshold (700) the collector spent ~30 % of its CPU in the cyclic GC
    re-scanning long-lived state (measured: 1.36 -> 1.04 ms of CPU per 100-result batch)."""
    import gc

    gc.collect()
    gc.freeze()  # what start-up built (app, registry, schemas) lives for the whole process
    gc.set_threshold(50_000, 20, 20)


@app.command("unit")
def unit(netmon: Annotated[Path | None, typer.Option(
        help="the netmon the unit starts (default: this one, e.g. /opt/netmon/bin/netmon)")] = None) -> None:
    """Print the collector's systemd unit as netmon ships it, hardening included:
    netmon collector unit > /etc/systemd/system/netmon-collector.service (docs/collector.md)."""
    from netmon.deploy.units import collector_unit

    typer.echo(collector_unit(netmon), nl=False)
