"""Load the few scapy modules the lan and path probes use — on their first run, and nothing heavier.

Not ``scapy.all`` (every layer and contrib: ~2x the time and memory). And not OpenSSL:
``scapy.config`` checks at import whether ``cryptography`` works by generating an X25519 key,
which loads OpenSSL's bindings (~9 MB RSS) for TLS/IPsec layers these probes never use. While
*this thread* imports scapy, a ``sys.meta_path`` finder that answers only to this thread makes
``cryptography`` unimportable, so scapy sets ``conf.crypto_valid = False``; another thread
importing ``cryptography`` at the same moment (an SNMPv3 probe) is not affected.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import threading
from collections.abc import Sequence
from types import ModuleType

MODULES = ("scapy.config", "scapy.layers.l2", "scapy.layers.inet", "scapy.supersocket", "scapy.sendrecv",
           "scapy.arch.linux")
_lock = threading.Lock()
_loaded = False


class _NoCryptographyForThisThread(importlib.abc.MetaPathFinder):
    def __init__(self) -> None:
        self.thread_id = threading.get_ident()

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if threading.get_ident() == self.thread_id and fullname.split(".")[0] == "cryptography":
            raise ModuleNotFoundError(f"{fullname} is not loaded for scapy's probes", name=fullname)
        return None


def load_scapy() -> None:
    """Import the scapy modules the probes need (idempotent, thread-safe)."""
    global _loaded
    if _loaded:
        return
    with _lock:
        if _loaded:
            return
        finder = _NoCryptographyForThisThread()
        sys.meta_path.insert(0, finder)
        try:
            for name in MODULES:
                importlib.import_module(name)
        finally:
            sys.meta_path.remove(finder)
        _loaded = True
