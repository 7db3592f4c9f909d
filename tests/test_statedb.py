"""Shared state: the ``state:`` section, versioned schemas on SQLite and a real PostgreSQL."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import psycopg
import pytest
import yaml

from netmon.alerting.store_schema import COMPONENT, MIGRATIONS, V1_SQLITE
from netmon.alerting.store_sqlite import SqliteAlertStore
from netmon.collectors.settings import ServiceSettings, state_location
from netmon.config.central import load_central
from netmon.errors import ConfigError, StorageError
from netmon.statedb.migrations import Migration, migrate_postgres, migrate_sqlite, schema_version, statements
from netmon.statedb.postgres import connect


def central(tmp_path: Path, **sections: object) -> Path:
    (tmp_path / "sites.yaml").write_text("sites: []\n")
    path = tmp_path / "central.yaml"
    path.write_text(yaml.safe_dump({"registry": "sites.yaml", "state_dir": "state", **sections}))
    return path


def test_state_defaults_to_sqlite_in_state_dir(tmp_path: Path) -> None:
    path = central(tmp_path)
    location = state_location(load_central(path), str(path), ServiceSettings(env="production"))
    assert not location.shared and location.postgres_dsn is None
    assert location.state_dir == tmp_path / "state"


def test_postgres_dsn_file_is_relative_to_central_yaml_and_a_placeholder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "pg.dsn").write_text("postgresql://netmon:changeme@db1:5432/netmon\n")
    path = central(tmp_path, state={"postgres": {"dsn_file": "pg.dsn"}, "instance": "col-a"})
    config = load_central(path)
    assert config.state.postgres is not None and config.state.postgres.dsn_file == str(tmp_path / "pg.dsn")
    with pytest.raises(ConfigError) as info:
        state_location(config, str(path), ServiceSettings(env="production"))
    assert "state.postgres.dsn_file" in str(info.value) and "placeholder" in str(info.value)
    assert "changeme" not in str(info.value).replace("placeholder", "")  # the secret is never echoed
    location = state_location(config, str(path), ServiceSettings(env="development"))
    assert location.shared and location.instance == "col-a"
    assert "changeme" not in repr(location)


def test_unknown_state_key_names_file_line_and_key(tmp_path: Path) -> None:
    path = central(tmp_path, state={"postgres": {"dsn": "postgresql://x"}})
    with pytest.raises(ConfigError) as info:
        load_central(path)
    assert "state.postgres" in str(info.value)


def test_a_file_from_before_versioning_is_adopted_as_version_1_and_migrated(tmp_path: Path) -> None:
    path = tmp_path / "alerting.db"
    old = sqlite3.connect(path)
    old.executescript(V1_SQLITE)
    old.execute("INSERT INTO site_seen (site_id, last_seen) VALUES ('26734', 1751331600.0)")
    old.commit()
    old.close()
    store = SqliteAlertStore(path)
    try:
        assert schema_version(store.db, COMPONENT) == len(MIGRATIONS) == MIGRATIONS[-1].version
        assert store.seen() == {"26734": (1751331600.0, None)}  # kept, and the new column is there
    finally:
        store.close()


def test_a_schema_newer_than_the_program_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "alerting.db"
    SqliteAlertStore(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE schema_version SET version = 9 WHERE component = 'alerting'")
    db.commit()
    db.close()
    with pytest.raises(StorageError, match="version 9, newer than this netmon knows"):
        SqliteAlertStore(path)


def test_a_failing_step_leaves_the_schema_as_it_was(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    steps = (Migration(1, "t", sqlite="CREATE TABLE t (a INTEGER);", postgres=""),
             Migration(2, "broken", sqlite="ALTER TABLE t ADD COLUMN b TEXT; ALTER TABLE nope ADD COLUMN c TEXT;",
                       postgres=""))
    migrate_sqlite(conn, "x", steps[:1], "x.db")
    with pytest.raises(StorageError, match="no such table: nope"):
        migrate_sqlite(conn, "x", steps, "x.db")
    assert schema_version(conn, "x") == 1
    assert [row[1] for row in conn.execute("PRAGMA table_info(t)")] == ["a"]


def test_statements_keep_a_trigger_body_whole() -> None:
    script = ("CREATE TABLE a (x INT); CREATE TRIGGER t AFTER INSERT ON a BEGIN INSERT INTO b VALUES (1); "
              "INSERT INTO b VALUES (2); END; CREATE INDEX i ON a(x)")
    assert [s.split()[1] for s in statements(script)] == ["TABLE", "TRIGGER", "INDEX"]


def test_two_collectors_starting_together_migrate_postgres_once(pg_dsn: str) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def start() -> None:
        try:
            conn = connect(pg_dsn, application_name="test", connect_timeout=5)
            barrier.wait()
            migrate_postgres(conn, COMPONENT, MIGRATIONS, "test")
            conn.close()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT component, version FROM schema_version").fetchall() == [("alerting", MIGRATIONS[-1].version)]
        columns = {r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'site_seen'")}
        assert columns == {"site_id", "last_seen", "seen_by"}


def test_unreachable_postgres_is_a_storage_error_naming_host_not_password(postgres: object) -> None:
    with pytest.raises(StorageError) as info:
        connect("postgresql://netmon:s3cr3t-pw@127.0.0.1:1/netmon", application_name="t", connect_timeout=2)
    assert "127.0.0.1:1/netmon" in str(info.value) and "s3cr3t-pw" not in str(info.value)
