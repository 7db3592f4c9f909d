"""schemathesis over the collector's OpenAPI document, against the real collector process:
zero 5xx whatever it sends, positive (schema-valid) and negative (schema-violating) cases.

schemathesis' strategies drive hypothesis directly (``APIOperation.as_strategy`` with
``@given``): its pytest plugin does not run under pytest 9, and its ``requests`` transport
cannot drive the urllib3-future the shared environment has, so requests go out via httpx.
Every case carries a valid token — the site's on the agent routes, an admin one on the others, so
reads and the operator's writes get past authentication too — and half the ingest bodies are steered past the checks
the schema cannot express (``_own_site``), so generated batches reach the journal and the sinks.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from netmon.contract import VALUE_NAMES, ProbeKind
from netmon.lab.collector import CollectorProcess
from tests.collectors.conftest import make_collector

EXAMPLES = 40


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CollectorProcess, str]]:
    collector = make_collector(Path(tmp_path_factory.mktemp("fuzz")), sites=("26734",))
    try:
        yield collector, collector.enrol("26734")
    finally:
        collector.stop()


def _own_site(case: Any) -> None:
    """Steer half the ingest bodies past the checks the schema cannot express (the token's site and
    agent, value names per probe kind, a reason when not ok, a time the door accepts), so they reach
    the journal."""
    body = case.body
    if isinstance(body, dict) and case.path == "/api/v1/results" and hash(repr(body)) % 2 == 0:
        body["site_id"] = "26734"
        body["agent_id"] = "26734-agent"
        for record in body.get("results") or []:
            if isinstance(record, dict):
                record["site_id"] = "26734"
                record["agent_id"] = "26734-agent"
                record["time_ns"] = time.time_ns()
                probe = record.get("probe")
                if isinstance(record.get("values"), dict) and isinstance(probe, str) and probe in VALUE_NAMES:
                    allowed = VALUE_NAMES[ProbeKind(probe)]
                    record["values"] = {k: v for k, v in record["values"].items() if k in allowed}
                if record.get("status") != "ok" and not record.get("reason"):
                    record["reason"] = "fuzz"
    params = case.path_parameters
    if params and "site_id" in params and hash(repr(params)) % 2 == 0:
        params["site_id"] = "26734"


def _send(collector: CollectorProcess, token: str, case: Any) -> httpx.Response:
    if not case.path.startswith(("/api/v1/results", "/api/v1/agents/")):
        token = collector.role_token("admin")
    kwargs = case.as_transport_kwargs(base_url=collector.url, headers={"Authorization": f"Bearer {token}"})
    content = kwargs.get("data")
    return httpx.request(kwargs["method"], kwargs["url"], headers=kwargs.get("headers"), params=kwargs.get("params"),
                         json=kwargs.get("json"), content=content if isinstance(content, bytes | str) else None,
                         timeout=30)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_input_makes_the_collector_answer_5xx(fuzz_target: tuple[CollectorProcess, str],
                                                 mode: GenerationMode) -> None:
    collector, token = fuzz_target
    schema = schemathesis.openapi.from_dict(collector.get_json("/openapi.json"))
    statuses: dict[str, set[int]] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 6  # the collector's own six, plus those of its extensions (alerting)
    for operation in operations:
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy(generation_mode=mode))
        def check(case: Any) -> None:
            _own_site(case)
            response = _send(collector, token, case)
            statuses.setdefault(f"{case.method} {case.path}", set()).add(response.status_code)
            assert response.status_code < 500, (case.method, case.formatted_path, response.status_code,
                                                response.text[:500], case.body)

        try:
            check()
        except Unsatisfiable:
            # nothing in the operation can be made invalid (no body; any string is a valid site_id)
            assert mode is GenerationMode.NEGATIVE and not operation.body
    assert collector.proc.alive()
    assert "unhandled error" not in collector.proc.log()
    # the fuzzer got past authentication into validation and storage
    assert "POST /api/v1/results" in statuses
    if mode is GenerationMode.POSITIVE:
        assert {"GET /api/v1/agents/{site_id}/config", "GET /api/v1/sites/{site_id}"} <= set(statuses)
        assert {200, 422} <= statuses["POST /api/v1/results"]
        assert 200 in statuses["GET /api/v1/stats"] and 200 in statuses["GET /api/v1/tokens"]
