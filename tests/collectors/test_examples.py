"""The example files load: central.yaml with every section, the registry as YAML and as CSV, and
the sites' probe plans validate as the agent will validate them."""

from __future__ import annotations

from pathlib import Path

from netmon.collectors.surge import plan_for
from netmon.config.central import load_central
from netmon.config.registry import load_registry

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_example_central_config_and_registries_load() -> None:
    central = load_central(EXAMPLES / "central.yaml")
    assert central.registry == str(EXAMPLES / "sites.yaml")
    assert central.influxdb is not None and central.influxdb.api == "v2"
    assert central.surge is not None and central.surge.provinces == ["Đồng Nai"]
    yaml_sites = load_registry(EXAMPLES / "sites.yaml")
    csv_sites = load_registry(EXAMPLES / "sites.csv")
    assert [s.id for s in yaml_sites.sites] == [s.id for s in csv_sites.sites] == ["26734", "26740"]
    site = yaml_sites.site("26734")
    assert site is not None and site.plan is not None
    plan, surged = plan_for(site, central.surge.model_copy(update={"until": None}))
    assert surged and plan.probes["icmp"] == {"interval": "10s"} and plan.probes["http"] == {"interval": "30s"}
