"""Build a province's readiness report from the central configuration: the site registry says
which communes the province has (so a commune that never reported is listed, not forgotten),
InfluxDB says what they measured."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from netmon.config.central import CentralConfig, InfluxConfig
from netmon.config.readiness import ReadinessConfig
from netmon.config.registry import Registry
from netmon.dashboards.influx import InfluxQLClient
from netmon.dashboards.readiness.evaluate import SiteInfo, evaluate
from netmon.dashboards.readiness.measure import Window, measure, sites_in_tsdb
from netmon.dashboards.readiness.model import ReadinessReport


def registry_sites(registry: Registry, province: str) -> list[SiteInfo]:
    return [SiteInfo(site_id=s.id, name=s.name, district=s.district) for s in registry.sites if s.province == province]


def build_report(influx: InfluxConfig, province: str, config: ReadinessConfig, *, registry: Registry | None = None,
                 now: dt.datetime | None = None) -> ReadinessReport:
    generated_at = now or dt.datetime.now(dt.UTC)
    window = Window.ending_at(int(generated_at.timestamp() * 1000), config)
    with InfluxQLClient(influx) as client:
        measured = measure(client, province, config, window)
        if registry is not None:
            sites = registry_sites(registry, province)
        else:
            sites = [SiteInfo(site_id=s, name=s) for s in sites_in_tsdb(client, province)]
    source = (f"InfluxDB {influx.url}, cơ sở dữ liệu {client.database} (truy vấn InfluxQL); "
              f"danh sách xã từ {'sổ đăng ký trạm' if registry is not None else 'dữ liệu InfluxDB'}")
    return evaluate(province, sites, measured, config, window, generated_at=generated_at, source=source)


def build_from_central(central: CentralConfig, province: str, *, config_dir: Path | None = None,
                       now: dt.datetime | None = None) -> ReadinessReport:
    from netmon.config.registry import load_registry
    from netmon.errors import ConfigError

    if central.query_influx is None:
        raise ConfigError("central.yaml", [("influxdb", None, "the readiness report reads InfluxDB: add 'influxdb'")])
    registry_path = Path(central.registry)
    if not registry_path.is_absolute() and config_dir is not None:
        registry_path = config_dir / registry_path
    registry = load_registry(registry_path)
    known = sorted({s.province for s in registry.sites})
    if province not in known:
        raise ConfigError(str(registry_path), [("", None, f"no site of province {province!r} in the registry; "
                                                          f"provinces: {', '.join(known) or 'none'}")])
    return build_report(central.query_influx, province, central.readiness, registry=registry, now=now)

