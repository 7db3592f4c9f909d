"""Where the demo's alerts go: the ``console`` channel (a file), ``--webhook URL`` and the channels of
``--alerting-config FILE`` (an ``alerting:`` mapping in the central.yaml format).

Merging ``FILE`` into the demo's section: its ``channels`` are added and the demo's team
(``rrt-dong-nai``, which answers for every commune) sends to them too; its ``teams`` are added
before the demo's team, so the demo's team keeps the province; every other key (``language``,
``group_wait``, ``storm``, ...) replaces the demo's value. The file is checked with
``netmon.config.loader.load_model`` and the merged section with ``AlertingConfig``, so a mistake
stops the demo before it builds anything, naming the file, line and key.

Channels addressed to this machine's loopback (``127.0.0.1``, ``localhost``, ``::1``) are listed
by ``loopback_endpoints``: in namespace mode the collector runs in the centre namespace, whose
loopback is its own, and the demo relays those ports to the machine's (``netmon.lab.relay``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from netmon.config.alerting import (
    AlertingConfig,
    AlertmanagerChannelConfig,
    SmtpChannelConfig,
    TelegramChannelConfig,
    WebhookChannelConfig,
    ZaloChannelConfig,
)
from netmon.config.loader import key_path, line_for, load_model, read_yaml, validation_problems
from netmon.config.site import Strict
from netmon.errors import ConfigError
from netmon.lab.demo.plan import PROVINCE
from netmon.lab.relay import is_loopback

TEAM = "rrt-dong-nai"
DEMO_CHANNELS = ("console", "webhook")


class AlertingFile(Strict):
    """What ``--alerting-config`` holds: only an ``alerting:`` mapping."""

    alerting: AlertingConfig


def load_extra(path: Path | None) -> dict[str, Any] | None:
    """The file's ``alerting:`` mapping as written, once it validates (ConfigError otherwise)."""
    if path is None:
        return None
    load_model(path, AlertingFile)
    data, index = read_yaml(path)
    extra: dict[str, Any] = data["alerting"]
    problems = []
    for kind, taken in (("channels", DEMO_CHANNELS), ("teams", (TEAM,))):
        for i, item in enumerate(extra.get(kind) or []):
            if item["name"] in taken:
                loc = ("alerting", kind, i, "name")
                problems.append((key_path(loc), line_for(loc, index),
                                 f"{item['name']!r} is the demo's own; choose another name"))
    if problems:
        raise ConfigError(str(path), problems)
    return extra


def _problems(exc: ValidationError, prefix: str, note: str) -> list[tuple[str, int | None, str]]:
    return [(f"{prefix}.{key}" if key else prefix, None, message + note)
            for key, _, message in validation_problems(exc)]


def alerting_section(*, rules_file: str, console_log: str, webhook: str | None, extra: dict[str, Any] | None,
                     source: str = "--alerting-config") -> dict[str, Any]:
    """The demo's ``alerting:`` section with the optional webhook and the file's channels merged in.

    ``source`` names the file in errors (e.g. a channel name the demo already uses)."""
    channels: list[dict[str, Any]] = [{"name": "console", "type": "console", "path": console_log}]
    if webhook:
        channels.append({"name": "webhook", "type": "webhook", "url": webhook})
        try:
            WebhookChannelConfig.model_validate(channels[-1])
        except ValidationError as exc:
            raise ConfigError("--webhook", _problems(exc, "webhook", "")) from None
    extra = dict(extra or {})
    extra_channels = list(extra.pop("channels", []))
    extra_teams = list(extra.pop("teams", []))
    section: dict[str, Any] = {
        "rules_file": rules_file,
        "language": "vi",
        "default_team": TEAM, "platform_team": TEAM,
        "group_wait": "1s",
        "storm": {"min_sites": 5, "wait": "5s", "clear_for": "10s"},
        "platform": {"min_sites": 2, "wait": "5s", "clear_for": "10s"},
        **extra,
    }
    section["channels"] = channels + extra_channels
    every_channel = [c["name"] for c in section["channels"]]
    # the last team declared for a province answers for it: the demo's team comes last
    section["teams"] = [*extra_teams, {"name": TEAM, "province": PROVINCE, "channels": every_channel}]
    try:
        AlertingConfig.model_validate(section)
    except ValidationError as exc:
        raise ConfigError(source, _problems(exc, "alerting", " (merged into the demo's alerting section)")) from None
    return section


def loopback_endpoints(section: dict[str, Any]) -> list[tuple[str, int]]:
    """(host, port) of every channel that delivers to this machine's loopback."""
    found = []
    for channel in AlertingConfig.model_validate(section).channels:
        if isinstance(channel, SmtpChannelConfig):
            host, port = channel.host, channel.port
        elif isinstance(channel, TelegramChannelConfig | ZaloChannelConfig):
            host, port = _host_port(channel.base_url)
        elif isinstance(channel, WebhookChannelConfig | AlertmanagerChannelConfig):
            host, port = _host_port(channel.url)
        else:
            continue
        if is_loopback(host):
            found.append((host, port))
    return sorted(set(found))


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
