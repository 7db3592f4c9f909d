"""A collector killed (SIGKILL) while an alert fires: after the restart nothing is announced
twice, nothing queued is lost, and the resolve still arrives."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

from netmon.alerting.store import STATE_FILE
from netmon.lab.standins import WebhookReceiver
from netmon.statedb import StateLocation
from tests.alerting.helpers import T0
from tests.conftest import netmon_env


class Driver:
    def __init__(self, state: StateLocation, url: str) -> None:
        where = state.postgres_dsn or str(state.state_dir / STATE_FILE)
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.alerting.engine_driver", where, url],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=netmon_env())

    def __call__(self, **cmd: object) -> dict[str, object]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        answer: dict[str, object] = json.loads(self.proc.stdout.readline())
        return answer

    def run(self, start: float, end: float, ratio: float) -> None:
        t = start
        while t < end:
            self(op="util", t=t, ratio=ratio)
            self(op="tick", now=t + 5)
            self(op="deliver", now=t + 5)
            t += 10

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


def test_killed_after_announcing_no_duplicate_and_resolve_arrives(alert_state: StateLocation,
                                                                   hook: WebhookReceiver) -> None:
    state = alert_state
    first = Driver(state, hook.url)
    try:
        first.run(T0, T0 + 200, 0.97)  # fires at T0 + 120, announced at T0 + 125
        assert [b["status"] for b in hook.bodies()] == ["firing"]
    finally:
        first.kill()
    second = Driver(state, hook.url)
    try:
        second.run(T0 + 200, T0 + 400, 0.97)  # still saturated: nothing new to say
        assert [b["status"] for b in hook.bodies()] == ["firing"]
        second.run(T0 + 400, T0 + 450, 0.30)
    finally:
        second.kill()
    bodies = hook.bodies()
    assert [b["status"] for b in bodies] == ["firing", "resolved"]
    fired, resolved = (b["alerts"][0] for b in bodies)
    assert fired["fingerprint"] == resolved["fingerprint"]
    assert resolved["startsAt"] == fired["startsAt"] == "2025-07-01T01:02:00.000Z"
    assert resolved["endsAt"] == "2025-07-01T01:06:40.000Z"  # T0 + 400 s, the first sample under 70 %


def test_killed_with_a_message_queued_it_is_sent_once_after_restart(alert_state: StateLocation,
                                                                     hook: WebhookReceiver) -> None:
    state = alert_state
    first = Driver(state, hook.url)
    try:
        for i in range(14):
            first(op="util", t=T0 + 10 * i, ratio=0.97)
        assert first(op="tick", now=T0 + 131) == {"op": "tick", "queued": 1}
    finally:
        first.kill()  # queued, not delivered
    assert hook.bodies() == []
    second = Driver(state, hook.url)
    try:
        assert second(op="deliver", now=T0 + 140) == {"op": "deliver", "sent": 1}
        assert second(op="tick", now=T0 + 141) == {"op": "tick", "queued": 0}
        assert second(op="deliver", now=T0 + 142) == {"op": "deliver", "sent": 0}
        second.run(T0 + 150, T0 + 170, 0.2)
    finally:
        second.kill()
    assert [b["status"] for b in hook.bodies()] == ["firing", "resolved"]
