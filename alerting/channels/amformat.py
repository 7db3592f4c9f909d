"""Alertmanager's JSON shapes: the webhook notification (version 4) and the ``/api/v2/alerts`` alert.

Webhook (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config)::

    {"version": "4", "groupKey": ..., "truncatedAlerts": 0, "status": "firing|resolved",
     "receiver": ..., "groupLabels": {...}, "commonLabels": {...}, "commonAnnotations": {...},
     "externalURL": ..., "alerts": [{"status", "labels", "annotations", "startsAt", "endsAt",
     "generatorURL", "fingerprint"}]}
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from netmon.alerting import render
from netmon.alerting.message import Message
from netmon.alerting.model import Notice

ZERO_TIME = "0001-01-01T00:00:00Z"


def rfc3339(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def label_set(notice: Notice) -> dict[str, str]:
    inc = notice.incident
    out = {k: v for k, v in inc.labels.items() if v}
    out.update(alertname=out.get("alertname", inc.rule), severity=inc.severity, incident=str(inc.id))
    return out


def annotation_set(notice: Notice, message: Message) -> dict[str, str]:
    title, check = render.title(notice.incident, message.language)
    out = {"summary": title, "description": message.notice_text(notice)}
    if check:
        out["check_first"] = check
    if notice.dashboard_url:
        out["dashboard"] = notice.dashboard_url
    return out


def generator_url(notice: Notice, message: Message) -> str:
    if message.external_url:
        return f"{message.external_url.rstrip('/')}/api/v1/incidents/{notice.incident.id}"
    return notice.dashboard_url or ""


def fingerprint(labels: dict[str, str]) -> str:
    text = "\xff".join(f"{k}\xff{v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def webhook_alert(notice: Notice, message: Message) -> dict[str, Any]:
    inc = notice.incident
    labels = label_set(notice)
    resolved = notice.event == "resolved"
    return {
        "status": "resolved" if resolved else "firing",
        "labels": labels,
        "annotations": annotation_set(notice, message),
        "startsAt": rfc3339(inc.fired_at or inc.active_at),
        "endsAt": rfc3339(inc.resolved_at or message.created_at) if resolved else ZERO_TIME,
        "generatorURL": generator_url(notice, message),
        "fingerprint": fingerprint(labels),
    }


def _common(dicts: list[dict[str, str]]) -> dict[str, str]:
    if not dicts:
        return {}
    first = dicts[0]
    return {k: v for k, v in first.items() if all(d.get(k) == v for d in dicts[1:])}


def webhook_payload(message: Message, receiver: str, max_alerts: int = 0) -> dict[str, Any]:
    alerts = [webhook_alert(n, message) for n in message.notices]
    truncated = 0
    if max_alerts and len(alerts) > max_alerts:
        truncated = len(alerts) - max_alerts
        alerts = alerts[:max_alerts]
    group_labels = {"team": message.team} if message.team else {}
    group_key = "{}:{" + ",".join(f'{k}="{v}"' for k, v in group_labels.items()) + "}"
    return {
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": truncated,
        "status": message.status,
        "receiver": receiver,
        "groupLabels": group_labels,
        "commonLabels": _common([a["labels"] for a in alerts]),
        "commonAnnotations": _common([a["annotations"] for a in alerts]),
        "externalURL": message.external_url or "",
        "alerts": alerts,
    }


def postable_alert(notice: Notice, message: Message, now: float, horizon_seconds: float) -> dict[str, Any]:
    """One alert for ``POST /api/v2/alerts``: firing ones end ``horizon`` from now unless re-sent."""
    inc = notice.incident
    resolved = notice.event == "resolved"
    ends = (inc.resolved_at or now) if resolved else now + horizon_seconds
    return {
        "labels": label_set(notice),
        "annotations": annotation_set(notice, message),
        "startsAt": rfc3339(inc.fired_at or inc.active_at),
        "endsAt": rfc3339(ends),
        "generatorURL": generator_url(notice, message),
    }
