"""Journal records to InfluxDB line protocol, exactly as docs/schema.md defines the storage schema.

Identifiers (site, link, target, info keys, value names) are pattern-restricted by the wire
contract and need no escaping; province and district come from the registry as free text
and are escaped. Values are always written as floats, so a field never changes type.
"""

from __future__ import annotations

import re
from typing import Any

from netmon.contract import RESERVED_INFO_KEYS

STATUS_LEVEL = {"ok": 0, "degraded": 1, "failed": 2, "error": 3}
_TAG_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": " ", "\r": " "})
# A backslash before another backslash, a separator or the end of the value: every parser
# would read it as an escape (eating the comma that ends the tag), and no form of it reads
# back the same everywhere: InfluxDB 1.x refuses the whole line for "\\" or "\" at the end
# of a tag value, VictoriaMetrics and InfluxDB 2.x turn "\\" into "\" where 1.x keeps both.
_AMBIGUOUS_BACKSLASH = re.compile(r"\\(?=[\\,= \n\r]|$)")


def escape_tag(value: str) -> str:
    """A tag value every line-protocol store reads back the same. A backslash followed by an
    ordinary character stays as it is (read back exactly); one that would be read as an
    escape becomes "/", so the line stays valid and the tags after it intact."""
    return _AMBIGUOUS_BACKSLASH.sub("/", value).translate(_TAG_ESCAPES)


def string_field(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ").replace("\r", " ") + '"'


def _tags(record: dict[str, Any], province: str, district: str | None) -> str:
    tags = []
    if district:
        tags.append("district=" + escape_tag(district))
    if record.get("link"):
        tags.append("link=" + record["link"])
    if record.get("link_kind"):
        tags.append("link_kind=" + record["link_kind"])
    tags.append("province=" + escape_tag(province))
    tags.append("site=" + record["site_id"])
    tags.append("target=" + record["target"])
    return f"{record['probe']},{','.join(tags)}"


# measurement + tags per series: a site has a few dozen series, and every result repeats one
_SERIES: dict[tuple[Any, ...], str] = {}


def line(record: dict[str, Any], province: str, district: str | None, seq: int, time_ns: int) -> str:
    """One line for one record: a validated ``ResultRecord`` as the agent sent it (JSON), with
    ``seq`` and ``time_ns`` as integers (JSON may carry them as 5.0)."""
    key = (record["probe"], record["site_id"], record.get("link"), record.get("link_kind"), record["target"],
           province, district)
    series = _SERIES.get(key)
    if series is None:
        if len(_SERIES) > 200_000:
            _SERIES.clear()
        series = _SERIES[key] = _tags(record, province, district)
    values: dict[str, float] = record["values"]
    status = record["status"]
    fields = [f"{name}={float(value)!r}" for name, value in values.items()]
    fields.append(f'status="{status}",status_level={STATUS_LEVEL[status]}i,seq={seq}i')
    if record.get("reason"):
        fields.append(f"reason={string_field(record['reason'])}")
    for key_name, text in (record.get("info") or {}).items():
        # the door refuses such keys; records journalled before it did are still written harmlessly
        name = f"info_{key_name}" if key_name in RESERVED_INFO_KEYS else key_name
        fields.append(f"{name}={string_field(text)}")
    return f"{series} {','.join(fields)} {time_ns}"
