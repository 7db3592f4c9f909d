"""Debian's ``snmpd`` inside a lab namespace: the site router's SNMP agent.

Run it in the router namespace: that is the box whose interfaces carry the links, and
``snmpd`` reports the interfaces of the namespace it runs in. Configuration and the
persistent directory live in a temp dir; nothing under /etc/snmp or /var/lib/snmp is read
or written (``-C`` plus ``SNMP_PERSISTENT_DIR``).

The SNMPv3 user is created the way net-snmp documents it: a ``createUser`` line in the
persistent ``snmpd.conf``, which snmpd replaces with a localized ``usmUser`` entry on
shutdown. ``-C`` would skip the persistent file, so it is passed explicitly with ``-c``;
engine ID and ``engineBoots`` survive a restart like on a real router.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from netmon.lab.netns import LabError, Namespace, Proc

SNMPD = "/usr/sbin/snmpd"
SYS_UPTIME_OID = "1.3.6.1.2.1.1.3.0"


@dataclasses.dataclass
class SnmpAgent:
    ns: Namespace
    address: str
    port: int
    community: str
    user: str
    auth_key: str
    priv_key: str
    workdir: Path
    proc: Proc | None = None

    @property
    def persist_dir(self) -> Path:
        return self.workdir / "persist"

    @property
    def log_path(self) -> Path:
        return self.workdir / "snmpd.log"

    def argv(self) -> list[str]:
        confs = f"{self.workdir / 'snmpd.conf'},{self.persist_dir / 'snmpd.conf'}"
        return [SNMPD, "-f", "-Lf", str(self.log_path), "-C", "-c", confs]

    @property
    def transport_address(self) -> str:
        """net-snmp's transport spec: ``udp:10.77.1.1:161`` or ``udp6:[fd77:1::1]:161``."""
        if ":" in self.address:
            return f"udp6:[{self.address}]:{self.port}"
        return f"udp:{self.address}:{self.port}"

    def answers(self) -> bool:
        """One v2c GET of sysUpTime from inside the namespace (the net-snmp CLI)."""
        proc = self.ns.run(
            "env", f"SNMP_PERSISTENT_DIR={self.workdir / 'cli'}", "snmpget", "-v2c", "-c", self.community,
            "-t", "0.3", "-r", "0", "-On", self.transport_address, SYS_UPTIME_OID, check=False, timeout=5,
        )
        return proc.returncode == 0 and "Timeticks" in proc.stdout

    def start(self, ready_timeout: float = 10.0) -> SnmpAgent:
        if self.proc is not None and self.proc.alive():
            raise LabError("snmpd is already running")
        self.proc = self.ns.start(self.argv(), name="snmpd", env={"SNMP_PERSISTENT_DIR": str(self.persist_dir)},
                                  ready=self.answers, ready_timeout=ready_timeout)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
            self.proc = None

    def restart(self) -> None:
        """Stop and start again: sysUpTime starts from 0, engineBoots goes up, counters keep counting."""
        self.stop()
        self.start()


def write_config(agent: SnmpAgent, auth_protocol: str = "SHA-256", priv_protocol: str = "AES",
                 extra: str = "") -> None:
    agent.workdir.mkdir(parents=True, exist_ok=True)
    agent.persist_dir.mkdir(exist_ok=True)
    # read-only everything: v2c community and one v3 user that must use authPriv
    (agent.workdir / "snmpd.conf").write_text(
        f"agentAddress {agent.transport_address}\n"
        f"rocommunity {agent.community} default\n"
        f"rocommunity6 {agent.community} default\n"
        f"rouser {agent.user} priv\n"
        "sysLocation netmon lab\n"
        "sysContact netmon tests\n"
        f"{extra}"
    )
    (agent.persist_dir / "snmpd.conf").write_text(
        f'createUser {agent.user} {auth_protocol} "{agent.auth_key}" {priv_protocol} "{agent.priv_key}"\n'
    )


def start_snmpd(ns: Namespace, address: str, workdir: Path, *, port: int = 161, community: str = "netmon-lab",
                user: str = "netmonv3", auth_key: str = "lab-auth-pass", priv_key: str = "lab-priv-pass",
                auth_protocol: str = "SHA-256", priv_protocol: str = "AES", extra_conf: str = "") -> SnmpAgent:
    """Start ``snmpd`` in ``ns`` listening on ``address:port``; returns once it answers a GET.

    ``extra_conf`` is appended to snmpd.conf (e.g. ``pass`` lines). The lab stops the process
    when it closes; ``agent.restart()`` restarts it on the same persistent state.
    """
    if shutil.which("snmpd") is None and not Path(SNMPD).exists():
        raise LabError("snmpd not found: install Debian's 'snmpd' (scripts/install-system-deps.sh)")
    for key in (auth_key, priv_key):
        if len(key) < 8:
            raise LabError("net-snmp needs SNMPv3 pass phrases of at least 8 characters")
    agent = SnmpAgent(ns=ns, address=address, port=port, community=community, user=user, auth_key=auth_key,
                      priv_key=priv_key, workdir=workdir)
    write_config(agent, auth_protocol, priv_protocol, extra_conf)
    return agent.start()
