"""Durations and byte sizes as people write them in YAML: ``30s``, ``2m``, ``500MB``, ``1GiB``."""

from __future__ import annotations

import itertools
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*$")
# one or more "<number><unit>" parts, largest unit first: 30s, 1h30m, 2d12h, 1m30.5s
_DURATION = re.compile(r"^\s*((?:\d+(?:\.\d+)?\s*(?:ms|s|m|h|d|w)\s*)+)$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
DURATION_EXAMPLES = "30s, 5m, 2h or 1h30m"
_BYTES = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKMGT]?i?B?)?\s*$")
_BYTE_UNITS = {
    "": 1, "B": 1,
    "k": 10**3, "kB": 10**3, "K": 10**3, "KB": 10**3, "M": 10**6, "MB": 10**6, "G": 10**9, "GB": 10**9,
    "T": 10**12, "TB": 10**12,
    "Ki": 2**10, "KiB": 2**10, "Mi": 2**20, "MiB": 2**20, "Gi": 2**30, "GiB": 2**30, "Ti": 2**40, "TiB": 2**40,
}


def parse_duration(value: Any) -> float:
    """Seconds from ``30`` (a bare number in a file is seconds), ``30s``, ``250ms``, ``5m``, ``2h``,
    ``1d``, or several parts largest first: ``1h30m``, ``2d12h``."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like {DURATION_EXAMPLES}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        if _NUMBER.match(value):
            return float(value)
        seconds = duration_with_units(value)
        if seconds is not None:
            return seconds
    raise ValueError(f"expected a duration like {DURATION_EXAMPLES}, not {value!r}")


def duration_with_units(text: str) -> float | None:
    """Seconds from a duration that names its units (``2h``, ``1h30m``); None for anything else,
    a bare number included (the command line refuses those: ``--for 2`` might mean hours)."""
    if not _DURATION.match(text):
        return None
    parts = _DURATION_PART.findall(text)
    sizes = [_DURATION_UNITS[unit] for _, unit in parts]
    if any(larger <= smaller for larger, smaller in itertools.pairwise(sizes)):
        return None  # "30m1h", "1h1h": a typo rather than a duration
    return sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)


def format_duration(seconds: float) -> str:
    """``5400`` -> ``1h30m``, ``0.25`` -> ``0.25s``: a duration as people write it (parses back)."""
    out, rest = "", round(seconds, 3)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        count, rest = divmod(rest, size)
        if count:
            out += f"{int(count)}{unit}"
    if rest or not out:
        out += f"{rest:g}s"
    return out


def parse_bytes(value: Any) -> int:
    """Bytes from ``1000``, ``500MB`` (10^6), ``1GiB`` (2^30)."""
    if isinstance(value, bool):
        raise ValueError("expected a size like 500MB or 1GiB")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        match = _BYTES.match(value)
        if match and (match.group(2) or "") in _BYTE_UNITS:
            return int(float(match.group(1)) * _BYTE_UNITS[match.group(2) or ""])
    raise ValueError(f"expected a size like 500MB or 1GiB, not {value!r}")


Seconds = Annotated[float, BeforeValidator(parse_duration), Field(ge=0)]
PositiveSeconds = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]
Bytes = Annotated[int, BeforeValidator(parse_bytes), Field(ge=0)]
