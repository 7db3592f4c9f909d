"""snmp_if: interface utilisation of the site router against the link's contracted rate (IF-MIB, pysnmp 7)."""

from netmon.probes.snmp_if.probe import SnmpIfOptions, SnmpIfProbe

__all__ = ["SnmpIfOptions", "SnmpIfProbe"]
