"""HTTP API of the alerting engine, mounted on the collector:

    GET    /api/v1/incidents?state=open|firing|pending|resolved|all&team=&site=&limit=   (viewer)
    GET    /api/v1/incidents/{id}                                                         (viewer)
    POST   /api/v1/incidents/{id}/ack        {"by": "...", "comment": "..."}             (operator)
    GET    /api/v1/silences?all=false                                                     (viewer)
    POST   /api/v1/silences                  {"site": "...", "duration": "2h", "reason": "..."}  (operator)
    DELETE /api/v1/silences/{id}                                                          (operator)

Who may call what is the collector's (``CollectorHost.require``: viewer, operator or admin
token; docs/security.md). A silence lasts at most ``MAX_SILENCE_SECONDS``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from netmon.alerting.engine import AlertEngine
from netmon.alerting.model import Incident, Silence
from netmon.collectors.abc import Role
from netmon.config.alerting import MAX_SILENCE_SECONDS
from netmon.config.units import PositiveSeconds
from netmon.errors import IncidentClosed, IncidentNotFound

StateFilter = Literal["open", "firing", "pending", "resolved", "all"]
# SQLite row ids are signed 64-bit: a larger number in the path is a 422, not a storage error.
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]


class AckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by: Annotated[str, Field(max_length=100)] | None = None
    comment: Annotated[str, Field(max_length=500)] | None = None


class SilenceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site: str | None = None
    rule: str | None = None
    team: str | None = None
    upstream: str | None = None
    target: str | None = None
    link: str | None = None
    province: str | None = None
    duration: PositiveSeconds = Field(le=MAX_SILENCE_SECONDS, description="how long: 2h, 1h30m, 7d (at most 366d)")
    reason: str = Field(min_length=1, max_length=500)
    by: Annotated[str, Field(max_length=100)] | None = None

    @model_validator(mode="after")
    def _some_matcher(self) -> SilenceRequest:
        if not self.matchers():
            raise ValueError("give at least one of site, rule, team, upstream, target, link, province")
        return self

    def matchers(self) -> dict[str, str]:
        fields = {"site": self.site, "alertname": self.rule, "team": self.team, "upstream": self.upstream,
                  "target": self.target, "link": self.link, "province": self.province}
        return {k: v for k, v in fields.items() if v}


class IncidentList(BaseModel):
    incidents: list[Incident]


class SilenceList(BaseModel):
    silences: list[Silence]


def incidents_router(engine: AlertEngine, require: Callable[[Role], Any]) -> APIRouter:
    """``require``: the collector's ``CollectorHost.require`` (a dependency per role)."""
    router = APIRouter(prefix="/api/v1", tags=["alerting"])
    viewer = [Depends(require(Role.VIEWER))]
    operator = [Depends(require(Role.OPERATOR))]

    @router.get("/incidents", response_model=IncidentList, dependencies=viewer)
    def list_incidents(state: StateFilter = "open", team: str | None = None, site: str | None = None,
                       limit: Annotated[int, Query(ge=1, le=5000)] = 200) -> Any:
        return {"incidents": engine.incidents(state=state, team=team, site=site, limit=limit)}

    @router.get("/incidents/{incident_id}", response_model=Incident, dependencies=viewer)
    def get_incident(incident_id: RowId) -> Any:
        try:
            return engine.incident(incident_id)
        except IncidentNotFound:
            raise HTTPException(404, f"no incident {incident_id}") from None

    @router.post("/incidents/{incident_id}/ack", response_model=Incident, dependencies=operator)
    def ack(incident_id: RowId, body: AckRequest | None = None) -> Any:
        body = body or AckRequest()
        try:
            return engine.ack(incident_id, by=body.by, comment=body.comment)
        except IncidentNotFound:
            raise HTTPException(404, f"no incident {incident_id}") from None
        except IncidentClosed as exc:
            raise HTTPException(409, str(exc)) from None

    @router.get("/silences", response_model=SilenceList, dependencies=viewer)
    def list_silences(all: bool = False) -> Any:
        return {"silences": engine.silences(active_only=not all)}

    @router.post("/silences", response_model=Silence, status_code=201, dependencies=operator)
    def add_silence(body: SilenceRequest) -> Any:
        return engine.silence(body.matchers(), body.duration, body.reason, by=body.by)

    @router.delete("/silences/{silence_id}", status_code=204, dependencies=operator)
    def delete_silence(silence_id: RowId) -> Response:
        if not engine.unsilence(silence_id):
            raise HTTPException(404, f"no active silence {silence_id}")
        return Response(status_code=204)

    return router
