"""A process that owns an AlertEngine and is driven line by line on stdin (tests kill it with SIGKILL).

    python -m tests.alerting.engine_driver STATE WEBHOOK_URL       (STATE: a SQLite file or a postgresql:// DSN)
    {"op": "util", "t": 1751331600, "ratio": 0.97}   -> observe one SNMP result of site 26000
    {"op": "tick", "now": ...} / {"op": "deliver", "now": ...}
Each line is answered with one JSON line once done.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from netmon.statedb import StateLocation
from tests.alerting.helpers import alerting_config, engine, registry, utilisation


async def main(state: str, url: str) -> None:
    reg = registry(1)
    if state.startswith("postgresql://"):
        location = StateLocation(state_dir=Path("."), instance="driver", postgres_dsn=state)
    else:
        location = StateLocation(state_dir=Path(state).parent, instance="driver")
    eng = engine(location, alerting_config([{"name": "hook", "type": "webhook", "url": url}]), reg)
    site = reg.sites[0]
    for line in sys.stdin:
        cmd = json.loads(line)
        answer: dict[str, object] = {"op": cmd["op"]}
        if cmd["op"] == "util":
            eng.observe(site, [utilisation(site.id, cmd["t"], cmd["ratio"])], cmd["t"])
        elif cmd["op"] == "tick":
            answer["queued"] = eng.tick(cmd["now"])
        elif cmd["op"] == "deliver":
            answer["sent"] = await eng.deliver(cmd["now"])
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
