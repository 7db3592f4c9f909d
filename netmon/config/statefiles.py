"""State and secret files are their owner's alone: created mode 0600, tightened to it when found wider.

SQLite creates a database with the process umask (0644 under the usual 022) and gives its
``-wal`` and ``-shm`` files the database file's mode, so creating the file ourselves, 0600,
before SQLite opens it makes all three private. The site tokens' hashes, the journal (every
result with its site), alert state and the agent's outbox are nobody else's to read.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

PRIVATE_MODE = 0o600


def private_file(path: Path) -> None:
    """Make sure ``path`` exists as a private file: create it empty (0600), or tighten its mode.

    A file another user owns is left alone (``chmod`` would fail; that is the operator's setup)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_MODE))
        return
    except FileExistsError:
        pass
    for each in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError, PermissionError):
            if stat.S_IMODE(each.stat().st_mode) & 0o077:
                os.chmod(each, PRIVATE_MODE)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, mode 0600 whatever the umask (tokens, token hashes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
