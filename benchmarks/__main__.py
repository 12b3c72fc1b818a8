"""``python -m benchmarks [options]``: run the benchmark suite (options: see ``--help`` and the
package's docstring)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from contextlib import AsyncExitStack
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import database
from .apps import APP_LABELS, APP_NAMES, BENCH_REDIS_URL, OWN_APPS, build_app
from .asgi import AsgiTarget, Lifespan
from .database import DEFAULT_PG_URL, Database, is_postgres
from .loadgen import HttpTarget
from .memory import measure_memory
from .report import Verdict, format_memory, format_table, verdicts
from .results import DbResults
from .runner import Target, log, measure
from .server import HOST, ServerProcess
from .workloads import WORKLOADS, Workload, select

ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark fastapi_viewsets against a careful hand-written FastAPI app and "
        "Tortoise's from_queryset idiom, on the same data.",
    )
    parser.add_argument("--mode", choices=("asgi", "uvicorn"), default="asgi")
    parser.add_argument("--db", action="append", metavar="URL", help="sqlite | postgres://...")
    parser.add_argument("--all-dbs", action="store_true", help="SQLite and PostgreSQL")
    parser.add_argument("--quick", action="store_true", help="about 30 seconds in all")
    parser.add_argument("--seconds", type=float, help="measured s per app and workload")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 12)")
    parser.add_argument("--connections", type=int, default=4, help="uvicorn mode (default 4)")
    parser.add_argument("--workloads", help=f"comma-separated: {', '.join(WORKLOADS)}")
    parser.add_argument("--apps", help=f"comma-separated: {', '.join(APP_NAMES)}")
    parser.add_argument("--no-memory", action="store_true", help="skip peak-RSS measurement")
    parser.add_argument("--memory-rows", type=int, default=1000, help="rows of the big list")
    parser.add_argument("--profile", metavar="WORKLOAD", help="profile one workload instead")
    parser.add_argument("--profile-app", default="ours", choices=APP_NAMES)
    parser.add_argument("--profile-top", type=int, default=25)
    parser.add_argument("--profiler", choices=("auto", "cprofile", "pyinstrument"), default="auto")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--judge",
        choices=("rps", "cpu"),
        default="rps",
        help="what PASS/MISS compares: requests/s (default) or CPU time per request, steadier "
        "on a shared machine",
    )
    args = parser.parse_args(argv)
    if args.seconds is None:
        args.seconds = 0.8 if args.quick else 3.0
    if args.rounds is None:
        args.rounds = 5 if args.quick else 12
    if args.seconds <= 0 or args.rounds < 1 or args.connections < 1:
        parser.error("--seconds must be positive, --rounds and --connections at least 1")
    return args


# --- the machine ---------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "-"


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except OSError:
        return "-"
    return out.stdout.strip() or "-"


def machine() -> dict[str, Any]:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpus": os.cpu_count(),
        "usable_cpus": usable,
        "cpu_model": _cpu_model(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "commit": _commit(),
        "versions": {
            p: _version(p)
            for p in (
                "fastapi",
                "starlette",
                "pydantic",
                "pydantic-core",
                "tortoise-orm",
                "uvicorn",
                "aiosqlite",
                "asyncpg",
            )
        },
    }


def describe_machine(info: dict[str, Any]) -> str:
    load = info["load_average"]
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    return (
        f"Machine: {info['cpus']} CPUs ({info['usable_cpus']} usable), {info['cpu_model']}; "
        f"{info['implementation']} {info['python']}; load average "
        f"{' '.join(f'{x:.2f}' for x in load) if load else '-'}\n"
        f"Versions: {versions}; fastapi_viewsets at {info['commit']}"
    )


# --- one database ----------------------------------------------------------------------------


def _reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), 2):
            return True
    except OSError:
        return False


async def run_asgi(
    apps: list[str], workloads: list[Workload], results: DbResults, args: argparse.Namespace
) -> None:
    async with AsyncExitStack() as stack:
        targets: dict[str, Target] = {}
        for name in apps:
            app = build_app(name)
            state = await stack.enter_async_context(Lifespan(app))
            targets[name] = AsgiTarget(name, app, state)
        await measure(
            targets,
            workloads,
            results,
            rounds=args.rounds,
            slice_seconds=args.seconds / args.rounds,
            warmup_seconds=min(0.3, args.seconds / args.rounds),
            count_queries=True,
        )


async def run_uvicorn(
    apps: list[str],
    workloads: list[Workload],
    results: DbResults,
    args: argparse.Namespace,
    url: str,
) -> None:
    servers = [ServerProcess(name, url) for name in apps]
    try:
        for server in servers:
            port = await server.start()
            log(f"  {server.app} listening on {HOST}:{port}")
        targets: dict[str, Target] = {
            s.app: HttpTarget(s.app, HOST, s.port, args.connections, s.pid) for s in servers
        }
        await measure(
            targets,
            workloads,
            results,
            rounds=args.rounds,
            slice_seconds=args.seconds / args.rounds,
            warmup_seconds=min(0.5, args.seconds / args.rounds),
            count_queries=False,
        )
    finally:
        for server in servers:
            await server.stop()


async def run_database(
    db: Database, apps: list[str], workloads: list[Workload], args: argparse.Namespace
) -> DbResults:
    postgres = is_postgres(db.url)
    results = DbResults(
        db_label=db.label,
        postgres=postgres,
        mode=args.mode,
        rounds=args.rounds,
        slice_seconds=args.seconds / args.rounds,
        connections=args.connections if args.mode == "uvicorn" else 1,
        judge=args.judge,
    )
    log(f"\n{db.label} ({_redact(db.url)}), {args.mode} mode: preparing the data")
    await database.init(db.url)
    try:
        await database.prepare(db.url)
        if "throttled_redis" in apps and any(w.round_trip for w in workloads):
            results.round_trip_us = await redis_round_trip_us(BENCH_REDIS_URL)
            if results.round_trip_us is not None:
                log(f"  a Redis PING takes {results.round_trip_us:,.0f} µs in this process")
        if args.mode == "asgi":
            await run_asgi(apps, workloads, results, args)
        else:
            await run_uvicorn(apps, workloads, results, args, db.url)
        if not args.no_memory:
            log(f"  memory: a list of {args.memory_rows} rows, each app in a fresh process")
            results.memory = await measure_memory(
                [a for a in apps if a not in OWN_APPS],
                db.url,
                seed=db.in_memory,
                rows=args.memory_rows,
                requests=2 if args.quick else 3,
            )
    finally:
        await database.drop(db.url)
        await database.close()
        db.cleanup()
    return results


async def redis_round_trip_us(url: str, count: int = 2000) -> float | None:
    """The median of ``count`` Redis ``PING``s from this process, in µs (``None`` if Redis is
    down)."""
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(url, socket_connect_timeout=1)
    try:
        await client.ping()
        times = []
        for _ in range(count):
            start = time.perf_counter()
            await client.ping()
            times.append(time.perf_counter() - start)
    except redis.RedisError as exc:
        log(f"  Redis at {_redact(url)} is not reachable ({exc}): throttle_redis is not judged")
        return None
    finally:
        await client.aclose()
    times.sort()
    return times[len(times) // 2] * 1e6


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


# --- the whole run ---------------------------------------------------------------------------


def choose_databases(args: argparse.Namespace) -> list[str]:
    urls = list(args.db or [])
    if args.all_dbs:
        pg = os.environ.get("BENCH_PG_URL") or DEFAULT_PG_URL
        urls = ["sqlite", pg] + [u for u in urls if u not in ("sqlite", pg)]
    return urls or ["sqlite"]


def choose_apps(args: argparse.Namespace) -> list[str]:
    if not args.apps:
        return list(APP_NAMES)
    names = [a.strip() for a in args.apps.split(",") if a.strip()]
    for name in names:
        if name not in APP_NAMES:
            raise SystemExit(f"unknown app {name!r}; choose from {', '.join(APP_NAMES)}")
    return [a for a in APP_NAMES if a == "hand" or a in names]


def print_results(results: DbResults, workloads: list[Workload], args: argparse.Namespace) -> None:
    if results.mode == "asgi":
        how = "in-process ASGI calls, one request at a time"
    else:
        how = f"uvicorn on {HOST}, {results.connections} keep-alive connections"
    print(
        f"\n## {results.db_label}: {how}; {results.rounds} rounds x "
        f"{results.slice_seconds:.2f} s per app, apps interleaved\n"
    )
    print(format_table(results, workloads))
    if results.memory:
        print(
            f"\nPeak memory serving a list of {args.memory_rows} rows (each app in a fresh "
            "process; x = app ÷ baseline, below 1.00 uses less):\n"
        )
        print(format_memory(results.memory))


async def main_async(args: argparse.Namespace) -> int:
    info = machine()
    print(describe_machine(info))
    if args.profile:
        from .profiling import profile_workload

        workload = select(args.profile)[0]
        url = choose_databases(args)[0]
        db = Database.from_url(url)
        try:
            await profile_workload(
                workload,
                args.profile_app,
                db.url,
                seconds=args.seconds,
                top=args.profile_top,
                profiler=args.profiler,
            )
        finally:
            db.cleanup()
        return 0

    workloads = select(args.workloads)
    apps = choose_apps(args)
    urls = choose_databases(args)
    pairs = sum(len([a for a in w.apps if a in apps]) for w in workloads)
    estimate = len(urls) * pairs * (args.seconds + min(0.5, args.seconds / args.rounds))
    print(
        f"Apps: {', '.join(APP_LABELS[a] for a in apps)}\n"
        f"Timing: {args.seconds:g} s per app and workload in {args.rounds} rounds; about "
        f"{estimate:.0f} s of requests plus set-up and memory runs\n"
        "Ratios (x) are speed-ups against the baseline measured in the same run.",
        flush=True,
    )
    all_results: list[DbResults] = []
    started = time.perf_counter()
    for url in urls:
        if is_postgres(url) and not _reachable(url):
            message = f"PostgreSQL at {_redact(url)} is not reachable"
            if args.all_dbs and url not in (args.db or []):
                log(f"\n{message}; skipped")
                continue
            raise SystemExit(message)
        db = Database.from_url(url)
        if args.mode == "uvicorn" and db.in_memory:
            db.cleanup()
            raise SystemExit("--mode uvicorn needs a database file or server, not :memory:")
        results = await run_database(db, apps, workloads, args)
        all_results.append(results)
        print_results(results, workloads, args)

    found: list[Verdict] = [v for r in all_results for v in verdicts(r, workloads)]
    if found:
        what = (
            "CPU per request: baseline ÷ ours" if args.judge == "cpu" else "req/s: ours ÷ baseline"
        )
        print(f"\n## Targets of fastapi_viewsets ({what})\n")
        for db_label, name, _app, ratio, target, mark in found:
            print(f"{mark:<7} {db_label:<11} {name:<16} {ratio:5.2f}x  (target ≥{target:.2f})")
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(
        f"\nTook {time.perf_counter() - started:.0f} s. Load average at the end: "
        f"{' '.join(f'{x:.2f}' for x in load) if load else '-'}"
        + (
            " (other work shared the machine: read the round ranges)"
            if load and load[0] > 1
            else ""
        )
    )
    if args.json:
        payload = {
            "machine": info,
            "args": vars(args),
            "results": [
                {
                    "db": r.db_label,
                    "mode": r.mode,
                    "rounds": r.rounds,
                    "slice_seconds": r.slice_seconds,
                    "connections": r.connections,
                    "workloads": {
                        w: {app: s.as_dict() for app, s in samples.items()}
                        for w, samples in r.samples.items()
                    },
                    "memory": r.memory,
                }
                for r in all_results
            ],
            "verdicts": [
                {"db": v[0], "workload": v[1], "ratio": v[3], "target": v[4], "result": v[5]}
                for v in found
            ],
        }
        await asyncio.to_thread(Path(args.json).write_text, json.dumps(payload, indent=2))
        print(f"Results written to {args.json}")
    if args.check and any(v[5] != "PASS" for v in found):
        return 1
    return 0


async def run_cancellable(args: argparse.Namespace) -> int:
    """``main_async``, cancelled (so every ``finally`` runs and servers stop) on SIGTERM."""
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    if task is not None and hasattr(signal, "SIGTERM"):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGTERM, task.cancel)
    return await main_async(args)


def main() -> None:
    args = parse_args()
    try:
        sys.exit(asyncio.run(run_cancellable(args)))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("\nInterrupted; servers and temporary files were cleaned up.", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
