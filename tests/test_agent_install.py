"""A site technician's install, as docs/agent.md writes it: its command block, run as it is.

The block runs as root in a throwaway root: a mount namespace with overlays over /etc, /opt
and /var, so useradd, pip and the unit land in the overlay and vanish with it. There is no
systemd there: `systemd-analyze verify` (in the block) checks the unit, and its two
`systemctl` lines are replaced by what systemd would do with the unit — create the state
directory, then start ExecStart as User/Group with only the unit's capabilities — inside a
fresh network namespace that has only loopback. pip reaches PyPI as an operator's would.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import IN_CI, REPO_ROOT
from tests.wheels import build_wheel

pytestmark = [pytest.mark.slow, pytest.mark.netns]

DOC = Path(REPO_ROOT) / "docs" / "agent.md"
MARKER = "<!-- tests/test_agent_install.py runs this block as it is, in a throwaway root -->"
SYSTEMCTL = ["systemctl daemon-reload", "systemctl enable --now netmon-agent"]
CAP_NET_RAW = 1 << 13

# What systemd does for `systemctl enable --now netmon-agent`, as far as the agent can tell:
# StateDirectory=, then ExecStart as User/Group with the unit's capabilities and NoNewPrivileges.
START_LIKE_SYSTEMD = r"""
unit=/etc/systemd/system/netmon-agent.service
value() { sed -n "s/^$1=//p" "$unit" | tail -1; }
user=$(value User); group=$(value Group); caps=$(value AmbientCapabilities | tr 'A-Z' 'a-z' | sed 's/cap_//g')
install -d -o "$user" -g "$group" -m "$(value StateDirectoryMode)" "/var/lib/$(value StateDirectory)"
unshare --net bash "$OUT/in-netns.sh" "$user" "$group" "$caps" "$(value ExecStart)"
stat -c "%U:%G %a" /etc/netmon/site.yaml /etc/netmon/token > "$OUT/modes.txt"
cp "$unit" "$OUT/"
"""
# inside the fresh network namespace: start the agent, wait for its first ICMP result (at most
# 30 s), read /metrics and the process's credentials, stop it with SIGTERM as systemd would
IN_NETNS = r"""
set -e
ip link set lo up
setpriv --reuid="$1" --regid="$2" --init-groups --inh-caps=-all,+"$3" --ambient-caps=-all,+"$3" \
    --bounding-set=-all,+"$3" --no-new-privs -- $4 > "$OUT/agent.log" 2>&1 &
pid=$!
python3 - <<'PY'
import sqlite3, time
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    try:
        with sqlite3.connect("file:/var/lib/netmon-agent/outbox.sqlite3?mode=ro", uri=True) as db:
            if db.execute("SELECT count(*) FROM results WHERE probe = 'icmp'").fetchone()[0]:
                break
    except sqlite3.Error:
        pass
    time.sleep(0.2)
PY
curl -sf http://127.0.0.1:9469/metrics > "$OUT/metrics.txt"
grep -E "^(Uid|Gid|CapEff|CapBnd|CapAmb|NoNewPrivs):" /proc/$pid/status > "$OUT/status.txt"
kill -TERM $pid
set +e; wait $pid; echo $? > "$OUT/exit.txt"
cp /var/lib/netmon-agent/outbox.sqlite3 "$OUT/"
"""


def doc_block() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    assert MARKER in text, f"{DOC}: the install block lost its marker"
    block = re.search(r"```sh\n(.*?)```", text[text.index(MARKER):], re.S)
    assert block is not None
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_the_documented_install_runs_the_agent_hardened(tmp_path: Path) -> None:
    if subprocess.run(["id", "-u"], capture_output=True, text=True).stdout.strip() != "0":
        if IN_CI:
            pytest.fail("CI=true and this test needs root (mount namespaces, useradd)")
        pytest.skip("needs root")
    lines = doc_block()
    assert lines[-2:] == SYSTEMCTL, "the block should end by starting the unit"
    work, out = tmp_path / "work", tmp_path / "out"
    work.mkdir()
    out.mkdir()
    build_wheel(work)
    (work / "token").write_text("7f3c9e1b2a4d6f8e0c2b4a6d8f0e2c4b6d8f0e2c4b6d\n")
    (work / "site.yaml").write_text("""\
site: {id: "99001", name: "Xã Thử", province: "Đồng Nai"}
collector: {url: "http://127.0.0.1:9", insecure_http: true, token_file: /etc/netmon/token}
links:
  - name: lan
    kind: lan
    targets: [{host: 127.0.0.1, name: loopback}]
    probes: [icmp]
probes:
  icmp: {count: 3, interval: 2s}
""", encoding="utf-8")
    (out / "in-netns.sh").write_text(IN_NETNS)
    script = tmp_path / "install.sh"
    overlays = "\n".join(
        f"mkdir -p $W/{d}-up $W/{d}-work && mount -t overlay overlay "
        f"-o lowerdir=/{d},upperdir=$W/{d}-up,workdir=$W/{d}-work /{d}" for d in ("etc", "opt", "var"))
    script.write_text("set -e\nW=$(mktemp -d)\nmount -t tmpfs tmpfs $W\n" + overlays + "\n"
                      + f"cd {work}\n" + "\n".join(lines[:-2]) + "\n" + START_LIKE_SYSTEMD)
    proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "bash", "-x", str(script)],
                          capture_output=True, text=True, timeout=900,
                          env={"OUT": str(out), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]

    # the documented checks said what they should
    assert "/etc/netmon/site.yaml: ok — site 99001 (Xã Thử, Đồng Nai), 1 link(s), 0 platform(s), 1 probe task(s)" \
        in proc.stdout
    assert "Special user" not in proc.stderr  # systemd-analyze verify: a real system user
    assert (out / "modes.txt").read_text().splitlines() == ["root:netmon-agent 640"] * 2
    unit = (out / "netmon-agent.service").read_text()
    assert "ExecStart=/opt/netmon-agent/bin/netmon probe run\n" in unit
    assert unit == (Path(REPO_ROOT) / "netmon/deploy/systemd/netmon-agent.service").read_text()

    # the agent ran as the unit says: its own user, CAP_NET_RAW and nothing else, no new privileges
    status = dict(line.split(":\t", 1) for line in (out / "status.txt").read_text().splitlines())
    assert status["Uid"].split()[0] != "0" and status["Gid"].split()[0] != "0"
    assert int(status["CapEff"], 16) == int(status["CapBnd"], 16) == int(status["CapAmb"], 16) == CAP_NET_RAW
    assert status["NoNewPrivs"].strip() == "1"
    assert (out / "exit.txt").read_text().strip() == "0"  # SIGTERM: a clean stop
    log = (out / "agent.log").read_text()
    assert "task icmp/lan/loopback every 2s, first run at" in log and "Traceback" not in log
    assert "cannot read" not in log  # the token file is readable by the agent's group

    # it measured: icmp results in its outbox (127.0.0.1 answers in the fresh namespace) and /metrics
    with sqlite3.connect(out / "outbox.sqlite3") as db:
        rows = db.execute("SELECT probe, count(*) FROM results GROUP BY probe").fetchall()
    assert dict(rows).get("icmp", 0) >= 1, rows
    samples = {s.name for family in text_string_to_metric_families((out / "metrics.txt").read_text())
               for s in family.samples}
    assert {"netmon_agent_results_produced_total", "process_resident_memory_bytes"} <= samples
