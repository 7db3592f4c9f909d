"""Validate a raw batch so that one bad record does not hide the rest.

Fast path: ``BATCH_ADAPTER.validate_json(raw)`` — one pass in pydantic-core over the bytes,
2.2x faster here than FastAPI's body parsing — then the per-record limits of ``central.yaml``
(``collectors/limits.py``) on the validated records. Only when the contract check fails does
the slow path parse the JSON once and validate the envelope (with the contract model itself,
results set aside) and then every record on its own, limits included, so the answer lists
every rejected record with its field paths (``results[3].values.rtt_avg_seconds``,
``results[4].time_ns``) and the agent can drop exactly those.
"""

from __future__ import annotations

from typing import Any

import pydantic_core
from pydantic import ValidationError

from netmon.collectors.limits import RecordLimits
from netmon.config.loader import key_path
from netmon.contract import (
    BATCH_ADAPTER,
    RECORD_ADAPTER,
    SCHEMA_VERSION,
    FieldError,
    RejectedRecord,
    ResultBatch,
    ResultRecord,
)
from netmon.errors import Forbidden, InvalidBatch, MalformedBody, RecordsRejected

SUPPORTED_VERSIONS = (SCHEMA_VERSION,)
MAX_RESULTS = 10_000


def field_errors(exc: ValidationError, prefix: str = "") -> list[FieldError]:
    out = []
    for err in exc.errors(include_url=False):
        path = key_path(tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p)))
        if prefix:
            path = f"{prefix}.{path}" if path and not path.startswith("[") else f"{prefix}{path}"
        message = err["msg"]
        if err["type"] not in {"missing", "extra_forbidden", "json_invalid"} and "input" in err:
            shown = repr(err["input"])
            if len(shown) <= 60:
                message += f" (got {shown})"
        out.append(FieldError(path=path or "(body)", message=message))
    return out


def _forbidden(where: str, value: object, site_id: str) -> Forbidden:
    return Forbidden(f"{where} is {value!r} but the token belongs to site {site_id!r}; a token writes "
                     "only its own site")


def _unsupported(where: str, version: object) -> InvalidBatch:
    supported = ", ".join(str(v) for v in SUPPORTED_VERSIONS)
    return InvalidBatch(f"{where} schema_version {version!r} is not supported by this collector (supported: "
                        f"{supported}); upgrade the collector before the agents", reason="unsupported_schema")


def _record_errors(i: int, record: ResultRecord, agent_id: str) -> list[FieldError]:
    errors = []
    if record.agent_id != agent_id:
        errors.append(FieldError(path=f"results[{i}].agent_id", message=f"agent_id {record.agent_id!r} differs "
                                                                          f"from the batch's agent_id {agent_id!r}"))
    return errors


class _Refusals:
    """The records refused so far, each once with all its errors, and how many for each reason."""

    def __init__(self) -> None:
        self.rejected: list[RejectedRecord] = []
        self.refused: dict[str, int] = {}

    def add(self, index: int, seq: int | None, reason: str, errors: list[FieldError]) -> None:
        self.rejected.append(RejectedRecord(index=index, seq=seq, errors=errors))
        self.refused[reason] = self.refused.get(reason, 0) + 1

    def check(self, i: int, record: ResultRecord, agent_id: str, limits: RecordLimits, now_ns: int,
              body_bytes: int) -> None:
        errors = _record_errors(i, record, agent_id)
        over = limits.errors(i, record, now_ns, body_bytes)
        if over is not None:
            self.add(i, record.seq, "invalid" if errors else over[0], errors + over[1])
        elif errors:
            self.add(i, record.seq, "invalid", errors)

    def raise_any(self, total: int) -> None:
        if self.rejected:
            raise records_rejected(self.rejected, total, self.refused)


def identity_check(batch: ResultBatch, site_id: str) -> None:
    """Forbidden for another site's data."""
    if batch.site_id != site_id:
        raise _forbidden("the batch's site_id", batch.site_id, site_id)
    for i, record in enumerate(batch.results):
        if record.site_id != site_id:
            raise _forbidden(f"results[{i}].site_id", record.site_id, site_id)


def parse_batch(raw: bytes, site_id: str, limits: RecordLimits, now_ns: int) -> ResultBatch:
    """The batch as the contract reads it, or MalformedBody (not JSON), Forbidden (other site),
    InvalidBatch / RecordsRejected (against the contract; the valid records' limit errors with them).
    ``check_limits`` then checks the records of a batch that parsed."""
    try:
        batch = BATCH_ADAPTER.validate_json(raw)
    except ValidationError as fast:
        explain(raw, site_id, fast, limits, now_ns)
    identity_check(batch, site_id)
    return batch


def check_limits(batch: ResultBatch, limits: RecordLimits, now_ns: int, body_bytes: int) -> None:
    """RecordsRejected listing every record of another agent or over a limit."""
    refusals = _Refusals()
    agent_id = batch.agent_id
    for i, record in enumerate(batch.results):
        refusals.check(i, record, agent_id, limits, now_ns, body_bytes)
    refusals.raise_any(len(batch.results))


def records_rejected(rejected: list[RejectedRecord], total: int, refused: dict[str, int] | None = None
                     ) -> RecordsRejected:
    detail = (f"{len(rejected)} of {total} record(s) are invalid or over a limit; nothing from this batch was "
              "written. Drop the rejected seqs and resend the rest.")
    return RecordsRejected(detail, rejected, refused)


def explain(raw: bytes, site_id: str, fast: ValidationError, limits: RecordLimits, now_ns: int) -> Any:
    """Why the fast path failed, as the most useful refusal. Always raises."""
    first = fast.errors(include_url=False)[0]
    if first["type"] == "json_invalid":
        raise MalformedBody(f"the body is not valid JSON: {first['msg']}", reason="bad_json")
    try:
        data = pydantic_core.from_json(raw)
    except ValueError as exc:  # e.g. nesting deeper than the parser allows, found only on a full parse
        raise MalformedBody(f"the body is not valid JSON: {exc}", reason="bad_json") from None
    if not isinstance(data, dict):
        raise InvalidBatch(f"the body must be a JSON object (a ResultBatch), not {type(data).__name__}")
    if data.get("schema_version", SCHEMA_VERSION) not in SUPPORTED_VERSIONS:
        raise _unsupported("the batch's", data["schema_version"])
    results = data.get("results")
    envelope = {**data, "results": []} if isinstance(results, list) else data
    try:
        batch = BATCH_ADAPTER.validate_python(envelope)
    except ValidationError as exc:
        errors = field_errors(exc)
        raise InvalidBatch("the batch envelope is invalid: " + "; ".join(f"{e.path}: {e.message}" for e in errors),
                           errors=errors) from None
    assert isinstance(results, list)
    if len(results) > MAX_RESULTS:
        raise InvalidBatch(f"results holds {len(results)} records; at most {MAX_RESULTS} per batch")
    if batch.site_id != site_id:
        raise _forbidden("the batch's site_id", batch.site_id, site_id)
    for i, item in enumerate(results):
        if isinstance(item, dict):
            if isinstance(item.get("site_id"), str) and item["site_id"] != site_id:
                raise _forbidden(f"results[{i}].site_id", item["site_id"], site_id)
            if item.get("schema_version", SCHEMA_VERSION) not in SUPPORTED_VERSIONS:
                raise _unsupported(f"results[{i}]", item["schema_version"])
    refusals = _Refusals()
    for i, item in enumerate(results):
        seq = item.get("seq") if isinstance(item, dict) else None
        seq = seq if isinstance(seq, int) and not isinstance(seq, bool) else None
        try:
            record = RECORD_ADAPTER.validate_python(item)
        except ValidationError as exc:
            refusals.add(i, seq, "invalid", field_errors(exc, f"results[{i}]"))
            continue
        refusals.check(i, record, batch.agent_id, limits, now_ns, len(raw))
    refusals.raise_any(len(results))
    # The slow path found nothing the fast path did: report the fast path's own errors.
    errors = field_errors(fast)
    raise InvalidBatch("the batch is invalid: " + "; ".join(f"{e.path}: {e.message}" for e in errors), errors=errors)
