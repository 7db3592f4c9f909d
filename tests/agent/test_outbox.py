"""The outbox's promises, on a real SQLite file: identities, durability across reopen, bounds."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from netmon.contract import RECORD_ADAPTER, Observation, ProbeKind, Status
from netmon.errors import StorageError
from netmon.probes.agent.outbox import Outbox

HOUR_NS = 3600 * 10**9


class Clock:
    def __init__(self, now_ns: int = 1_800_000_000 * 10**9) -> None:
        self.now_ns = now_ns

    def __call__(self) -> int:
        return self.now_ns


def obs(i: int, time_ns: int, probe: ProbeKind = ProbeKind.TCP) -> Observation:
    return Observation(probe=probe, target=f"t{i}", time_ns=time_ns, status=Status.OK,
                       values={"connect_seconds": i / 1000} if probe is ProbeKind.TCP else {})


def open_outbox(path: Path, clock: Clock, max_results: int = 1000, max_age: float = 86400,
                steady: Clock | None = None, boot: int = 7) -> Outbox:
    return Outbox(path, site_id="26734", agent_id="26734-agent", max_results=max_results, max_age_seconds=max_age,
                  clock_ns=clock, steady_ns=steady or Clock(5 * HOUR_NS), boot=boot)


def test_seqs_strictly_increase_and_survive_reopening(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "outbox.sqlite3"
    box = open_outbox(path, clock)
    base = box.snapshot.base_seq
    assert base == clock.now_ns // 1000  # a fresh outbox numbers from the time, not from 1
    first = box.add([obs(i, clock.now_ns) for i in range(5)])
    assert [r.seq for r in first] == [base + 1, base + 2, base + 3, base + 4, base + 5]
    box.acknowledge([base + 1, base + 2, base + 3, base + 4, base + 5])  # an empty outbox must still not reuse them
    box.close()

    clock.now_ns -= HOUR_NS  # the clock stepped back (NTP): numbering must not follow it
    box = open_outbox(path, clock)
    assert box.snapshot.base_seq == base and box.snapshot.last_seq == base + 5
    second = box.add([obs(9, clock.now_ns)])
    assert second[0].seq == base + 6
    stored = box.oldest(10)
    assert [q.seq for q in stored] == [base + 6]
    record = RECORD_ADAPTER.validate_json(stored[0].body)
    assert (record.site_id, record.agent_id, record.seq, record.target) == ("26734", "26734-agent", base + 6, "t9")
    assert box.snapshot.produced_total == 6 and box.snapshot.acknowledged_total == 5
    box.close()
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_over_its_size_bound_it_drops_oldest_first_and_counts_across_restarts(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "outbox.sqlite3"
    box = open_outbox(path, clock, max_results=100)
    base = box.snapshot.base_seq
    for start in range(0, 150, 10):
        box.add([obs(i, clock.now_ns + i) for i in range(start, start + 10)])
    assert box.snapshot.queued == 100
    assert box.snapshot.dropped_total == 50
    assert [q.seq for q in box.oldest(1000)] == list(range(base + 51, base + 151))
    box.close()

    box = open_outbox(path, clock, max_results=100)
    box.add([obs(150, clock.now_ns + 150)])
    stats = box.snapshot
    assert (stats.queued, stats.dropped_total, stats.last_seq) == (100, 51, base + 151)
    assert box.oldest(1)[0].seq == base + 52


def test_rows_age_by_their_time_in_the_outbox_never_by_their_stamps_or_the_wall_clock(tmp_path: Path) -> None:
    wall, steady = Clock(), Clock(5 * HOUR_NS)
    path = tmp_path / "o.sqlite3"
    box = open_outbox(path, wall, max_age=2 * 3600, steady=steady)
    # stamped by a clock that was years behind (the box booted in 2000): they only just entered
    box.add([obs(i, 946_684_800 * 10**9 + i) for i in range(3)])
    steady.now_ns += HOUR_NS
    box.add([obs(3, wall.now_ns)])
    assert box.snapshot.queued == 4 and box.snapshot.dropped_total == 0
    assert box.snapshot.oldest_age_seconds() == 3600
    wall.now_ns += 76 * 365 * 86400 * 10**9  # NTP steps the wall clock to 2100: nothing ages by it
    assert box.prune() == 0
    box.close()

    steady.now_ns += HOUR_NS // 2  # the agent restarts within the same boot: its rows kept ageing meanwhile
    box = open_outbox(path, wall, max_age=2 * 3600, steady=steady)
    assert box.snapshot.oldest_age_seconds() == 1.5 * 3600
    box.close()
    rebooted = Clock(60 * 10**9)  # a reboot: the boot-time clock starts again, the time off does not count
    box = open_outbox(path, wall, max_age=2 * 3600, steady=rebooted, boot=8)
    assert box.snapshot.oldest_age_seconds() == 1.5 * 3600
    rebooted.now_ns += HOUR_NS // 2 + 1
    assert box.prune() == 3  # the first three have now been queued over 2 h
    assert [RECORD_ADAPTER.validate_json(q.body).target for q in box.oldest(10)] == ["t3"]
    assert box.snapshot.dropped_total == 3


def test_an_outbox_of_the_release_before_keeps_its_rows_and_ages_them_from_the_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
        CREATE TABLE results (seq INTEGER PRIMARY KEY, probe TEXT NOT NULL, time_ns INTEGER NOT NULL,
                              body TEXT NOT NULL);
        CREATE INDEX results_time ON results (time_ns);
        INSERT INTO meta VALUES ('base_seq', 100), ('last_seq', 101), ('dropped_total', 0),
                                ('acknowledged_total', 0), ('rejected_total', 0), ('dropped_in_flight', 0);
    """)
    record = obs(1, 1_000).to_record(site_id="26734", agent_id="26734-agent", seq=101)
    conn.execute("INSERT INTO results VALUES (101, 'tcp', 1000, ?)", (record.model_dump_json(),))
    conn.commit()
    conn.close()
    steady = Clock(9 * HOUR_NS)
    box = open_outbox(path, Clock(), max_age=3600, steady=steady)
    assert [q.seq for q in box.oldest(5)] == [101] and box.prune() == 0
    steady.now_ns += HOUR_NS + 1
    assert box.prune() == 1 and box.snapshot.last_seq == 101
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 2
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_accounting_adds_up_and_double_acks_do_not_double_count(tmp_path: Path) -> None:
    clock = Clock()
    box = open_outbox(tmp_path / "o.sqlite3", clock, max_results=100)
    records = box.add([obs(i, clock.now_ns) for i in range(120)])  # 20 dropped at once
    seqs = [r.seq for r in records]
    assert box.acknowledge(seqs[20:60]) == 40
    assert box.acknowledge(seqs[20:60]) == 0  # the collector acknowledged a resent batch again
    assert box.acknowledge(seqs[:5]) == 0  # already dropped
    assert box.reject(seqs[60:63]) == 3
    s = box.snapshot
    assert (s.produced_total, s.acknowledged_total, s.rejected_total, s.dropped_total, s.queued) == (120, 40, 3, 20, 57)
    assert s.produced_total == s.acknowledged_total + s.rejected_total + s.dropped_total + s.queued


def test_newest_heartbeat_is_found_among_older_results(tmp_path: Path) -> None:
    clock = Clock()
    box = open_outbox(tmp_path / "o.sqlite3", clock)
    beats = [box.add([obs(0, clock.now_ns + i, ProbeKind.AGENT)])[0].seq for i in range(3)]
    box.add([obs(i, clock.now_ns) for i in range(5)])
    newest = box.newest(ProbeKind.AGENT.value)
    assert newest is not None and newest.seq == beats[-1]
    assert [q.seq for q in box.oldest(2, exclude=[beats[0]])] == [beats[1], beats[2]]


def test_an_unusable_state_dir_is_a_storage_error_naming_the_file(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(StorageError, match=r"cannot open outbox .*not-a-dir/outbox.sqlite3"):
        open_outbox(blocker / "outbox.sqlite3", Clock())


def test_a_drop_of_a_row_on_the_wire_counts_only_once_the_collectors_answer_is_known(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "o.sqlite3"
    box = open_outbox(path, clock, max_results=100)
    seqs = [r.seq for r in box.add([obs(i, clock.now_ns) for i in range(100)])]
    box.set_in_flight(seqs[:30])  # the shipper is sending the 30 oldest
    box.add([obs(i, clock.now_ns) for i in range(100, 110)])  # the bound drops the 10 oldest: on the wire
    assert box.snapshot.queued == 100 and box.snapshot.dropped_total == 0
    assert [q.seq for q in box.oldest(1)] == [seqs[10]]
    assert box.acknowledge(seqs[:25]) == 25  # the collector took 25 of them, including the 10 dropped
    box.set_in_flight(())  # 5 more were in the batch but not acknowledged: none of them had been dropped
    s = box.snapshot
    assert (s.produced_total, s.acknowledged_total, s.dropped_total, s.queued) == (110, 25, 0, 85)

    box.set_in_flight(seqs[25:45])
    box.add([obs(i, clock.now_ns) for i in range(110, 140)])  # drops seqs[25:40], all on the wire
    box.acknowledge(seqs[25:30])
    box.set_in_flight(())  # no answer for seqs[30:40]: now they count as dropped
    assert (box.snapshot.acknowledged_total, box.snapshot.dropped_total) == (30, 10)

    box.set_in_flight(seqs[40:50])
    box.add([obs(i, clock.now_ns) for i in range(140, 145)])  # drops seqs[40:45] on the wire, then a crash
    box.close()
    box = open_outbox(path, clock, max_results=100)  # nobody knows their fate: counted as dropped
    s = box.snapshot
    assert (s.produced_total, s.acknowledged_total, s.dropped_total, s.queued) == (145, 30, 15, 100)
    assert s.produced_total == s.acknowledged_total + s.rejected_total + s.dropped_total + s.queued
