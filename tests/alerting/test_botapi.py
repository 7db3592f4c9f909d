"""Telegram and Zalo against a local server implementing their sendMessage contract (the real
services cannot be reached from here): error answers become our errors, and the dispatcher
retries after ``retry_after``, gives up on a bad chat id, and keeps to the channel's rate."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from netmon.alerting import notifications
from netmon.alerting.channels.kinds import default_channel_kinds
from netmon.alerting.dispatch import Dispatcher
from netmon.alerting.routing import Router
from netmon.alerting.store import AlertStore
from netmon.config.alerting import AlertingConfig
from netmon.errors import ChannelRateLimited, ChannelRejected
from netmon.lab.standins import BotApiStandin, WebhookReceiver
from tests.alerting.harness import BOT_TOKEN, message
from tests.alerting.helpers import T0, notification_rows

CHAT = "-1001234567890"


@pytest.fixture(params=[("telegram", False), ("zalo", False), ("zalo", True)],
                ids=["telegram", "zalo", "zalo-errors-as-200"])
def bot(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, BotApiStandin, Path]]:
    kind, errors_with_200 = request.param
    server = BotApiStandin(BOT_TOKEN, {CHAT}, 4096 if kind == "telegram" else 2000, errors_with_http_200=errors_with_200)
    token_file = tmp_path / "bot.token"
    token_file.write_text(BOT_TOKEN)
    yield kind, server, token_file
    server.close()


def config(bot: tuple[str, BotApiStandin, Path], **extra: object) -> AlertingConfig:
    kind, server, token_file = bot
    channel = {"name": "bot", "type": kind, "token_file": str(token_file), "chat_id": CHAT, "base_url": server.url,
               **extra}
    return AlertingConfig.model_validate({"channels": [channel]})


async def test_rate_limit_answer_carries_retry_after(bot: tuple[str, BotApiStandin, Path]) -> None:
    channel = default_channel_kinds().build(config(bot).channels[0])
    bot[1].limit_next(1, retry_after=5)
    try:
        with pytest.raises(ChannelRateLimited) as info:
            await channel.send(message(1))
        assert info.value.retry_after == 5.0
        await channel.send(message(1))
    finally:
        await channel.aclose()
    assert len(bot[1].texts()) == 1


async def test_bad_chat_id_and_bad_token_are_rejected(bot: tuple[str, BotApiStandin, Path], tmp_path: Path) -> None:
    _, server, token_file = bot
    kinds = default_channel_kinds()
    channel = kinds.build(config(bot, chat_id="-100999").channels[0])
    with pytest.raises(ChannelRejected, match="chat not found"):
        await channel.send(message(1))
    await channel.aclose()
    token_file.write_text("987654:wrong-token")
    channel = kinds.build(config(bot).channels[0])
    with pytest.raises(ChannelRejected, match="Unauthorized") as info:
        await channel.send(message(1))
    await channel.aclose()
    assert "987654:wrong-token" not in str(info.value)
    assert server.texts() == []


async def test_dispatcher_honours_retry_after_and_gives_up_on_rejection(bot: tuple[str, BotApiStandin, Path],
                                                                      alert_store: AlertStore) -> None:
    store = alert_store
    cfg = config(bot)
    good = default_channel_kinds().build(cfg.channels[0])
    dispatcher = Dispatcher(store, {"bot": good}, Router(cfg, None))
    server = bot[1]
    server.limit_next(1, retry_after=20)
    for i in range(3):
        notifications.enqueue(store, "bot", message(1, first=1 + i), T0)
    assert await dispatcher.deliver(T0) == 0  # 429: parked for 20 s, later rows wait behind it (order kept)
    assert await dispatcher.deliver(T0 + 19) == 0
    assert await dispatcher.deliver(T0 + 20) == 3
    assert [t.split("\n")[1] for t in server.texts()] == [
        f"Xã/phường: Phường Tân Phong {i} (26{i:03d}) — Biên Hòa, Đồng Nai" for i in (1, 2, 3)]
    # a bad chat id is permanent: given up at once, the next message still goes out
    server.chats.clear()
    notifications.enqueue(store, "bot", message(4), T0 + 30)
    assert await dispatcher.deliver(T0 + 30) == 0
    server.chats.add(CHAT)
    notifications.enqueue(store, "bot", message(5), T0 + 31)
    assert await dispatcher.deliver(T0 + 31) == 1
    rows = notification_rows(store)
    assert [(r["delivered_at"] is not None, r["gave_up_at"] is not None) for r in rows] == [
        (True, False), (True, False), (True, False), (False, True), (True, False)]
    assert "chat not found" in str(rows[3]["last_error"])
    await dispatcher.aclose()


async def test_per_channel_rate_limit(bot: tuple[str, BotApiStandin, Path], alert_store: AlertStore) -> None:
    store = alert_store
    cfg = config(bot, rate_per_minute=6, burst=2)  # one message every 10 s, two at once at most
    dispatcher = Dispatcher(store, default_channel_kinds().build_all(cfg.channels), Router(cfg, None))
    for i in range(5):
        notifications.enqueue(store, "bot", message(1 + i), T0)
    sent = [await dispatcher.deliver(T0 + dt) for dt in (0, 1, 10, 15, 20, 30)]
    assert sent == [2, 0, 1, 0, 1, 1]
    await dispatcher.aclose()


async def test_a_huge_retry_after_is_capped(bot: tuple[str, BotApiStandin, Path], alert_store: AlertStore) -> None:
    cfg = config(bot, max_retry_after="2m")
    dispatcher = Dispatcher(alert_store, default_channel_kinds().build_all(cfg.channels), Router(cfg, None))
    bot[1].limit_next(1, retry_after=86_400)  # "come back tomorrow"
    notifications.enqueue(alert_store, "bot", message(1), T0)
    assert await dispatcher.deliver(T0) == 0
    assert await dispatcher.deliver(T0 + 119) == 0
    assert await dispatcher.deliver(T0 + 120) == 1  # two minutes later, not a day
    await dispatcher.aclose()


async def test_a_message_rate_limited_too_long_moves_to_the_escalation_channel_once(
        bot: tuple[str, BotApiStandin, Path], alert_store: AlertStore, hook: WebhookReceiver) -> None:
    kind, server, token_file = bot
    cfg = AlertingConfig.model_validate({
        "channels": [{"name": "bot", "type": kind, "token_file": str(token_file), "chat_id": CHAT,
                      "base_url": server.url, "rate_limited_give_up_after": "10m"},
                     {"name": "noc", "type": "webhook", "url": hook.url}],
        "teams": [{"name": "rrt-dong-nai", "channels": ["bot"], "escalate_to": ["noc"]}]})
    dispatcher = Dispatcher(alert_store, default_channel_kinds().build_all(cfg.channels), Router(cfg, None))
    server.limit_next(1000, retry_after=60)  # the bot service keeps answering 429
    notifications.enqueue(alert_store, "bot", message(1), T0)
    notifications.enqueue(alert_store, "bot", message(1, first=2), T0 + 300)
    sent = [await dispatcher.deliver(T0 + dt) for dt in range(0, 661, 60)]
    assert sent[:10] == [0] * 10  # parked 60 s at a time; 10 minutes not yet reached
    # at T0 + 600 the first message had waited 10 min: moved to the NOC webhook (and sent at once
    # on the next pass); the second (queued at T0 + 300) still waits for the bot service
    assert sum(sent) == 1 and len(hook.bodies()) == 1
    assert [a["labels"]["site"] for a in hook.alerts()] == ["26001"]
    rows = notification_rows(alert_store)
    assert [(r["channel"], r["delivered_at"] is not None, r["gave_up_at"] is not None, r["rerouted_from"])
            for r in rows] == [("bot", False, True, None), ("bot", False, False, None), ("noc", True, False, "bot")]
    assert "rate limited, still not sent 600 s after it was queued; sent through noc instead" in rows[0]["last_error"]
    assert dispatcher.failed == {("bot", "rate_limited"): 1}
    assert server.texts() == []
    await dispatcher.aclose()
