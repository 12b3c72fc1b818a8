"""What a run measures: per-slice results, accumulated per app and workload.

Requests per second of an app on a workload is the number of requests it answered over all its
slices divided by the time those slices took. CPU time per request is the CPU time the serving
process used during those slices (every thread: the event loop and aiosqlite's) divided by the
requests: on a machine shared with other work it moves much less than requests per second.
Latency percentiles are nearest-rank over every request of every slice. The ratio of each round
(an app's slice against the baseline's slice of the same round) is kept too: their spread shows
how much noise the machine added.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ("DbResults", "Sample", "SliceResult", "percentile")


@dataclass
class SliceResult:
    """One app's requests of one workload during one slice of one round."""

    latencies_ns: list[int]
    elapsed_s: float
    errors: int = 0
    first_error: str | None = None
    next_index: int = 0
    #: CPU seconds the serving process used during the slice (all its threads), if known.
    cpu_s: float | None = None

    @property
    def rps(self) -> float:
        return len(self.latencies_ns) / self.elapsed_s if self.elapsed_s > 0 else 0.0


def percentile(ordered: list[int], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted list (0 when empty)."""
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(fraction * len(ordered)))
    return float(ordered[rank - 1])


@dataclass
class Sample:
    """Everything measured for one app on one workload."""

    app: str
    slices: list[SliceResult] = field(default_factory=list)
    #: SQL statements one request ran (from the check before timing), when known.
    queries: int | None = None
    #: Why the check before timing failed (wrong status, different answer), if it did.
    problem: str | None = None
    _sorted: list[int] | None = field(default=None, repr=False)

    def add(self, result: SliceResult) -> None:
        self.slices.append(result)
        self._sorted = None

    @property
    def requests(self) -> int:
        return sum(len(s.latencies_ns) for s in self.slices)

    @property
    def errors(self) -> int:
        return sum(s.errors for s in self.slices)

    @property
    def first_error(self) -> str | None:
        return next((s.first_error for s in self.slices if s.first_error), None)

    @property
    def rps(self) -> float:
        elapsed = sum(s.elapsed_s for s in self.slices)
        return self.requests / elapsed if elapsed > 0 else 0.0

    @property
    def cpu_us(self) -> float | None:
        """CPU microseconds the serving process spent per request (unmoved by other processes
        that share the machine, unlike requests per second)."""
        if not self.slices or any(s.cpu_s is None for s in self.slices):
            return None
        requests = self.requests
        return sum(s.cpu_s or 0.0 for s in self.slices) / requests * 1e6 if requests else None

    def latency_us(self, fraction: float) -> float:
        if self._sorted is None:
            self._sorted = sorted(ns for s in self.slices for ns in s.latencies_ns)
        return percentile(self._sorted, fraction) / 1000.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "requests": self.requests,
            "rps": self.rps,
            "cpu_us_per_request": self.cpu_us,
            "p50_us": self.latency_us(0.50),
            "p90_us": self.latency_us(0.90),
            "p99_us": self.latency_us(0.99),
            "errors": self.errors,
            "first_error": self.first_error,
            "queries": self.queries,
            "problem": self.problem,
            "round_rps": [s.rps for s in self.slices],
        }


@dataclass
class DbResults:
    """A run's results on one database in one mode."""

    db_label: str
    postgres: bool
    mode: str
    rounds: int
    slice_seconds: float
    connections: int
    #: What PASS/MISS compares: ``"rps"`` (requests per second) or ``"cpu"`` (CPU per request).
    judge: str = "rps"
    #: workload name -> app name -> sample
    samples: dict[str, dict[str, Sample]] = field(default_factory=dict)
    #: A Redis PING's round trip, timed in this process (the ``throttle_redis`` target).
    round_trip_us: float | None = None
    #: app name -> memory figures (see ``benchmarks.memory``)
    memory: dict[str, dict[str, Any]] = field(default_factory=dict)

    def sample(self, workload: str, app: str) -> Sample:
        return self.samples.setdefault(workload, {}).setdefault(app, Sample(app))

    def round_ratios(self, workload: str, app: str, baseline: str) -> list[float]:
        ours = self.samples[workload][app].slices
        base = self.samples[workload][baseline].slices
        return [a.rps / b.rps for a, b in zip(ours, base, strict=False) if b.rps > 0]
