"""``netmon alerts``: list, acknowledge and silence incidents through the collector's API.

The CLI talks HTTP to the running collector (``--url``, env ``NETMON_COLLECTOR_URL``)
rather than opening its SQLite file: the engine is the only writer of alert state, and
the operator need not be on the collector's machine. Every call sends the token of
``--token-file`` (env ``NETMON_TOKEN_FILE``, or ``NETMON_ADMIN_TOKEN_FILE`` as before): listing
needs a viewer token, acknowledging and silencing an operator one (``netmon tokens issue``;
``netmon alerts token`` still makes the admin token of ``alerting.admin_token_file``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from netmon.cli.extras import require
from netmon.cli.failures import exit_on_error
from netmon.cli.options import duration_parser
from netmon.config.alerting import MAX_SILENCE_SECONDS
from netmon.config.units import format_duration

app = typer.Typer(help="Alert incidents: list, acknowledge, silence.", no_args_is_help=True)
rules_app = typer.Typer(help="Alert rules files.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")

Url = Annotated[str, typer.Option("--url", envvar="NETMON_COLLECTOR_URL", help="collector base URL")]
TokenFile = Annotated[Path, typer.Option("--token-file", envvar=["NETMON_TOKEN_FILE", "NETMON_ADMIN_TOKEN_FILE"],
                                         help="file holding a viewer (list) or operator (change) token")]
DEFAULT_URL = "http://127.0.0.1:8080"
DEFAULT_TOKEN_FILE = Path("~/.config/netmon/token").expanduser()
OLD_DEFAULT_TOKEN_FILE = Path("~/.config/netmon/admin.token").expanduser()


class StateFilter(StrEnum):
    OPEN = "open"
    FIRING = "firing"
    PENDING = "pending"
    RESOLVED = "resolved"
    ALL = "all"


def _call(method: str, url: str, path: str, token_file: Path, **kwargs: Any) -> Any:
    require("centre", "alerts")
    import httpx

    if token_file == DEFAULT_TOKEN_FILE and not token_file.exists() and OLD_DEFAULT_TOKEN_FILE.exists():
        token_file = OLD_DEFAULT_TOKEN_FILE  # where `netmon alerts token --save` used to keep it
    try:
        headers = {"Authorization": f"Bearer {token_file.read_text(encoding='utf-8').strip()}"}
    except OSError as exc:
        typer.echo(f"cannot read the token file {token_file}: {exc.strerror} (issue one with 'netmon tokens "
                   "issue NAME --role viewer|operator --save FILE')", err=True)
        raise typer.Exit(1) from None
    try:
        response = httpx.request(method, url.rstrip("/") + path, headers=headers, timeout=15, **kwargs)
    except httpx.HTTPError as exc:
        typer.echo(f"cannot reach the collector at {url}: {exc}", err=True)
        raise typer.Exit(1) from None
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        shown = detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False)
        typer.echo(f"{response.status_code}: {shown}", err=True)
        raise typer.Exit(1)
    return response.json() if response.content else None


def _when(ts: float | None) -> str:
    if not ts:
        return "-"
    try:
        return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")
    except (OverflowError, OSError, ValueError):  # beyond the calendar: never ends
        return "never"


@app.command("list")
def list_incidents(url: Url = DEFAULT_URL, token_file: TokenFile = DEFAULT_TOKEN_FILE,
                   state: Annotated[StateFilter, typer.Option(case_sensitive=False, help="which incidents")] = (
                       StateFilter.OPEN),
                   team: str | None = None, site: str | None = None,
                   as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False) -> None:
    """Incidents, newest first."""
    params = {k: v for k, v in {"state": state.value, "team": team, "site": site}.items() if v}
    incidents = _call("GET", url, "/api/v1/incidents", token_file, params=params)["incidents"]
    if as_json:
        for incident in incidents:
            typer.echo(json.dumps(incident, ensure_ascii=False))
        return
    typer.echo(f"{'ID':>6}  {'STATUS':<12} {'SEVERITY':<9} {'RULE':<24} {'WHERE':<34} {'SINCE':<16} TEAM")
    for inc in incidents:
        labels = inc["labels"]
        where = (f"{labels.get('site_name', inc['site_id'])}" + (f" / {inc['link']}" if inc.get("link") else "")
                 if inc["site_id"] else f"{inc['kind']}: {inc.get('upstream') or inc.get('target')} "
                                        f"({inc['member_count']} sites)")
        typer.echo(f"{inc['id']:>6}  {inc['status']:<12} {inc['severity']:<9} {inc['rule']:<24} {where[:34]:<34} "
                   f"{_when(inc['fired_at'] or inc['active_at']):<16} {inc.get('team') or '-'}")
    typer.echo(f"{len(incidents)} incident(s)")


@app.command("ack")
def ack(incident_id: Annotated[int, typer.Argument(help="incident number (from the message or 'list')")],
        url: Url = DEFAULT_URL, token_file: TokenFile = DEFAULT_TOKEN_FILE,
        by: Annotated[str | None, typer.Option(help="who is on it")] = None,
        comment: str | None = None) -> None:
    """Acknowledge an incident: somebody is on it, escalation stops."""
    body = {"by": by or os.environ.get("USER"), "comment": comment}
    inc = _call("POST", url, f"/api/v1/incidents/{incident_id}/ack", token_file, json=body)
    typer.echo(f"incident {inc['id']} acknowledged by {inc['acked_by'] or '-'} ({inc['rule']}, {inc['status']})")


@app.command("silence")
def silence(reason: Annotated[str, typer.Option(help="why (maintenance window, known outage)")],
            duration: Annotated[float, typer.Option(
                "--for", parser=duration_parser(maximum=MAX_SILENCE_SECONDS), metavar="DURATION",
                help="how long, with units: 30m, 2h, 1h30m, 7d (at most 366d)")],
            site: str | None = None, rule: str | None = None, team: str | None = None,
            upstream: str | None = None, target: str | None = None, link: str | None = None,
            url: Url = DEFAULT_URL, token_file: TokenFile = DEFAULT_TOKEN_FILE, by: str | None = None) -> None:
    """Stop messages for what matches (every given matcher must match) for a while."""
    body = {"site": site, "rule": rule, "team": team, "upstream": upstream, "target": target, "link": link,
            "duration": format_duration(duration), "reason": reason, "by": by or os.environ.get("USER")}
    made = _call("POST", url, "/api/v1/silences", token_file, json={k: v for k, v in body.items() if v})
    matchers = ", ".join(f"{k}={v}" for k, v in made["matchers"].items())
    typer.echo(f"silence {made['id']}: {matchers} until {_when(made['ends_at'])} ({made['reason']})")


@app.command("silences")
def silences(url: Url = DEFAULT_URL, token_file: TokenFile = DEFAULT_TOKEN_FILE,
             all_: Annotated[bool, typer.Option("--all", help="expired ones too")] = False,
             as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False) -> None:
    """Active silences."""
    for item in _call("GET", url, "/api/v1/silences", token_file, params={"all": str(all_).lower()})["silences"]:
        if as_json:
            typer.echo(json.dumps(item, ensure_ascii=False))
            continue
        matchers = ", ".join(f"{k}={v}" for k, v in item["matchers"].items())
        typer.echo(f"{item['id']:>4}  {matchers:<40} until {_when(item['ends_at'])}  {item['reason']}")


@app.command("unsilence")
def unsilence(silence_id: int, url: Url = DEFAULT_URL, token_file: TokenFile = DEFAULT_TOKEN_FILE) -> None:
    """End a silence now."""
    _call("DELETE", url, f"/api/v1/silences/{silence_id}", token_file)
    typer.echo(f"silence {silence_id} ended")


@app.command("token")
def token(write: Annotated[Path, typer.Option("--write", help="file the collector reads (admin_token_file)")],
          save: Annotated[Path | None, typer.Option(help="also keep the token here for this CLI (mode 600)")] = None
          ) -> None:
    """Make the admin token of alerting.admin_token_file: printed once; only its hash goes to the
    collector's file. (Tokens of every role, kept in the collector's state: 'netmon tokens issue'.)"""
    from netmon.collectors.auth import HASH_PREFIX
    from netmon.collectors.tokens import new_token, token_digest
    from netmon.config.statefiles import write_private

    value = new_token()
    write_private(write, HASH_PREFIX + token_digest(value) + "\n")
    if save is not None:
        write_private(save, value + "\n")
    typer.echo(value)
    typer.echo(f"(shown once; the collector's {write} holds only its hash)", err=True)


@rules_app.command("check")
def rules_check(file: Annotated[Path | None, typer.Argument(help="rules file; none: the built-in defaults")] = None,
                as_json: Annotated[bool, typer.Option("--json", help="one JSON object per rule")] = False) -> None:
    """Validate a rules file; print the rules it gives, or every problem with its line and key."""
    from netmon.alerting.rules import load_rules

    with exit_on_error():
        rules = load_rules(file)
    if as_json:
        for rule in rules:
            typer.echo(rule.model_dump_json(exclude_none=True))
        return
    for rule in rules:
        what = ",".join(rule.value) or ",".join(s.value for s in rule.status) or rule.type
        limits = " ".join(f"{k}={v}" for k, v in (("warning", rule.warning), ("critical", rule.critical),
                                                  ("clear", rule.clear)) if v is not None)
        if rule.link_kinds:
            limits += " per link kind: " + ", ".join(k.value for k in rule.link_kinds)
        probes = ",".join(p.value for p in rule.probe) or "-"
        typer.echo(f"{rule.name:<24} {probes:<16} {what:<32} for={rule.for_seconds:g}s {limits}")
    typer.echo(f"{file or 'defaults'}: ok — {len(rules)} rule(s)")
