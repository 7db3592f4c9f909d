"""Check the central host's files the way the collector will read them, before a deploy switches to them.

``netmon ansible check-central central.yaml`` loads the config (paths anchored like
``netmon collector serve`` does), the site registry it names and, when it names one, the
alerting rules file. Every problem comes back as one ConfigError naming file, line and key.
"""

from __future__ import annotations

from pathlib import Path


def check_central(path: str | Path) -> list[str]:
    """Raise ConfigError on the first file with problems; return a one-line summary per file read."""
    from netmon.config.central import load_central
    from netmon.config.registry import load_registry

    central = load_central(path)
    registry = load_registry(central.registry)
    summary = [f"{path}: ok", f"{central.registry}: ok — {len(registry.sites)} site(s)"]
    from netmon.alerting.rules import check_cut_off, load_rules

    rules_file = central.alerting.rules_file if central.alerting is not None else None
    rules = load_rules(rules_file)
    if rules_file:
        summary.append(f"{rules_file}: ok — {len(rules)} rule(s)")
    check_cut_off(central, rules, str(path))
    return summary



