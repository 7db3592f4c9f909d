"""The playbooks parse (`ansible-playbook --syntax-check`) and pass `ansible-lint` at the production profile."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.ansible.fleet import ANSIBLE_DIR, VENV_BIN

EXAMPLE = ANSIBLE_DIR / "inventory" / "example"


def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}", "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg"), "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
            "NO_COLOR": "1"}


@pytest.mark.parametrize("playbook", ["site.yml", "upgrade.yml", "enrol.yml", "validate.yml"])
def test_playbook_syntax(playbook: str, tmp_path: Path) -> None:
    proc = subprocess.run([str(VENV_BIN / "ansible-playbook"), "--syntax-check", "-i", str(EXAMPLE / "central.yml"),
                           str(ANSIBLE_DIR / playbook)], capture_output=True, text=True, env=env(tmp_path),
                          cwd=ANSIBLE_DIR, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"playbook: {ANSIBLE_DIR / playbook}" in proc.stdout


def test_ansible_lint_production_profile(tmp_path: Path) -> None:
    # --offline: no Galaxy; the roles use ansible.builtin only
    proc = subprocess.run([str(VENV_BIN / "ansible-lint"), "--offline", "--profile", "production", "--nocolor"],
                          capture_output=True, text=True, env=env(tmp_path), cwd=ANSIBLE_DIR, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Profile 'production' was required, and it passed" in proc.stdout + proc.stderr
