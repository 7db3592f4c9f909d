"""Journal records to InfluxDB line protocol, exactly as docs/schema.md defines the storage schema.

Identifiers (site, link, target, info keys, value names) are pattern-restricted by the wire
contract and need no escaping; province and district come from the registry as free text
and are escaped. Values are always written as floats, so a field never changes type.
"""

from __future__ import annotations

from typing import Any

STATUS_LEVEL = {"ok": 0, "degraded": 1, "failed": 2, "error": 3}
RESERVED_FIELDS = {"status", "status_level", "seq", "reason"}
_TAG_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": " ", "\r": " "})


def escape_tag(value: str) -> str:
    return value.translate(_TAG_ESCAPES)


def string_field(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ").replace("\r", " ") + '"'


def line(record: dict[str, Any], province: str, district: str | None, seq: int, time_ns: int) -> str:
    """One line for one record: a validated ``ResultRecord`` as the agent sent it (JSON), with the
    ``seq`` and ``time_ns`` as integers (JSON may carry them as 5.0)."""
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
    values: dict[str, float] = record["values"]
    fields = [f"{name}={float(value)!r}" for name, value in values.items()]
    status = record["status"]
    fields.append(f"status={string_field(status)}")
    fields.append(f"status_level={STATUS_LEVEL[status]}i")
    fields.append(f"seq={seq}i")
    if record.get("reason"):
        fields.append(f"reason={string_field(record['reason'])}")
    for key, text in (record.get("info") or {}).items():
        name = f"info_{key}" if key in values or key in RESERVED_FIELDS else key
        fields.append(f"{name}={string_field(text)}")
    return f"{record['probe']},{','.join(tags)} {','.join(fields)} {time_ns}"
