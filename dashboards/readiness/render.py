"""The report as JSON, CSV (one row per commune, opens in Excel) or one self-contained HTML file.

The HTML has no external asset: CSS inline, the chart an inline SVG drawn here, fonts the
reader's own — a director can open it from an e-mail attachment with no network.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections import OrderedDict
from typing import Literal

import jinja2
from markupsafe import escape

from netmon.dashboards.readiness.evaluate import human, window_text
from netmon.dashboards.readiness.model import Check, ReadinessReport

Format = Literal["html", "csv", "json"]
VIETNAM = dt.timezone(dt.timedelta(hours=7), "UTC+7")
GREEN, RED, GREY = "#2e7d32", "#c62828", "#e0e0e0"

_env = jinja2.Environment(loader=jinja2.PackageLoader("netmon.dashboards.readiness", "."),
                          autoescape=jinja2.select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)


def render(report: ReadinessReport, fmt: Format) -> str:
    if fmt == "json":
        return report.model_dump_json(indent=2)
    if fmt == "csv":
        return to_csv(report)
    return to_html(report)


def to_csv(report: ReadinessReport) -> str:
    keys = list(OrderedDict.fromkeys(c.key for s in report.sites for c in s.checks))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["province", "site_id", "name", "district", "ready",
                     *[f"{k}{suffix}" for k in keys for suffix in ("", "_passed")], "reasons"])
    for site in report.sites:
        by_key = {c.key: c for c in site.checks}
        cells: list[str] = []
        for key in keys:
            check = by_key.get(key)
            cells += ["" if check is None or check.measured is None else f"{check.measured:.6g}",
                      "" if check is None else str(int(check.passed))]
        writer.writerow([report.province, site.site_id, site.name, site.district or "", int(site.ready), *cells,
                         "; ".join(site.reasons)])
    return out.getvalue()


def _donut(ready: int, total: int) -> str:
    """An SVG ring: green share ready, red the rest, the percentage in the middle."""
    radius, width, centre = 70, 26, 90
    share = ready / total if total else 0.0
    circumference = 2 * math.pi * radius
    pct = f"{share * 100:.0f}".replace(".", ",") + " %"
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="180" height="180" viewBox="0 0 180 180" role="img" '
            f'aria-label="{pct} xã sẵn sàng">'
            f'<circle cx="{centre}" cy="{centre}" r="{radius}" fill="none" stroke="{RED if total else GREY}" '
            f'stroke-width="{width}"/>'
            f'<circle cx="{centre}" cy="{centre}" r="{radius}" fill="none" stroke="{GREEN}" stroke-width="{width}" '
            f'stroke-dasharray="{circumference * share:.2f} {circumference:.2f}" '
            f'transform="rotate(-90 {centre} {centre})"/>'
            f'<text x="{centre}" y="{centre + 4}" text-anchor="middle" font-size="30" font-weight="bold" '
            f'fill="#222">{pct}</text>'
            f'<text x="{centre}" y="{centre + 26}" text-anchor="middle" font-size="13" fill="#555">'
            f'{ready}/{total} xã</text></svg>')


def _bars(report: ReadinessReport) -> str:
    """One bar per requirement: how many communes meet it."""
    titles: OrderedDict[str, str] = OrderedDict()
    passed: dict[str, int] = {}
    for site in report.sites:
        for check in site.checks:
            titles.setdefault(check.key, check.title)
            passed[check.key] = passed.get(check.key, 0) + int(check.passed)
    total = len(report.sites) or 1
    label_w, bar_w, row_h = 330, 360, 26
    height = row_h * len(titles) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 70}" height="{height}" '
             f'viewBox="0 0 {label_w + bar_w + 70} {height}" role="img" aria-label="Số xã đạt từng yêu cầu">']
    for i, (key, title) in enumerate(titles.items()):
        y = 5 + i * row_h
        ok = passed[key]
        width = bar_w * ok / total
        parts.append(f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end" font-size="13" fill="#222">'
                     f"{escape(title)}</text>"
                     f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="{row_h - 8}" fill="{RED}" '
                     f'opacity="0.85"/>'
                     f'<rect x="{label_w}" y="{y + 3}" width="{width:.1f}" height="{row_h - 8}" fill="{GREEN}"/>'
                     f'<text x="{label_w + bar_w + 8}" y="{y + 16}" font-size="13" fill="#222">{ok}/{len(report.sites)}'
                     '</text>')
    parts.append("</svg>")
    return "".join(parts)


def _cell(check: Check | None) -> dict[str, str]:
    if check is None:
        return {"text": "—", "css": "na", "title": ""}
    text = "không có số liệu" if check.measured is None else human(check.measured, check.unit)
    return {"text": text, "css": "ok" if check.passed else "bad", "title": check.reason or check.title}


def to_html(report: ReadinessReport) -> str:
    columns = {"data_network.rtt": "Độ trễ", "data_network.jitter": "Biến động trễ", "data_network.loss": "Mất gói"}
    if report.requirements.throughput is not None:
        columns.update({"throughput.download": "Tải xuống", "throughput.upload": "Tải lên"})
    links = sorted({c.key for s in report.sites for c in s.checks if c.key.startswith("utilisation.")})
    columns.update({key: f"Sử dụng {key.split('.', 1)[1]}" for key in links})
    columns["reporting"] = "Gửi số liệu"
    fixed = list(columns)
    rows = []
    for site in report.sites:
        by_key = {c.key: c for c in site.checks}
        platform_checks = [c for c in site.checks if c.key.startswith("platform.")]
        failed_platforms = sorted({c.key.split(".")[1] for c in platform_checks if not c.passed})
        platform_names = {c.key.split(".")[1] for c in platform_checks}
        rows.append({
            "site": site, "cells": [_cell(by_key.get(k)) for k in fixed],
            "platforms": {"text": f"{len(platform_names) - len(failed_platforms)}/{len(platform_names)} đạt",
                          "css": "bad" if failed_platforms else "ok",
                          "title": "Chưa đạt: " + ", ".join(failed_platforms) if failed_platforms else ""},
        })
    template = _env.get_template("report.html.j2")
    return template.render(
        report=report, rows=rows, columns=list(columns.values()), span=window_text,
        donut=_donut(report.summary.ready, report.summary.sites), bars=_bars(report),
        local=lambda t: t.astimezone(VIETNAM).strftime("%H:%M %d/%m/%Y"), human=human,
        pct=lambda r: f"{r * 100:.0f}".replace(".", ",") + " %")
