"""Ingest load: N simulated sites post batches to the real collector and to a bare FastAPI endpoint.

    python bench/ingest_load.py --sites 200 --batch 100 --connections 32 --duration 10

Each server runs as one uvicorn process pinned to CPU 0 (``taskset``); this load generator
pins itself to CPU 1 and speaks raw HTTP/1.1 over asyncio streams (httpx tops out near
250 requests/s). Bodies are built and gzipped before the clock starts, with fresh seqs, so
every result the collector counts is a new one going through auth, gunzip, validation,
de-duplication, the group-committed journal (synchronous=FULL) and the sinks. Prints
results/s, p50/p99 latency and the server's CPU use, side by side, in one run. Loopback only.

``--postgres`` adds two collectors on one PostgreSQL (``state.postgres``: alert state and tokens
shared), both pinned to the server CPU, the sites split between them, their CPU time added up:
results per collector CPU-second beside the SQLite collector's and the bare endpoint's.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from netmon.lab.collector import lab_site, netmon_env, write_central, write_registry  # noqa: E402
from netmon.lab.procstat import cpu_seconds  # noqa: E402
from netmon.lab.topology import free_port  # noqa: E402

HOST = "127.0.0.1"
RECORD = ('{{"site_id":"{site}","agent_id":"{site}-agent","seq":{seq},"probe":"icmp","link":"leased",'
          '"link_kind":"leased_line","target":"isp-edge","time_ns":{t},"status":"ok","values":'
          '{{"rtt_min_seconds":0.011,"rtt_avg_seconds":0.0{ms},"rtt_max_seconds":0.019,"jitter_seconds":0.001,'
          '"loss_ratio":0.0,"sent_packets":5.0,"received_packets":5.0}}}}')


def build_bodies(sites: list[str], batch: int, batches_per_site: int, compress: bool) -> list[list[bytes]]:
    t0 = time.time_ns() - 86400 * 10**9
    out = []
    for site in sites:
        mine = []
        for b in range(batches_per_site):
            records = ",".join(RECORD.format(site=site, seq=b * batch + i + 1, t=t0 + (b * batch + i) * 10**9,
                                             ms=10 + i % 9) for i in range(batch))
            body = f'{{"site_id":"{site}","agent_id":"{site}-agent","results":[{records}]}}'.encode()
            mine.append(gzip.compress(body, 6) if compress else body)
        out.append(mine)
    return out




async def connection(port: int, work: list[tuple[str, bytes]], compress: bool, deadline: float,
                     latencies: list[float], counts: dict[str, int], interval: float = 0.0,
                     offset: float = 0.0) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    # paced connections start staggered, so requests arrive evenly rather than in bursts of all of them
    next_send = time.perf_counter() + offset - interval
    accepted = re.compile(rb'"accepted":(\d+)')
    encoding = "Content-Encoding: gzip\r\n" if compress else ""
    try:
        for token, body in work:
            if time.perf_counter() > deadline:
                return
            if interval:  # paced: this connection's share of --paced-rate
                next_send += interval
                await asyncio.sleep(max(0.0, next_send - time.perf_counter()))
            head = (f"POST /api/v1/results HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {token}\r\n"
                    f"Content-Type: application/json\r\n{encoding}Content-Length: {len(body)}\r\n\r\n").encode()
            started = time.perf_counter()
            writer.write(head + body)
            headers = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", headers).group(1))  # type: ignore[union-attr]
            reply = await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if headers.startswith(b"HTTP/1.1 200"):
                match = accepted.search(reply)
                counts["accepted"] += int(match.group(1)) if match else 0
                counts["ok"] += 1
            else:
                counts["errors"] += 1
                if counts["errors"] < 3:
                    print(f"  error: {headers.split(b' ', 2)[1].decode()} {reply[:200]!r}", file=sys.stderr)
    finally:
        writer.close()


async def load(ports: list[int], bodies: list[list[bytes]], tokens: list[str], args: argparse.Namespace,
               compress: bool, rate: float = 0.0) -> dict[str, float]:
    """Connection i speaks to ``ports[i % len(ports)]`` (several collectors: each site sticks to one)."""
    per_conn: list[list[tuple[str, bytes]]] = [[] for _ in range(args.connections)]
    for i, (token, mine) in enumerate(zip(tokens, bodies, strict=True)):
        per_conn[i % args.connections].append((token, mine))  # type: ignore[arg-type]
    work = [[(tok, body) for round_ in zip(*[m for _, m in conn], strict=True)  # type: ignore[misc]
             for (tok, _), body in zip(conn, round_, strict=True)] for conn in per_conn]  # type: ignore[misc]
    latencies: list[float] = []
    counts = [{"accepted": 0, "ok": 0, "errors": 0} for _ in ports]
    started = time.perf_counter()
    deadline = started + args.duration
    interval = args.connections * args.batch / rate if rate else 0.0
    await asyncio.gather(*(connection(ports[i % len(ports)], w, compress, deadline, latencies,
                                      counts[i % len(ports)], interval, interval * i / len(work))
                           for i, w in enumerate(work)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    total = {key: sum(c[key] for c in counts) for key in counts[0]}
    result = {"results_per_second": total["accepted"] / elapsed, "requests_per_second": total["ok"] / elapsed,
              "p50_ms": latencies[len(latencies) // 2] * 1000, "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
              "errors": total["errors"], "seconds": elapsed, "accepted": total["accepted"]}
    for n, c in enumerate(counts):
        result[f"accepted_{n}"] = c["accepted"]
    return result


def wait_ready(port: int, proc: subprocess.Popen[bytes], path: str) -> None:
    import urllib.request
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            urllib.request.urlopen(f"http://{HOST}:{port}{path}", timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("server not ready")


def stats_totals(port: int, viewer: str) -> dict[str, float]:
    import json
    import urllib.request
    request = urllib.request.Request(f"http://{HOST}:{port}/api/v1/stats",
                                     headers={"Authorization": f"Bearer {viewer}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["totals"]  # type: ignore[no-any-return]


def run_target(name: str, argv: list[str] | list[list[str]], port: int | list[int], ready_path: str,
               bodies: list[list[bytes]], tokens: list[str], args: argparse.Namespace, workdir: Path,
               viewer: str | None = None, rate: float = 0.0, tree: Path = ROOT) -> dict[str, float]:
    """One server, or several side by side (a list of argvs and ports): the load is spread over them
    and their CPU time added up."""
    argvs = argv if argv and isinstance(argv[0], list) else [argv]
    ports = port if isinstance(port, list) else [port]
    logs, procs = [], []
    try:
        for n, one in enumerate(argvs):
            logs.append(open(workdir / f"{name}-{n}.log", "wb"))  # noqa: SIM115
            procs.append(subprocess.Popen(["taskset", "-c", str(args.server_cpu), *one], stdout=logs[-1],
                                          stderr=subprocess.STDOUT, cwd=tree,
                                          env=netmon_env(NETMON_LOG_LEVEL="warning", PYTHONPATH=str(tree))))
        for one_port, proc in zip(ports, procs, strict=True):
            wait_ready(one_port, proc, ready_path)
        cpu_before, client_before = sum(cpu_seconds(p.pid) for p in procs), time.process_time()
        result = asyncio.run(load(ports, bodies, tokens, args, not args.no_gzip, rate))
        result["server_cpu_ratio"] = (sum(cpu_seconds(p.pid) for p in procs) - cpu_before) / result["seconds"]
        result["client_cpu_ratio"] = (time.process_time() - client_before) / result["seconds"]
        if viewer is not None:  # what the load generator counted is what the collectors hold
            pending = 0.0
            # several collectors share their counts (PostgreSQL): each serves the sum, once every
            # one has pushed its outbox (a read pushes the reader's own; the others' follow within 0.5 s)
            sent = sum(result[f"accepted_{n}"] for n in range(len(ports)))
            deadline = time.monotonic() + 10
            while True:
                every = [stats_totals(one_port, viewer) for one_port in ports]
                held = [totals["accepted"] for totals in every]
                if all(h == sent for h in held) or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert all(h == sent for h in held), f"collectors hold {held}, load generator counted {sent}"
            for totals in every:
                pending += totals["journal_pending_results"]
                result["tsdb_lag_s"] = max(result.get("tsdb_lag_s", 0.0), totals["tsdb_write_lag_seconds"])
            result["tsdb_pending"] = pending
            if pending:  # how fast the backlog drains once the load stops (bounded wait)
                started = time.perf_counter()

                def left() -> float:
                    return sum(stats_totals(p, viewer)["journal_pending_results"] for p in ports)  # type: ignore[arg-type]

                while left() and time.perf_counter() - started < 60:
                    time.sleep(0.2)
                result["drain_per_second"] = (pending - left()) / (time.perf_counter() - started)
        return result
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(15)
        for log in logs:
            log.close()


def tree_commit(tree: Path) -> str:
    out = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return out.stdout.strip() or tree.name


def enrol_all(config: Path, sites: list[str]) -> tuple[list[str], str]:
    """Tokens for every site, straight into the collector's token store — sites.db, or PostgreSQL
    with ``state.postgres`` (the CLI would take ~1 s per site) — and a viewer token for /api/v1/stats."""
    from netmon.collectors.abc import Role
    from netmon.collectors.settings import ServiceSettings, state_location
    from netmon.collectors.sqlite import SITES_DB, connect
    from netmon.collectors.token_stores import open_token_store
    from netmon.config.central import load_central

    central = load_central(config)
    Path(central.state_dir).mkdir(parents=True, exist_ok=True)
    store = open_token_store(state_location(central, str(config), ServiceSettings()),
                             connect(Path(central.state_dir) / SITES_DB), watch=False)
    try:
        return [store.enrol(site) for site in sites], store.issue(Role.VIEWER, "bench")
    finally:
        store.close()


def postgres_pair(run_dir: Path, registry: Path, dsn: str, influx: dict[str, object]) -> tuple[list[Path], list[int]]:
    """Two collectors on one PostgreSQL (alert state, tokens), each with its own journal, both
    writing to the same TSDB."""
    (run_dir / "state.dsn").write_text(dsn + "\n")
    configs, ports = [], []
    for name in ("a", "b"):
        (run_dir / name).mkdir()
        ports.append(free_port(HOST))
        configs.append(write_central(run_dir / name, registry, port=ports[-1], influx=influx,
                                     state={"postgres": {"dsn_file": str(run_dir / "state.dsn")},
                                            "instance": f"bench-{name}"}))
    return configs, ports


def postgres_rows(args: argparse.Namespace, workdir: Path, registry: Path, sites: list[str],
                  bodies: list[list[bytes]]) -> list[tuple[str, dict[str, float]]]:
    from netmon.lab.collector import influx_settings
    from netmon.lab.postgres import start_postgres
    from netmon.lab.services import start_victoriametrics

    rows = []
    with start_postgres() as postgres:
        os.sched_setaffinity(postgres.popen.pid, {args.client_cpu})  # type: ignore[union-attr]
        rates = [0.0, *(float(r) for r in args.paced_rates.split(",") if r.strip() and float(r) > 0)]
        for n, rate in enumerate(rates):
            run_dir = workdir / f"postgres-{n}"
            run_dir.mkdir()
            server = start_victoriametrics(run_dir / "vm")
            os.sched_setaffinity(server.proc.pid, {args.client_cpu})
            try:
                configs, ports = postgres_pair(run_dir, registry, postgres.create_database(),
                                               influx_settings(server, "v2"))
                tokens, viewer = enrol_all(configs[0], sites)
                argvs = [[sys.executable, "-m", "netmon", "collector", "serve", "--config", str(c)] for c in configs]
                label = ("2 collectors on PostgreSQL + TSDB writer" if not rate
                         else f"  the same, paced at {rate:,.0f} results/s")
                rows.append((label, run_target("pg", argvs, ports, "/healthz", bodies, tokens, args, run_dir,
                                               viewer=viewer, rate=rate)))
            finally:
                server.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sites", type=int, default=200)
    parser.add_argument("--batch", type=int, default=100, help="results per batch")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per target (bounded)")
    parser.add_argument("--max-results", type=int, default=1_200_000, help="results pre-built per target")
    parser.add_argument("--no-gzip", action="store_true")
    parser.add_argument("--no-tsdb", action="store_true", help="skip the runs with VictoriaMetrics")
    parser.add_argument("--paced-rates", default="4400,44000",
                        help="also run at these fixed rates (default: the country at go-live, and 10x); '' skips")
    parser.add_argument("--baseline-tree", type=Path, default=None,
                        help="another checkout of netmon (e.g. `git worktree add /tmp/old <commit>`): its collector "
                             "runs SQLite-only beside this one's, alternating, --rounds times")
    parser.add_argument("--rounds", type=int, default=1, help="alternations with --baseline-tree")
    parser.add_argument("--postgres", action="store_true",
                        help="also run two collectors on one PostgreSQL (state.postgres), the load spread over both")
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--client-cpu", type=int, default=1)
    args = parser.parse_args()
    if shutil.which("taskset") is None:
        raise SystemExit("taskset (util-linux) is needed to pin the servers to one core")
    os.sched_setaffinity(0, {args.client_cpu})
    sites = [str(30000 + i) for i in range(args.sites)]
    per_site = max(1, args.max_results // (args.sites * args.batch))
    t = time.perf_counter()
    bodies = build_bodies(sites, args.batch, per_site, not args.no_gzip)
    size = sum(len(b) for b in bodies[0]) / len(bodies[0])
    print(f"built {args.sites * per_site} batches of {args.batch} results ({size / 1024:.1f} KiB each"
          f"{', gzip' if not args.no_gzip else ''}) in {time.perf_counter() - t:.1f} s")
    with tempfile.TemporaryDirectory(prefix="netmon-bench-") as tmp:
        workdir = Path(tmp)
        registry = write_registry(workdir / "sites.yaml", [lab_site(s) for s in sites])
        rows = []
        bare_port = free_port(HOST)
        bare = [sys.executable, "-m", "uvicorn", "bench.bare_app:app", "--host", HOST, "--port", str(bare_port),
                "--no-access-log", "--log-level", "warning"]
        rows.append(("bare FastAPI, validate_json only",
                     run_target("bare", bare, bare_port, "/docs", bodies, [""] * len(sites), args, workdir)))
        targets: list[tuple[str, str | None, float, Path]] = [("netmon collector, SQLite only", None, 0.0, ROOT)]
        if args.baseline_tree is not None:
            base = args.baseline_tree.resolve()
            targets = [t for _ in range(args.rounds) for t in (
                (f"netmon collector at {tree_commit(base)}, SQLite only", None, 0.0, base),
                (f"netmon collector at {tree_commit(ROOT)}, SQLite only", None, 0.0, ROOT))]
        if not args.no_tsdb:
            targets.append(("netmon collector + TSDB writer (VictoriaMetrics)", "vm", 0.0, ROOT))
            for rate in (float(r) for r in args.paced_rates.split(",") if r.strip() and float(r) > 0):
                targets.append((f"  the same, paced at {rate:,.0f} results/s", "vm", rate, ROOT))
        for n, (label, tsdb, rate, tree) in enumerate(targets):
            run_dir = workdir / f"{tsdb or 'embedded'}-{n}"
            run_dir.mkdir()
            server = None
            if tsdb:
                from netmon.lab.collector import influx_settings
                from netmon.lab.services import start_victoriametrics
                server = start_victoriametrics(run_dir / "vm")
                os.sched_setaffinity(server.proc.pid, {args.client_cpu})  # keep the server core to the collector
            port = free_port(HOST)
            config = write_central(run_dir, registry, port=port,
                                   influx=influx_settings(server, "v2") if server else None)
            tokens, viewer = enrol_all(config, sites)
            collector = [sys.executable, "-m", "netmon", "collector", "serve", "--config", str(config)]
            try:
                rows.append((label, run_target("collector", collector, port, "/healthz", bodies, tokens, args,
                                               run_dir, viewer=viewer, rate=rate, tree=tree)))
            finally:
                if server:
                    server.stop()
        if args.postgres:
            rows += postgres_rows(args, workdir, registry, sites, bodies)
    print(f"\n{args.sites} sites, {args.connections} connections, batches of {args.batch}, "
          f"server on CPU {args.server_cpu}, load generator on CPU {args.client_cpu}")
    print(f"{'target':<50} {'results/s':>10} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'server CPU':>10} "
          f"{'client CPU':>10} {'results/CPU-s':>13} {'errors':>6}")
    for name, r in rows:
        print(f"{name:<50} {r['results_per_second']:>10,.0f} {r['requests_per_second']:>7,.0f} "
              f"{r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f} {r['server_cpu_ratio']:>10.2f} {r['client_cpu_ratio']:>10.2f} "
              f"{r['results_per_second'] / max(r['server_cpu_ratio'], 1e-9):>13,.0f} {r['errors']:>6.0f}")
    print("results/CPU-s: accepted results per second of server CPU time — what one whole core would carry,\n"
          "comparable between runs on a shared machine where the server does not get the whole core.")
    for name, r in rows:
        if "tsdb_pending" in r and "TSDB" in name and "drain_per_second" in r:
            print(f"{name}: at the end {r['tsdb_pending']:,.0f} results waited for the TSDB "
                  f"(write lag {r['tsdb_lag_s']:.1f} s); with the load stopped the writer drained "
                  f"{r.get('drain_per_second', 0):,.0f} results/s")


if __name__ == "__main__":
    main()
