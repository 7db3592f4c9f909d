"""netmon/errors.py is the one error tree: its docstring lists every class it defines, every
class is used by product code, and no product module defines an exception of its own."""

from __future__ import annotations

import ast
import builtins
import inspect
import re
from pathlib import Path

import netmon.errors

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("probes", "collectors", "alerting", "dashboards", "netmon/cli", "netmon/config", "netmon/deploy",
           "netmon/contract.py")
BUILTIN_ERRORS = {name for name, value in vars(builtins).items()
                  if isinstance(value, type) and issubclass(value, BaseException)}
OURS = {name for name, value in vars(netmon.errors).items()
        if isinstance(value, type) and issubclass(value, netmon.errors.NetmonError)}


def product_files() -> list[Path]:
    out: list[Path] = []
    for entry in PRODUCT:
        path = ROOT / entry
        out += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return out


def test_no_product_module_defines_an_exception_of_its_own() -> None:
    found = []
    for path in product_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ClassDef):
                continue
            bases = {b.id if isinstance(b, ast.Name) else b.attr if isinstance(b, ast.Attribute) else "" for b in node.bases}
            if bases & (BUILTIN_ERRORS | OURS):
                found.append(f"{path.relative_to(ROOT)}: {node.name}")
    assert found == []


def test_the_docstring_is_the_tree_of_every_class() -> None:
    """Each class appears once, drawn under its own parent class."""
    drawn: dict[str, str] = {}  # class -> the class it is drawn under
    stack: list[tuple[int, str]] = []  # (column of its "──", name) of the open branches
    for line in (inspect.getdoc(netmon.errors) or "").splitlines():
        if line.strip() == "NetmonError":
            stack = [(line.index("N") - 4, "NetmonError")]
            continue
        match = re.search(r"[├└]── (\w+)", line)
        if match is None or not stack:
            continue
        column = match.start()
        while stack and stack[-1][0] >= column:
            stack.pop()
        assert match.group(1) not in drawn, f"{match.group(1)} is drawn twice"
        drawn[match.group(1)] = stack[-1][1]
        stack.append((column, match.group(1)))
    assert sorted(drawn) == sorted(OURS - {"NetmonError"})
    for name, parent in drawn.items():
        assert getattr(netmon.errors, name).__mro__[1].__name__ == parent, f"{name} is drawn under {parent}"


def test_every_class_of_the_tree_is_used_by_product_code() -> None:
    names: set[str] = set()
    for path in product_files():
        names |= {n.id for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Name)}
    parents = {b.__name__ for name in OURS for b in getattr(netmon.errors, name).__mro__[1:]}
    leaves = OURS - parents  # a branch is raised through its leaves
    assert sorted(leaves - names) == []
