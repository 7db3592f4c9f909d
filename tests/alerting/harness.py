"""One harness per channel type for the shared contract test: a working endpoint (a real
server, or a stand-in for what cannot run here), a broken one, and what arrived."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any, Protocol

from netmon.alerting.message import Message
from netmon.alerting.model import Incident, Notice
from netmon.lab.alertmanager import start_alertmanager
from netmon.lab.standins import BotApiStandin, WebhookReceiver
from netmon.lab.topology import free_port
from tests.alerting.helpers import T0
from tests.alerting.smtp_server import SmtpServer

BOT_TOKEN = "123456789:AAH-not-a-real-token-xyz"


def incident(i: int = 1, state: str = "firing", **extra: Any) -> Incident:
    fields: dict[str, Any] = {
        "id": i, "kind": "alert", "key": f"LinkUtilisationHigh|26{i:03d}|leased|router|utilisation_ratio",
        "rule": "LinkUtilisationHigh", "severity": "critical", "state": state, "team": "rrt-dong-nai",
        "site_id": f"26{i:03d}", "link": "leased", "target": "router", "value_name": "utilisation_ratio",
        "op": "above", "value": 0.973, "threshold": 0.95, "last_good_value": 0.41, "active_at": T0,
        "fired_at": T0 + 120, "labels": {
            "alertname": "LinkUtilisationHigh", "site": f"26{i:03d}", "site_name": f"Phường Tân Phong {i}",
            "province": "Đồng Nai", "district": "Biên Hòa", "link": "leased", "link_kind": "leased_line",
            "team": "rrt-dong-nai"},
    }
    if state == "resolved":
        fields.update(resolved_at=T0 + 900, resolve_value=0.31)
    fields.update(extra)
    return Incident.model_validate(fields)


def message(count: int = 1, event: str = "firing", language: str = "vi", first: int = 1) -> Message:
    state = "resolved" if event == "resolved" else "firing"
    notices = tuple(Notice.model_validate({"event": event, "incident": incident(i, state),
                                           "dashboard_url": f"http://grafana.test/d/netmon-site-detail?var-site=26{i:03d}"})
                    for i in range(first, first + count))
    return Message(notices=notices, team="rrt-dong-nai", language=language, created_at=T0 + 900)


class Harness(Protocol):
    kind: str

    def config(self) -> dict[str, Any]: ...

    def broken_config(self) -> dict[str, Any]: ...

    def texts(self) -> list[str]: ...

    def close(self) -> None: ...


class BotHarness:
    def __init__(self, kind: str, tmp: Path, max_chars: int) -> None:
        self.kind = kind
        self.server = BotApiStandin(BOT_TOKEN, {"-1001234567890"}, max_chars)
        self.token_file = tmp / f"{kind}.token"
        self.token_file.write_text(BOT_TOKEN + "\n")

    def config(self) -> dict[str, Any]:
        return {"name": f"{self.kind}-test", "type": self.kind, "token_file": str(self.token_file),
                "chat_id": "-1001234567890", "base_url": self.server.url}

    def broken_config(self) -> dict[str, Any]:
        return {**self.config(), "base_url": f"http://127.0.0.1:{free_port()}"}

    def texts(self) -> list[str]:
        return self.server.texts()

    def close(self) -> None:
        self.server.close()


class SmtpHarness:
    kind = "smtp"

    def __init__(self, tmp: Path) -> None:
        self.server = SmtpServer(tmp)
        self.password_file = tmp / "smtp.pass"
        self.password_file.write_text(self.server.password)

    def config(self) -> dict[str, Any]:
        return {"name": "mail-dn", "type": "smtp", "host": "127.0.0.1", "port": self.server.port, "starttls": True,
                "username": self.server.user, "password_file": str(self.password_file),
                "ca_file": str(self.server.ca_file), "from_address": "netmon@stc.dongnai.gov.vn",
                "to": ["noc@stc.dongnai.gov.vn"]}

    def broken_config(self) -> dict[str, Any]:
        return {**self.config(), "port": free_port(), "timeout": 2}

    def texts(self) -> list[str]:
        return [str(mail.get_content()) for mail in self.server.mailbox.mails]

    def close(self) -> None:
        self.server.close()


class WebhookHarness:
    kind = "webhook"

    def __init__(self, tmp: Path) -> None:
        self.server = WebhookReceiver()

    def config(self) -> dict[str, Any]:
        return {"name": "hook", "type": "webhook", "url": self.server.url + "/alerts"}

    def broken_config(self) -> dict[str, Any]:
        return {**self.config(), "url": f"http://127.0.0.1:{free_port()}/alerts"}

    def texts(self) -> list[str]:
        return ["\n\n".join(a["annotations"]["description"] for a in body["alerts"]) for body in self.server.bodies()]

    def close(self) -> None:
        self.server.close()


class AlertmanagerHarness:
    kind = "alertmanager"

    def __init__(self, tmp: Path) -> None:
        self.server = start_alertmanager(tmp / "am")
        self.seen: list[str] = []

    def config(self) -> dict[str, Any]:
        return {"name": "am", "type": "alertmanager", "url": self.server.url}

    def broken_config(self) -> dict[str, Any]:
        return {**self.config(), "url": f"http://127.0.0.1:{free_port()}"}

    def texts(self) -> list[str]:
        """Descriptions of the alerts Alertmanager holds as active (firing) right now."""
        with urllib.request.urlopen(f"{self.server.url}/api/v2/alerts?active=true", timeout=5) as response:
            alerts = json.load(response)
        return [a["annotations"]["description"] for a in sorted(alerts, key=lambda a: a["labels"]["incident"])]

    def close(self) -> None:
        self.server.stop()


class ConsoleHarness:
    kind = "console"

    def __init__(self, tmp: Path) -> None:
        self.path = tmp / "console.log"

    def config(self) -> dict[str, Any]:
        return {"name": "console", "type": "console", "path": str(self.path)}

    def broken_config(self) -> dict[str, Any]:
        return {**self.config(), "path": str(self.path.parent / "missing-dir" / "console.log")}

    def texts(self) -> list[str]:
        if not self.path.exists():
            return []
        blocks = self.path.read_text(encoding="utf-8").split("----- netmon → console -----\n")
        return [b.rstrip("\n") for b in blocks if b]

    def close(self) -> None:
        return None


def harness(kind: str, tmp: Path) -> Harness:
    factories: dict[str, Any] = {
        "telegram": lambda: BotHarness("telegram", tmp, 4096), "zalo": lambda: BotHarness("zalo", tmp, 2000),
        "smtp": lambda: SmtpHarness(tmp), "webhook": lambda: WebhookHarness(tmp),
        "alertmanager": lambda: AlertmanagerHarness(tmp), "console": lambda: ConsoleHarness(tmp),
    }
    made: Harness = factories[kind]()
    return made
