"""netmon: network health monitoring for commune offices (shared package).

Holds what both sides of the wire must agree on: the wire contract (``netmon.contract``),
configuration models (``netmon.config``), the error tree (``netmon.errors``) and the
``netmon`` command line (``netmon.cli``).
"""

__version__ = "0.1.0"
