"""The contract every alert channel passes (napalm's BaseTestGetters style): each registered
type is exercised against its harness. A new channel type fails here until it has one."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from netmon.alerting.channels.base import Channel
from netmon.alerting.channels.kinds import ChannelKinds, default_channel_kinds
from netmon.config.alerting import AlertingConfig
from netmon.errors import AlreadyRegistered, ChannelError, ChannelRejected, ConfigError
from tests.alerting.harness import BOT_TOKEN, Harness, harness, message

CHANNEL_KINDS = default_channel_kinds()
KINDS = CHANNEL_KINDS.names()


def test_every_channel_type_of_the_issue_is_registered_once() -> None:
    assert KINDS == ["alertmanager", "console", "smtp", "telegram", "webhook", "zalo"]
    again = ChannelKinds()
    again.register(CHANNEL_KINDS.get("zalo"))
    with pytest.raises(AlreadyRegistered, match="'zalo' is already registered by ZaloChannel"):
        again.register(CHANNEL_KINDS.get("zalo"))


@pytest.fixture(params=KINDS)
def channel_harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    made = harness(request.param, tmp_path)
    yield made
    made.close()


def build(config: dict[str, object]) -> Channel:
    parsed = AlertingConfig.model_validate({"channels": [config]}).channels[0]
    channel = CHANNEL_KINDS.build(parsed)
    assert channel.kind == parsed.type and isinstance(parsed, channel.config_model)
    return channel


async def test_delivers_vietnamese_text_intact_and_within_the_limit(channel_harness: Harness) -> None:
    channel = build(channel_harness.config())
    try:
        await channel.send(message(1))
        await channel.send(message(60))  # a big grouped message: must still fit the service's limit
    finally:
        await channel.aclose()
    texts = channel_harness.texts()
    first = texts[0]
    assert "NGHIÊM TRỌNG · Đường truyền sắp hết băng thông hợp đồng" in first
    assert "Phường Tân Phong 1 (26001) — Biên Hòa, Đồng Nai" in first
    assert "Hiện tại: 97,3 % (ngưỡng 95 %)" in first and "Giá trị tốt gần nhất: 41 %" in first
    assert "Từ lúc: 08:02:00 01/07/2025" in first
    assert "Biểu đồ: http://grafana.test/d/netmon-site-detail?var-site=26001" in first
    if channel.max_text_chars is not None:
        assert len(texts) == 2 and len(texts[1]) <= channel.max_text_chars
        assert "sự cố khác" in texts[1]
    else:  # structured receivers (JSON, e-mail) get every incident
        assert set(re.findall(r"Sự cố #(\d+)", "\n".join(texts))) == {str(i) for i in range(1, 61)}


async def test_resolve_is_delivered(channel_harness: Harness) -> None:
    channel = build(channel_harness.config())
    try:
        await channel.send(message(1))
        await channel.send(message(1, event="resolved"))
    finally:
        await channel.aclose()
    texts = channel_harness.texts()
    if channel.kind == "alertmanager":
        assert texts == []  # resolved: no longer active in Alertmanager
    else:
        assert len(texts) == 2 and "✅ ĐÃ KHẮC PHỤC" in texts[1] and "Kéo dài: 13 phút" in texts[1]


async def test_unreachable_service_is_a_transient_error(channel_harness: Harness) -> None:
    channel = build(channel_harness.broken_config())
    try:
        with pytest.raises(ChannelError) as info:
            await channel.send(message(1))
    finally:
        await channel.aclose()
    assert not isinstance(info.value, ChannelRejected)
    assert BOT_TOKEN not in str(info.value)


async def test_secrets_stay_out_of_logs_and_errors(channel_harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for config in (channel_harness.config(), channel_harness.broken_config()):
        channel = build(config)
        try:
            await channel.send(message(1))
        except ChannelError as exc:
            assert BOT_TOKEN not in str(exc)
        finally:
            await channel.aclose()
        assert BOT_TOKEN not in repr(channel)
    assert BOT_TOKEN not in caplog.text
    assert "s3cret-pass" not in caplog.text


def test_missing_secret_file_is_refused_at_start(tmp_path: Path) -> None:
    config = {"name": "tg", "type": "telegram", "token_file": str(tmp_path / "nope.token"), "chat_id": "1"}
    with pytest.raises(ConfigError, match="cannot read Telegram bot token"):
        build(config)
