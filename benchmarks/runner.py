"""The measuring loop shared by both modes: check, warm up, then interleaved rounds.

For each workload:

1. **check**: one request to each app; its status must be the expected one and its JSON answer
   must equal the baseline's (lists compared by id, ``volatile`` fields by presence). In-process,
   the SQL statements of that request are counted with ``fastapi_viewsets.testing
   .capture_queries``. An app that fails the check is not timed on that workload and the table
   says why.
2. **warm-up**: a short unmeasured slice per app.
3. **rounds**: in each round every app gets one slice of ``slice_seconds``; the order of the apps
   rotates from round to round (A B C, B C A, C A B...), so drift in the machine's speed falls on
   every app alike. ``gc.collect()`` runs before each slice (outside it), so one app's garbage is
   not collected on another's time, and rows made by ``create`` are deleted after each slice.
"""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Sequence
from typing import Any, Protocol

from fastapi_viewsets.testing import capture_queries

from . import database
from .apps import APP_NAMES
from .results import DbResults, SliceResult
from .workloads import Workload, normalise

__all__ = ("Target", "measure")


class Target(Protocol):
    """An app that requests can be sent to: in-process or behind a uvicorn server."""

    name: str

    async def call(self, request: Any) -> tuple[int, bytes]: ...

    async def run_slice(
        self, workload: Workload, app_index: int, first: int, seconds: float
    ) -> SliceResult: ...


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def first_difference(a: Any, b: Any, path: str = "$") -> str | None:
    """Where two JSON values first differ, as a short description; ``None`` when equal."""
    if type(a) is not type(b):
        return f"{path}: {a!r:.60} vs {b!r:.60}"
    if isinstance(a, dict):
        if a.keys() != b.keys():
            return f"{path}: keys {sorted(a)} vs {sorted(b)}"
        for key in a:
            found = first_difference(a[key], b[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items vs {len(b)}"
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            found = first_difference(x, y, f"{path}[{index}]")
            if found:
                return found
        return None
    return None if a == b else f"{path}: {a!r:.60} vs {b!r:.60}"


async def check(
    workload: Workload,
    targets: dict[str, Target],
    results: DbResults,
    count_queries: bool,
) -> list[str]:
    """Send one request to each app; return the apps whose answer is right (to be timed)."""
    answers: dict[str, Any] = {}
    good: list[str] = []
    for app in workload.apps:
        if app not in targets:
            continue
        sample = results.sample(workload.name, app)
        request = workload.build(0, APP_NAMES.index(app))
        if count_queries:
            with capture_queries() as captured:
                status, body = await targets[app].call(request)
            sample.queries = len(captured)
        else:
            status, body = await targets[app].call(request)
        if workload.creates:
            await database.reset_writes()
        if status != workload.status:
            text = body[:300].decode(errors="replace")
            sample.problem = f"answered {status} (expected {workload.status}): {text}"
            continue
        try:
            answers[app] = normalise(json.loads(body), workload.volatile)
        except ValueError:
            sample.problem = f"answer is not JSON: {body[:100]!r}"
            continue
        good.append(app)
    base = answers.get(workload.baseline)
    if base is not None:
        for app in list(good):
            if app == workload.baseline:
                continue
            difference = first_difference(base, answers[app])
            if difference:
                # Still timed: a different answer is reported, not hidden.
                sample = results.sample(workload.name, app)
                sample.problem = f"answer differs from {workload.baseline}: {difference}"
    return good


async def measure(
    targets: dict[str, Target],
    workloads: Sequence[Workload],
    results: DbResults,
    *,
    rounds: int,
    slice_seconds: float,
    warmup_seconds: float,
    count_queries: bool,
) -> None:
    """Fill ``results`` for every workload, as described in the module's docstring."""
    counters: dict[tuple[str, str], int] = {}
    for workload in workloads:
        apps = await check(workload, targets, results, count_queries)
        if workload.baseline not in apps:
            log(f"  {workload.name}: the baseline failed its check; not timed")
            continue
        for app in apps:
            key = (workload.name, app)
            result = await targets[app].run_slice(
                workload, APP_NAMES.index(app), counters.get(key, 1), warmup_seconds
            )
            counters[key] = result.next_index
            if workload.creates:
                await database.reset_writes()
        for round_index in range(rounds):
            shift = round_index % len(apps)
            for app in apps[shift:] + apps[:shift]:
                key = (workload.name, app)
                gc.collect()
                result = await targets[app].run_slice(
                    workload, APP_NAMES.index(app), counters[key], slice_seconds
                )
                counters[key] = result.next_index
                results.sample(workload.name, app).add(result)
                if workload.creates:
                    await database.reset_writes()
        figures = ", ".join(
            f"{app} {results.samples[workload.name][app].rps:,.0f}/s" for app in apps
        )
        log(f"  {workload.name:<14} {figures}")
