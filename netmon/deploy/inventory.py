"""The Ansible inventory, generated from the same site registry the collector loads.

Sites are grouped ``netmon_sites`` → ``province_<slug>`` → ``district_<province>_<slug>``
(where the registry knows the district). Each host carries what its agent config needs —
identity, links, contracted rates, SNMP location — and nothing secret: SNMP communities and
keys come from Ansible Vault variables (see docs/ansible.md), tokens from ``enrol.yml``.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from netmon.config.registry import Registry, RegistrySite

# NFKD splits "ồ" into "o" + combining marks, but đ/Đ are letters of their own.
_SPECIAL = str.maketrans({"đ": "d", "Đ": "D"})


def slug(text: str) -> str:
    """ASCII group-name slug: ``"Đồng Nai"`` → ``"dong_nai"``, ``"Biên Hòa"`` → ``"bien_hoa"``."""
    ascii_text = unicodedata.normalize("NFKD", text.translate(_SPECIAL)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_") or "unnamed"


def host_name(site: RegistrySite) -> str:
    return f"site-{site.id}"


def host_vars(site: RegistrySite) -> dict[str, Any]:
    links: list[dict[str, Any]] = []
    for link in site.links:
        entry: dict[str, Any] = {"name": link.name, "kind": link.kind.value}
        if link.contracted_mbps is not None:
            entry["contracted_mbps"] = int(link.contracted_mbps) if link.contracted_mbps.is_integer() \
                else link.contracted_mbps
        if link.snmp_host or link.if_name:
            # Partial SNMP settings are passed on as they are: the playbook's validation
            # names the missing key for this host instead of the generator guessing.
            snmp = {"host": link.snmp_host, "if_name": link.if_name, "version": site.snmp_version or "2c"}
            entry["snmp"] = {k: v for k, v in snmp.items() if v is not None}
        links.append(entry)
    identity = {"id": site.id, "name": site.name, "province": site.province}
    if site.district:
        identity["district"] = site.district
    out: dict[str, Any] = {"ansible_host": site.agent_host, "netmon_site": identity, "netmon_links": links}
    if site.lan_subnet:
        out["netmon_lan_subnet"] = site.lan_subnet
    return out


def build_inventory(registry: Registry) -> tuple[dict[str, Any], list[str]]:
    """The inventory as a YAML-ready dict, and the ids of sites left out (no ``agent_host``)."""
    provinces: dict[str, dict[str, Any]] = {}
    skipped: list[str] = []
    for site in sorted(registry.sites, key=lambda s: (slug(s.province), slug(s.district or ""), s.id)):
        if not site.agent_host:
            skipped.append(site.id)
            continue
        province_slug = slug(site.province)
        group = provinces.setdefault(f"province_{province_slug}", {"vars": {"netmon_province": site.province}})
        if site.district:
            children = group.setdefault("children", {})
            group = children.setdefault(f"district_{province_slug}_{slug(site.district)}",
                                        {"vars": {"netmon_district": site.district}})
        group.setdefault("hosts", {})[host_name(site)] = host_vars(site)
    inventory = {"all": {"children": {"netmon_sites": {"children": provinces}}}}
    return inventory, skipped
