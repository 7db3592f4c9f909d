"""Benchmark: building a release venv on a host, the way netmon_release does it, beside the usual way.

    .venv/bin/python bench/release_install.py [--runs 3]

Builds a wheelhouse once (`pip wheel '.[agent,centre]' pip -w DIR`, from a copy of this checkout), then, in
alternating order, ``--runs`` times each:

1. reference: ``python3 -m venv DIR`` (ensurepip) and ``DIR/bin/pip install --no-index
   --find-links WH netmon`` — what one would write first;
2. netmon_release: ``python3 -m venv --without-pip DIR`` and pip run from its own wheel in the
   wheelhouse, byte-compiling (production);
3. the same with ``--no-compile`` (what the Ansible tests use).

For each: wall time, CPU time of the children, size of the venv, and the cost of one
``netmon config check examples/site.yaml`` afterwards with bytecode writing disabled — as
under ``ProtectSystem=strict``, where a service cannot write .pyc files next to its code.
Everything lives in a temp dir; nothing touches the network (pip uses only the wheelhouse,
``PIP_CONFIG_FILE=/dev/null``).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTHON = "/usr/bin/python3"
ENV = {**os.environ, "PIP_CONFIG_FILE": "/dev/null", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(commands: list[list[str]], env: dict[str, str] | None = None) -> tuple[float, float]:
    wall, cpu = time.monotonic(), children_cpu()
    for argv in commands:
        subprocess.run(argv, check=True, capture_output=True, env=env or ENV)
    return time.monotonic() - wall, children_cpu() - cpu


def build_wheelhouse(out: Path) -> None:
    src = out.parent / "src"
    src.mkdir()
    # netmon/<folder> are symlinks to the top-level folders; copytree follows them
    for name in ("pyproject.toml", "README.md", "LICENSE", "netmon"):
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        elif path.exists():
            shutil.copy2(path, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "-w", str(out), f"{src}[agent,centre]", "pip"],
                   check=True)


def variant_commands(name: str, venv: Path, wheelhouse: Path) -> list[list[str]]:
    pip_wheel = next(wheelhouse.glob("pip-*.whl"))
    # a site box's release: the agent extra (what netmon_release installs on the sites)
    install = ["install", "--no-index", "--find-links", str(wheelhouse), "netmon[agent]"]
    if name == "reference":
        return [[PYTHON, "-m", "venv", str(venv)], [str(venv / "bin" / "pip"), *install]]
    compile_flag = "--compile" if name == "netmon_release" else "--no-compile"
    return [[PYTHON, "-m", "venv", "--clear", "--without-pip", str(venv)],
            [str(venv / "bin" / "python"), f"{pip_wheel}/pip", *install[:-1], compile_flag, "netmon[agent]"]]


def du_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    variants = ["reference", "netmon_release", "no_compile"]
    results: dict[str, list[tuple[float, float, float, float]]] = {v: [] for v in variants}
    with tempfile.TemporaryDirectory(prefix="netmon-bench-release-") as tmp:
        wheelhouse = Path(tmp) / "wheelhouse"
        build_wheelhouse(wheelhouse)
        print(f"wheelhouse: {len(list(wheelhouse.glob('*.whl')))} wheels, {du_mb(wheelhouse):.1f} MB", flush=True)
        for run in range(args.runs):
            order = variants if run % 2 == 0 else list(reversed(variants))
            for name in order:
                venv = Path(tmp) / f"venv-{name}"
                shutil.rmtree(venv, ignore_errors=True)
                wall, cpu = timed(variant_commands(name, venv, wheelhouse))
                check = [str(venv / "bin" / "netmon"), "config", "check", str(REPO / "examples/site.yaml")]
                start_wall, _ = timed([check], env={**ENV, "PYTHONDONTWRITEBYTECODE": "1"})
                results[name].append((wall, cpu, du_mb(venv), start_wall))
                print(f"run {run + 1} {name:<15} install {wall:5.1f} s wall {cpu:5.1f} s CPU, "
                      f"{du_mb(venv):5.1f} MB, config check {start_wall:4.2f} s", flush=True)
    print("\n| variant | install wall s | install CPU s | venv MB | `netmon config check` s |\n|---|---|---|---|---|")
    for name in variants:
        rows = results[name]
        print(f"| {name} | {statistics.median(r[0] for r in rows):.1f} | {statistics.median(r[1] for r in rows):.1f} "
              f"| {statistics.median(r[2] for r in rows):.0f} | {statistics.median(r[3] for r in rows):.2f} |")
    print(f"load average: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
