"""Run Debian's ``iperf3`` client for one direction and read its JSON report.

Why the iperf3 binary and not an in-process test: the far end is a standard ``iperf3 -s``
(what perfSONAR and carriers run), the client speaks its control protocol exactly, and the
agent boxes have it installed anyway. It runs as a child process with a hard time limit
and is killed if the probe is cancelled, so a stuck test cannot hold the link.

Rates are the **receiver-side** totals (``end.sum_received``): what actually crossed the
link, not what the sender pushed into its socket buffer.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from typing import Any

from netmon.errors import IperfFailure, IperfServerBusy, IperfUnavailable

# time allowed after the test for iperf3's results exchange and exit
FINISH_SECONDS = 3.0
# iperf3's default TCP write (--len): how far a paced sender can run ahead of its rate
TCP_WRITE_BYTES = 128 * 1024


# Pauses before trying a busy server again: a server finishing a test frees up within about
# a second; a longer test of another site is reported as busy rather than waited for.
BUSY_RETRY_PAUSES_SECONDS = (0.5, 1.5)


@dataclasses.dataclass(frozen=True)
class DirectionResult:
    bits_per_second: float  # receiver side, omitted seconds excluded
    payload_bytes: int  # everything this client sent or received, omitted seconds included
    seconds: float


@dataclasses.dataclass(frozen=True)
class IperfRun:
    server: str
    port: int
    duration_seconds: float
    omit_seconds: int = 1
    reverse: bool = False
    congestion: str | None = "cubic"
    connect_timeout_seconds: float = 3.0
    source_address: str | None = None
    streams: int = 1
    binary: str = "iperf3"
    # iperf3 -b: the sender never averages more than this, so a test moves at most
    # rate_cap_bps x time / 8 bytes however fast the path is (iperf3 3.12 refuses -t with -n)
    rate_cap_bps: float | None = None

    def argv(self) -> list[str]:
        argv = [self.binary, "-c", self.server, "-p", str(self.port), "-t", f"{self.duration_seconds:g}", "-J",
                "--connect-timeout", str(int(self.connect_timeout_seconds * 1000))]
        if self.omit_seconds:
            argv += ["-O", str(self.omit_seconds)]
        if self.congestion:
            argv += ["-C", self.congestion]
        if self.reverse:
            argv.append("-R")
        if self.rate_cap_bps:
            argv += ["-b", str(int(self.rate_cap_bps / self.streams))]  # -b is per stream
        if self.streams > 1:
            argv += ["-P", str(self.streams)]
        if self.source_address:
            argv += ["-B", self.source_address]
        return argv

    @property
    def byte_bound(self) -> int | None:
        """The most this direction can move (payload), omitted seconds included."""
        if not self.rate_cap_bps:
            return None
        # iperf3 paces by the average since the start, a write (128 KiB for TCP) at a time
        return int(self.rate_cap_bps / 8 * (self.omit_seconds + self.duration_seconds)) + TCP_WRITE_BYTES * self.streams

    @property
    def limit_seconds(self) -> float:
        # connect, the test itself, and iperf3's end-of-test exchange
        return self.connect_timeout_seconds + self.omit_seconds + self.duration_seconds + FINISH_SECONDS


def parse_report(text: str) -> DirectionResult:
    try:
        report: dict[str, Any] = json.loads(text)
    except json.JSONDecodeError:
        raise IperfFailure(f"iperf3 gave no JSON report: {text.strip()[:200] or '(empty)'}") from None
    error = report.get("error")
    if error:
        # "the server is busy running a test. try again later", "unable to connect to server: ..."
        raise (IperfServerBusy if "busy" in str(error) else IperfFailure)(f"iperf3: {error}")
    try:
        received = report["end"]["sum_received"]
        payload = sum(int(interval["sum"]["bytes"]) for interval in report.get("intervals", []))
        return DirectionResult(bits_per_second=float(received["bits_per_second"]), payload_bytes=payload,
                               seconds=float(received["seconds"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise IperfFailure(f"iperf3 report lacks receiver totals ({exc})") from None


async def run_direction(run: IperfRun) -> DirectionResult:
    for pause in (*BUSY_RETRY_PAUSES_SECONDS, None):
        try:
            return await _run_once(run)
        except IperfServerBusy:
            if pause is None:
                raise
            await asyncio.sleep(pause)
    raise AssertionError("unreachable")


async def _run_once(run: IperfRun) -> DirectionResult:
    try:
        proc = await asyncio.create_subprocess_exec(*run.argv(), stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE)
    except FileNotFoundError:
        raise IperfUnavailable(f"{run.binary} not found: install Debian's 'iperf3'") from None
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), run.limit_seconds)
    except TimeoutError:
        raise IperfFailure(f"iperf3 did not finish within {run.limit_seconds:g} s and was stopped",
                           ran_seconds=run.limit_seconds) from None
    finally:
        if proc.returncode is None:  # timed out or cancelled: never leave a test running on the link
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            with contextlib.suppress(Exception):
                await asyncio.shield(proc.wait())
    text = stdout.decode(errors="replace")
    if not text.strip() and stderr:
        raise IperfFailure(f"iperf3: {stderr.decode(errors='replace').strip()[:300]}")
    return parse_report(text)
