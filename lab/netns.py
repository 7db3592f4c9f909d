"""Linux network namespaces as lab hosts: the testbed of the tests, benchmarks and ``netmon demo``.

Everything a ``Lab`` creates carries its owner's pid in its name (``nmt-<pid>-<n>-<role>``)
and is removed by ``Lab.close()`` — processes first (a namespace with live processes
survives ``ip netns del``), then namespaces. ``sweep_stale()`` removes what a killed run
left behind, and only that: namespaces whose owner pid is dead, so concurrent runs never
touch each other.

Traffic safety: every address a Lab hands out lives only inside namespaces it created.
Nothing here adds a route or address to the root namespace.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

PREFIX = "nmt"
_T = TypeVar("_T")
_counter = itertools.count(1)


class LabError(RuntimeError):
    pass


def debian_binary(*names: str, package: str) -> str:
    """The path of the first of ``names`` on PATH, else a LabError naming the Debian package."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise LabError(f"{names[0]} not found: install Debian's {package!r} (scripts/install-system-deps.sh)")


def run(cmd: Sequence[str], *, check: bool = True, timeout: float = 30, input: str | None = None
        ) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, input=input)
    if check and proc.returncode != 0:
        raise LabError(f"{shlex.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


def namespaces_available() -> tuple[bool, str]:
    """Whether this process can create namespaces, and if not, why."""
    if os.geteuid() != 0:
        return False, "needs root (network namespaces, tc, raw sockets)"
    name = f"{PREFIX}-{os.getpid()}-probe"
    proc = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if proc.returncode != 0:
        return False, f"'ip netns add' failed: {proc.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return True, ""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale() -> list[str]:
    """Delete namespaces left by lab owners that no longer run. Returns their names."""
    removed = []
    listing = run(["ip", "netns", "list"], check=False).stdout
    for line in listing.splitlines():
        name = line.split()[0] if line.split() else ""
        parts = name.split("-")
        if len(parts) >= 3 and parts[0] == PREFIX and parts[1].isdigit() and not _pid_alive(int(parts[1])):
            _kill_pids_in(name)
            run(["ip", "netns", "del", name], check=False)
            removed.append(name)
    return removed


def _kill_pids_in(ns: str) -> None:
    pids = run(["ip", "netns", "pids", ns], check=False).stdout.split()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)


class Proc:
    """A process started inside a namespace; killed (group-wide) when the lab closes."""

    def __init__(self, name: str, popen: subprocess.Popen[bytes], log_path: Path) -> None:
        self.name = name
        self.popen = popen
        self.log_path = log_path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)

    def stop(self, timeout: float = 5.0) -> int | None:
        if self.alive():
            self.signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.popen.wait(5)
        return self.popen.returncode

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(5)


class Namespace:
    def __init__(self, lab: Lab, name: str, role: str) -> None:
        self.lab = lab
        self.name = name
        self.role = role

    def __repr__(self) -> str:
        return f"Namespace({self.name!r})"

    def argv(self, cmd: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, *cmd]

    def run(self, *cmd: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return run(self.argv(cmd), check=check, timeout=timeout)

    def start(self, cmd: Sequence[str], name: str | None = None, env: dict[str, str] | None = None,
              ready: Callable[[], bool] | None = None, ready_timeout: float = 15.0) -> Proc:
        return self.lab.start(self, cmd, name=name, env=env, ready=ready, ready_timeout=ready_timeout)

    def sysctl(self, key: str, value: str) -> None:
        self.run("sysctl", "-qw", f"{key}={value}")

    def addresses(self, dev: str) -> str:
        return self.run("ip", "-o", "addr", "show", "dev", dev).stdout


class Lab:
    """A set of namespaces, links between them, and processes inside them. Use as a context manager."""

    def __init__(self, workdir: Path | None = None) -> None:
        self.id = f"{PREFIX}-{os.getpid()}-{next(_counter)}"
        self._tmp = tempfile.TemporaryDirectory(prefix=f"{self.id}-") if workdir is None else None
        self.workdir: Path = Path(self._tmp.name) if self._tmp is not None else workdir  # type: ignore[assignment]
        self.namespaces: list[Namespace] = []
        self.procs: list[Proc] = []
        self._closed = False

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def namespace(self, role: str) -> Namespace:
        name = f"{self.id}-{role}"
        if len(name) > 200:
            raise LabError(f"namespace name too long: {name}")
        run(["ip", "netns", "add", name])
        ns = Namespace(self, name, role)
        self.namespaces.append(ns)
        ns.run("ip", "link", "set", "lo", "up")
        # Lab links are point-to-point veths with addresses we assign: duplicate address
        # detection only delays IPv6 by ~2 s (link-local addresses stay tentative).
        for scope in ("default", "all"):
            ns.sysctl(f"net.ipv6.conf.{scope}.accept_dad", "0")
        return ns

    def link(self, a: Namespace, a_if: str, a_addr: str | None, b: Namespace, b_if: str, b_addr: str | None,
             mtu: int | None = None) -> None:
        """A veth pair from ``a`` to ``b`` (names are per-namespace, so short ones are fine)."""
        for name in (a_if, b_if):
            if len(name) > 15:
                raise LabError(f"interface name {name!r} is longer than 15 characters")
        run(["ip", "link", "add", a_if, "netns", a.name, "type", "veth", "peer", "name", b_if, "netns", b.name])
        for ns, dev, addr in ((a, a_if, a_addr), (b, b_if, b_addr)):
            if mtu:
                ns.run("ip", "link", "set", dev, "mtu", str(mtu))
            if addr:
                ns.run("ip", "addr", "add", addr, "dev", dev, *(["nodad"] if ":" in addr else []))
            ns.run("ip", "link", "set", dev, "up")

    def bridge(self, ns: Namespace, name: str, addr: str | None = None) -> None:
        ns.run("ip", "link", "add", name, "type", "bridge")
        if addr:
            ns.run("ip", "addr", "add", addr, "dev", name)
        ns.run("ip", "link", "set", name, "up")

    @staticmethod
    def shape(ns: Namespace, dev: str, rate_mbit: float, latency_ms: float = 50.0, burst: str = "32kbit") -> None:
        """Limit ``dev``'s egress to ``rate_mbit`` with a tbf queue of ``latency_ms`` — a leased line.

        Queueing delay shows only when the shaper sits on a forwarding router namespace and
        the queue fills (UDP overload or cubic TCP), as on a saturated real line.
        """
        ns.run("tc", "qdisc", "replace", "dev", dev, "root", "tbf", "rate", f"{rate_mbit}mbit",
               "burst", burst, "latency", f"{latency_ms}ms")

    @staticmethod
    def unshape(ns: Namespace, dev: str) -> None:
        ns.run("tc", "qdisc", "del", "dev", dev, "root", check=False)

    def start(self, ns: Namespace, cmd: Sequence[str], name: str | None = None, env: dict[str, str] | None = None,
              ready: Callable[[], bool] | None = None, ready_timeout: float = 15.0) -> Proc:
        label = name or Path(cmd[0]).name
        log_path = self.workdir / f"{ns.role}-{label}-{len(self.procs)}.log"
        log_file = open(log_path, "wb")  # noqa: SIM115 - owned by the child for its lifetime
        full_env = {**os.environ, **(env or {})}
        popen = subprocess.Popen(ns.argv(cmd), stdout=log_file, stderr=subprocess.STDOUT, env=full_env,
                                 start_new_session=True)
        log_file.close()
        proc = Proc(label, popen, log_path)
        self.procs.append(proc)
        if ready is not None:
            deadline = time.monotonic() + ready_timeout
            while not ready():
                if not proc.alive():
                    raise LabError(f"{label} in {ns.name} exited with {popen.returncode}:\n{proc.log()[-2000:]}")
                if time.monotonic() > deadline:
                    raise LabError(f"{label} in {ns.name} not ready after {ready_timeout} s:\n{proc.log()[-2000:]}")
                time.sleep(0.05)
        return proc

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for proc in reversed(self.procs):
            with contextlib.suppress(Exception):
                proc.stop(timeout=3)
        for ns in reversed(self.namespaces):
            _kill_pids_in(ns.name)
            run(["ip", "netns", "del", ns.name], check=False)
        if self._tmp is not None:
            self._tmp.cleanup()


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


_CLONE_NEWNET = 0x40000000


def call_in_namespace(ns: Namespace | str, fn: Callable[[], _T]) -> _T:
    """Run ``fn`` on a fresh thread that has entered namespace ``ns``; return its result.

    ``setns`` moves only the calling thread, and sockets keep the namespace they were
    created in, so an asyncio loop started inside ``fn`` does all its I/O in ``ns``.
    """
    import ctypes
    import threading

    name = ns.name if isinstance(ns, Namespace) else ns
    libc = ctypes.CDLL(None, use_errno=True)
    result: list[_T] = []
    error: list[BaseException] = []

    def body() -> None:
        try:
            fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
            try:
                if libc.setns(fd, _CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns({name}) failed")
            finally:
                os.close(fd)
            result.append(fn())
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=body, name=f"netns-{name}")
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]
