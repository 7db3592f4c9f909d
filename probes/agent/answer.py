"""What the collector's answer to ``POST /api/v1/results`` means for the outbox rows.

HTTP statuses become ``netmon.errors`` types here, at the boundary:

- 2xx: a ``BatchAck``; ``acked_seqs`` (or accepted + duplicates covering the whole batch)
  may be deleted, ``rejected`` records are dropped for good with their reason;
- 422 naming records: the same, nothing else in the batch is lost (the rest is resent, and
  re-sending what was in fact accepted only makes duplicates the collector drops);
- 401/403/other 4xx: ``CollectorRejected`` — keep the data, do not resend the same bytes at once;
- 413: ``BatchTooLarge`` — the shipper splits the batch;
- 429, and 503 with ``Retry-After`` (journal full): ``RetryLater`` after that many seconds;
- 5xx: ``CollectorUnavailable``; no answer at all (``collector_client``): ``CollectorUnreachable``.
"""

from __future__ import annotations

import dataclasses
import email.utils
import math
import time
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from netmon.contract import BatchAck
from netmon.errors import BatchTooLarge, CollectorRejected, CollectorUnavailable, RetryLater
from netmon.probes.agent.outbox import Queued

if TYPE_CHECKING:
    import httpx


@dataclasses.dataclass
class Settlement:
    """What becomes of the rows of one batch sent: deleted as delivered, or dropped for good."""

    acked: set[int]
    rejected: dict[int, str]  # seq -> why the collector refused it


def retry_after_seconds(value: str | None, default: float) -> float:
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:  # "inf" and "nan" parse as floats: neither is a wait
        return max(0.0, seconds) if math.isfinite(seconds) else default
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


def settlement_of(response: httpx.Response, items: list[Queued]) -> Settlement:
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
        return Settlement(acked=acked - set(rejected), rejected=rejected)
    if status == 422:
        try:
            data = response.json()
        except ValueError:
            data = None
        rejected = _rejections(data, items)
        if not rejected:
            raise CollectorRejected(status, _detail(response))
        acked = set(data.get("acked_seqs") or []) & sent if isinstance(data, dict) else set()
        return Settlement(acked=acked - set(rejected), rejected=rejected)
    if status == 413:
        raise BatchTooLarge(status, _detail(response))
    if status == 429 or (status == 503 and "retry-after" in response.headers):
        # the collector says when: over this site's rate, or its journal is full while the TSDB catches up
        raise RetryLater(f"collector answered {status}: {_detail(response)}",
                         retry_after_seconds(response.headers.get("retry-after"), 10.0), status)
    if status >= 500:
        raise CollectorUnavailable(f"collector answered {status}: {_detail(response)}")
    raise CollectorRejected(status, _detail(response))
