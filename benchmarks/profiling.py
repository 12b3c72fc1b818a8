"""``--profile WORKLOAD``: where one app's time goes on one workload.

Runs the workload in-process against one app (``--profile-app``, fastapi_viewsets by default)
for ``--seconds`` under pyinstrument when it is importable, else cProfile, after a warm-up.
With cProfile it prints the functions with the most own time, the ones with the most cumulative
time, and the own time summed per package (FastAPI, Starlette, Pydantic, Tortoise, pypika,
fastapi_viewsets, asyncio...). Time the event loop spends waiting (for the SQLite thread or a
PostgreSQL socket) shows as ``waiting (event loop poll)``, and handing a statement to aiosqlite's
thread (mostly the GIL going to that thread) as ``hand-off to aiosqlite's thread``. cProfile
counts each resumption of a coroutine as a call, so ``ncalls`` of async functions is a multiple
of the requests. Profiling slows everything down: read shares, not absolute times.
"""

from __future__ import annotations

import cProfile
import gc
import importlib.util
import io
import pstats
import site
import sys
import sysconfig
from pathlib import Path

from . import database
from .apps import build_app
from .asgi import AsgiTarget, Lifespan
from .workloads import Workload

__all__ = ("profile_workload",)

ROOT = Path(__file__).resolve().parent.parent

_PACKAGES = (
    "fastapi_viewsets",
    "fastapi",
    "starlette",
    "pydantic_core",
    "pydantic",
    "tortoise",
    "pypika_tortoise",
    "aiosqlite",
    "asyncpg",
    "anyio",
    "benchmarks",
    "asyncio",
    "json",
    "typing",
    "inspect",
    "contextlib",
    "logging",
    "urllib",
)


def _prefixes() -> list[str]:
    found = {str(ROOT) + "/"}
    for path in [*site.getsitepackages(), sysconfig.get_paths()["stdlib"]]:
        found.add(str(Path(path)) + "/")
    return sorted(found, key=len, reverse=True)


def _package(filename: str, function: str) -> str:
    if filename == "~":
        if "poll" in function or "select" in function:
            return "waiting (event loop poll)"
        if "SimpleQueue" in function:
            # aiosqlite hands each statement to its thread with put_nowait; the time is mostly
            # the GIL going to that thread while it runs the statement.
            return "hand-off to aiosqlite's thread"
        if "pydantic_core" in function or "SchemaValidator" in function:
            return "pydantic_core"
        return "C builtins"
    for prefix in _prefixes():
        if filename.startswith(prefix):
            filename = filename[len(prefix) :]
            break
    top = filename.split("/", 1)[0].removesuffix(".py")
    return top if top in _PACKAGES else f"other ({top})"


def _shorten(text: str) -> str:
    for prefix in _prefixes():
        text = text.replace(prefix, "")
    return text


def _by_package(stats: pstats.Stats) -> str:
    totals: dict[str, float] = {}
    raw = stats.stats  # type: ignore[attr-defined]
    for (filename, _line, function), (_cc, _nc, own, _cum, _callers) in raw.items():
        key = _package(filename, function)
        totals[key] = totals.get(key, 0.0) + own
    whole = sum(totals.values()) or 1.0
    lines = [f"{'package':<32} {'own time s':>10} {'share':>7}"]
    for key, value in sorted(totals.items(), key=lambda kv: -kv[1]):
        lines.append(f"{key:<32} {value:>10.3f} {value / whole:>6.1%}")
    return "\n".join(lines)


async def profile_workload(
    workload: Workload,
    app_name: str,
    url: str,
    *,
    seconds: float,
    top: int,
    profiler: str,
) -> None:
    """Profile ``app_name`` serving ``workload`` on ``url`` and print the report."""
    if app_name not in workload.apps:
        raise SystemExit(f"the {app_name} app does not serve the {workload.name} workload")
    use_pyinstrument = profiler == "pyinstrument" or (
        profiler == "auto" and importlib.util.find_spec("pyinstrument") is not None
    )
    await database.init(url)
    try:
        await database.prepare(url)
        app = build_app(app_name)
        async with Lifespan(app) as state:
            target = AsgiTarget(app_name, app, state)
            status, body = await target.call(workload.build(0, 0))
            if status != workload.status:
                raise SystemExit(f"{workload.name} answered {status}: {body[:300]!r}")
            warm = await target.run_slice(workload, 2, 1, min(1.0, seconds))
            unprofiled = warm.rps
            if workload.creates:
                await database.reset_writes()
            gc.collect()
            if use_pyinstrument:
                from pyinstrument import Profiler  # type: ignore[import-not-found]

                instrument = Profiler(interval=0.0002, async_mode="enabled")
                instrument.start()
                result = await target.run_slice(workload, 2, warm.next_index, seconds)
                instrument.stop()
                report = instrument.output_text(unicode=True, color=False, show_all=False)
            else:
                profile = cProfile.Profile()
                profile.enable()
                result = await target.run_slice(workload, 2, warm.next_index, seconds)
                profile.disable()
                report = ""
            if workload.creates:
                await database.reset_writes()
    finally:
        await database.drop(url)
        await database.close()

    n = len(result.latencies_ns)
    print(
        f"\nProfile of {app_name!r} on {workload.name!r} ({workload.title}): {n} requests in "
        f"{result.elapsed_s:.2f} s under the profiler ({n / result.elapsed_s:,.0f}/s; "
        f"{unprofiled:,.0f}/s without it)\n"
    )
    if use_pyinstrument:
        print(report)
        return
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    print("Own time summed per package:\n")
    print(_by_package(stats))
    out.write(f"\nTop {top} functions by own time (tottime):\n")
    stats.sort_stats(pstats.SortKey.TIME).print_stats(top)
    out.write(f"\nTop {top} functions by cumulative time:\n")
    stats.sort_stats(pstats.SortKey.CUMULATIVE).print_stats(top)
    out.write("\nfastapi_viewsets' own functions by cumulative time:\n")
    stats.sort_stats(pstats.SortKey.CUMULATIVE).print_stats("fastapi_viewsets/", top)
    text = _shorten(out.getvalue())
    # pstats repeats a preamble before each listing; keep the listings only.
    print("\n".join(line for line in text.splitlines() if "function calls" not in line))
    sys.stdout.flush()
