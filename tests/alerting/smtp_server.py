"""A real SMTP server for the tests: aiosmtpd with STARTTLS (required) and AUTH, on loopback."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from netmon.lab.certs import make_ca
from netmon.lab.topology import free_port


def server_certificate(directory: Path) -> tuple[Path, Path, Path]:
    """(CA file for the client, server certificate, key) for 127.0.0.1, from the lab's throw-away CA."""
    ca = make_ca(directory / "ca")
    issued = ca.issue(directory, "smtp", ["127.0.0.1"])
    return ca.cert_path, issued.cert_path, issued.key_path


class Mailbox:
    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []
        self.envelopes: list[Envelope] = []
        self.refuse: list[str] = []

    async def handle_RCPT(self, server: Any, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.mails.append(message)
        return "250 OK"


class SmtpServer:
    def __init__(self, directory: Path, user: str = "netmon", password: str = "s3cret-pass") -> None:
        import ssl

        self.ca_file, cert, key = server_certificate(directory)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        self.mailbox = Mailbox()
        self.port = free_port()
        self.user, self.password = user, password

        def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            ok = isinstance(data, LoginPassword) and data.login.decode() == user and data.password.decode() == password
            return AuthResult(success=ok, handled=False)

        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port, tls_context=context,
                                     require_starttls=True, authenticator=authenticate, auth_required=True,
                                     auth_require_tls=True, auth_exclude_mechanism=["LOGIN"])
        self.controller.start()

    def close(self) -> None:
        self.controller.stop()
