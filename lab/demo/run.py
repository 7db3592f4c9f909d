"""Orchestration: build the stack, play the scenario under the live view, summarise, and always clean
up — on normal exit, on an error, on Ctrl-C (SIGINT) and on SIGTERM."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import time
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console
from rich.live import Live

from netmon.errors import ConfigError
from netmon.lab.demo import channels, plan
from netmon.lab.demo.observe import Observer
from netmon.lab.demo.scenario import Scenario
from netmon.lab.demo.stack import Stack, build
from netmon.lab.demo.summary import summary_lines, write_outputs
from netmon.lab.demo.view import plain_line, render

NOT_ROOT = ("netmon demo builds a simulated province out of Linux network namespaces, tc shaping and "
            "raw sockets, which needs root.\n  Run it as root:   sudo make demo\n"
            "  or without root:  netmon demo --loopback   (reduced: everything on 127.0.0.1, no shaping, "
            "no saturation)")


@dataclasses.dataclass
class DemoOptions:
    sites: int = 12
    duration_seconds: float = 240.0
    out: Path = Path("demo-out")
    loopback: bool = False
    live: bool = True
    webhook: str | None = None
    alerting_config: Path | None = None
    poll_seconds: float = 1.0


# after the last incident resolves: group_wait (1 s) and one delivery
DELIVERY_GRACE_SECONDS = 3.0


class Interrupted(Exception):
    pass


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


def _alerting_extra(opts: DemoOptions) -> dict[str, Any] | None:
    """``--alerting-config`` read, and checked by building the alerting section with ``--webhook`` as
    ``build`` will, so any mistake stops the demo here — before it needs root or builds anything —
    naming the file, line and key."""
    extra = channels.load_extra(opts.alerting_config)
    channels.alerting_section(rules_file="rules.yaml", console_log="alerts.log", webhook=opts.webhook,
                              extra=extra, source=str(opts.alerting_config))
    return extra


def _warm_up(stack: Stack, observer: Observer, console: Console, timeout: float = 90.0) -> None:
    """Wait until every commune's first batch has arrived, so the story starts from all green."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for site in stack.sites:
            if not site.agent.alive():
                raise RuntimeError(f"the agent of {site.spec.label} exited: {site.agent.log()[-1500:]}")
        snap = observer.poll()
        # SNMP utilisation needs two polls; wait for it so the first lines are all green, not blank
        key = "rtt_seconds" if stack.loopback else "utilisation_ratio"
        ready = sum(1 for s in snap.sites if s.links and all(getattr(x, key) is not None for x in s.links.values()))
        if ready == len(stack.sites):
            return
        console.print(f"waiting for the first results: {ready}/{len(stack.sites)} communes reporting")
        time.sleep(2)
    console.print("[yellow]not every commune reported during warm-up; starting anyway[/]")


def _play(stack: Stack, opts: DemoOptions, console: Console) -> tuple[Scenario, Observer]:
    observer = Observer(stack)
    _warm_up(stack, observer, console)
    scenario = Scenario(stack, opts.duration_seconds)
    scenario.started_at = time.time()
    started = time.monotonic()
    last_plain = -1e9

    def step() -> tuple[Any, float]:
        elapsed = time.monotonic() - started
        scenario.tick(elapsed)
        return observer.poll(), elapsed

    if opts.live:
        snap, elapsed = step()
        with Live(render(snap, scenario.phase, elapsed, opts.duration_seconds), console=console,
                  refresh_per_second=2) as live:
            while not scenario.finished:
                time.sleep(opts.poll_seconds)
                snap, elapsed = step()
                live.update(render(snap, scenario.phase, elapsed, opts.duration_seconds))
    else:
        while not scenario.finished:
            snap, elapsed = step()
            if elapsed - last_plain >= 5.0 or scenario.finished:
                console.print(plain_line(snap, scenario.phase, elapsed), highlight=False, soft_wrap=True)
                last_plain = elapsed
            time.sleep(opts.poll_seconds)
    _settle(observer, console, max(10.0, opts.duration_seconds * 0.25))
    return scenario, observer


def _settle(observer: Observer, console: Console, timeout: float) -> None:
    """After the story: let the incidents it raised resolve, and their notices go out, so every channel
    gets the "resolved" too (bounded: the summary lists what is still firing)."""
    deadline = time.monotonic() + timeout
    while (firing := len(observer.poll().incidents)) and time.monotonic() < deadline:
        console.print(f"waiting for {firing} incident(s) to resolve")
        time.sleep(2)
    time.sleep(DELIVERY_GRACE_SECONDS)


def run_demo(opts: DemoOptions, console: Console) -> int:
    try:
        alerting_extra = _alerting_extra(opts)
    except ConfigError as exc:
        console.print(f"netmon demo: {exc}", highlight=False, markup=False)
        return 1  # a config file with problems, as everywhere (docs/cli.md)
    if not opts.loopback and os.geteuid() != 0:
        console.print(NOT_ROOT, highlight=False, markup=False)
        return 2
    if opts.sites < 3:
        console.print("netmon demo needs at least 3 communes (--sites 3)")
        return 2
    out = opts.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    (out / "alerts.log").write_text("")
    stack = Stack(workdir=out / "run", loopback=opts.loopback)
    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    code = 1
    try:
        if not opts.loopback:
            from netmon.lab.netns import sweep_stale
            sweep_stale()
        console.print(f"building a province of {opts.sites} communes "
                      f"({'loopback, no namespaces' if opts.loopback else 'network namespaces'}); output: {out}")
        build(out / "run", plan.communes(opts.sites), loopback=opts.loopback, webhook=opts.webhook,
              alerting_extra=alerting_extra,
              for_seconds=max(3, int(opts.duration_seconds * 0.05)), stack=stack)
        if stack.lab is not None:
            console.print(f"lab {stack.lab.id}: {len(stack.lab.namespaces)} namespaces, {len(stack.sites)} agents")
        if not stack.icmp:
            console.print("ICMP echo is not permitted for this user (net.ipv4.ping_group_range): "
                          "the agents measure both links with udp_echo")
        if stack.relay is not None and stack.relay.endpoints:
            console.print("alert channels on this machine's loopback, relayed into the centre namespace: "
                          + ", ".join(f"{h}:{p}" for h, p in stack.relay.endpoints), highlight=False)
        scenario, observer = _play(stack, opts, console)
        (out / "run" / "final-sites.json").write_text(json.dumps(observer.details, indent=1, ensure_ascii=False))
        lines = summary_lines(scenario, observer.peaks)
        lines += ["", "Output folder: " + str(out)] + [f"  {n}" for n in write_outputs(stack, out, scenario.started_at)]
        lines += [f"  alerts (console channel): {out / 'alerts.log'}", f"  logs and configs: {out / 'run'}"]
        if len(stack.alert_channels) > 1:
            lines.append("Alerts were also sent to: " + ", ".join(stack.alert_channels[1:]))
        (out / "summary.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        console.print("\n".join(lines), highlight=False, markup=False)
        code = 0
    except Interrupted as exc:
        console.print(f"\ninterrupted ({exc}): cleaning up")
        code = 130
    except Exception as exc:
        console.print(f"netmon demo failed: {type(exc).__name__}: {exc}", highlight=False, markup=False)
        code = 1
    finally:
        for sig in previous:  # a second Ctrl-C must not cut the cleanup short
            signal.signal(sig, signal.SIG_IGN)
        stack.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        console.print("cleaned up: every process stopped" + ("" if opts.loopback else ", namespaces removed"))
    return code
