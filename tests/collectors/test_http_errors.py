"""The one mapping from the collector's refusals to HTTP: every refusal in the error tree has a
status, and the answer carries what docs/collector.md promises (the real answers are checked
against a running collector in test_ingest_errors.py)."""

from __future__ import annotations

import pytest

import netmon.errors as errors
from netmon.collectors.http_errors import STATUS, answer_body, answer_headers, http_status
from netmon.contract import FieldError, RejectedRecord


def refusals(cls: type[errors.RequestRefused] = errors.RequestRefused) -> list[type[errors.RequestRefused]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *refusals(sub)]
    return found


def test_every_refusal_in_the_tree_has_a_status() -> None:
    def example(cls: type[errors.RequestRefused]) -> errors.RequestRefused:
        if cls is errors.RecordsRejected:
            return cls("x", [])
        return errors.CutOff("x", seconds=31.0) if cls is errors.CutOff else cls("x")

    statuses = {cls.__name__: http_status(example(cls)) for cls in refusals() if cls.__module__ == "netmon.errors"}
    assert statuses == {"Unauthenticated": 401, "Forbidden": 403, "NoProbePlan": 404, "MalformedBody": 400,
                        "BodyTooLarge": 413, "UnsupportedEncoding": 415, "InvalidBatch": 422,
                        "RecordsRejected": 422, "SiteRateLimited": 429, "CollectorBusy": 503, "CutOff": 503}
    assert all(cls.__module__ == "netmon.errors" for cls in STATUS)


def test_a_refusal_without_a_status_is_a_bug_not_a_silent_500() -> None:
    class Unmapped(errors.RequestRefused):
        pass

    with pytest.raises(TypeError, match="Unmapped has no HTTP status"):
        http_status(Unmapped("x"))


def test_answers_carry_the_record_list_the_field_paths_and_the_retry_hint() -> None:
    rejected = RejectedRecord(index=3, seq=7, errors=[FieldError(path="results[3].seq", message="bad")])
    assert answer_body(errors.RecordsRejected("1 of 4 record(s) are invalid", [rejected])) == {
        "detail": "1 of 4 record(s) are invalid", "accepted": 0, "duplicates": 0, "acked_seqs": [],
        "rejected": [{"index": 3, "seq": 7, "errors": [{"path": "results[3].seq", "message": "bad"}]}]}
    envelope = errors.InvalidBatch("envelope", errors=[FieldError(path="agent_id", message="Field required")])
    assert answer_body(envelope) == {"detail": "envelope", "errors": [{"path": "agent_id", "message": "Field required"}]}
    assert answer_headers(errors.SiteRateLimited("slow down", retry_after=12.0)) == {"Retry-After": "12"}
    # the agent moves on at once (another collector), so the hint is the cut-off mark, not the wait
    assert answer_headers(errors.CutOff("cut off", seconds=31.4)) == {"Retry-After": "10", "X-Netmon-Cut-Off": "31"}
    assert answer_headers(errors.Unauthenticated("who?")) == {
        "WWW-Authenticate": 'Bearer realm="netmon", Basic realm="netmon"'}  # Basic: a browser asks on /docs
    busy = errors.CollectorBusy("not stored", reason="storage_error", retry_after=5)
    assert (busy.reason, answer_headers(busy)) == ("storage_error", {"Retry-After": "5"})
    assert errors.CollectorBusy("journal full").reason == "overloaded"
