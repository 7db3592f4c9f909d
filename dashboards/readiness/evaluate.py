"""Judge each commune against the requirements. Pure: measurements in, report out.

A requirement with no measurement in the window fails ("không có số liệu"): a commune is
declared ready only on evidence.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable

from netmon.config.readiness import ReadinessConfig
from netmon.dashboards.readiness.measure import SiteMeasurements, Window
from netmon.dashboards.readiness.model import Check, Comparison, NotReady, ReadinessReport, SiteReadiness, Summary, Unit


@dataclasses.dataclass(frozen=True)
class SiteInfo:
    site_id: str
    name: str
    district: str | None = None


def _number(value: float, decimals: int) -> str:
    # Vietnamese writes the decimal comma.
    return f"{value:.{decimals}f}".replace(".", ",")


def human(value: float, unit: Unit) -> str:
    if unit == "s":
        return f"{_number(value * 1000, 0)} ms" if value < 1 else f"{_number(value, 1)} s"
    if unit == "bps":
        return f"{_number(value / 1e6, 1)} Mbit/s"
    return f"{_number(value * 100, 1)} %"


def window_text(seconds: float) -> str:
    # "24 giờ qua" is how people say a day; whole days from two on.
    for size, unit in ((86400, "ngày"), (3600, "giờ"), (60, "phút")):
        if seconds >= max(size, 2 * 86400 if unit == "ngày" else 0) and seconds % size == 0:
            return f"{int(seconds // size)} {unit}"
    return f"{_number(seconds, 0)} giây"


def _check(key: str, title: str, measured: float | None, limit: float, comparison: Comparison, unit: Unit,
           window: str) -> Check:
    if measured is None:
        return Check(key=key, title=title, passed=False, measured=None, limit=limit, comparison=comparison,
                     unit=unit, reason=f"{title}: không có số liệu trong {window} qua")
    passed = measured <= limit if comparison == "<=" else measured >= limit
    sign = "≤" if comparison == "<=" else "≥"
    reason = None if passed else f"{title}: {human(measured, unit)}, yêu cầu {sign} {human(limit, unit)}"
    return Check(key=key, title=title, passed=passed, measured=measured, limit=limit, comparison=comparison,
                 unit=unit, reason=reason)


def site_checks(m: SiteMeasurements, config: ReadinessConfig, platforms: list[str],
                links: list[str] | None = None) -> list[Check]:
    """``links``: the link names whose utilisation is judged (when ``utilisation`` is required)."""
    window = window_text(config.window)
    dn = config.data_network
    tp = config.throughput
    pct = f"p{dn.rtt_percentile:g}"
    checks = [
        _check("data_network.rtt", f"Độ trễ mạng truyền số liệu ({pct})", m.rtt_seconds, dn.max_rtt, "<=", "s", window),
        _check("data_network.jitter", "Biến động trễ mạng truyền số liệu", m.jitter_seconds, dn.max_jitter, "<=", "s",
               window),
        _check("data_network.loss", "Mất gói mạng truyền số liệu", m.loss_ratio, dn.max_loss_ratio, "<=", "ratio",
               window),
    ]
    if tp is not None:
        checks += [
            _check("throughput.download", "Thông lượng tải xuống (họp trực tuyến)", m.download_bps,
                   tp.min_download_mbps * 1e6, ">=", "bps", window),
            _check("throughput.upload", "Thông lượng tải lên (họp trực tuyến)", m.upload_bps,
                   tp.min_upload_mbps * 1e6, ">=", "bps", window),
        ]
    if config.utilisation is not None:
        util = config.utilisation
        for link in links or []:
            checks.append(_check(f"utilisation.{link}",
                                 f"Mức sử dụng đường truyền {link} so với băng thông hợp đồng (p{util.percentile:g})",
                                 m.utilisation.get(link), util.max_ratio, "<=", "ratio", window))
    req = config.platforms
    for name in platforms:
        platform = m.platforms.get(name)
        checks.append(_check(f"platform.{name}.reachable", f"Truy cập thành công nền tảng {name}",
                             platform.success_ratio if platform else None, req.min_success_ratio, ">=", "ratio",
                             window))
        checks.append(_check(f"platform.{name}.response",
                             f"Thời gian phản hồi nền tảng {name} (p{req.response_percentile:g})",
                             platform.response_seconds if platform else None, req.max_response, "<=", "s", window))
    checks.append(_check("reporting", "Gửi số liệu đều đặn", m.reporting_ratio, config.reporting.min_ratio, ">=",
                         "ratio", window))
    return checks


def reasons(checks: list[Check], has_data: bool, config: ReadinessConfig) -> list[str]:
    if not has_data:
        return [f"Không có số liệu nào trong {window_text(config.window)} qua: máy đo chưa lắp đặt, mất điện "
                "hoặc không gửi được số liệu về trung tâm"]
    # A link or platform that never answered has no RTT or response time either; saying so
    # twice helps nobody.
    silent = {c.key.split(".")[1] for c in checks if c.key.endswith(".reachable") and c.measured == 0.0}
    link_dead = any(c.key == "data_network.loss" and c.measured == 1.0 for c in checks)

    def redundant(check: Check) -> bool:
        if check.key.endswith(".response") and check.key.split(".")[1] in silent:
            return True
        return link_dead and check.key in ("data_network.rtt", "data_network.jitter") and check.measured is None

    return [c.reason for c in checks if not c.passed and c.reason and not redundant(c)]


def evaluate(province: str, sites: Iterable[SiteInfo], measured: dict[str, SiteMeasurements],
             config: ReadinessConfig, window: Window, *, generated_at: dt.datetime, source: str) -> ReadinessReport:
    site_list = sorted(sites, key=lambda s: (s.name, s.site_id))
    platforms = sorted(config.platforms.required or {p for m in measured.values() for p in m.platforms})
    links = sorted({link for m in measured.values() for link in m.utilisation})
    results = []
    for info in site_list:
        checks = site_checks(measured.get(info.site_id, SiteMeasurements()), config, platforms, links)
        results.append(SiteReadiness(site_id=info.site_id, name=info.name, district=info.district,
                                     ready=all(c.passed for c in checks), checks=checks,
                                     reasons=reasons(checks, info.site_id in measured, config)))
    ready = sum(1 for r in results if r.ready)
    utc = dt.UTC
    return ReadinessReport(
        province=province, generated_at=generated_at,
        window_start=dt.datetime.fromtimestamp(window.start_ms / 1000, utc),
        window_end=dt.datetime.fromtimestamp(window.end_ms / 1000, utc),
        summary=Summary(sites=len(results), ready=ready, not_ready=len(results) - ready,
                        ready_ratio=ready / len(results) if results else 0.0),
        not_ready=[NotReady(site_id=r.site_id, name=r.name, reasons=r.reasons) for r in results if not r.ready],
        sites=results, requirements=config, source=source)
