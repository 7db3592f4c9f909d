"""What one agent POST costs in CPU, with and without ``sniffio`` importable, side by side.

    python bench/httpx_request_cost.py [--requests 3000]

httpcore calls ``current_async_library()`` four times a request, and that function imports
``sniffio``; recent anyio no longer depends on it, so without it each call is a failing import
that searches ``sys.path``. The agent (one batch every ``ship_interval``) barely notices; a
collector's load generator or a box that drains a week of backlog does. Both variants POST the
same gzip'd body with ``httpx.AsyncClient`` (as ``probes/agent/collector_client.py`` does) to a minimal
HTTP/1.1 server on loopback in another process, so only the client's CPU is counted.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

SERVER = r"""
import asyncio, sys
async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length"))
            await reader.readexactly(length)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.sleep(600)
asyncio.run(main())
"""

CLIENT = r"""
import asyncio, gzip, json, os, sys, tempfile, time
if sys.argv[3] == "hidden":
    # as if sniffio were not installed: site-packages replaced by a folder of links to everything but
    # sniffio, so a failing import scans the same sys.path it would
    shadow = tempfile.mkdtemp(prefix="no-sniffio-")
    for i, entry in enumerate(sys.path):
        if entry.endswith("site-packages") and os.path.isdir(os.path.join(entry, "sniffio")):
            for name in os.listdir(entry):
                if not name.startswith("sniffio"):
                    os.symlink(os.path.join(entry, name), os.path.join(shadow, name))
            sys.path[i] = shadow
    import atexit, shutil
    atexit.register(shutil.rmtree, shadow)
import httpx
body = gzip.compress(json.dumps({"results": [{"seq": i, "value": 0.012} for i in range(13)]}).encode())
async def main(port, count):
    headers = {"content-encoding": "gzip", "content-type": "application/json", "authorization": "Bearer x"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        for _ in range(100):
            await client.post("/api/v1/results", content=body, headers=headers)
        assert ("sniffio" in sys.modules) == (sys.argv[3] == "present"), sys.argv[3]
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(count):
            (await client.post("/api/v1/results", content=body, headers=headers)).raise_for_status()
        print(json.dumps({"cpu_us": (time.process_time() - cpu) / count * 1e6,
                          "wall_us": (time.perf_counter() - wall) / count * 1e6}))
asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = server.stdout.readline().strip()
        figures: dict[str, list[float]] = {"present": [], "hidden": []}
        for _ in range(args.rounds):  # alternate, so drift in the machine's load hits both
            for variant in figures:
                out = subprocess.run([sys.executable, "-c", CLIENT, port, str(args.requests), variant],
                                     capture_output=True, text=True, check=True, timeout=300)
                figures[variant].append(json.loads(out.stdout)["cpu_us"])
        for variant, values in figures.items():
            print(f"sniffio {variant:8s}: client CPU per request, median of {args.rounds}: "
                  f"{sorted(values)[len(values) // 2]:.0f} µs  (all: {', '.join(f'{v:.0f}' for v in values)})")
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
