"""Which extra a command needs, checked before it imports anything of it.

The base install (``pip install netmon``) is the command line and the configuration models; the
agent's libraries come with ``netmon[agent]``, the centre's with ``netmon[centre]``. A command of
a side whose extra is missing says so in one line instead of dying on an ``ImportError`` deep in
its imports. The list of what an extra holds is read from the installed package's metadata, so
pyproject.toml stays the one place it is written.
"""

from __future__ import annotations

import importlib.metadata
import re

import typer

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_EXTRA = re.compile(r"""extra\s*==\s*['"]([^'"]+)['"]""")


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def distributions_of(extra: str) -> list[str]:
    """The distributions ``netmon[extra]`` adds, from the installed metadata ([] when netmon is not
    installed as a distribution, e.g. run from a checkout with PYTHONPATH)."""
    try:
        requirements = importlib.metadata.requires("netmon") or []
    except importlib.metadata.PackageNotFoundError:
        return []
    out = []
    for requirement in requirements:
        name, marker = _NAME.match(requirement), _EXTRA.search(requirement)
        if name and marker and marker.group(1) == extra and _normalised(name.group(1)) != "netmon":
            out.append(name.group(1))
    return out


def missing_from(extra: str) -> list[str]:
    missing = []
    for name in distributions_of(extra):
        try:
            importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(name)
    return missing


def require(extra: str, command: str) -> None:
    """Exit 1 with one line when ``netmon[extra]`` is not installed (``command``: e.g. ``collector serve``)."""
    missing = missing_from(extra)
    if missing:
        typer.echo(f"netmon {command} needs the {extra} extra (missing: {', '.join(missing)}): "
                   f"pip install 'netmon[{extra}]'", err=True)
        raise typer.Exit(1)


def missing_module_message(exc: ModuleNotFoundError) -> str | None:
    """The line for an import that failed anyway (netmon run from a checkout, a broken venv); None
    when the missing module is netmon's own (a bug, not an install problem)."""
    top = (exc.name or "").split(".")[0]
    if not top or top == "netmon":
        return None
    return (f"netmon: the Python module {top!r} is not installed; install the extra of this side: "
            "pip install 'netmon[agent]' (site box) or 'netmon[centre]' (collector, alerting, dashboards)")
