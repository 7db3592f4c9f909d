"""The floors of docs/architecture.md, checked on every import in the tree (module level, inside
functions and under TYPE_CHECKING alike: each one is a dependency someone reading the code must know).

A room is ``netmon.<name>``; the ground floor is ``netmon.contract``, ``netmon.config`` and
``netmon.errors``. An arrow between two rooms of the middle floor is allowed only to the
interface module the target room offers for it, listed in ``INTERFACES``.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

ROOT = Path(REPO_ROOT)
GROUND = {"contract", "config", "errors", "statedb"}
# who may import which room (besides its own and the ground floor)
ALLOWED: dict[str, set[str]] = {
    "ground": set(),
    "probes": set(),
    "collectors": set(),
    "alerting": set(),
    "dashboards": set(),
    "deploy": set(),
    "lab": {"probes", "collectors", "alerting", "dashboards", "deploy"},  # the testbed runs the product
    "cli": {"probes", "collectors", "alerting", "dashboards", "deploy", "lab"},  # the roof wires them all
    "__main__": {"cli"},
}
# a middle-floor room may reach another only through these modules (and their submodules)
INTERFACES: dict[tuple[str, str], tuple[str, ...]] = {
    ("deploy", "alerting"): ("netmon.alerting.rules",),  # check-central validates the rules file
    # the collector's extension interface: what alerting and readiness may use of the host
    ("alerting", "collectors"): ("netmon.collectors.abc",),
    ("dashboards", "collectors"): ("netmon.collectors.abc",),
    # thresholds are defined once, in the alert rules; the dashboards draw the same numbers
    ("dashboards", "alerting"): ("netmon.alerting.rules",),
}
LEGACY_TOP_LEVEL = {"probes", "collectors", "alerting", "dashboards", "lab"}


def room_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "netmon":
        return None
    if len(parts) == 1 or parts[1] in GROUND:
        return "ground"
    return parts[1]


def wrong_arrow(source_module: str, target: str) -> bool:
    source, target_room = room_of(source_module), room_of(target)
    assert source is not None, source_module
    if target_room in (None, source, "ground") or target_room in ALLOWED[source]:
        return False
    return not target.startswith(INTERFACES.get((source, target_room), ("\0",)))


def python_files(top: Path) -> Iterator[Path]:
    for folder, _dirs, files in os.walk(top, followlinks=True):  # netmon/<room> are symlinks
        yield from (Path(folder) / f for f in files if f.endswith(".py"))


def imports(path: Path) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def product_files() -> Iterator[tuple[Path, str]]:
    for path in python_files(ROOT / "netmon"):
        rel = path.relative_to(ROOT).with_suffix("")
        yield path, ".".join(p for p in rel.parts if p != "__init__")


def test_every_room_of_the_tree_is_seen() -> None:
    rooms = {room_of(module) for _path, module in product_files()}
    assert rooms == {"ground", "probes", "collectors", "alerting", "dashboards", "deploy", "lab", "cli", "__main__"}


def test_imports_never_cross_a_floor_the_wrong_way() -> None:
    wrong = []
    for path, module in product_files():
        wrong += [f"{path.relative_to(ROOT)}:{line}: {module} -> {target}"
                  for line, target in imports(path) if wrong_arrow(module, target)]
    assert wrong == []


def test_nothing_imports_the_folders_by_their_bare_names_or_the_tests_from_the_product() -> None:
    wrong = []
    for top in ("netmon", "bench", "tests"):
        for path in python_files(ROOT / top):
            for line, target in imports(path):
                head = target.split(".")[0]
                if head in LEGACY_TOP_LEVEL or (head == "tests" and top != "tests"):
                    wrong.append(f"{path.relative_to(ROOT)}:{line}: import {target}")
    assert wrong == []


@pytest.mark.parametrize(("source", "target"), [
    ("netmon.probes.icmp.probe", "netmon.collectors.app"),
    ("netmon.contract", "netmon.probes.base"),
    ("netmon.config.site", "netmon.cli"),
    ("netmon.collectors.core", "netmon.lab.netns"),
    ("netmon.deploy.checks", "netmon.alerting.engine"),
    ("netmon.alerting.engine", "netmon.probes.base"),
])
def test_the_check_refuses_a_wrong_arrow(source: str, target: str) -> None:
    assert wrong_arrow(source, target)


def test_the_check_lets_the_roof_and_the_interfaces_through() -> None:
    assert not wrong_arrow("netmon.cli.probe_cmd", "netmon.probes.agent.runtime")
    assert not wrong_arrow("netmon.deploy.checks", "netmon.alerting.rules")
    assert not wrong_arrow("netmon.probes.base", "netmon.config.site")
