"""One logging set-up for the long-running commands (``probe run``, ``collector serve``)."""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries that log every request or job run at INFO: the agent ships every 10 s and runs probes
# every few seconds, the collector writes to the TSDB every second, so at INFO they would fill an
# SD card's journal with lines that say nothing the agent's and collector's own metrics do not.
# Their warnings and errors still show; --log-level debug shows everything.
CHATTY = ("httpx", "httpcore", "apscheduler")


def configure_logging(level: str) -> None:
    """``level``: debug, info, warning or error (``LogLevel``: checked by the command line)."""
    logging.basicConfig(level=level.upper(), format=FORMAT)
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        for name in CHATTY:
            logging.getLogger(name).setLevel(logging.WARNING)
