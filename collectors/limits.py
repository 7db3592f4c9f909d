"""The per-record limits of ``central.yaml`` (``limits:``), checked on every record at the door.

The wire contract bounds the shape of a record (identifiers, value names, 500-character text,
reserved ``info`` keys); these bound what one site may make the centre store, on top of it:

- ``time_ns`` no further ahead of the collector's clock than ``limits.max_future_skew``, and no
  older than ``limits.max_result_age`` (what a broken clock stamps: 2000 or 2100);
- ``info``: at most ``max_info_entries`` entries of ``max_info_bytes`` in all (keys and values);
- ``reason`` and each ``info`` value at most ``max_text_chars`` characters;
- the record's size at most ``max_record_bytes`` (``record_bytes``: the bytes of its text plus
  16 per number). Measured only when it could be exceeded: the contract bounds every field but
  ``info`` (``largest_without_info``), so with the defaults a record whose ``info`` is within
  its limits is within this one too; and never when the whole body is smaller than the limit.

Each check that fails gives a ``FieldError`` with the record's field path and the reason the
refusal is counted under (``netmon_site_refused_results_total{site,reason}``).
"""

from __future__ import annotations

import datetime as dt

from netmon.config.central import CentralConfig
from netmon.contract import TEXT_MAX_CHARS, VALUE_NAMES, FieldError, ResultRecord

NUMBER_BYTES = 16
IDENTIFIER_CHARS = 64  # contract.Identifier: ASCII
HOST_CHARS = 255  # Observation.target_host
UTF8_MAX = 4  # bytes a character may take


def largest_without_info(max_text_chars: int) -> int:
    """The most ``record_bytes`` can count for a record with an empty ``info``, by the contract's bounds."""
    values = max(sum(len(name) + NUMBER_BYTES for name in names) for names in VALUE_NAMES.values())
    return (4 * IDENTIFIER_CHARS + UTF8_MAX * (HOST_CHARS + max_text_chars) + 4 * NUMBER_BYTES + values)


def _bytes(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def record_bytes(record: ResultRecord) -> int:
    """A record's size as the limits count it: the bytes of its text, 16 per number."""
    size = _bytes(record.site_id) + _bytes(record.agent_id) + _bytes(record.target) + 4 * NUMBER_BYTES
    for text in (record.link, record.target_host, record.reason):
        if text:
            size += _bytes(text)
    size += sum(_bytes(name) + NUMBER_BYTES for name in record.values)
    size += sum(_bytes(key) + _bytes(value) for key, value in record.info.items())
    return size


def _when(time_ns: int) -> str:
    try:
        return dt.datetime.fromtimestamp(time_ns / 1e9, dt.UTC).isoformat(timespec="seconds")
    except (OverflowError, OSError, ValueError):
        return f"{time_ns} ns"


class RecordLimits:
    def __init__(self, config: CentralConfig) -> None:
        limits = config.limits
        self.future_ns = int(limits.max_future_skew * 1e9)
        self.max_age_ns = int(limits.max_result_age * 1e9)
        self.max_record_bytes = limits.max_record_bytes
        self.max_info_entries = limits.max_info_entries
        self.max_info_bytes = limits.max_info_bytes
        self.max_text_chars = limits.max_text_chars
        self._text_checked = limits.max_text_chars < TEXT_MAX_CHARS  # else the contract has checked it
        self._size_checked = largest_without_info(limits.max_text_chars) + limits.max_info_bytes \
            > limits.max_record_bytes

    def errors(self, index: int, record: ResultRecord, now_ns: int, body_bytes: int
               ) -> tuple[str, list[FieldError]] | None:
        """(reason, errors) for a record over a limit, None for one within them all."""
        where = f"results[{index}]"
        t = record.time_ns
        if t > now_ns + self.future_ns:
            return "future", [FieldError(path=f"{where}.time_ns", message=(
                f"stamped {_when(t)}, {(t - now_ns) / 1e9:,.0f} s ahead of the collector's clock (limit "
                f"{self.future_ns / 1e9:g} s, limits.max_future_skew): the agent's clock is wrong"))]
        if t < now_ns - self.max_age_ns:
            return "too_old", [FieldError(path=f"{where}.time_ns", message=(
                f"stamped {_when(t)}, older than the collector accepts ({self.max_age_ns / 1e9 / 86400:g} d, "
                "limits.max_result_age)"))]
        errors: list[FieldError] = []
        info = record.info
        if info:
            if len(info) > self.max_info_entries:
                errors.append(FieldError(path=f"{where}.info", message=(
                    f"{len(info)} entries; at most {self.max_info_entries} (limits.max_info_entries)")))
            size = sum(_bytes(key) + _bytes(value) for key, value in info.items())
            if size > self.max_info_bytes:
                errors.append(FieldError(path=f"{where}.info", message=(
                    f"{size} bytes of keys and values; at most {self.max_info_bytes} (limits.max_info_bytes)")))
        if self._text_checked:
            texts = [("reason", record.reason)] + [(f"info.{key}", value) for key, value in info.items()]
            for name, text in texts:
                if text is not None and len(text) > self.max_text_chars:
                    errors.append(FieldError(path=f"{where}.{name}", message=(
                        f"{len(text)} characters; at most {self.max_text_chars} (limits.max_text_chars)")))
        if self._size_checked and body_bytes > self.max_record_bytes:
            size = record_bytes(record)
            if size > self.max_record_bytes:
                errors.append(FieldError(path=where, message=(
                    f"the record is {size} bytes; at most {self.max_record_bytes} (limits.max_record_bytes)")))
        return ("limits", errors) if errors else None
