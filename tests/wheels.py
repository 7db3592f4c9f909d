"""netmon's wheel built from a copy of this checkout, as an operator builds a release."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from tests.conftest import REPO_ROOT

# netmon/<folder> are symlinks to the top-level folders: copytree follows them
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "netmon")
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")


VERSION = re.compile(r'^__version__ = "([^"]+)"', re.M)


def base_version() -> str:
    match = VERSION.search((Path(REPO_ROOT) / "netmon" / "__init__.py").read_text())
    assert match, "netmon/__init__.py has no __version__"
    return match.group(1)


def build_wheel(out: Path, version: str | None = None, with_deps: bool = False,
                sabotage: Callable[[Path], None] | None = None, log: Path | None = None) -> Path:
    """Build netmon's wheel (and with_deps: every dependency) from a copy of this checkout.

    A copy, so that setuptools' build/ and *.egg-info never land in the worktree and the
    version can be bumped for the upgrade test without touching pyproject.toml.
    """
    src = Path(tempfile.mkdtemp(prefix="netmon-src-"))
    try:
        for name in SOURCES:
            path = Path(REPO_ROOT) / name
            if path.is_dir():
                shutil.copytree(path, src / name, ignore=IGNORE)
            elif path.exists():
                shutil.copy2(path, src / name)
        if sabotage is not None:
            sabotage(src)
        if version is not None:
            init = src / "netmon" / "__init__.py"
            init.write_text(VERSION.sub(f'__version__ = "{version}"', init.read_text(), count=1))
        # with a log, verbose: the build backend's own warnings (licence metadata...) are in it
        argv = [sys.executable, "-m", "pip", "wheel", "-v" if log is not None else "--quiet",
                "--disable-pip-version-check", "-w", str(out)]
        # what docs/ansible.md tells operators to run: `pip wheel '.[agent,centre]' pip -w DIR`
        argv += [f"{src}[agent,centre]", "pip"] if with_deps else [str(src), "--no-deps"]
        built = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=600)
        if log is not None:
            log.write_text(built.stdout + built.stderr)
    finally:
        shutil.rmtree(src, ignore_errors=True)
    wheels = sorted(out.glob(f"netmon-{version or base_version()}-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]
