"""Find the interface that carries a link, and learn which IF-MIB columns its agent has.

The interface is chosen by ``if_name`` (ifName, else ifDescr: old agents have no ifXTable;
exact first, then Cisco long/short forms), ``if_alias`` (where carriers write the circuit
id) or ``if_index``. Several rows with one name (net-snmp keeps rows of deleted
interfaces) resolve to one that is up, then the newest.

Then one GET of every column the probe can use, on that row, tells which exist: the
``Binding`` lists what to read on each sample and what is missing, so a partial agent
gives a partial result, never a crash.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from netmon.config.site import SnmpConfig, SnmpVersion
from netmon.errors import UnknownInterface
from netmon.probes.snmp_if.client import SnmpClient
from netmon.probes.snmp_if.names import interface_key
from netmon.probes.snmp_if.oids import (
    COUNTERS_32,
    COUNTERS_64,
    IF_ALIAS,
    IF_DESCR,
    IF_HIGH_SPEED,
    IF_NAME,
    IF_OPER_STATUS,
    IF_SPEED,
    SAMPLED,
    Column,
)

# names listed in an "unknown interface" reason, at most
SHOWN_NAMES = 40


@dataclasses.dataclass(frozen=True)
class Binding:
    """One interface row and how to read it."""

    if_index: int
    found_by: str  # "ifName 'Gi0/1'", "ifDescr 'GigabitEthernet 1/1/1' (for 'Gi1/1/1')"
    columns: tuple[Column, ...]  # read on every sample, besides sysUpTime
    counters: tuple[Column, Column] | None  # the octet counters read, None: the agent has neither pair
    missing: tuple[str, ...]  # MIB names of useful columns this row lacks
    # the column re-read on every sample to tell the row still is this interface (not for if_index)
    identity: Column | None = None
    identity_value: str | None = None


def text(value: Any) -> str:
    """An OctetString as text: UTF-8 where it is, trailing NULs and blanks (some agents pad) dropped."""
    raw = value.asOctets() if hasattr(value, "asOctets") else str(value).encode()
    return raw.decode("utf-8", "replace").rstrip("\x00 \t\r\n")


def _index(oid: str) -> int:
    return int(oid.rsplit(".", 1)[1])


async def _names(client: SnmpClient, cfg: SnmpConfig, column: Column) -> dict[int, str]:
    return {_index(oid): text(value) for oid, value in (await client.walk(cfg, column.oid)).items()}


def _seen(what: str, names: dict[int, str]) -> str:
    shown = sorted({name for name in names.values() if name})
    listed = ", ".join(shown[:SHOWN_NAMES]) or "none"
    more = f" and {len(shown) - SHOWN_NAMES} more" if len(shown) > SHOWN_NAMES else ""
    return f"{what} seen: {listed}{more}"


async def _by_name(client: SnmpClient, cfg: SnmpConfig, wanted: str) -> tuple[list[int], Column, str]:
    tables: dict[Column, dict[int, str]] = {}
    for column in (IF_NAME, IF_DESCR):  # ifDescr is walked only when no ifName is the name
        tables[column] = names = await _names(client, cfg, column)
        found = [index for index, name in names.items() if name == wanted]
        if found:
            return found, column, f"{column.mib_name} {wanted!r}"
    key = interface_key(wanted)
    if key is not None:
        for column, names in tables.items():
            found = [index for index, name in names.items() if interface_key(name) == key]
            if found:
                return found, column, f"{column.mib_name} {names[found[0]]!r} (for {wanted!r})"
    seen = _seen("ifNames", tables[IF_NAME]) if tables[IF_NAME] else "no ifName (no ifXTable)"
    if set(tables[IF_DESCR].values()) != set(tables[IF_NAME].values()):
        seen += "; " + _seen("ifDescrs", tables[IF_DESCR])
    raise UnknownInterface(f"SNMP agent {cfg.host} has no interface with ifName or ifDescr {wanted!r}; {seen}")


async def _by_alias(client: SnmpClient, cfg: SnmpConfig, wanted: str) -> tuple[list[int], Column, str]:
    aliases = await _names(client, cfg, IF_ALIAS)
    found = [index for index, alias in aliases.items() if alias == wanted]
    if found:
        return found, IF_ALIAS, f"ifAlias {wanted!r}"
    if not aliases:
        raise UnknownInterface(f"SNMP agent {cfg.host} has no ifAlias column (no ifXTable): choose the "
                               "interface with if_name or if_index")
    raise UnknownInterface(f"SNMP agent {cfg.host} has no interface with ifAlias {wanted!r}; "
                           + _seen("ifAliases", aliases))


async def _prefer_up(client: SnmpClient, cfg: SnmpConfig, candidates: list[int]) -> int:
    if len(candidates) == 1:
        return candidates[0]
    status = await client.get(cfg, [IF_OPER_STATUS.at(index) for index in candidates], missing_ok=True)
    return max(candidates, key=lambda i: (int(status.get(IF_OPER_STATUS.at(i), 0)) == 1, i))


async def resolve(client: SnmpClient, cfg: SnmpConfig) -> Binding:
    identity: Column | None = None
    if cfg.if_index is not None:
        index, found_by = cfg.if_index, f"ifIndex {cfg.if_index}"
    else:
        if cfg.if_alias is not None:
            candidates, identity, found_by = await _by_alias(client, cfg, cfg.if_alias)
        else:
            candidates, identity, found_by = await _by_name(client, cfg, cfg.if_name or "")
        index = await _prefer_up(client, cfg, candidates)
    return await bind(client, cfg, index, found_by, identity)


async def bind(client: SnmpClient, cfg: SnmpConfig, index: int, found_by: str, identity: Column | None) -> Binding:
    wanted = [*SAMPLED, *([identity] if identity else [])]
    got = await client.get(cfg, [column.at(index) for column in wanted], missing_ok=True)
    present = {column for column in wanted if column.at(index) in got}
    if not present:
        raise UnknownInterface(f"SNMP agent {cfg.host} has no interface with ifIndex {index} "
                               "(no IF-MIB column answers for it)")
    counters: tuple[Column, Column] | None = None
    # SNMPv1 cannot carry a Counter64: its agents leave the ifXTable counters out
    for pair in (COUNTERS_64, COUNTERS_32) if cfg.version is not SnmpVersion.V1 else (COUNTERS_32,):
        if all(column in present for column in pair):
            counters = (pair[0], pair[1])
            break
    others = tuple(column for column in SAMPLED if column in present and column not in (*COUNTERS_64, *COUNTERS_32))

    def worth_saying(column: Column) -> bool:
        if column in COUNTERS_32:
            return counters is None  # only when neither pair is there
        if column in COUNTERS_64:
            return cfg.version is not SnmpVersion.V1  # v1 never has them
        if column is IF_SPEED:
            return IF_HIGH_SPEED not in present
        return True

    missing = tuple(column.mib_name for column in SAMPLED if column not in present and worth_saying(column))
    columns = others + (counters or ()) + ((identity,) if identity else ())
    value = text(got[identity.at(index)]) if identity else None
    return Binding(if_index=index, found_by=found_by, columns=columns, counters=counters, missing=missing,
                   identity=identity, identity_value=value)
