"""Notices as text people read on a phone: what, where, since when, how bad, what to check.

Values are shown in the unit their name carries (``_ratio`` as %, ``_seconds`` as ms or
s, ``_bps`` as Mbit/s), Vietnamese with a decimal comma, times in the configured zone.
``text`` fits the channel's limit: member lists shrink first, then whole incidents are
left out with a count, and only then is the text cut.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from netmon.alerting.i18n import rule_text, word
from netmon.alerting.model import Incident, Notice

ICONS = {"critical": "🔴", "warning": "🟠", "resolved": "✅", "escalation": "⏫"}


def number(value: float, language: str, digits: int = 1) -> str:
    text = f"{value:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{value:.0f}"
    return text.replace(".", ",") if language == "vi" else text


def duration(seconds: float, language: str, whole_minutes: bool = False) -> str:
    left = max(0, round(seconds))
    if whole_minutes and left >= 60:
        left -= left % 60
    parts: list[str] = []
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if left >= size:
            parts.append(f"{left // size} {word(language, unit)}")
            left %= size
    if (left or not parts) and len(parts) < 2:
        parts.append(f"{left} {word(language, 'second')}")
    return " ".join(parts[:2])


def quantity(name: str | None, value: float | None, language: str) -> str:
    if value is None:
        return "—"
    if name is None or name == "silent_seconds":
        return duration(value, language)
    if name.endswith("_ratio"):
        return f"{number(value * 100, language)} %"
    if name.endswith("_seconds"):
        return f"{number(value * 1000, language)} ms" if abs(value) < 1 else f"{number(value, language, 2)} s"
    if name.endswith("_bps"):
        return f"{number(value / 1e6, language)} Mbit/s"
    if name.endswith("_per_second"):
        return f"{number(value, language, 2)}/s"
    if name == "gateway_mac_changed":
        return word(language, "changed")
    return number(value, language, 2)


def clock(ts: float | None, zone: str) -> str:
    if ts is None:
        return "—"
    return dt.datetime.fromtimestamp(ts, ZoneInfo(zone)).strftime("%H:%M:%S %d/%m/%Y")


def _where(inc: Incident, language: str) -> list[str]:
    labels = inc.labels
    lines = []
    if inc.site_id:
        place = f"{labels.get('site_name', inc.site_id)} ({inc.site_id})"
        extra = [x for x in (labels.get("district"), labels.get("province")) if x]
        lines.append(f"{word(language, 'site')}: {place}" + (f" — {', '.join(extra)}" if extra else ""))
    elif labels.get("province"):
        lines.append(f"{word(language, 'province')}: {labels['province']}")
    if inc.kind == "upstream" and inc.upstream:
        lines.append(f"{word(language, 'upstream')}: {inc.upstream}")
    if inc.link:
        kind = labels.get("link_kind")
        lines.append(f"{word(language, 'link')}: {inc.link}" + (f" ({word(language, kind)})" if kind else ""))
    if (inc.target and labels.get("probe") in {"http", "dns", "tcp"}) or inc.kind == "platform":
        lines.append(f"{word(language, 'platform')}: {inc.target}")
    elif inc.target and inc.kind == "alert" and inc.rule != "SiteSilent":
        lines.append(f"{word(language, 'target')}: {inc.target}")
    return lines


def title(inc: Incident, language: str) -> tuple[str, str]:
    if inc.kind == "upstream":
        t, check = rule_text("UpstreamDown", language, inc.annotations)
    elif inc.kind == "platform":
        what, _ = rule_text(inc.rule, language, inc.annotations)
        t, check = rule_text("PlatformAggregate", language, {})
        t = t.replace("{what}", what)
    else:
        return rule_text(inc.rule, language, inc.annotations)
    fill = {"{n}": str(inc.member_count), "{upstream}": inc.upstream or "", "{target}": inc.target or ""}
    for key, value in fill.items():
        t, check = t.replace(key, value), check.replace(key, value)
    return t, check


def _history(history: Sequence[Incident], language: str, zone: str, shown: int) -> list[str]:
    """What a silent site's late results showed, one line each: what, where, from → to."""
    if not history:
        return []
    lines = [f"{word(language, 'meanwhile')}:"]
    for inc in history[:shown]:
        what, _ = title(inc, language)
        where = inc.link or inc.target
        span = duration((inc.resolved_at or inc.active_at) - inc.active_at, language)
        worst = f", {quantity(inc.value_name, inc.value, language)}" if inc.value is not None else ""
        lines.append(f"• {what}{' · ' + where if where else ''}: {clock(inc.active_at, zone)} → "
                     f"{clock(inc.resolved_at, zone)} ({span}{worst})")
    if len(history) > shown:
        lines.append(word(language, "more_incidents").replace("{n}", str(len(history) - shown)))
    return lines


def notice_text(notice: Notice, language: str, zone: str, members_shown: int = 20) -> str:
    inc = notice.incident
    head, check = title(inc, language)
    if notice.event == "resolved":
        lines = [f"{ICONS['resolved']} {word(language, 'resolved')} · {head}", *_where(inc, language)]
        span = (inc.resolved_at or 0) - (inc.fired_at or inc.active_at)
        now = "" if inc.resolve_value is None or inc.kind != "alert" or inc.rule == "SiteSilent" else \
            f" · {word(language, 'now')}: {quantity(inc.value_name, inc.resolve_value, language)}"
        lines.append(f"{word(language, 'lasted')}: {duration(span, language)} "
                     f"({clock(inc.fired_at, zone)} → {clock(inc.resolved_at, zone)}){now}")
        lines += _history(notice.history, language, zone, members_shown)
        lines.append(f"{word(language, 'incident')} #{inc.id}")
        return "\n".join(lines)
    icon = ICONS.get(inc.severity, "🔴")
    lines = [f"{icon} {word(language, inc.severity)} · {head}"]
    if notice.event == "escalation":
        lines.insert(0, f"{ICONS['escalation']} {word(language, 'escalation')}".replace(
            "{after}", duration((inc.escalated_at or 0) - (inc.notified_at or 0), language, whole_minutes=True)))
    lines += _where(inc, language)
    lines.append(f"{word(language, 'since')}: {clock(inc.fired_at or inc.active_at, zone)}")
    if inc.kind == "alert" and inc.rule == "SiteSilent":
        lines.append(f"{word(language, 'silent_for')}: {duration(inc.value or 0, language)} "
                     f"({word(language, 'limit')} {duration(inc.threshold or 0, language)})")
    elif inc.kind == "alert" and inc.value is not None:
        limit = f" ({word(language, 'limit')} {quantity(inc.value_name, inc.threshold, language)})" \
            if inc.threshold is not None else ""
        lines.append(f"{word(language, 'now')}: {quantity(inc.value_name, inc.value, language)}{limit}")
        if inc.last_good_value is not None:
            lines.append(f"{word(language, 'last_good')}: {quantity(inc.value_name, inc.last_good_value, language)}")
    if notice.members:
        names = [m.name for m in notice.members[:members_shown]]
        more = len(notice.members) - len(names)
        tail = f" {word(language, 'and_more').replace('{n}', str(more))}" if more > 0 else ""
        lines.append(f"{word(language, 'communes')} ({len(notice.members)}): {', '.join(names)}{tail}")
    if check:
        lines.append(f"{word(language, 'check')}: {check}")
    if notice.dashboard_url:
        lines.append(f"{word(language, 'dashboard')}: {notice.dashboard_url}")
    lines.append(f"{word(language, 'incident')} #{inc.id} · {word(language, 'ack_hint').replace('{id}', str(inc.id))}")
    return "\n".join(lines)


def summary(notices: Sequence[Notice], language: str) -> str:
    counts = {"firing": 0, "resolved": 0, "escalation": 0}
    for notice in notices:
        counts[notice.event] += 1
    parts = [word(language, key).replace("{n}", str(counts[event])) for event, key in
             (("firing", "summary_new"), ("escalation", "summary_escalated"), ("resolved", "summary_resolved"))
             if counts[event]]
    return ", ".join(parts)


def text(notices: Sequence[Notice], team: str | None, language: str, zone: str, limit: int | None) -> str:
    header = [] if len(notices) == 1 else [f"netmon · {team or '-'}: {summary(notices, language)}", ""]
    for members_shown in (20, 5):
        blocks = [notice_text(n, language, zone, members_shown) for n in notices]
        out = "\n".join(header) + "\n\n".join(blocks)
        if limit is None or len(out) <= limit:
            return out
    assert limit is not None
    kept: list[str] = []
    head = "\n".join(header)
    for i, block in enumerate(blocks):
        more = word(language, "more_incidents").replace("{n}", str(len(blocks) - i - (0 if kept else 1)))
        candidate = head + "\n\n".join([*kept, block])
        if len(candidate) + len(more) + 2 > limit:
            if not kept:  # not even one incident fits whole: keep the start of it
                kept.append(block[: max(0, limit - len(head) - len(more) - 4)] + "…")
            out = head + "\n\n".join([*kept, more]) if len(blocks) > len(kept) else head + kept[0]
            break
        kept.append(block)
    return out if len(out) <= limit else out[: limit - 1] + "…"


def subject(notices: Sequence[Notice], team: str | None, language: str, limit: int = 100) -> str:
    if len(notices) == 1:
        inc = notices[0].incident
        head, _ = title(inc, language)
        state = word(language, "resolved" if notices[0].event == "resolved" else inc.severity)
        place = inc.labels.get("site_name") or inc.upstream or inc.target or ""
        out = f"[netmon] {state}: {head}" + (f" — {place}" if place else "")
    else:
        out = f"[netmon] {team or '-'}: {summary(notices, language)}"
    return out if len(out) <= limit else out[: limit - 1] + "…"
