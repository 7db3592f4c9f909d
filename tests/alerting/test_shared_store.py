"""Two alert engines (two collectors) on one real PostgreSQL: an incident is opened once, a
message sent once, a site shipping to the other collector is not silent, a site whose agent
moves from one collector to the other is followed by the second without a second page."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from netmon.alerting.engine import AlertEngine
from netmon.config.alerting import AlertingConfig
from netmon.config.registry import Registry
from netmon.lab.standins import WebhookReceiver
from netmon.statedb import StateLocation
from tests.alerting.helpers import T0, alerting_config, engine, heartbeat, registry, utilisation


def pair(pg_dsn: str, tmp_path: Path, config: AlertingConfig, reg: Registry) -> tuple[AlertEngine, AlertEngine]:
    a = engine(StateLocation(state_dir=tmp_path / "a", instance="col-a", postgres_dsn=pg_dsn), config, reg)
    b = engine(StateLocation(state_dir=tmp_path / "b", instance="col-b", postgres_dsn=pg_dsn), config, reg)
    return a, b


async def step(engines: tuple[AlertEngine, ...], now: float) -> None:
    """What both collectors' loops do each second, side by side: deliveries run concurrently, as
    they would in two processes (each would send a row the other has not marked delivered yet)."""
    for eng in engines:
        eng.tick(now)
    await asyncio.gather(*(eng.deliver(now) for eng in engines))


def statuses(hook: WebhookReceiver) -> list[tuple[str, str, str]]:
    return [(b["status"], a["labels"]["alertname"], a["labels"]["site"]) for b in hook.bodies() for a in b["alerts"]]


async def test_both_collectors_evaluating_one_site_open_one_incident_and_send_once(
        pg_dsn: str, tmp_path: Path, hook: WebhookReceiver) -> None:
    reg = registry(1)
    a, b = pair(pg_dsn, tmp_path, alerting_config([{"name": "hook", "type": "webhook", "url": hook.url}]), reg)
    site = reg.sites[0]
    t = T0
    for ratio, seconds in ((0.97, 200), (0.30, 60)):  # saturated for 200 s, then back to normal
        end = t + seconds
        while t < end:
            for eng in (a, b):  # the same results reach both (an agent flapping between them)
                eng.observe(site, [utilisation(site.id, t, ratio)], t)
            await step((a, b), t + 5)
            t += 10
    assert statuses(hook) == [("firing", "LinkUtilisationHigh", site.id), ("resolved", "LinkUtilisationHigh", site.id)]
    incidents = a.incidents(state="all", now=t)
    assert [(i.rule, i.state) for i in incidents] == [("LinkUtilisationHigh", "resolved")]
    assert [i.id for i in b.incidents(state="all", now=t)] == [incidents[0].id]
    assert len(a.store.notifications()) == 2  # one firing and one resolve message queued, in all
    await a.aclose()
    await b.aclose()


async def test_a_site_shipping_to_the_other_collector_is_not_silent_and_real_silence_pages_once(
        pg_dsn: str, tmp_path: Path, hook: WebhookReceiver) -> None:
    reg = registry(2)
    a, b = pair(pg_dsn, tmp_path, alerting_config([{"name": "hook", "type": "webhook", "url": hook.url}]), reg)
    to_a, to_b = reg.sites
    for eng, site in ((b, to_a), (a, to_b)):  # each agent first shipped to the other collector, then moved
        eng.observe(site, [heartbeat(site.id, T0)], T0)
    t = T0 + 10
    while t < T0 + 300:  # five minutes: each site ships only to its own collector
        a.observe(to_a, [heartbeat(to_a.id, t)], t)
        b.observe(to_b, [heartbeat(to_b.id, t)], t)
        await step((a, b), t + 5)
        t += 10
    assert hook.bodies() == [] and a.incidents(state="all") == [] and b.incidents(state="all") == []
    silent_from = t
    while t < silent_from + 120:  # to_a's agent stops; to_b keeps shipping to b
        b.observe(to_b, [heartbeat(to_b.id, t)], t)
        await step((a, b), t + 5)
        t += 10
    assert statuses(hook) == [("firing", "SiteSilent", to_a.id)]
    back_at = t
    while t < back_at + 60:  # to_a comes back, at the other collector
        b.observe(to_a, [heartbeat(to_a.id, t)], t)
        b.observe(to_b, [heartbeat(to_b.id, t)], t)
        await step((a, b), t + 5)
        t += 10
    assert statuses(hook) == [("firing", "SiteSilent", to_a.id), ("resolved", "SiteSilent", to_a.id)]
    assert [(i.rule, i.site_id, i.state) for i in a.incidents(state="all", now=t)] == [
        ("SiteSilent", to_a.id, "resolved")]
    await a.aclose()
    await b.aclose()


async def test_an_agent_moving_to_the_other_collector_is_followed_without_a_second_page(
        pg_dsn: str, tmp_path: Path, hook: WebhookReceiver) -> None:
    reg = registry(1)
    a, b = pair(pg_dsn, tmp_path, alerting_config([{"name": "hook", "type": "webhook", "url": hook.url}]), reg)
    site = reg.sites[0]
    t = T0

    async def run(receiver: AlertEngine, seconds: float, ratio: float) -> None:
        nonlocal t
        end = t + seconds
        while t < end:
            receiver.observe(site, [utilisation(site.id, t, ratio), heartbeat(site.id, t)], t)
            await step((a, b), t + 5)
            t += 10

    await run(a, 200, 0.97)  # fires at a
    await run(b, 200, 0.97)  # the agent moved to b: still firing, nothing new to say
    assert statuses(hook) == [("firing", "LinkUtilisationHigh", site.id)]
    await run(b, 60, 0.30)  # clears at b
    assert statuses(hook) == [("firing", "LinkUtilisationHigh", site.id), ("resolved", "LinkUtilisationHigh", site.id)]
    await run(a, 200, 0.97)  # back at a, saturated again: a stale "still firing" at a must not swallow it
    assert statuses(hook)[2:] == [("firing", "LinkUtilisationHigh", site.id)]
    assert [i.state for i in a.incidents(state="all", now=t)] == ["firing", "resolved"]
    await a.aclose()
    await b.aclose()


async def test_the_dispatch_lease_passes_on_when_its_holder_goes(pg_dsn: str, tmp_path: Path) -> None:
    reg = registry(1)
    config = alerting_config([{"name": "c", "type": "console", "path": str(tmp_path / "c.log")}])
    a, b = pair(pg_dsn, tmp_path, config, reg)
    assert a.store.holds_dispatch() and not b.store.holds_dispatch()
    assert a.store.holds_dispatch() and not b.store.holds_dispatch()  # asking again changes nothing
    await a.aclose()  # its session ends, and the lease with it
    assert b.store.holds_dispatch()
    await b.aclose()


async def test_firing_an_incident_another_collector_closed_meanwhile_opens_a_new_one(
        pg_dsn: str, tmp_path: Path, hook: WebhookReceiver) -> None:
    reg = registry(1)
    a, b = pair(pg_dsn, tmp_path, alerting_config([{"name": "hook", "type": "webhook", "url": hook.url}]), reg)
    site = reg.sites[0]
    a.observe(site, [utilisation(site.id, T0, 0.97)], T0)  # pending at a
    [pending] = b.incidents(state="pending", now=T0)
    b.store.update_incident(pending.id, state="resolved", resolved_at=T0 + 5)  # closed by the other collector
    t = T0 + 10
    while t <= T0 + 200:  # still saturated where the results arrive: it must fire, on a row that is open
        a.observe(site, [utilisation(site.id, t, 0.97)], t)
        await step((a, b), t + 5)
        t += 10
    assert statuses(hook) == [("firing", "LinkUtilisationHigh", site.id)]
    [firing] = a.incidents(state="firing", now=t)
    assert firing.id != pending.id
    await a.aclose()
    await b.aclose()


def test_a_planning_transaction_that_cannot_take_its_lock_leaves_nothing_open(pg_dsn: str) -> None:
    """A collector whose planning lock times out (PostgreSQL slow, or the other collector holding
    it) must not stay inside that failed transaction: before the fix every later transaction
    nested in it, the lock was never released, and the other collector's loop blocked on it."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    from netmon.alerting.store_postgres import PLAN_LOCK, PostgresAlertStore
    from netmon.errors import StorageError

    store = PostgresAlertStore(make_conninfo(pg_dsn, options="-c statement_timeout=300"), instance="col-a")
    with psycopg.connect(pg_dsn, autocommit=True) as other:
        other.execute("BEGIN")
        other.execute("SELECT pg_advisory_xact_lock(%s)", (PLAN_LOCK,))
        with pytest.raises(StorageError, match="statement timeout"), store.transaction(exclusive=True):
            raise AssertionError("the lock is held by the other session: this must not run")
        other.execute("COMMIT")
    assert store._depth == 0 and store._tx is None
    with store.transaction(exclusive=True):  # a new, real transaction: it takes the lock ...
        store.save_seen([("s-1", T0)], seen_by="col-a")
    assert store.seen() == {"s-1": (T0, "col-a")}
    with psycopg.connect(pg_dsn, autocommit=True) as other:  # ... and released it on commit
        assert other.execute("SELECT pg_try_advisory_lock(%s)", (PLAN_LOCK,)).fetchone() == (True,)
    store.close()
