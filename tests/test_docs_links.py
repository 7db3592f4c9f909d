"""The documentation stands on its own: every relative link and file reference in the README,
docs/*.md and the probes' READMEs points at something in this repository, headings included,
and nothing refers to files outside it."""

from __future__ import annotations

import re
import subprocess
import unicodedata
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

ROOT = Path(REPO_ROOT).resolve()
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "probes").glob("*/README.md")])
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
# `probes/icmp/probe.py`, `netmon/config/site.py::SiteConfig`: a path in the repository
FILE_REF = re.compile(r"`((?:netmon|probes|collectors|alerting|dashboards|lab|tests|bench|docs|ansible|examples|"
                      r"scripts)/[\w./-]*[\w/])(?:::[\w.]+)?`")
TOP_FILE_REF = re.compile(r"`((?:README|LICENSE|Makefile|pyproject\.toml)[\w.]*)`")
# Names of the workspace around a checkout, which a clone alone does not have. Spelt in pieces so
# that this file itself is no such reference to a plain grep.
SHARED, MEASURED, DESIGN, WORK = "../" + "shared", "MEASURED" + ".md", "DESIGN" + ".md", "/" + "work/"
OUTSIDE = re.compile("|".join(re.escape(name) for name in (SHARED, MEASURED, DESIGN, WORK)))
WORKSPACE = re.compile("|".join(re.escape(name) for name in (SHARED, MEASURED, WORK)))  # any tracked file


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`|\*", "", heading.strip().lower())
    text = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LN")
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    in_code = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            base = slug(line.lstrip("#"))
            name, n = base, 1
            while name in found:
                name, n = f"{base}-{n}", n + 1
            found.add(name)
        if not in_code:  # explicit anchors, e.g. <a id="two-addresses"></a> before a bold paragraph title
            found.update(re.findall(r'<a id="([^"]+)"></a>', line))
    return found


def problems(doc: Path) -> list[str]:
    text = doc.read_text(encoding="utf-8")
    out = [f"{doc.relative_to(ROOT)}: refers outside the repository: {m.group(0)!r}" for m in OUTSIDE.finditer(text)]
    for match in LINK.finditer(text):
        target = match.group(1)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:: outside links are fine
            continue
        path_part, _, anchor = target.partition("#")
        resolved = (doc.parent / path_part).resolve() if path_part else doc
        if not resolved.is_relative_to(ROOT):
            out.append(f"{doc.relative_to(ROOT)}: link leaves the repository: {target}")
        elif not resolved.exists():
            out.append(f"{doc.relative_to(ROOT)}: broken link: {target}")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            out.append(f"{doc.relative_to(ROOT)}: no heading #{anchor} in {resolved.relative_to(ROOT)}")
    for match in [*FILE_REF.finditer(text), *TOP_FILE_REF.finditer(text)]:
        if not (ROOT / match.group(1)).exists():
            out.append(f"{doc.relative_to(ROOT)}: no such file in the repository: {match.group(1)}")
    return out


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_every_link_and_file_reference_is_in_the_repository(doc: Path) -> None:
    assert problems(doc) == []


def test_the_checker_catches_what_it_must(tmp_path: Path) -> None:
    bad = ROOT / "docs" / "_checker_probe.md"
    bad.write_text(f"[a](../{SHARED}/{DESIGN}) [b](missing.md) [c](cli.md#no-such-heading) [d](cli.md#exit-status)"
                   f" `probes/nothing.py` `netmon/contract.py` see {MEASURED}\n", encoding="utf-8")
    try:
        found = problems(bad)
    finally:
        bad.unlink()
    assert found == [
        f"docs/_checker_probe.md: refers outside the repository: '{SHARED}'",
        f"docs/_checker_probe.md: refers outside the repository: '{DESIGN}'",
        f"docs/_checker_probe.md: refers outside the repository: '{MEASURED}'",
        f"docs/_checker_probe.md: link leaves the repository: ../{SHARED}/{DESIGN}",
        "docs/_checker_probe.md: broken link: missing.md",
        "docs/_checker_probe.md: no heading #no-such-heading in docs/cli.md",
        "docs/_checker_probe.md: no such file in the repository: probes/nothing.py",
    ]


def test_no_file_of_the_repository_cites_files_outside_it() -> None:
    """Code and config too (a comment once cited a measurement file kept beside the repository)."""
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True)
    offenders = []
    for name in tracked.stdout.split("\0"):
        path = ROOT / name
        if not name or name == "tests/test_docs_links.py" or not path.is_file() or path.is_symlink():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        offenders += [f"{name}: {m.group(0)!r}" for m in WORKSPACE.finditer(text)]
    assert offenders == []
