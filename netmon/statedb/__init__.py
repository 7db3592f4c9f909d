"""Where the centre keeps state that outlives a process, and how its schemas evolve.

    location = StateLocation(state_dir=Path("/var/lib/netmon"), instance="col-a:8080",
                             postgres_dsn=None)             # SQLite files in state_dir (the default)
    location.shared                                         # False: one collector owns this state

With ``postgres_dsn`` (``state: {postgres: {dsn_file: ...}}`` in central.yaml) the state that
several collectors must agree on lives in one PostgreSQL database instead. Each part of the
centre opens its own store on a ``StateLocation`` (the alert state: ``alerting/store.py``) and
brings its own migration list (``statedb.migrations``); connections to PostgreSQL are made by
``statedb.postgres``, where psycopg's errors become ``StorageError``.

This is ground floor: it knows no product package, so the collector and alerting share it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class StateLocation:
    state_dir: Path
    # this collector's name in shared state (who last saw a site, who dispatches), e.g. "host:port"
    instance: str
    # libpq connection string or URI; None: SQLite files in state_dir
    postgres_dsn: str | None = None
    connect_timeout_seconds: float = 5.0
    # lost the shared state longer than this: send the agents elsewhere (None: never)
    cut_off_after_seconds: float | None = 30.0

    @property
    def shared(self) -> bool:
        """True when other collectors may use the same state at the same time."""
        return self.postgres_dsn is not None

    def __repr__(self) -> str:  # never the DSN: it may hold a password
        where = "postgres" if self.shared else str(self.state_dir)
        return f"StateLocation({where}, instance={self.instance!r})"
