"""GET /api/v1/agents/{site}/config hands out the registry's probe plan (ETag, 304), switches a
province to the go-live surge plan on SIGHUP, and SIGHUP reloads the registry (a broken file
keeps the previous one)."""

from __future__ import annotations

from pathlib import Path

import yaml

from netmon.config.site import ProbePlan
from netmon.lab.collector import lab_site, sample_batch, start_collector, write_central, write_registry
from netmon.lab.netns import wait_until
from tests.conftest import netmon_env

PLAN = {"links": [{"name": "leased", "kind": "leased_line", "contracted_mbps": 100,
                   "targets": [{"host": "10.77.2.2", "name": "isp-edge"}]}],
        "probes": {"icmp": {"interval": "30s"}, "http": {"interval": 60}}}


def test_probe_plan_etag_surge_and_registry_reload(tmp_path: Path) -> None:
    registry = write_registry(tmp_path / "sites.yaml", [
        lab_site("26734", plan=PLAN), lab_site("30001", province="Hà Giang", plan=PLAN), lab_site("26740")])
    config = write_central(tmp_path, registry)
    with start_collector(config, env=netmon_env()) as collector:
        tokens = {s: collector.enrol(s) for s in ("26734", "30001", "26740")}
        path = "/api/v1/agents/26734/config"
        auth = {"Authorization": f"Bearer {tokens['26734']}"}
        status, headers, body = collector.request("GET", path, headers=auth)
        assert status == 200 and headers["x-netmon-surge"] == "off"
        plan = ProbePlan.model_validate_json(body)
        assert plan == ProbePlan.model_validate(PLAN)
        etag = headers["etag"]
        assert collector.request("GET", path, headers={**auth, "If-None-Match": etag})[0] == 304

        assert collector.request("GET", path)[0] == 401
        status, _, body = collector.request("GET", path, headers={"Authorization": f"Bearer {tokens['30001']}"})
        assert status == 403 and b"the token belongs to site '30001', not '26734'" in body
        status, _, body = collector.request("GET", "/api/v1/agents/26740/config",
                                            headers={"Authorization": f"Bearer {tokens['26740']}"})
        assert status == 404 and b"no probe plan for site 26740; the agent keeps its local plan" in body

        # go-live surge for Đồng Nai, applied by SIGHUP without a restart
        central = yaml.safe_load(config.read_text())
        central["surge"] = {"provinces": ["Đồng Nai"], "probes": {"icmp": {"interval": "10s"}, "dns": {"interval": 30}}}
        config.write_text(yaml.safe_dump(central, allow_unicode=True))
        collector.reload()

        def surged() -> bool:
            return collector.request("GET", path, headers=auth)[1]["x-netmon-surge"] == "on"

        wait_until(surged, 10, what="the surge to switch on")
        status, headers, body = collector.request("GET", path, headers={**auth, "If-None-Match": etag})
        assert status == 200 and headers["etag"] != etag
        assert ProbePlan.model_validate_json(body).probes == {
            "icmp": {"interval": "10s"}, "http": {"interval": 60}, "dns": {"interval": 30}}
        other = collector.request("GET", "/api/v1/agents/30001/config",
                                  headers={"Authorization": f"Bearer {tokens['30001']}"})
        assert other[1]["x-netmon-surge"] == "off"
        assert collector.get_json("/api/v1/stats")["totals"]["surge_provinces"] == ["Đồng Nai"]

        # a new site appears in the registry: SIGHUP, enrol, post
        write_registry(registry, [lab_site("26734", plan=PLAN), lab_site("30001", province="Hà Giang", plan=PLAN),
                                  lab_site("26740"), lab_site("26750")])
        collector.reload()
        wait_until(lambda: len(collector.get_json("/api/v1/stats")["sites"]) == 4, 10, what="the registry reload")
        token = collector.enrol("26750")
        assert collector.post_batch(token, sample_batch("26750", [1, 2]))[1]["accepted"] == 2

        # a broken registry file keeps the previous registry
        registry.write_text("sites: [{id: '1'}]\n")
        collector.reload()
        wait_until(lambda: 'netmon_collector_registry_reloads_total{outcome="error"} 1.0'
                   in collector.read("/metrics")[2].decode(), 10, what="the failed reload")
        assert len(collector.get_json("/api/v1/stats")["sites"]) == 4
        assert collector.post_batch(token, sample_batch("26750", [3]))[1]["accepted"] == 1
        assert "registry reload failed, keeping the previous registry" in collector.proc.log()
