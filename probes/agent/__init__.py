"""The probe agent's runtime: scheduling, the durable outbox, shipping to the centre, plan polling.

Modules, one concern each: ``outbox`` (SQLite, identities, bounds; ``async_outbox`` gives it
its own thread), ``collector_client`` (the HTTP requests), ``answer`` (what the collector's
answer means), ``shipper`` (batching, backoff, drain), ``plan_source``
(where the probe plan comes from), ``schedule`` (APScheduler jobs), ``metrics`` (/metrics),
``heartbeat``, ``once`` and ``table`` (``netmon probe once``) and ``runtime`` (``netmon probe run``).
"""
