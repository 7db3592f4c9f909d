"""Errors the API answers with: JSON ``{"detail": "<clear message>", ...}`` and a reason for metrics."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    def __init__(self, status: int, detail: str, *, reason: str, headers: dict[str, str] | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        # a short label for netmon_collector_rejected_requests_total{reason}
        self.reason = reason
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        return {"detail": self.detail, **self.extra}
