"""Service settings from the environment (pydantic-settings), and the secret-file checks.

The central.yaml file says *what* the collector does; these say how this process runs:
``NETMON_ENV`` (``production`` by default — the safe side; any case). The log level is the
command line's (``--log-level``, ``NETMON_LOG_LEVEL``), the same for agent and collector. Outside
development the collector refuses to start with a secret file that is empty or still holds a
placeholder, so a copied example never reaches production with ``changeme`` in it.
"""

from __future__ import annotations

import logging
import re
import socket
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from netmon.config.central import CentralConfig
from netmon.errors import ConfigError
from netmon.statedb import StateLocation

log = logging.getLogger("netmon.collector")

PLACEHOLDER = re.compile(r"change[-_ ]?me|placeholder|example|^x+$|^secret$|^password$|^token$|^todo$", re.I)


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NETMON_", extra="ignore")

    env: Literal["development", "production"] = "production"

    @field_validator("env", mode="before")
    @classmethod
    def _any_case(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def development(self) -> bool:
        return self.env == "development"


def load_service_settings() -> ServiceSettings:
    """The settings from the environment; a wrong value is a ConfigError naming the variable."""
    try:
        return ServiceSettings()
    except ValidationError as exc:
        problems: list[tuple[str, int | None, str]] = [
            (f"NETMON_{str(err['loc'][0]).upper()}" if err["loc"] else "NETMON_*", None,
             f"{err['msg']} (got {err.get('input')!r})") for err in exc.errors(include_url=False)]
        raise ConfigError("environment", problems) from None


def read_secret(path: str, *, key: str, config_file: str, settings: ServiceSettings) -> str:
    """The stripped content of a secret file. Never logs or echoes the secret itself."""
    try:
        value = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(config_file, [(key, None, f"cannot read secret file {path}: {exc.strerror}")]) from None
    problem = None
    if not value:
        problem = f"secret file {path} is empty"
    elif PLACEHOLDER.search(value):
        problem = f"secret file {path} still holds a placeholder value"
    if problem:
        if not settings.development:
            raise ConfigError(config_file, [(key, None, f"{problem} (refused because NETMON_ENV={settings.env})")])
        log.warning("%s: %s (accepted only because NETMON_ENV=development)", key, problem)
    return value


def influx_secrets(config: CentralConfig, config_file: str, settings: ServiceSettings) -> dict[str, dict[str, str]]:
    """Per TSDB target (by name), the credentials its section names: ``token`` (v2) or ``password`` (v1)."""
    out: dict[str, dict[str, str]] = {}
    several = isinstance(config.influxdb, list)
    for index, influx in enumerate(config.tsdb_targets):
        where = f"influxdb[{index}]" if several else "influxdb"
        secrets: dict[str, str] = {}
        if influx.token_file:
            secrets["token"] = read_secret(influx.token_file, key=f"{where}.token_file", config_file=config_file,
                                           settings=settings)
        if influx.password_file:
            secrets["password"] = read_secret(influx.password_file, key=f"{where}.password_file",
                                              config_file=config_file, settings=settings)
        out[influx.target_name] = secrets
    return out


def state_location(config: CentralConfig, config_file: str, settings: ServiceSettings) -> StateLocation:
    """Where this collector's shared state lives: SQLite in ``state_dir``, or the PostgreSQL of
    ``state.postgres.dsn_file`` (a secret: it usually holds the password)."""
    instance = config.state.instance or f"{socket.gethostname()}:{config.listen.port}"
    postgres = config.state.postgres
    if postgres is None:
        return StateLocation(state_dir=Path(config.state_dir), instance=instance)
    dsn = read_secret(postgres.dsn_file, key="state.postgres.dsn_file", config_file=config_file, settings=settings)
    return StateLocation(state_dir=Path(config.state_dir), instance=instance, postgres_dsn=dsn,
                         connect_timeout_seconds=postgres.connect_timeout,
                         cut_off_after_seconds=postgres.cut_off_after)
