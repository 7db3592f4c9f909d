"""Kernel packet timestamps on Linux sockets: when a packet really left and really arrived.

Receive time comes from ``SO_TIMESTAMPNS`` (an ``SCM_TIMESTAMPNS`` control message on every
``recvmsg``), stamped by the kernel when the packet entered the network stack — before
any scheduling delay of the agent. Send time comes from ``SO_TIMESTAMPING`` software
transmit stamps, taken by the driver when the packet is handed to the device and returned
on the socket's error queue (``MSG_ERRQUEUE``), each tagged with a per-socket counter
(``SOF_TIMESTAMPING_OPT_ID``) that counts the datagrams the socket has sent.

Both stamps use CLOCK_REALTIME, the same clock as ``time.time_ns()``, which is the
fallback when a driver gives no transmit stamp. See the kernel's
Documentation/networking/timestamping.rst. The option numbers are the asm-generic ones
(x86-64, arm64); Python's ``socket`` module does not define them.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterable

SO_TIMESTAMPNS = 35
SCM_TIMESTAMPNS = SO_TIMESTAMPNS
SO_TIMESTAMPING = 37
SCM_TIMESTAMPING = SO_TIMESTAMPING
SOL_IPV6 = 41
IP_RECVERR = 11
IPV6_RECVERR = 25

SOF_TIMESTAMPING_TX_SOFTWARE = 1 << 1
SOF_TIMESTAMPING_SOFTWARE = 1 << 4
SOF_TIMESTAMPING_OPT_ID = 1 << 7
# Return the stamp without a copy of the packet: less receive-buffer use, and it works
# when net.core.tstamp_allow_data is 0 for unprivileged sockets.
SOF_TIMESTAMPING_OPT_TSONLY = 1 << 11
TX_FLAGS = (SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE
            | SOF_TIMESTAMPING_OPT_ID | SOF_TIMESTAMPING_OPT_TSONLY)

SO_EE_ORIGIN_TIMESTAMPING = 4
SCM_TSTAMP_SND = 0
ENOMSG = 42

_TIMESPEC = struct.Struct("@qq")
_SCM_TIMESTAMPING = struct.Struct("@qqqqqq")  # ts[0] software, ts[1] deprecated, ts[2] hardware
_EXTENDED_ERR = struct.Struct("@IBBBBII")  # ee_errno, origin, type, code, pad, info, data

# Room for the control messages we enable (timestamps and extended errors) with margin.
ANCILLARY_BUFSIZE = 256


def enable(sock: socket.socket) -> bool:
    """Turn on receive stamps and, where the kernel allows, transmit stamps.

    Returns whether transmit stamps were enabled. Call before the first send: the
    OPT_ID counter starts at 0 when the option is set.
    """
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPING, TX_FLAGS)
    except OSError:
        return False
    return True


def _timespec_ns(data: bytes, offset: int = 0) -> int:
    seconds, nanoseconds = _TIMESPEC.unpack_from(data, offset)
    return int(seconds) * 1_000_000_000 + int(nanoseconds)


def rx_stamp_ns(ancillary: Iterable[tuple[int, int, bytes]]) -> int | None:
    """The kernel receive stamp of a datagram from its ``recvmsg`` ancillary data."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SCM_TIMESTAMPNS and len(data) >= _TIMESPEC.size:
            stamp = _timespec_ns(data)
            return stamp or None
    return None


def tx_stamp(ancillary: Iterable[tuple[int, int, bytes]]) -> tuple[int, int] | None:
    """(OPT_ID counter, software send stamp in ns) from one error-queue message, if it is a send stamp."""
    stamp_ns: int | None = None
    key: int | None = None
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SCM_TIMESTAMPING and len(data) >= _SCM_TIMESTAMPING.size:
            stamp_ns = _timespec_ns(data) or None
        elif (level, kind) in ((socket.SOL_IP, IP_RECVERR), (SOL_IPV6, IPV6_RECVERR)) \
                and len(data) >= _EXTENDED_ERR.size:
            errno_, origin, _, _, _, info, ee_data = _EXTENDED_ERR.unpack_from(data)
            if errno_ == ENOMSG and origin == SO_EE_ORIGIN_TIMESTAMPING and info == SCM_TSTAMP_SND:
                key = int(ee_data)
    if stamp_ns is None or key is None:
        return None
    return key, stamp_ns
