"""E-mail through a real SMTP server (aiosmtpd, STARTTLS required, AUTH): short subject, UTF-8 body."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from netmon.alerting.channels.kinds import default_channel_kinds
from netmon.config.alerting import AlertingConfig
from netmon.errors import ChannelRejected
from tests.alerting.harness import SmtpHarness, message


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpHarness]:
    made = SmtpHarness(tmp_path)
    yield made
    made.close()


def channel(config: dict[str, object]):  # type: ignore[no-untyped-def]
    return default_channel_kinds().build(AlertingConfig.model_validate({"channels": [config]}).channels[0])


async def test_mail_arrives_over_starttls_with_utf8_subject_and_body(smtp: SmtpHarness) -> None:
    ch = channel(smtp.config())
    await ch.send(message(1))
    await ch.send(message(3, event="resolved"))
    await ch.aclose()
    first, second = smtp.server.mailbox.mails
    assert first["Subject"] == ("[netmon] NGHIÊM TRỌNG: Đường truyền sắp hết băng thông hợp đồng — "
                                "Phường Tân Phong 1")
    assert len(first["Subject"]) <= 100
    assert first["From"] == "netmon@stc.dongnai.gov.vn" and first["To"] == "noc@stc.dongnai.gov.vn"
    assert first.get_content_type() == "text/plain" and first.get_content_charset() == "utf-8"
    body = first.get_content()
    assert "Kiểm tra trước: Xem thiết bị nào đang dùng nhiều băng thông" in body
    assert "Xã/phường: Phường Tân Phong 1 (26001) — Biên Hòa, Đồng Nai" in body
    assert second["Subject"] == "[netmon] rrt-dong-nai: 3 đã khắc phục"
    assert second.get_content().count("✅ ĐÃ KHẮC PHỤC") == 3
    # the server only accepts mail after STARTTLS and AUTH: delivery proves both happened
    assert smtp.server.mailbox.envelopes[0].rcpt_tos == ["noc@stc.dongnai.gov.vn"]


async def test_refused_recipient_and_bad_password_are_permanent(smtp: SmtpHarness, tmp_path: Path) -> None:
    smtp.server.mailbox.refuse.append("noc@stc.dongnai.gov.vn")
    ch = channel(smtp.config())
    with pytest.raises(ChannelRejected, match="SMTPRecipientsRefused"):
        await ch.send(message(1))
    smtp.server.mailbox.refuse.clear()
    wrong = tmp_path / "wrong.pass"
    wrong.write_text("not-the-password")
    ch = channel({**smtp.config(), "password_file": str(wrong)})
    with pytest.raises(ChannelRejected, match="SMTPAuthenticationError"):
        await ch.send(message(1))
    assert smtp.server.mailbox.mails == []


async def test_english_is_selectable(smtp: SmtpHarness) -> None:
    ch = channel(smtp.config())
    await ch.send(message(1, language="en"))
    mail = smtp.server.mailbox.mails[0]
    assert mail["Subject"] == "[netmon] CRITICAL: Link utilisation of the contracted rate high — Phường Tân Phong 1"
    assert "Now: 97.3 % (limit 95 %)" in mail.get_content()
