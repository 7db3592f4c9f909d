"""The IF-MIB objects snmp_if reads (RFC 2863), by the name the probe uses for each.

Real routers answer only part of IF-MIB: old ones have no ifXTable (no ifName, no 64-bit
counters, no ifHighSpeed), some have an ifXTable without counters, and many lack the
optional columns (ifCounterDiscontinuityTime, ifAlias). Every column here is therefore
optional to the probe; ``Column.fallback`` says which one stands in when it is missing.
"""

from __future__ import annotations

import dataclasses

SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
IF_TABLE = "1.3.6.1.2.1.2.2.1."
IF_X_TABLE = "1.3.6.1.2.1.31.1.1.1."


@dataclasses.dataclass(frozen=True)
class Column:
    name: str  # the field name in a Sample
    oid: str  # the column, without the ifIndex
    mib_name: str

    def at(self, if_index: int) -> str:
        return f"{self.oid}.{if_index}"


def _column(name: str, table: str, number: int, mib_name: str) -> Column:
    return Column(name, f"{table}{number}", mib_name)


IF_DESCR = _column("descr", IF_TABLE, 2, "ifDescr")
IF_SPEED = _column("speed_bps", IF_TABLE, 5, "ifSpeed")
IF_OPER_STATUS = _column("oper_status", IF_TABLE, 8, "ifOperStatus")
IF_IN_OCTETS = _column("in_octets_32", IF_TABLE, 10, "ifInOctets")
IF_IN_DISCARDS = _column("in_discards", IF_TABLE, 13, "ifInDiscards")
IF_IN_ERRORS = _column("in_errors", IF_TABLE, 14, "ifInErrors")
IF_OUT_OCTETS = _column("out_octets_32", IF_TABLE, 16, "ifOutOctets")
IF_OUT_DISCARDS = _column("out_discards", IF_TABLE, 19, "ifOutDiscards")
IF_OUT_ERRORS = _column("out_errors", IF_TABLE, 20, "ifOutErrors")
IF_NAME = _column("name", IF_X_TABLE, 1, "ifName")
IF_HC_IN_OCTETS = _column("in_octets_64", IF_X_TABLE, 6, "ifHCInOctets")
IF_HC_OUT_OCTETS = _column("out_octets_64", IF_X_TABLE, 10, "ifHCOutOctets")
IF_HIGH_SPEED = _column("high_speed_mbps", IF_X_TABLE, 15, "ifHighSpeed")
IF_ALIAS = _column("alias", IF_X_TABLE, 18, "ifAlias")
IF_COUNTER_DISCONTINUITY = _column("discontinuity_ticks", IF_X_TABLE, 19, "ifCounterDiscontinuityTime")

# Read on every sample, when the agent has them.
COUNTERS_64 = (IF_HC_IN_OCTETS, IF_HC_OUT_OCTETS)
COUNTERS_32 = (IF_IN_OCTETS, IF_OUT_OCTETS)
ERRORS = (IF_IN_ERRORS, IF_OUT_ERRORS, IF_IN_DISCARDS, IF_OUT_DISCARDS)
SAMPLED = (IF_OPER_STATUS, IF_HIGH_SPEED, IF_SPEED, IF_COUNTER_DISCONTINUITY, *COUNTERS_64, *COUNTERS_32, *ERRORS)

OPER_STATUS = {1: "up", 2: "down", 3: "testing", 4: "unknown", 5: "dormant", 6: "notPresent", 7: "lowerLayerDown"}
