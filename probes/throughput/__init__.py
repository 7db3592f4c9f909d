"""throughput: bounded upload/download test of a link against an iperf3 server, with budget and quiet hours."""

from netmon.probes.throughput.probe import ThroughputOptions, ThroughputProbe

__all__ = ["ThroughputOptions", "ThroughputProbe"]
