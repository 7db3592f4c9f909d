"""http: reachability and response time of each shared platform (status, phase times, certificate expiry)."""

from netmon.probes.http.probe import HttpOptions, HttpProbe

__all__ = ["HttpOptions", "HttpProbe"]
