"""The probe agent's runtime: scheduling, the durable outbox, shipping to the centre, plan polling.

Modules, one concern each: ``outbox`` (SQLite, identities, bounds), ``delivery`` (one HTTP
POST and what its answer means), ``shipper`` (batching, backoff, drain), ``plan_source``
(where the probe plan comes from), ``schedule`` (APScheduler jobs), ``metrics`` (/metrics),
``heartbeat``, ``once`` (``netmon probe once``) and ``runtime`` (``netmon probe run``).
"""
