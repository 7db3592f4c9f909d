"""The ARP sweep itself, with scapy. Blocking; the probe runs it in a worker thread.

This module imports scapy at the top and is itself imported only from ``LanProbe.measure``,
so an agent that never runs a lan probe never loads scapy. It needs only scapy's layer-2
layers and its send/receive matcher (``scapy.all`` would cost ~5x the time and memory).
"""

from __future__ import annotations

from scapy.arch.linux import L2Socket
from scapy.layers.l2 import ARP, Ether
from scapy.sendrecv import sndrcv

from netmon.probes.rawnet import capability_error

ETH_P_ARP = 0x0806
BROADCAST = "ff:ff:ff:ff:ff:ff"


def arp_sweep(interface: str, mac: str, ipv4: str, targets: list[str], rate_pps: float,
              reply_wait_seconds: float) -> dict[str, list[str]]:
    """Ask every target ``who-has`` at ``rate_pps``; return each answering IP with the MACs that
    answered for it, in order of arrival (two MACs for one IP is a duplicate address).

    The socket is bound to ARP frames only, so the kernel filters the rest of the LAN's
    traffic before it reaches Python; it is not put in promiscuous mode.
    """
    try:
        sock = L2Socket(iface=interface, type=ETH_P_ARP, promisc=False)
    except PermissionError as exc:
        raise capability_error(exc) from None
    try:
        requests = [Ether(dst=BROADCAST, src=mac) / ARP(op=1, hwsrc=mac, psrc=ipv4, pdst=target)
                    for target in targets]
        # multi=True keeps every answer to a request, not just the first: that is how a
        # second host claiming the same address shows up.
        answered, _ = sndrcv(sock, requests, timeout=reply_wait_seconds, inter=1.0 / rate_pps,
                             multi=True, verbose=0)
    finally:
        sock.close()
    found: dict[str, list[str]] = {}
    for _, reply in answered:
        arp = reply[ARP]
        macs = found.setdefault(str(arp.psrc), [])
        if str(arp.hwsrc) not in macs:
            macs.append(str(arp.hwsrc))
    return found
