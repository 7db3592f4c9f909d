"""Bad input: each case gets its status code and a clear message, nothing is written, and the
collector keeps serving (a good batch right after is accepted)."""

from __future__ import annotations

import gzip
import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest

from netmon.lab.collector import CollectorProcess, sample_batch
from netmon.lab.netns import wait_until
from tests.collectors.conftest import journal_rows

_seqs = itertools.count(1000)


def fresh(site: str = "26734", n: int = 3, **kw: Any) -> dict[str, Any]:
    return sample_batch(site, [next(_seqs) for _ in range(n)], **kw)


Poster = Callable[[CollectorProcess, dict[str, str]], tuple[int, Any]]


def post_raw(raw: bytes, token_site: str = "26734", headers: dict[str, str] | None = None) -> Poster:
    return lambda c, tokens: c.post_batch(tokens[token_site], raw, headers=headers)


def bomb() -> bytes:
    return gzip.compress(b'{"site_id": "26734", "results": [' + b" " * 200_000 + b"]}")


def gzip_truncated() -> bytes:
    data = gzip.compress(json.dumps(fresh()).encode())
    return data[: len(data) - 12]


def future_version() -> bytes:
    batch = fresh()
    batch["schema_version"] = 2
    return json.dumps(batch).encode()


def other_site_record() -> bytes:
    batch = fresh()
    batch["results"][1]["site_id"] = "26740"
    return json.dumps(batch).encode()


def huge_dropped_total() -> bytes:
    batch = fresh()
    batch["dropped_total"] = 2**63
    return json.dumps(batch).encode()


CASES: list[tuple[str, Poster, int, str]] = [
    ("no token", lambda c, t: c.post_batch(None, fresh()), 401, "missing site token"),
    ("wrong token", lambda c, t: c.post_batch("not-a-token", fresh()), 401, "invalid or revoked site token"),
    ("other site's token", lambda c, t: c.post_batch(t["26740"], fresh()), 403,
     "the batch's site_id is '26734' but the token belongs to site '26740'"),
    ("a record of another site", post_raw(other_site_record()), 403,
     "results[1].site_id is '26740' but the token belongs to site '26734'"),
    ("oversize body", post_raw(b"{" + b" " * 70_000 + b"}"), 413, "exceeds the limit of 65536 bytes"),
    ("gzip bomb", post_raw(bomb(), headers={"Content-Encoding": "gzip"}), 413,
     "the decompressed body exceeds the limit of 65536 bytes"),
    ("truncated gzip", post_raw(gzip_truncated(), headers={"Content-Encoding": "gzip"}), 400,
     "the gzip body is truncated"),
    ("unknown encoding", post_raw(b"{}", headers={"Content-Encoding": "br"}), 415,
     "Content-Encoding 'br' is not supported"),
    ("invalid JSON", post_raw(b'{"site_id": "26734", "results": [{"seq": 1,'), 400, "the body is not valid JSON"),
    ("not an object", post_raw(b"[1, 2]"), 422, "the body must be a JSON object"),
    ("future schema version", post_raw(future_version()), 422,
     "the batch's schema_version 2 is not supported by this collector (supported: 1)"),
    ("a counter SQLite cannot hold", post_raw(huge_dropped_total()), 422,
     "the batch envelope is invalid: dropped_total: Input should be less than or equal to 9223372036854775807"),
    ("envelope without agent_id", post_raw(b'{"site_id": "26734", "results": []}'), 422,
     "the batch envelope is invalid: agent_id: Field required"),
]


@pytest.mark.parametrize(("case", "post", "status", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_clearly_and_nothing_is_written(
        embedded: tuple[CollectorProcess, dict[str, str]], case: str, post: Poster, status: int, message: str) -> None:
    collector, tokens = embedded
    before = journal_rows(collector)
    got_status, body = post(collector, tokens)
    assert got_status == status, body
    assert message in body["detail"]
    assert journal_rows(collector) == before
    good = fresh()
    assert collector.post_batch(tokens["26734"], good) == (200, {
        "accepted": 3, "duplicates": 0, "rejected": [], "acked_seqs": [r["seq"] for r in good["results"]]})
    assert journal_rows(collector) == before + 3


def test_invalid_records_are_all_listed_and_the_rest_is_accepted_on_resend(
        embedded: tuple[CollectorProcess, dict[str, str]]) -> None:
    collector, tokens = embedded
    batch = fresh(n=5)
    batch["results"][1]["values"]["rtt_avg_seconds"] = "fast"
    batch["results"][3]["status"] = "failed"  # without a reason
    batch["results"][4]["agent_id"] = "someone-else"
    batch["results"][2]["seq"] = 2**63  # beyond what SQLite and InfluxDB integers hold
    seqs = [r["seq"] for r in batch["results"]]
    before = journal_rows(collector)
    status, body = collector.post_batch(tokens["26734"], batch, gzipped=True)
    assert status == 422
    assert body["detail"] == ("4 of 5 record(s) are invalid or over a limit; nothing from this batch was written. "
                              "Drop the rejected seqs and resend the rest.")
    assert body["accepted"] == 0 and body["acked_seqs"] == []
    assert body["rejected"] == [
        {"index": 1, "seq": seqs[1], "errors": [{"path": "results[1].values.rtt_avg_seconds",
                                                 "message": "Input should be a valid number, unable to parse string "
                                                            "as a number (got 'fast')"}]},
        {"index": 2, "seq": seqs[2], "errors": [{"path": "results[2].seq",
                                              "message": "Input should be less than or equal to 9223372036854775807 "
                                                         "(got 9223372036854775808)"}]},
        {"index": 3, "seq": seqs[3], "errors": [{"path": "results[3]",
                                                 "message": "Value error, status 'failed' needs a reason"}]},
        {"index": 4, "seq": seqs[4], "errors": [{"path": "results[4].agent_id",
                                                 "message": "agent_id 'someone-else' differs from the batch's "
                                                            "agent_id '26734-agent'"}]},
    ]
    assert journal_rows(collector) == before
    # what the agent does next: drop the rejected seqs, resend the rest
    batch["results"] = [r for i, r in enumerate(batch["results"]) if i not in (1, 2, 3, 4)]
    status, body = collector.post_batch(tokens["26734"], batch)
    assert (status, body["accepted"], body["acked_seqs"]) == (200, 1, [seqs[0]])
    assert journal_rows(collector) == before + 1


def test_a_replayed_batch_is_acknowledged_as_duplicates_and_written_once(
        embedded: tuple[CollectorProcess, dict[str, str]]) -> None:
    collector, tokens = embedded
    batch = fresh(site="26740", n=4)
    seqs = [r["seq"] for r in batch["results"]]
    before = journal_rows(collector)
    assert collector.post_batch(tokens["26740"], batch)[1]["accepted"] == 4
    for _ in range(2):
        assert collector.post_batch(tokens["26740"], batch, gzipped=True) == (200, {
            "accepted": 0, "duplicates": 4, "rejected": [], "acked_seqs": seqs})
    # an overlapping batch: only the new seqs count
    overlap = sample_batch("26740", [*seqs[2:], seqs[-1] + 1, seqs[-1] + 2])
    assert collector.post_batch(tokens["26740"], overlap)[1] == {
        "accepted": 2, "duplicates": 2, "rejected": [], "acked_seqs": [*seqs[2:], seqs[-1] + 1, seqs[-1] + 2]}
    assert journal_rows(collector) == before + 6
    site = collector.get_json("/api/v1/sites/26740")
    assert (site["accepted"], site["duplicate"]) == (6, 10)


def test_a_site_over_its_rate_gets_429_with_retry_after(embedded: tuple[CollectorProcess, dict[str, str]]) -> None:
    collector, tokens = embedded
    assert collector.post_batch(tokens["26799"], fresh("26799", n=200))[0] == 200
    before = journal_rows(collector)
    status, headers, body = collector.request(
        "POST", "/api/v1/results", json.dumps(fresh("26799", n=200)).encode(),
        {"Authorization": f"Bearer {tokens['26799']}"})
    assert status == 429
    assert json.loads(body)["detail"].startswith("site 26799 is over its limit of 300 results per minute; retry in")
    # 100 left in the bucket, 5 per second refill: 200 fit after 20 s
    assert 19 <= int(headers["retry-after"]) <= 20
    assert journal_rows(collector) == before
    # another site is not affected
    assert collector.post_batch(tokens["26734"], fresh())[0] == 200


def test_revocation_takes_effect_on_the_next_request(tmp_path: Any, embedded: tuple[CollectorProcess, dict[str, str]]
                                                     ) -> None:
    collector, tokens = embedded
    import subprocess
    import sys

    from tests.conftest import netmon_env
    token = collector.enrol("26799", rotate=True)
    assert collector.post_batch(token, fresh("26799", n=1))[0] == 200
    assert collector.post_batch(tokens["26799"], fresh("26799", n=1))[0] == 401  # the rotated-out token
    out = subprocess.run([sys.executable, "-m", "netmon", "sites", "revoke", "26799", "--config",
                          str(collector.config_path)], capture_output=True, text=True, env=netmon_env())
    assert out.returncode == 0 and out.stdout.strip() == "revoked the token of site 26799"
    assert collector.post_batch(token, fresh("26799", n=1)) == (401, {"detail": "invalid or revoked site token"})
    tokens["26799"] = collector.enrol("26799")


def test_a_full_journal_answers_503_and_accepts_nothing(tmp_path: Any) -> None:
    from tests.collectors.conftest import make_collector

    # a TSDB that never answers (nothing listens on loopback port 9): results pile up in the journal
    unreachable = {"url": "http://127.0.0.1:9", "api": "v2", "org": "noc", "bucket": "netmon"}
    with make_collector(tmp_path / "c", influx=unreachable, journal={"max_pending_results": 1000}) as collector:
        token = collector.enrol("26734")
        assert collector.post_batch(token, sample_batch("26734", range(1, 1001)))[1]["accepted"] == 1000
        before = journal_rows(collector)
        status, headers, body = collector.request("POST", "/api/v1/results",
                                                  json.dumps(sample_batch("26734", [1001])).encode(),
                                                  {"Authorization": f"Bearer {token}"})
        assert (status, headers["retry-after"]) == (503, "30")
        assert json.loads(body)["detail"].startswith("the collector's journal is full while the TSDB catches up")
        assert journal_rows(collector) == before
        assert collector.post_batch(token, sample_batch("26734", [5]))[0] == 503  # even a replay waits
        wait_until(lambda: not collector.get_json("/api/v1/stats")["totals"]["tsdb_up"], 10, what="TSDB down")
        assert collector.get_json("/api/v1/stats")["totals"]["journal_pending_results"] == 1000
