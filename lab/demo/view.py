"""The live terminal view (rich): communes × links and platforms coloured by state, firing
incidents, ingest rate and the scenario's phase; or plain periodic lines for CI logs (``--no-live``)."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from netmon.lab.demo.observe import LinkView, SiteView, Snapshot
from netmon.lab.demo.plan import PLATFORMS


def _link_state(link: LinkView | None, silent: bool) -> str:
    if silent or link is None or (link.rtt_seconds is None and link.loss_ratio is None):
        return "grey50"
    if (link.loss_ratio or 0) >= 0.5 or (link.utilisation_ratio or 0) >= 0.95:
        return "bold red"
    if (link.loss_ratio or 0) >= 0.02 or (link.utilisation_ratio or 0) >= 0.8 or (link.rtt_seconds or 0) >= 0.08:
        return "yellow"
    return "green"


def _link_cell(link: LinkView | None, silent: bool) -> Text:
    if link is None:
        return Text("—", style="grey50")
    rtt = f"{link.rtt_seconds * 1000:5.1f}ms" if link.rtt_seconds is not None else "   —   "
    loss = f"{link.loss_ratio * 100:3.0f}%" if link.loss_ratio is not None else "  —"
    util = f"{link.utilisation_ratio * 100:3.0f}%" if link.utilisation_ratio is not None else "  —"
    return Text(f"{rtt} {loss} {util}", style=_link_state(link, silent))


def _platform_cell(state: tuple[str, float | None] | None, silent: bool) -> Text:
    if state is None or silent:
        return Text(" · ", style="grey50")
    status, total = state
    if status != "ok":
        return Text(" ✗ ", style="bold red")
    style = "yellow" if total is not None and total >= 3.0 else "green"
    return Text(f"{total:.1f} s" if total is not None else " ✓ ", style=style)


def sites_table(snapshot: Snapshot) -> Table:
    table = Table(title="Communes — RTT, loss, utilisation of the contracted rate", expand=True)
    table.add_column("commune")
    table.add_column("leased (rtt loss util)")
    table.add_column("tslcd (rtt loss util)")
    for name, _ in PLATFORMS:
        table.add_column(f"{name} (s)", justify="center")  # response time in seconds
    table.add_column("last report", justify="right")
    for site in snapshot.sites:
        age = f"{site.report_age_seconds:.0f}s" if site.report_age_seconds is not None else "never"
        table.add_row(Text(f"{site.name} {site.site_id}", style="bold red" if site.silent else ""),
                      _link_cell(site.links.get("leased"), site.silent),
                      _link_cell(site.links.get("tslcd"), site.silent),
                      *(_platform_cell(site.platforms.get(name), site.silent) for name, _ in PLATFORMS),
                      Text(age, style="bold red" if site.silent else "green"))
    return table


def incident_text(incident: dict[str, Any]) -> str:
    """One line per incident from ``/api/v1/incidents``: rule, severity, commune, link, target."""
    labels = incident.get("labels") or {}
    site = incident.get("site_id")
    where = f"{labels.get('site_name', '')} ({site})".strip() if site else (incident.get("upstream") or "")
    parts = [incident.get("rule"), incident.get("severity"), where, incident.get("link"), incident.get("target")]
    return " · ".join(str(p) for p in parts if p) or str(incident)


def render(snapshot: Snapshot, phase: str, elapsed: float, duration: float) -> Group:
    header = Text.assemble(
        ("netmon demo  ", "bold"), (f"{elapsed:4.0f}/{duration:.0f} s  ", ""), ("phase: ", ""), (phase, "bold cyan"),
        (f"   ingest {snapshot.ingest_per_second:6.1f} results/s  total {snapshot.accepted_total}  "
         f"TSDB lag {snapshot.tsdb_lag_seconds:.1f}s", ""))
    parts: list[Any] = [header, sites_table(snapshot)]
    lines = [incident_text(i) for i in snapshot.incidents] or ["none"]
    parts.append(Panel("\n".join(lines[:12]), title=f"firing incidents ({len(snapshot.incidents)})",
                       border_style="red" if snapshot.incidents else "green"))
    if snapshot.errors:
        parts.append(Text("; ".join(snapshot.errors[:3]), style="red"))
    return Group(*parts)


def plain_line(snapshot: Snapshot, phase: str, elapsed: float) -> str:
    def site(s: SiteView) -> str:
        if s.silent:
            return f"{s.site_id}:SILENT"
        leased = s.links.get("leased") or LinkView()
        util = f"{leased.utilisation_ratio * 100:.0f}%" if leased.utilisation_ratio is not None else "-"
        loss = f"{leased.loss_ratio * 100:.0f}%" if leased.loss_ratio is not None else "-"
        slow = sum(1 for st, t in s.platforms.values() if st != "ok" or (t or 0) >= 3.0)
        return f"{s.site_id}:util={util},loss={loss}" + (f",slow_platforms={slow}" if slow else "")
    return (f"[{elapsed:5.1f}s] phase={phase} ingest={snapshot.ingest_per_second:.1f}/s "
            f"accepted={snapshot.accepted_total} firing={len(snapshot.incidents)} | "
            + " ".join(site(s) for s in snapshot.sites))
