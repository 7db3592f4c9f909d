"""Two listen addresses, one app: agents on ``listen``, people and Prometheus on ``listen.viewer``.

When ``listen.viewer`` is set, a request is answered only on the address its route belongs to:
the agent routes (``POST /api/v1/results``, ``GET /api/v1/agents/{site}/config``) on the agents'
port, everything else (status, metrics, incidents, readiness, docs) on the viewer port;
``/healthz`` on both. So the port the whole fleet reaches exposes nothing to read, and the NOC
address can sit on a network the communes never see. Tokens are checked on both regardless.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

AGENT_PATHS = ("/api/v1/results", "/api/v1/agents/")


def agent_route(path: str) -> bool:
    return path == AGENT_PATHS[0] or path.startswith(AGENT_PATHS[1])


class PortSplit:
    def __init__(self, app: ASGIApp, viewer_port: int) -> None:
        self.app = app
        self.viewer_port = viewer_port  # any other port is the agents'

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] != "/healthz":
            server = scope.get("server")
            port = server[1] if server else None
            for_agents = agent_route(scope["path"])
            if (port == self.viewer_port) == for_agents:
                where = "the agents' address (listen)" if for_agents else "the viewer address (listen.viewer)"
                answer = JSONResponse({"detail": f"not served on this address: ask {where}"}, status_code=404)
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install_port_split(app: FastAPI, *, viewer_port: int) -> None:
    options: dict[str, Any] = {"viewer_port": viewer_port}
    app.add_middleware(PortSplit, **options)
