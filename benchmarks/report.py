"""Printing a run's results: the throughput/latency table, the memory table, PASS/MISS.

Every ``x`` column is a speed-up against the baseline measured in the same run: requests per
second divided by the baseline's, and for CPU time per request and latencies the baseline's
figure divided by the app's. Above 1.00 is faster than the baseline, below is slower.

``rounds x`` is the lowest, median and highest ratio of single rounds (an app's slice against
the baseline's slice of the same round): a wide range means a noisy machine, and the median is
the figure least moved by a stall. ``q`` is the number of SQL statements one request ran, as
Tortoise logs them (a transaction's ``BEGIN`` and ``COMMIT`` are not logged, so not counted);
in-process mode only.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from .apps import APP_LABELS
from .results import DbResults, Sample
from .workloads import Workload

__all__ = ("Verdict", "format_memory", "format_table", "verdicts")

Verdict = tuple[str, str, str, float, float | None, str]  # db, workload, app, ratio, target, PASS


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            out.append(str(cell).rjust(widths[i]) if i in right else str(cell).ljust(widths[i]))
        return "  ".join(out).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def _ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}" if base > 0 and value > 0 else "-"


#: How much slower than one PING per request the Redis throttle may be (its round trip carries
#: two Lua scripts, not a PING).
ROUND_TRIP_SLACK = 0.95


def verdicts(results: DbResults, workloads: Sequence[Workload]) -> list[Verdict]:
    """fastapi_viewsets' ratio against its target, per workload that has a target.

    The ratio is of requests per second, or of CPU time per request with ``judge="cpu"``.
    ``PASS`` or ``MISS``; ``WRONG`` when its answer differed from the baseline's or some
    requests failed; ``BLOCKED`` when it could not be timed at all.
    """
    found: list[Verdict] = []
    for workload in workloads:
        samples = results.samples.get(workload.name, {})
        target = workload.target_for(results.postgres)
        base = samples.get(workload.baseline)
        ours = samples.get(workload.judged)
        pinged = samples.get("pinged")
        if workload.round_trip and base is not None and base.slices and pinged and pinged.slices:
            # One round trip to Redis per request, as the same list with one PING costs (with
            # 5 % for the scripts the round trip carries).
            target = ROUND_TRIP_SLACK * pinged.rps / base.rps
        if target is None or base is None or ours is None:
            continue
        label, name = results.db_label, workload.name
        if not ours.slices or not base.slices:
            found.append((label, name, workload.judged, 0.0, target, "BLOCKED"))
            continue
        ratio = ours.rps / base.rps
        if results.judge == "cpu" and ours.cpu_us and base.cpu_us:
            ratio = base.cpu_us / ours.cpu_us
        mark = "PASS" if ratio >= target else "MISS"
        if ours.problem or ours.errors:
            mark = "WRONG"
        found.append((label, name, workload.judged, ratio, target, mark))
    return found


def format_table(results: DbResults, workloads: Sequence[Workload]) -> str:
    header = [
        "workload",
        "app",
        "q",
        "req/s",
        "x",
        "CPU µs/req",
        "x",
        "p50 µs",
        "x",
        "p90 µs",
        "x",
        "p99 µs",
        "x",
        "rounds x min..med..max",
        "target",
        "",
    ]
    rows: list[list[str]] = []
    notes: list[str] = []
    marks = {(v[1], v[2]): v for v in verdicts(results, workloads)}
    for workload in workloads:
        samples = results.samples.get(workload.name)
        if not samples:
            continue
        base: Sample | None = samples.get(workload.baseline)
        first = True
        for app, sample in samples.items():
            name = workload.name if first else ""
            first = False
            queries = "" if sample.queries is None else str(sample.queries)
            if sample.problem:
                notes.append(f"{workload.name} / {workload.label(app)}: {sample.problem}")
            if sample.errors:
                notes.append(
                    f"{workload.name} / {workload.label(app)}: {sample.errors} of "
                    f"{sample.requests} requests failed, first: {sample.first_error}"
                )
            if not sample.slices:
                rows.append([name, workload.label(app), queries, "not timed", *[""] * 12])
                continue
            cells = [name, workload.label(app), queries, f"{sample.rps:,.0f}"]
            if base is not None and base.slices:
                cells.append(_ratio(sample.rps, base.rps))
            else:
                cells.append("-")
            cpu = sample.cpu_us
            base_cpu = base.cpu_us if base is not None else None
            cells.append("-" if cpu is None else f"{cpu:,.0f}")
            cells.append(_ratio(base_cpu, cpu) if cpu and base_cpu else "-")
            for fraction in (0.50, 0.90, 0.99):
                value = sample.latency_us(fraction)
                cells.append(f"{value:,.0f}")
                if base is not None and base.slices:
                    cells.append(_ratio(base.latency_us(fraction), value))
                else:
                    cells.append("-")
            if app != workload.baseline and base is not None and base.slices:
                spread = results.round_ratios(workload.name, app, workload.baseline)
                if spread:
                    middle = statistics.median(spread)
                    cells.append(f"{min(spread):.2f}..{middle:.2f}..{max(spread):.2f}")
                else:
                    cells.append("")
            else:
                cells.append("")
            verdict = marks.get((workload.name, app))
            if verdict is not None and verdict[4] is not None:
                cells.extend([f"≥{verdict[4]:.2f}", verdict[5]])
            else:
                cells.extend(["", ""])
            rows.append(cells)
    text = _table(header, rows, right=set(range(2, 14)))
    if notes:
        text += "\n\nNotes:\n" + "\n".join(f"- {n}" for n in notes)
    return text


def format_memory(memory: dict[str, dict[str, Any]], baseline: str = "hand") -> str:
    """The memory table: each app measured in its own fresh process."""
    header = ["app", "RSS at start MiB", "peak RSS MiB", "peak - start MiB", "x peak", "x growth"]
    rows = []
    base = memory.get(baseline)
    for app, figures in memory.items():
        if "error" in figures:
            rows.append([APP_LABELS.get(app, app), "error: " + str(figures["error"])[:80]])
            continue
        start, peak = figures["start_mib"], figures["peak_mib"]
        growth = peak - start
        cells = [APP_LABELS.get(app, app), f"{start:.1f}", f"{peak:.1f}", f"{growth:.1f}"]
        if base is not None and "error" not in base:
            base_growth = base["peak_mib"] - base["start_mib"]
            cells.append(f"{peak / base['peak_mib']:.2f}")
            cells.append(f"{growth / base_growth:.2f}" if base_growth > 0 else "-")
        else:
            cells.extend(["-", "-"])
        rows.append(cells)
    rows = [r + [""] * (len(header) - len(r)) for r in rows]
    return _table(header, rows, right={1, 2, 3, 4, 5})
