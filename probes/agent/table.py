"""Results as a table people read: values humanised by the unit in their name."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from netmon.contract import ResultRecord, Status

_STATUS_STYLE = {Status.OK: "green", Status.DEGRADED: "yellow", Status.FAILED: "red", Status.ERROR: "bold red"}


def humanise(name: str, value: float) -> str:
    """``rtt_avg_seconds`` 0.0123 -> ``rtt_avg 12.3 ms``; ``upload_bps`` 9.5e7 -> ``upload 95.0 Mbit/s``."""
    if name.endswith("_seconds"):
        short = name.removesuffix("_seconds")
        if abs(value) < 1e-3:
            return f"{short} {value * 1e6:.3g} µs"
        if abs(value) < 1:
            return f"{short} {value * 1000:.3g} ms"
        return f"{short} {value:.3g} s" if abs(value) < 120 else f"{short} {value / 60:.1f} min"
    if name.endswith("_bps"):
        short = name.removesuffix("_bps")
        for scale, unit in ((1e9, "Gbit/s"), (1e6, "Mbit/s"), (1e3, "kbit/s")):
            if abs(value) >= scale:
                return f"{short} {value / scale:.1f} {unit}"
        return f"{short} {value:.0f} bit/s"
    if name.endswith("_ratio"):
        return f"{name.removesuffix('_ratio')} {value * 100:.1f} %"
    if name.endswith("_bytes"):
        short = name.removesuffix("_bytes")
        for scale, unit in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
            if abs(value) >= scale:
                return f"{short} {value / scale:.1f} {unit}"
        return f"{short} {value:.0f} B"
    shown = f"{value:.0f}" if float(value).is_integer() else f"{value:.3g}"
    return f"{name} {shown}"


def results_table(records: list[ResultRecord]) -> Table:
    table = Table(title="netmon probe once", show_lines=False)
    for column in ("site", "link", "probe", "target", "status", "values", "reason"):
        table.add_column(column, overflow="fold")
    for r in records:
        values = ", ".join(humanise(k, v) for k, v in r.values.items())
        table.add_row(r.site_id, r.link or "-", r.probe.value, r.target,
                      Text(r.status.value, style=_STATUS_STYLE[r.status]), values, r.reason or "")
    return table
