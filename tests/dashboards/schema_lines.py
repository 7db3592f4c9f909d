"""Records to line protocol per docs/schema.md — stand-in until the collector's TSDB writer is on main."""

from __future__ import annotations

from netmon.contract import ResultRecord

STATUS_LEVEL = {"ok": 0, "degraded": 1, "failed": 2, "error": 3}


def _tag(value: str) -> str:
    return value.replace(",", r"\,").replace("=", r"\=").replace(" ", r"\ ")


def line(record: ResultRecord, province: str) -> str:
    tags = {"province": province, "site": record.site_id, "link": record.link,
            "link_kind": record.link_kind.value if record.link_kind else None, "target": record.target}
    tag_text = ",".join(f"{k}={_tag(v)}" for k, v in sorted(tags.items()) if v)
    fields = [f"{k}={float(v)!r}" for k, v in record.values.items()]
    fields += [f'status="{record.status.value}"', f"status_level={STATUS_LEVEL[record.status.value]}i",
               f"seq={record.seq}i"]
    if record.reason:
        fields.append('reason="' + record.reason.replace('"', '\\"') + '"')
    return f"{record.probe.value},{tag_text} {','.join(fields)} {record.time_ns}"
