"""The contract every probe kind passes (like napalm's BaseTestGetters).

Each kind ships ``probes/<kind>/sample.yaml``: a site-config fragment written against the
standard lab topology (netmon.lab.topology). These tests plan it and run it with the site
cut off, and assert the shared promises: the declared shape, a result (never an
exception) with a reason when the network fails, within the timeout, using only the value
names the wire contract defines for the kind.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from netmon.config.site import SiteConfig
from netmon.contract import VALUE_NAMES, Observation, ProbeKind, Status
from netmon.errors import AlreadyRegistered, NotRegistered
from netmon.lab.netns import call_in_namespace
from netmon.lab.topology import SiteTopology
from netmon.probes.base import ProbeContext, ProbeOptions, ProbeTask
from netmon.probes.kinds import ProbeKinds, default_kinds
from netmon.probes.plan import build_tasks
from netmon.probes.runner import TIMEOUT_GRACE_SECONDS, run_task

PROBE_KINDS = default_kinds()
KINDS = PROBE_KINDS.names()
PROBES_DIR = Path(__file__).resolve().parents[2] / "probes"
BASE_SITE: dict[str, Any] = {"site": {"id": "26734", "name": "Phường Phước Tân", "province": "Đồng Nai"}}


def sample_config(kind: str) -> SiteConfig:
    fragment = yaml.safe_load((PROBES_DIR / kind / "sample.yaml").read_text())
    return SiteConfig.model_validate({**BASE_SITE, **fragment})


def sample_tasks(kind: str) -> list[ProbeTask]:
    return [t for t in build_tasks(sample_config(kind), PROBE_KINDS) if t.kind.value == kind]


def test_every_wire_contract_probe_kind_is_registered() -> None:
    assert set(KINDS) == {k.value for k in ProbeKind if k is not ProbeKind.AGENT}


@pytest.mark.parametrize("kind", KINDS)
def test_declares_the_shared_shape(kind: str) -> None:
    probe = PROBE_KINDS.get(kind)
    assert probe.kind.value == kind
    assert issubclass(probe.Options, ProbeOptions)
    defaults = probe.Options()
    assert defaults.interval > 0 and defaults.timeout > 0
    assert probe.scope in {"target", "link", "platform"}
    assert (probe.link_section is not None) == (probe.scope == "link")


@pytest.mark.parametrize("kind", KINDS)
def test_sample_config_plans_at_least_one_task(kind: str) -> None:
    assert sample_tasks(kind), f"probes/{kind}/sample.yaml plans no {kind} task"


@pytest.mark.parametrize("kind", KINDS)
def test_reads_its_options_as_its_own_model_and_refuses_others(kind: str, tmp_path: Path) -> None:
    """Every kind narrows ``task.options`` with ``options_as``: a task carrying another model
    (planned for another kind) is an error result naming both, before anything is sent."""
    task = dataclasses.replace(sample_tasks(kind)[0], options=ProbeOptions(timeout=2))

    async def measure() -> Observation:
        probe = PROBE_KINDS.get(kind)(ProbeContext(state_dir=tmp_path))
        try:
            return await run_task(probe, task)
        finally:
            await probe.aclose()

    observation = asyncio.run(measure())
    assert observation.status is Status.ERROR
    assert observation.reason == (f"task {task.key} carries ProbeOptions, not the "
                                  f"{PROBE_KINDS.get(kind).Options.__name__} its probe kind reads")


@pytest.mark.netns
@pytest.mark.parametrize("kind", KINDS)
def test_a_cut_off_site_gets_failed_results_not_exceptions(kind: str, site_topo: SiteTopology, tmp_path: Path) -> None:
    site_topo.set_uplink_down()
    tasks = sample_tasks(kind)

    async def measure_all() -> list[tuple[ProbeTask, Observation, float]]:
        probe = PROBE_KINDS.get(kind)(ProbeContext(state_dir=tmp_path))
        out = []
        try:
            for task in tasks:
                start = time.monotonic()
                observation = await run_task(probe, task)
                out.append((task, observation, time.monotonic() - start))
        finally:
            await probe.aclose()
        return out

    for task, observation, elapsed in call_in_namespace(site_topo.site, lambda: asyncio.run(measure_all())):
        assert observation.status in {Status.FAILED, Status.ERROR}, (task.key, observation)
        assert observation.reason, task.key
        assert "crashed" not in observation.reason, observation.reason
        assert elapsed <= task.options.timeout + TIMEOUT_GRACE_SECONDS + 0.5, (task.key, elapsed)
        assert set(observation.values) <= VALUE_NAMES[observation.probe]
        assert observation.target == task.target


def test_kinds_refuse_a_duplicate_and_name_the_known_ones() -> None:
    kinds = ProbeKinds()

    class Dummy:
        kind: ClassVar[ProbeKind] = ProbeKind.TCP

    kinds.register(Dummy)  # type: ignore[arg-type]
    with pytest.raises(AlreadyRegistered, match="'tcp' is already registered"):
        kinds.register(Dummy)  # type: ignore[arg-type]
    with pytest.raises(NotRegistered, match="known kinds: tcp") as unknown:
        kinds.get("icmpp")
    assert str(unknown.value) == "unknown probe kind 'icmpp'; known kinds: tcp"
