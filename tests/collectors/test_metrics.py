"""/metrics passes `promtool check metrics` and shows the live state: latest RTT, loss and
utilisation of the contracted rate per link, last-report age, site metadata only in netmon_site_info."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from netmon.lab.collector import sample_batch
from tests.collectors.conftest import make_collector
from tests.process_metrics import assert_process_metrics


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_pass_promtool_and_show_the_live_state(tmp_path: Path) -> None:
    started = time.time()
    with make_collector(tmp_path / "c", sites=("26734", "26740")) as collector:
        token = collector.enrol("26734")
        now = time.time_ns()
        batch = sample_batch("26734", range(1, 4), time_ns=now - 10 * 10**9)  # newest: seq 3, rtt 13 ms
        batch["results"].append({
            "site_id": "26734", "agent_id": "26734-agent", "seq": 4, "probe": "snmp_if", "link": "leased",
            "link_kind": "leased_line", "target": "router", "time_ns": now, "status": "ok",
            "values": {"in_bps": 80e6, "out_bps": 30e6}})  # 80 of the registry's 100 Mbit/s
        batch["results"].append({
            "site_id": "26734", "agent_id": "26734-agent", "seq": 5, "probe": "icmp", "link": "tslcd",
            "link_kind": "data_network", "target": "provincial-dc", "time_ns": now, "status": "failed",
            "reason": "100% loss", "values": {"loss_ratio": 1.0, "sent_packets": 5.0, "received_packets": 0.0}})
        assert collector.post_batch(token, batch)[0] == 200
        bad = sample_batch("26734", [6])
        bad["results"][0]["values"]["loss_ratio"] = "x"
        assert collector.post_batch(token, bad)[0] == 422
        assert collector.post_batch(token, sample_batch("26734", [1]))[1]["duplicates"] == 1
        assert collector.post_batch(None, sample_batch("26734", [7]))[0] == 401

        status, headers, body = collector.read("/metrics")
        assert status == 200 and headers["content-type"].startswith("text/plain")
        text = body.decode()
        check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True,
                               timeout=30)
        assert check.returncode == 0, check.stdout + check.stderr
        got = samples(text)
        assert_process_metrics(got, collector.proc.pid, started)
        site = (("site", "26734"),)
        assert got[("netmon_site_info", (("district", "Biên Hòa"), ("name", "Xã 26734"), ("province", "Đồng Nai"),
                                          *site))] == 1.0
        assert ("netmon_site_info", (("district", "Biên Hòa"), ("name", "Xã 26740"), ("province", "Đồng Nai"),
                                     ("site", "26740"))) in got
        rtt_key = ("netmon_link_rtt_seconds", (("link", "leased"), ("probe", "icmp"), *site, ("target", "isp-edge")))
        assert got[rtt_key] == pytest.approx(0.013)
        assert got[("netmon_link_loss_ratio", (("link", "tslcd"), ("probe", "icmp"), *site,
                                               ("target", "provincial-dc")))] == 1.0
        assert ("netmon_link_rtt_seconds", (("link", "tslcd"), ("probe", "icmp"), *site,
                                            ("target", "provincial-dc"))) not in got  # failed: no RTT
        assert got[("netmon_link_utilisation_ratio", (("link", "leased"), *site))] == 0.8
        assert 0 <= got[("netmon_site_last_report_age_seconds", site)] < 10
        assert ("netmon_site_last_report_age_seconds", (("site", "26740"),)) not in got  # never reported
        assert got[("netmon_collector_results_total", (("outcome", "accepted"),))] == 5
        assert got[("netmon_collector_results_total", (("outcome", "duplicate"),))] == 1
        assert got[("netmon_collector_results_total", (("outcome", "rejected"),))] == 1
        assert got[("netmon_collector_rejected_requests_total", (("reason", "invalid_records"),))] == 1
        assert got[("netmon_collector_rejected_requests_total", (("reason", "unauthorized"),))] == 1
        assert got[("netmon_site_results_total", (("outcome", "accepted"), *site))] == 5
        assert got[("netmon_collector_journal_pending_results", ())] == 0  # no TSDB configured
        # metadata is on netmon_site_info only
        assert not [k for k in got if k[0] != "netmon_site_info" and any(n in ("name", "province") for n, _ in k[1])]

        # the live state survives a restart (rebuilt from the journal)
        collector.restart()
        again = samples(collector.read("/metrics")[2].decode())
        assert again[rtt_key] == pytest.approx(0.013)
        assert again[("netmon_link_utilisation_ratio", (("link", "leased"), *site))] == 0.8
        assert again[("netmon_site_results_total", (("outcome", "rejected"), *site))] == 1
        detail = collector.get_json("/api/v1/sites/26734")
        leased = next(link for link in detail["links"] if link["name"] == "leased")
        assert (leased["rtt_seconds"], leased["utilisation_ratio"], leased["contracted_bps"]) == (
            pytest.approx(0.013), 0.8, 1e8)
        assert (detail["accepted"], detail["duplicate"], detail["rejected"]) == (5, 1, 1)
