"""A real PostgreSQL 15 (Debian's ``postgresql``) on a free loopback port in a temp dir.

    with start_postgres() as pg:                     # initdb, start, wait until it answers
        dsn = pg.create_database("netmon_test_1")    # a fresh database, owned by the netmon role
        ...
        pg.kill(); pg.start()                        # kill -9 and start again on the same data dir

PostgreSQL refuses to run as root: as root the cluster belongs to Debian's ``postgres`` user
(the data dir is created for it under /tmp, where that user can reach it, and removed on
``close()``); as anybody else it runs as that user. Clients connect over TCP with a password
(scram-sha-256), like a collector in production; no Unix socket is created. ``fsync`` is off:
this cluster exists for the length of a test run, and a test that kills PostgreSQL checks what
the *collector* does about it, not PostgreSQL's own crash recovery.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

from netmon.lab.netns import LabError
from netmon.lab.topology import free_port

BIN_DIR = Path("/usr/lib/postgresql/15/bin")
SUPERUSER = "postgres"
ROLE = "netmon"  # what the collectors connect as: owns the databases, no superuser rights


def _binary(name: str) -> str:
    path = BIN_DIR / name
    if not path.exists():
        raise LabError(f"{path} not found: install Debian's 'postgresql' (scripts/install-system-deps.sh)")
    return str(path)


def _run_as() -> pwd.struct_passwd | None:
    """The account the cluster runs as: ``postgres`` when we are root, else ourselves (None)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise LabError("running as root needs Debian's 'postgres' user (install 'postgresql')") from None


@dataclasses.dataclass
class PostgresServer:
    data_dir: Path
    host: str
    port: int
    superuser_password: str
    role_password: str
    popen: subprocess.Popen[bytes] | None = None
    _databases: int = 0

    # -- addresses ---------------------------------------------------------------------------

    def dsn(self, database: str = "postgres", *, superuser: bool = False) -> str:
        user, password = (SUPERUSER, self.superuser_password) if superuser else (ROLE, self.role_password)
        return f"postgresql://{user}:{quote(password)}@{self.host}:{self.port}/{database}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "postgres.log"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    # -- databases ---------------------------------------------------------------------------

    def sql(self, statement: str, database: str = "postgres") -> None:
        """Run one statement as the superuser (autocommit: CREATE DATABASE cannot run in a transaction)."""
        import psycopg

        with psycopg.connect(self.dsn(database, superuser=True), autocommit=True, connect_timeout=5) as conn:
            conn.execute(statement.encode())

    def create_database(self, name: str | None = None) -> str:
        """A new empty database owned by the ``netmon`` role; returns its DSN."""
        if name is None:
            self._databases += 1
            name = f"netmon_{self._databases}_{secrets.token_hex(3)}"
        self.sql(f'CREATE DATABASE "{name}" OWNER {ROLE}')
        return self.dsn(name)

    # -- the process -------------------------------------------------------------------------

    def start(self, ready_timeout: float = 30.0) -> PostgresServer:
        account = _run_as()
        argv = [_binary("postgres"), "-D", str(self.data_dir / "data"), "-c", f"port={self.port}",
                "-c", f"listen_addresses={self.host}", "-c", "unix_socket_directories=",
                "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                "-c", "max_connections=200", "-c", "shared_buffers=32MB", "-c", "log_min_messages=warning"]
        with open(self.log_path, "ab") as log_file:
            self.popen = subprocess.Popen(argv, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
                                          user=account.pw_uid if account else None,
                                          group=account.pw_gid if account else None, cwd=self.data_dir)
        deadline = time.monotonic() + ready_timeout
        while not self.ready():
            if self.popen.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise LabError(f"PostgreSQL did not become ready (exit {self.popen.returncode}):\n"
                               f"{self.log()[-3000:]}")
            time.sleep(0.1)
        return self

    def ready(self) -> bool:
        """True once PostgreSQL accepts a login (not only the TCP port: it refuses logins while starting)."""
        import psycopg

        try:
            with psycopg.connect(self.dsn(superuser=True), connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        """Fast shutdown (SIGINT: roll back open transactions, disconnect clients), kill -9 if it hangs.
        SIGTERM would be a "smart" shutdown, which waits for every collector to disconnect."""
        if not self.alive():
            return
        assert self.popen is not None
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.popen.pid, signal.SIGINT)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """kill -9 of the whole process group (postmaster and backends): a crash, not a shutdown."""
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(10)

    def close(self) -> None:
        """Stop the server and remove its data dir."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def start_postgres(host: str = "127.0.0.1", port: int | None = None) -> PostgresServer:
    """initdb a new cluster in a temp dir and start it; the caller ``close()``s it (or uses ``with``).

    ``host`` other than loopback: an address of a lab namespace, with the call made from a thread
    inside it (``call_in_namespace``); clients on that namespace's subnets may log in too."""
    account = _run_as()
    # /tmp, not the caller's temp dir: pytest's lives under /tmp/pytest-of-root (mode 0700), which the
    # postgres user cannot enter.
    data_dir = Path(tempfile.mkdtemp(prefix="netmon-pg-"))
    server = PostgresServer(data_dir=data_dir, host=host, port=port or free_port(host),
                            superuser_password=secrets.token_urlsafe(16), role_password=secrets.token_urlsafe(16))
    try:
        pwfile = data_dir / "pwfile"
        pwfile.write_text(server.superuser_password + "\n")
        if account is not None:
            os.chown(data_dir, account.pw_uid, account.pw_gid)
            os.chown(pwfile, account.pw_uid, account.pw_gid)
        init = subprocess.run(
            [_binary("initdb"), "-D", str(data_dir / "data"), "-U", SUPERUSER, f"--pwfile={pwfile}",
             "--auth-host=scram-sha-256", "--auth-local=reject", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"],
            capture_output=True, text=True, timeout=120, user=account.pw_uid if account else None,
            group=account.pw_gid if account else None, cwd=data_dir)
        if init.returncode != 0:
            raise LabError(f"initdb failed ({init.returncode}): {init.stderr.strip() or init.stdout.strip()}")
        pwfile.unlink()
        if not ipaddress.ip_address(host).is_loopback:
            # a lab address (started inside a namespace): initdb lets in loopback only; clients on the
            # namespace's own subnets log in with a password like the loopback ones
            with open(data_dir / "data" / "pg_hba.conf", "a", encoding="utf-8") as hba:
                hba.write("host all all samenet scram-sha-256\n")
        server.start()
        server.sql(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{server.role_password}'")
    except BaseException:
        server.close()
        raise
    return server
