"""E-mail over SMTP with STARTTLS (or implicit TLS), UTF-8 subject and body; smtplib in a worker thread.

SMTP answers enter here: 5xx and refused recipients/sender/authentication are
``ChannelRejected`` (the same mail will not pass later), 4xx and network errors are
transient ``ChannelError``.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.header import Header
from email.mime.text import MIMEText
from email.utils import formatdate, make_msgid
from typing import Any, ClassVar

from netmon.alerting.channels.base import read_secret
from netmon.alerting.message import Message
from netmon.config.alerting import ChannelBase, SmtpChannelConfig
from netmon.errors import ChannelError, ChannelRejected

SUBJECT_CHARS = 100


class SmtpChannel:
    kind: ClassVar[str] = "smtp"
    config_model: ClassVar[type[ChannelBase]] = SmtpChannelConfig
    max_text_chars: ClassVar[int | None] = None

    def __init__(self, config: Any) -> None:
        assert isinstance(config, SmtpChannelConfig)
        self.config = config
        self.resend_interval: float | None = None
        self._password = read_secret(config.password_file, "SMTP password") if config.password_file else None

    def email(self, message: Message) -> MIMEText:
        # The legacy MIMEText/Header API on purpose: Python 3.11's EmailMessage folder drops
        # the space at an encoded-word boundary of a long Vietnamese subject ("truyềnsắp").
        mail = MIMEText(message.text(None), "plain", "utf-8")
        mail["Subject"] = Header(message.subject(SUBJECT_CHARS), "utf-8")  # type: ignore[assignment]
        mail["From"] = self.config.from_address
        mail["To"] = ", ".join(self.config.to)
        mail["Date"] = formatdate(localtime=True)
        mail["Message-ID"] = make_msgid(domain="netmon")
        return mail

    async def send(self, message: Message) -> None:
        await asyncio.to_thread(self._send, self.email(message))

    def _tls(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.config.ca_file)
        if not self.config.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def _send(self, mail: MIMEText) -> None:
        config = self.config
        where = f"smtp channel {config.name!r} ({config.host}:{config.port})"
        try:
            smtp: smtplib.SMTP
            if config.ssl:
                smtp = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout, context=self._tls())
            else:
                smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
            with smtp:
                if config.starttls and not config.ssl:
                    smtp.starttls(context=self._tls())
                if config.username and self._password is not None:
                    smtp.login(config.username, self._password)
                smtp.send_message(mail)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPAuthenticationError,
                smtplib.SMTPNotSupportedError, ssl.SSLCertVerificationError) as exc:
            raise ChannelRejected(f"{where}: {type(exc).__name__}: {exc}") from None
        except smtplib.SMTPResponseException as exc:
            error = ChannelRejected if exc.smtp_code >= 500 else ChannelError
            raise error(f"{where}: {exc.smtp_code} {exc.smtp_error!r}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise ChannelError(f"{where}: {type(exc).__name__}: {exc}") from None

    async def aclose(self) -> None:
        return None
