"""``GET /api/v1/tokens`` (admin): every token the collector knows, without the tokens themselves.

Tokens are issued and revoked with the CLI on the collector's machine (``netmon sites enrol``,
``netmon tokens issue``), never over HTTP: a stolen admin token can read this list, not mint more.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from netmon.collectors.abc import Principal, Role
from netmon.collectors.tokens import TokenBackend


class TokenEntry(BaseModel):
    role: Role
    name: str = Field(description="the site id of a site token, else the name it was issued under")
    agent_id: str | None = Field(description="site tokens: the agent it speaks for (None: bound on first use)")
    created_ns: int
    revoked_ns: int | None


class TokenList(BaseModel):
    tokens: list[TokenEntry]


def make_router(tokens: TokenBackend, require: Callable[[Role], Callable[..., Principal]]) -> APIRouter:
    router = APIRouter()

    @router.get("/api/v1/tokens", response_model=TokenList, tags=["access"],
                dependencies=[Depends(require(Role.ADMIN))],
                summary="Site and role tokens: role, name, agent, created, revoked (admin)",
                openapi_extra={"security": [{"roleToken": []}]})
    def list_tokens() -> Any:
        entries = [TokenEntry(role=t.role, name=t.name, agent_id=t.agent_id, created_ns=t.created_ns,
                              revoked_ns=t.revoked_ns) for t in tokens.tokens() + tokens.role_tokens()]
        return TokenList(tokens=entries)

    return router
