"""Interface names as people write them and as routers report them.

Cisco IOS reports ``ifName`` in the short form (``Gi0/49``) and ``ifDescr`` in the long one
(``GigabitEthernet0/49``); NX-OS says ``Eth1/1`` and ``Ethernet1/1``; Huawei ``GE0/0/1`` and
``GigabitEthernet0/0/1``; Ruijie writes a space (``GigabitEthernet 1/1/1``). An operator
copies whichever form the router's CLI showed. ``interface_key`` maps every form of one
interface to the same key, so the probe can match after an exact match failed.
"""

from __future__ import annotations

import re

# every spelling of a type -> one canonical name (lower case, as compared)
_TYPES: dict[str, tuple[str, ...]] = {
    "ethernet": ("ethernet", "eth", "et"),
    "fastethernet": ("fastethernet", "fa", "fe"),
    "gigabitethernet": ("gigabitethernet", "gi", "gig", "ge"),
    "twogigabitethernet": ("twogigabitethernet", "tw"),
    "fivegigabitethernet": ("fivegigabitethernet", "fi"),
    "tengigabitethernet": ("tengigabitethernet", "te", "ten", "tengige", "xgigabitethernet", "xge"),
    "twentyfivegige": ("twentyfivegige", "twentyfivegigabitethernet", "twe"),
    "fortygigabitethernet": ("fortygigabitethernet", "fortygige", "fo"),
    "hundredgige": ("hundredgige", "hundredgigabitethernet", "hu"),
    "port-channel": ("port-channel", "portchannel", "po"),
    "vlan": ("vlan", "vl", "vlan-interface", "vlanif"),
    "loopback": ("loopback", "lo"),
    "tunnel": ("tunnel", "tu"),
    "serial": ("serial", "se"),
    "dialer": ("dialer", "di"),
    "virtual-access": ("virtual-access", "vi"),
    "virtual-template": ("virtual-template", "vt"),
    "multilink": ("multilink", "mu"),
    "cellular": ("cellular", "ce"),
    "bdi": ("bdi", "bd"),
}
_CANONICAL = {spelling: canonical for canonical, spellings in _TYPES.items() for spelling in spellings}
# the type is the text before the first digit; the rest (slot/port/sub-interface) must match exactly
_SPLIT = re.compile(r"^\s*([A-Za-z][A-Za-z-]*?)\s*(\d.*)$")


def interface_key(name: str) -> str | None:
    """``"Gi0/49"`` and ``"GigabitEthernet0/49"`` -> ``"gigabitethernet0/49"``; None for names of no known type."""
    match = _SPLIT.match(name)
    if not match:
        return None
    canonical = _CANONICAL.get(match.group(1).lower())
    if canonical is None:
        return None
    return canonical + re.sub(r"\s+", "", match.group(2)).lower()
