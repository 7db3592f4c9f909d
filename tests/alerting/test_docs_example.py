"""The configuration shown in docs/alerting.md (the issue's shape, extended) is valid as written."""

from __future__ import annotations

from pathlib import Path

import yaml

from netmon.config.central import CentralConfig
from tests.conftest import REPO_ROOT


def test_documented_alerting_section_validates() -> None:
    text = (Path(REPO_ROOT) / "docs" / "alerting.md").read_text(encoding="utf-8")
    block = text.split("## Configuration (`alerting:` in central.yaml)")[1].split("```yaml\n")[1].split("```")[0]
    config = CentralConfig.model_validate({"registry": "sites.yaml", **yaml.safe_load(block)})
    alerting = config.alerting
    assert alerting is not None
    assert [c.type for c in alerting.channels] == ["zalo", "telegram", "smtp", "webhook", "alertmanager"]
    team = alerting.team("rrt-dong-nai")
    assert team is not None and team.escalate_after == 900 and team.escalate_to == ["tg-noc"]
    assert alerting.storm.min_sites == 5 and alerting.group_wait == 2
