"""One message for one channel: the notices it carries, rendered lazily to the channel's own limit."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from netmon.alerting import render
from netmon.alerting.model import Notice


@dataclasses.dataclass(frozen=True)
class Message:
    notices: tuple[Notice, ...]
    team: str | None = None
    language: str = "vi"
    timezone: str = "Asia/Ho_Chi_Minh"
    external_url: str | None = None
    created_at: float = 0.0

    @property
    def status(self) -> str:
        """Alertmanager's group status: firing while any notice is not a resolve."""
        return "firing" if any(n.event != "resolved" for n in self.notices) else "resolved"

    def text(self, limit: int | None = None) -> str:
        return render.text(self.notices, self.team, self.language, self.timezone, limit)

    def subject(self, limit: int = 100) -> str:
        return render.subject(self.notices, self.team, self.language, limit)

    def notice_text(self, notice: Notice) -> str:
        return render.notice_text(notice, self.language, self.timezone)

    def to_json(self) -> str:
        return json.dumps({
            "team": self.team, "language": self.language, "timezone": self.timezone,
            "external_url": self.external_url, "created_at": self.created_at,
            "notices": [n.model_dump(mode="json") for n in self.notices],
        }, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Message:
        data: dict[str, Any] = json.loads(text)
        return cls(notices=tuple(Notice.model_validate(n) for n in data["notices"]), team=data["team"],
                   language=data["language"], timezone=data["timezone"], external_url=data["external_url"],
                   created_at=data["created_at"])
