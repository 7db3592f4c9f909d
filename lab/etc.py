"""Per-namespace /etc files: ``ip netns exec NS`` bind-mounts ``/etc/netns/NS/<file>`` over ``/etc/<file>``.

Lets processes started in a lab namespace resolve lab host names (``hosts``) and keeps their
resolver pointed at a lab address (``resolv.conf``) so a name lookup never leaves the lab.
Only ``ip netns exec`` applies them: in-process code entered with ``call_in_namespace``
still sees the root namespace's /etc.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

from netmon.lab.netns import LabError, Namespace

ETC_NETNS = Path("/etc/netns")


@contextlib.contextmanager
def netns_etc_files(ns: Namespace, files: dict[str, str]) -> Iterator[Path]:
    """Create ``/etc/netns/<ns>/<name>`` for each entry; remove the directory on exit."""
    directory = ETC_NETNS / ns.name
    if directory.exists():
        raise LabError(f"{directory} already exists; it belongs to someone else")
    directory.mkdir(parents=True)
    try:
        for name, text in files.items():
            (directory / name).write_text(text)
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)
