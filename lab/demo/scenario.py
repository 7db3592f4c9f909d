"""The go-live story, timed as fractions of ``--duration``: all green; one commune's leased line
saturates; another loses its uplink; a platform slows for several communes; everything recovers."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from netmon.lab.demo.stack import Site, Stack

PLATFORM_DELAY_SECONDS = 3.5


@dataclasses.dataclass
class Event:
    at_fraction: float
    phase: str
    action: Callable[[], None]
    done: bool = False


@dataclasses.dataclass
class Roles:
    saturated: Site | None
    uplink_lost: Site
    platform_slow: list[Site]


def pick_roles(stack: Stack) -> Roles:
    """Saturate a thin line (commune 3 when there are three or more), cut commune 2's uplink, slow the
    platform for every other commune (at least one, at most a third of the province plus one)."""
    sites = stack.sites
    saturated = None if stack.loopback else sites[min(2, len(sites) - 1)]
    uplink = sites[1 % len(sites)]
    others = [s for s in sites if s is not saturated and s is not uplink] or [sites[0]]
    return Roles(saturated, uplink, others[: max(1, len(sites) // 3 + 1)])


class Scenario:
    def __init__(self, stack: Stack, duration_seconds: float) -> None:
        self.stack = stack
        self.duration = duration_seconds
        self.started_at = 0.0  # wall clock when the story starts (set by the player)
        self.roles = pick_roles(stack)
        self.phase = "tất cả xanh — all green"
        self.log: list[tuple[float, str]] = []
        r = self.roles
        events = [Event(0.20, "platform slow", self._slow_on), Event(0.25, "uplink lost", self._uplink_down)]
        if r.saturated is not None:
            events.insert(0, Event(0.12, "leased line saturated", self._saturate))
        events += [Event(0.62, "recovering", self._recover_all), Event(1.0, "done", lambda: None)]
        self.events = sorted(events, key=lambda e: e.at_fraction)

    def _saturate(self) -> None:
        assert self.roles.saturated is not None
        self.stack.saturate(self.roles.saturated, self.duration * 0.50)
        self._note(f"{self.roles.saturated.spec.label}: leased line saturated "
                   f"(UDP {self.roles.saturated.spec.leased_mbit * 2:g} Mbit/s into a "
                   f"{self.roles.saturated.spec.leased_mbit:g} Mbit/s line)")

    def _uplink_down(self) -> None:
        self.stack.set_uplink(self.roles.uplink_lost, up=False)
        self._note(f"{self.roles.uplink_lost.spec.label}: uplink lost")

    def _slow_on(self) -> None:
        self.stack.set_platform_slow(self.roles.platform_slow, PLATFORM_DELAY_SECONDS)
        names = ", ".join(s.spec.site_id for s in self.roles.platform_slow)
        self._note(f"platforms slow ({PLATFORM_DELAY_SECONDS:g} s) for communes {names}")

    def _recover_all(self) -> None:
        if self.roles.saturated is not None:
            self.stack.stop_load(self.roles.saturated)
        self.stack.set_uplink(self.roles.uplink_lost, up=True)
        self.stack.set_platform_slow([], 0)
        self._note("load stopped, uplink restored, platforms fast again")

    def _note(self, text: str) -> None:
        self.log.append((self.elapsed, text))

    elapsed = 0.0

    def tick(self, elapsed_seconds: float) -> None:
        """Run every event that is due; the phase shown is the last one started."""
        self.elapsed = elapsed_seconds
        for event in self.events:
            if not event.done and elapsed_seconds >= event.at_fraction * self.duration:
                event.done = True
                event.action()
                self.phase = event.phase

    @property
    def finished(self) -> bool:
        return all(e.done for e in self.events)
