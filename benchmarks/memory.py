"""Peak memory of one app serving a list of 1,000 rows, each app in a fresh process.

The parent (``python -m benchmarks``) runs, for each app::

    python -m benchmarks.memory --app ours --db sqlite:///dev/shm/.../bench.sqlite3

which opens Tortoise, builds the one app, runs its lifespan, answers one small list (so lazy
set-up is done), then records its resident set size (``VmRSS``), resets the kernel's peak
(writing ``5`` to ``/proc/self/clear_refs``) and answers ``--requests`` lists of ``--rows`` rows
(``GET /companies?page_size=1000``). Its peak (``VmHWM``; ``ru_maxrss`` where ``/proc`` is not
there) is printed as one JSON line. "peak - start" is what serving the big list added.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import sys
from pathlib import Path
from typing import Any

__all__ = ("measure_memory",)

ROOT = Path(__file__).resolve().parent.parent


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _maxrss_kib() -> int:
    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return value // 1024 if sys.platform == "darwin" else value


async def _child(app_name: str, url: str, rows: int, requests: int, seed: bool) -> dict[str, Any]:
    from . import database
    from .apps import build_app
    from .asgi import AsgiTarget, Lifespan
    from .workloads import Request

    await database.init(url)
    try:
        if seed:
            await database.prepare(url)
        app = build_app(app_name)
        async with Lifespan(app) as state:
            target = AsgiTarget(app_name, app, state)
            status, _ = await target.call(Request("GET", "/companies", "page_size=20"))
            if status != 200:
                raise RuntimeError(f"warm-up list answered {status}")
            gc.collect()
            start = _status_kib("VmRSS") or _maxrss_kib()
            reset = _reset_peak()
            big = Request("GET", "/companies", f"page_size={rows}")
            for _ in range(requests):
                status, body = await target.call(big)
                if status != 200:
                    raise RuntimeError(f"list of {rows} answered {status}: {body[:200]!r}")
                got = len(json.loads(body)["results"])
                if got != rows:
                    raise RuntimeError(f"list of {rows} gave {got} rows")
            peak = (_status_kib("VmHWM") if reset else None) or _maxrss_kib()
    finally:
        await database.close()
    return {
        "app": app_name,
        "rows": rows,
        "requests": requests,
        "start_mib": start / 1024,
        "peak_mib": peak / 1024,
        "peak_reset": reset,
    }


async def measure_memory(
    apps: list[str], url: str, *, seed: bool, rows: int = 1000, requests: int = 3
) -> dict[str, dict[str, Any]]:
    """Run one fresh subprocess per app, one after the other; their figures by app."""
    figures: dict[str, dict[str, Any]] = {}
    for app in apps:
        command = [sys.executable, "-m", "benchmarks.memory", "--app", app, "--db", url]
        command += ["--rows", str(rows), "--requests", str(requests)]
        if seed:
            command.append("--seed")
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(process.communicate(), 180)
        except asyncio.TimeoutError:
            process.kill()
            await process.wait()
            figures[app] = {"error": "timed out"}
            continue
        lines = out.decode().strip().splitlines()
        if process.returncode != 0 or not lines:
            tail = err.decode().strip().splitlines()[-1:] or ["no output"]
            figures[app] = {"error": f"exit {process.returncode}: {tail[0]}"}
            continue
        figures[app] = json.loads(lines[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=3)
    parser.add_argument("--seed", action="store_true", help="create and fill the tables first")
    args = parser.parse_args()
    result = asyncio.run(_child(args.app, args.db, args.rows, args.requests, args.seed))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
