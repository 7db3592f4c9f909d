"""The site registry: every commune, its province, links and contracted rates, and who answers for it.

One file feeds the collector (auth, live state, utilisation against contracted rates),
alerting (routing to teams, upstream grouping), readiness, and the Ansible inventory.
YAML for full detail, or CSV (one row per site, the common commune shape) for provinces
that keep their list in a spreadsheet.

CSV columns (header required; empty cell = not set)::

    site_id,name,province,district,upstream,team,agent_host,lan_subnet,
    leased_mbps,leased_if,tslcd_mbps,tslcd_if,snmp_host,snmp_version
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, model_validator

from netmon.config.loader import load_model, validation_problems
from netmon.config.site import ContractedLink, ProbePlan, SiteIdentity, Strict
from netmon.contract import Identifier
from netmon.errors import ConfigError


class RegistryLink(ContractedLink):
    # Where the site router exposes this link over SNMP (secrets come from Ansible Vault / files).
    snmp_host: str | None = None
    if_name: str | None = None


class RegistrySite(SiteIdentity):
    # Aggregation point the site hangs off (a district node, the province's TSLCD core):
    # many sites failing behind one upstream become one upstream incident.
    upstream: Identifier | None = None
    team: Identifier | None = Field(default=None, description="defaults to the province's team")
    agent_host: str | None = Field(default=None, description="management address of the agent box")
    lan_subnet: str | None = None
    snmp_version: str | None = None
    links: list[RegistryLink] = Field(default_factory=list)
    # The probe plan the centre hands this site's agent (GET /api/v1/agents/{id}/config).
    plan: ProbePlan | None = None

    def link(self, name: str) -> RegistryLink | None:
        return next((x for x in self.links if x.name == name), None)


class Province(Strict):
    name: str
    default_team: Identifier | None = None
    upstream: Identifier | None = Field(default=None, description="the province's data-network core")


class Registry(Strict):
    provinces: list[Province] = Field(default_factory=list)
    sites: list[RegistrySite] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> Registry:
        ids = [s.id for s in self.sites]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"site ids must be unique; repeated: {', '.join(dupes)}")
        return self

    def site(self, site_id: str) -> RegistrySite | None:
        return self.by_id().get(site_id)

    def by_id(self) -> dict[str, RegistrySite]:
        cached: dict[str, RegistrySite] | None = self.__dict__.get("_by_id")
        if cached is None or len(cached) != len(self.sites):
            cached = {s.id: s for s in self.sites}
            self.__dict__["_by_id"] = cached
        return cached

    def province(self, name: str) -> Province | None:
        return next((p for p in self.provinces if p.name == name), None)


CSV_COLUMNS = [
    "site_id", "name", "province", "district", "upstream", "team", "agent_host", "lan_subnet",
    "leased_mbps", "leased_if", "tslcd_mbps", "tslcd_if", "snmp_host", "snmp_version",
]


def _csv_site(row: dict[str, str]) -> dict[str, Any]:
    cell = {k: (v or "").strip() or None for k, v in row.items() if k is not None}
    links: list[dict[str, Any]] = []
    if cell.get("lan_subnet"):
        links.append({"name": "lan", "kind": "lan"})
    for name, kind in (("leased", "leased_line"), ("tslcd", "data_network")):
        if cell.get(f"{name}_mbps") or cell.get(f"{name}_if"):
            links.append({"name": name, "kind": kind, "contracted_mbps": cell.get(f"{name}_mbps"),
                          "snmp_host": cell.get("snmp_host"), "if_name": cell.get(f"{name}_if")})
    site = {k: cell.get(k) for k in ("name", "province", "district", "upstream", "team", "agent_host",
                                       "lan_subnet", "snmp_version")}
    return {"id": cell.get("site_id"), **{k: v for k, v in site.items() if v is not None}, "links": links}


def load_registry(path: str | Path) -> Registry:
    path = Path(path)
    if path.suffix.lower() != ".csv":
        return load_model(path, Registry)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in ("site_id", "name", "province") if c not in (reader.fieldnames or [])]
            if missing:
                raise ConfigError(str(path), [("", 1, f"CSV header lacks column(s): {', '.join(missing)}")])
            unknown = [c for c in reader.fieldnames or [] if c not in CSV_COLUMNS]
            if unknown:
                raise ConfigError(str(path), [("", 1, f"unknown CSV column(s): {', '.join(unknown)}; "
                                                      f"known: {', '.join(CSV_COLUMNS)}")])
            rows = [(reader.line_num, _csv_site(row)) for row in reader]
    except FileNotFoundError:
        raise ConfigError(str(path), [("", None, "file not found")]) from None
    problems: list[tuple[str, int | None, str]] = []
    sites = []
    for line, row in rows:
        try:
            sites.append(RegistrySite.model_validate(row))
        except ValidationError as exc:
            for key, _, message in validation_problems(exc):
                problems.append((f"site {row.get('id') or '?'}: {_csv_key(key, row)}", line, message))
    if problems:
        raise ConfigError(str(path), problems)
    try:
        return Registry(sites=sites)
    except ValidationError as exc:
        raise ConfigError(str(path), validation_problems(exc)) from None


def _csv_key(key: str, row: dict[str, Any]) -> str:
    """Map a model key back to the CSV column people edit: links[1].contracted_mbps -> tslcd_mbps."""
    match = re.match(r"^links\[(\d+)\](?:\.(\w+))?$", key)
    if match:
        link = row["links"][int(match.group(1))]["name"]
        column = {"contracted_mbps": "_mbps", "if_name": "_if", None: "_mbps"}.get(match.group(2))
        return f"{link}{column}" if column else key
    return {"id": "site_id"}.get(key, key)
