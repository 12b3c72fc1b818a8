"""Instructions per request, counted by valgrind's callgrind: a measure no other process disturbs.

Requests per second move by a few hundredths from run to run on a shared machine; the number of
instructions a request executes does not (the same total twice, whatever else runs). It is not
time (a cache miss or a system call costs more than an instruction), so it complements the
timed runs rather than replacing them::

    python -m benchmarks.instructions                        # action and create, hand and ours
    python -m benchmarks.instructions --workloads retrieve --apps hand,ours --requests 1000

For each app and workload it runs a fresh Python process under ``valgrind --tool=callgrind``
twice, serving ``--warmup`` requests and then ``0`` or ``--requests`` more, with
``PYTHONHASHSEED=0``; the difference divided by ``--requests`` is printed per request, with the
ratio baseline ÷ app (above 1.00: fewer instructions than the baseline). SQLite only: the
database runs in the process, so its work is counted too.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys

from . import database
from .apps import APP_NAMES, build_app
from .asgi import AsgiTarget, Lifespan
from .workloads import WORKLOADS, select

_COLLECTED = re.compile(rb"Collected : (\d+)")


async def _serve(app_name: str, workload_name: str, warmup: int, requests: int) -> None:
    workload = WORKLOADS[workload_name]
    db = database.Database.sqlite_tempfile()
    try:
        await database.init(db.url)
        await database.prepare(db.url)
        app = build_app(app_name)
        async with Lifespan(app) as state:
            target = AsgiTarget(app_name, app, state)
            for i in range(warmup + requests):
                status, body = await target.call(workload.build(i, APP_NAMES.index(app_name)))
                if status != workload.status:
                    raise SystemExit(f"{workload_name} answered {status}: {body[:300]!r}")
    finally:
        await database.close()
        db.cleanup()


def _instructions(app_name: str, workload: str, warmup: int, requests: int) -> int:
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        "-m",
        "benchmarks.instructions",
        "--serve",
        app_name,
        workload,
        str(warmup),
        str(requests),
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, capture_output=True, env=env, check=False)
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"valgrind failed ({done.returncode}):\n{done.stderr.decode()[-2000:]}")
    return int(found.group(1))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instructions", description=__doc__)
    parser.add_argument("--workloads", default="action,create")
    parser.add_argument("--apps", default="hand,ours", help="the first one is the baseline")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--serve", nargs=4, metavar=("APP", "WORKLOAD", "WARMUP", "N"))
    args = parser.parse_args(argv)
    if args.serve:
        app_name, workload, warmup, requests = args.serve
        asyncio.run(_serve(app_name, workload, int(warmup), int(requests)))
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt install valgrind).")
    apps = [a.strip() for a in args.apps.split(",") if a.strip()]
    print(f"{'workload':<14}{'app':<8}{'instructions/request':>22}{'baseline ÷ app':>16}")
    for workload in select(args.workloads):
        baseline: int | None = None
        for app_name in apps:
            if app_name not in workload.apps:
                continue
            fixed = _instructions(app_name, workload.name, args.warmup, 0)
            total = _instructions(app_name, workload.name, args.warmup, args.requests)
            per_request = (total - fixed) // args.requests
            baseline = baseline or per_request
            print(
                f"{workload.name:<14}{app_name:<8}{per_request:>22,}"
                f"{baseline / per_request:>16.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
