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
    if central.alerting is not None and central.alerting.rules_file:
        from netmon.alerting.rules import load_rules

        rules = load_rules(central.alerting.rules_file)
        summary.append(f"{central.alerting.rules_file}: ok — {len(rules)} rule(s)")
    return summary



