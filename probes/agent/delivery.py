"""One ``POST /api/v1/results`` and what the collector's answer means for the outbox rows.

httpx exceptions and HTTP statuses become ``netmon.errors`` types here, at the boundary:

- 2xx: a ``BatchAck``; ``acked_seqs`` (or accepted + duplicates covering the whole batch)
  may be deleted, ``rejected`` records are dropped for good with their reason;
- 422 naming records: the same, nothing else in the batch is lost (the rest is resent, and
  re-sending what was in fact accepted only makes duplicates the collector drops);
- 401/403/other 4xx: ``CollectorRejected`` — keep the data, do not resend the same bytes at once;
- 413: ``BatchTooLarge`` — the shipper splits the batch;
- 429, and 503 with ``Retry-After`` (journal full): ``RetryLater`` after that many seconds;
- 5xx: ``CollectorUnavailable``; no answer at all: ``CollectorUnreachable``.
"""

from __future__ import annotations

import dataclasses
import email.utils
import gzip
import json
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from netmon.config.site import CollectorConnection
from netmon.contract import SCHEMA_VERSION, BatchAck
from netmon.errors import CollectorRejected, CollectorUnavailable
from probes.agent.outbox import Queued

if TYPE_CHECKING:
    import httpx

RESULTS_PATH = "/api/v1/results"


def skip_httpx_cli() -> None:
    """Keep httpx's command-line client out of this process (the agent's, and its http probe's httpx).

    httpx's ``__init__`` imports its CLI (click, rich, pygments: ~6 MB resident here) whenever
    those happen to be installed. The agent never runs it, and httpx falls back to a stub when
    that import fails — its own path for installs without ``httpx[cli]``.
    """
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


def lean_httpx() -> ModuleType:
    """httpx, imported only by an agent that ships (a site trial without a collector never pays for it)."""
    skip_httpx_cli()
    import httpx

    return httpx


class CollectorUnreachable(CollectorUnavailable):
    """No HTTP answer (connect error, timeout): usually our own line is down."""


class RetryLater(CollectorUnavailable):
    def __init__(self, message: str, retry_after: float, status_code: int) -> None:
        self.retry_after = retry_after
        self.status_code = status_code
        super().__init__(message)


class BatchTooLarge(CollectorRejected):
    pass


@dataclasses.dataclass
class Outcome:
    acked: set[int]
    rejected: dict[int, str]  # seq -> why the collector refused it


def batch_body(items: list[Queued], *, site_id: str, agent_id: str, dropped_total: int) -> bytes:
    """The ``ResultBatch`` JSON, gzip-compressed. Rows are spliced in as stored: they were
    serialised from validated ``ResultRecord``s, and re-parsing them would only cost CPU."""
    header = json.dumps({"schema_version": SCHEMA_VERSION, "site_id": site_id, "agent_id": agent_id,
                         "sent_at_ns": time.time_ns(), "dropped_total": dropped_total})
    text = header[:-1] + ', "results": [' + ", ".join(q.body for q in items) + "]}"
    return gzip.compress(text.encode(), compresslevel=6)


def read_token(path: str) -> str:
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise CollectorRejected(401, f"cannot read token file {path}: {exc.strerror}") from None
    if not token:
        raise CollectorRejected(401, f"token file {path} is empty")
    return token


def retry_after_seconds(value: str | None, default: float) -> float:
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(0.0, when.timestamp() - time.time())


def _detail(response: httpx.Response) -> str:
    text = response.text.strip().replace("\n", " ")
    return text[:300] or response.reason_phrase


def _rejections(data: Any, items: list[Queued]) -> dict[int, str]:
    """Seq -> reason from a BatchAck-shaped body, or FastAPI's ``detail`` list (loc: body.results.N...)."""
    out: dict[int, str] = {}
    for entry in data.get("rejected", []) if isinstance(data, dict) else []:
        index, seq = entry.get("index"), entry.get("seq")
        if seq is None and isinstance(index, int) and 0 <= index < len(items):
            seq = items[index].seq
        errors = entry.get("errors") or []
        reason = "; ".join(f"{e.get('path', '')}: {e.get('message', '')}" for e in errors) or "rejected"
        if isinstance(seq, int):
            out[seq] = reason
    for entry in data.get("detail", []) if isinstance(data, dict) and isinstance(data.get("detail"), list) else []:
        loc = entry.get("loc", []) if isinstance(entry, dict) else []
        if "results" in loc and loc.index("results") + 1 < len(loc):
            index = loc[loc.index("results") + 1]
            if isinstance(index, int) and 0 <= index < len(items):
                out[items[index].seq] = f"{'.'.join(map(str, loc))}: {entry.get('msg', '')}"
    return out


def outcome_of(response: httpx.Response, items: list[Queued]) -> Outcome:
    sent = {q.seq for q in items}
    status = response.status_code
    if 200 <= status < 300:
        try:
            ack = BatchAck.model_validate_json(response.content)
        except ValidationError as exc:
            raise CollectorUnavailable(f"collector answered {status} with an unreadable ack: {exc}") from None
        rejected = _rejections(ack.model_dump(), items)
        if ack.acked_seqs:
            acked = set(ack.acked_seqs) & sent
        elif ack.accepted + ack.duplicates + len(rejected) == len(items):
            acked = sent - set(rejected)
        else:  # cannot tell which rows are safe: keep them all, the resend only makes duplicates
            acked = set()
        return Outcome(acked=acked - set(rejected), rejected=rejected)
    if status == 422:
        try:
            data = response.json()
        except ValueError:
            data = None
        rejected = _rejections(data, items)
        if not rejected:
            raise CollectorRejected(status, _detail(response))
        acked = set(data.get("acked_seqs") or []) & sent if isinstance(data, dict) else set()
        return Outcome(acked=acked - set(rejected), rejected=rejected)
    if status == 413:
        raise BatchTooLarge(status, _detail(response))
    if status == 429 or (status == 503 and "retry-after" in response.headers):
        # the collector says when: over this site's rate, or its journal is full while the TSDB catches up
        raise RetryLater(f"collector answered {status}: {_detail(response)}",
                         retry_after_seconds(response.headers.get("retry-after"), 10.0), status)
    if status >= 500:
        raise CollectorUnavailable(f"collector answered {status}: {_detail(response)}")
    raise CollectorRejected(status, _detail(response))


class Delivery:
    """Holds the HTTP client (connection reuse, private CA) and the bearer token."""

    def __init__(self, connection: CollectorConnection, *, site_id: str, agent_id: str) -> None:
        self.connection = connection
        self.site_id = site_id
        self.agent_id = agent_id
        # A private CA file when given; the system's CAs for other https; none for plain http
        # (httpx would otherwise load its whole CA bundle, ~3 MB resident, for nothing).
        verify: str | bool = connection.ca_file or connection.url.startswith("https://")
        self._httpx = lean_httpx()
        self.client: httpx.AsyncClient = self._httpx.AsyncClient(base_url=connection.url.rstrip("/"), verify=verify,
                                        timeout=connection.request_timeout)
        self._token: str | None = None

    def token(self, reload: bool = False) -> str:
        if self._token is None or reload:
            self._token = read_token(self.connection.token_file)
        return self._token

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token()}", **kwargs.pop("headers", {})}
        try:
            response = await self.client.request(method, path, headers=headers, **kwargs)
        except self._httpx.HTTPError as exc:
            raise CollectorUnreachable(f"{method} {path}: {type(exc).__name__}: {exc or 'no detail'}") from None
        if response.status_code in {401, 403}:
            self._token = None  # the operator may have put a new token in place: read it next time
        return response

    async def post(self, items: list[Queued], dropped_total: int) -> Outcome:
        body = batch_body(items, site_id=self.site_id, agent_id=self.agent_id, dropped_total=dropped_total)
        response = await self.request("POST", RESULTS_PATH, content=body,
                                      headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
        return outcome_of(response, items)

    async def aclose(self) -> None:
        await self.client.aclose()
