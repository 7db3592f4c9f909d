"""The end of the demo: a summary naming what happened to whom (with what the centre measured),
and the output folder — readiness report HTML, dashboards JSON, alerts log, summary text."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import yaml

from netmon.lab.demo.observe import Peaks
from netmon.lab.demo.plan import PROVINCE, demo_readiness
from netmon.lab.demo.scenario import Scenario
from netmon.lab.demo.stack import Stack
from netmon.lab.demo.view import incident_text

MAX_LISTED = 15


def _pct(value: float | None) -> str:
    return f"{value * 100:.0f} %" if value is not None else "—"


def summary_lines(scenario: Scenario, peaks: Peaks) -> list[str]:
    roles = scenario.roles
    lines = ["netmon demo — summary", ""]
    if roles.saturated is not None:
        sid = roles.saturated.spec.site_id
        util, loss = peaks.utilisation_ratio.get(f"{sid}/leased"), peaks.loss_ratio.get(f"{sid}/leased")
        rtt = peaks.rtt_seconds.get(f"{sid}/leased")
        lines.append(f"Saturated leased line: {roles.saturated.spec.label} — peak utilisation {_pct(util)} of "
                     f"{roles.saturated.spec.leased_mbit:g} Mbit/s, peak loss {_pct(loss)}, "
                     f"peak RTT {rtt * 1000 if rtt is not None else 0:.1f} ms")
    else:
        lines.append("Saturated leased line: not played (needs namespaces and shaping; --loopback)")
    uid = roles.uplink_lost.spec.site_id
    lines.append(f"Lost uplink: {roles.uplink_lost.spec.label} — silent for "
                 f"{peaks.silent_seconds.get(uid, 0.0):.0f} s as seen by the centre")
    slow = ", ".join(f"{s.spec.label} (slowest {peaks.platform_seconds.get(s.spec.site_id, 0.0):.1f} s)"
                     for s in roles.platform_slow)
    lines.append(f"Platforms slow for: {slow}")
    lines += ["", "Timeline:"] + [f"  {t:5.1f} s  {text}" for t, text in scenario.log]
    incidents = list(peaks.incidents.values())
    by_rule: dict[str, int] = {}
    for incident in incidents:
        by_rule[str(incident.get("rule"))] = by_rule.get(str(incident.get("rule")), 0) + 1
    counts = ", ".join(f"{rule} ×{n}" for rule, n in sorted(by_rule.items()))
    lines += ["", f"Incidents that fired ({len(incidents)}{': ' + counts if counts else ''}):"]
    # the link and site incidents first: the platform ones repeat per commune and platform
    incidents.sort(key=lambda i: (str(i.get("rule", "")).startswith("Platform"), str(i.get("rule", ""))))
    lines += [f"  {incident_text(i)}" for i in incidents[:MAX_LISTED]] or ["  none"]
    if len(incidents) > MAX_LISTED:
        lines.append(f"  … and {len(incidents) - MAX_LISTED} more (netmon alerts list --state all)")
    return lines


def readiness_config(stack: Stack, story_started_at: float, now: float) -> Path:
    """central.yaml with a ``readiness:`` section that judges the story just played (the
    collector's own file is left as it runs)."""
    central = yaml.safe_load(stack.central_config.read_text(encoding="utf-8"))
    central["readiness"] = demo_readiness(story_started_at, now, loopback=stack.loopback)
    path = stack.central_config.with_name("central-readiness.yaml")
    path.write_text(yaml.safe_dump(central, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def write_outputs(stack: Stack, out: Path, story_started_at: float) -> list[str]:
    """Readiness report and dashboards through their own CLIs, run where the collector's data is."""
    notes = []
    py = [sys.executable, "-m", "netmon"]
    config = str(stack.central_config)
    code, text = stack.run_in_centre([*py, "dashboards", "build", "--out", str(out / "dashboards"),
                                      "--config", config])
    notes.append(f"dashboards JSON: {out / 'dashboards'}" if code == 0 else f"dashboards build failed: {text[-500:]}")
    judged = str(readiness_config(stack, story_started_at, time.time()))
    for fmt in ("html", "json"):
        report = out / f"readiness.{fmt}"
        code, text = stack.run_in_centre([*py, "readiness", "report", "--province", PROVINCE, "--format", fmt,
                                          "--config", judged, "--out", str(report)])
        notes.append(f"readiness report: {report}" if code == 0 else f"readiness report failed: {text[-500:]}")
    return notes
