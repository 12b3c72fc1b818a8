"""The workloads: one kind of request each, sent unchanged to every app that serves it.

=================  =====================================================  ======  ==========
name               request                                                target  PostgreSQL
=================  =====================================================  ======  ==========
``list20``         ``GET /companies?page_size=20`` (nested owner, count)  ≥2.0    ≥1.0
``list100``        ``GET /companies?page_size=100``                       ≥2.0    ≥1.0
``list_projects``  ``GET /companies-with-projects?page_size=20``          —       ≥1.0
``retrieve``       ``GET /companies/{id}`` (nested owner), id cycles      ≥1.5    ≥1.0
``create``         ``POST /tickets`` (answer has the nested owner)        ≥1.2    ≥1.0
``patch``          ``PATCH /companies/{id}`` ``{"size": n}``, 50 rows     ≥1.2    ≥1.0
``action``         ``GET /companies/ping``: ``@action`` vs plain route    ≥0.9    ≥0.9
``throttle_memory``  ``list20``, throttled in the memory store vs ``ours``  ≥0.97   ≥0.97
``throttle_redis``   ``list20``, throttled in Redis vs ``ours``             1 RTT   1 RTT
``create_keyed``   ``create`` with an ``Idempotency-Key`` vs without        ≥0.9    ≥0.9
=================  =====================================================  ======  ==========

The two ``throttle_*`` workloads compare fastapi_viewsets with itself: the same list of 20, with
and without a ``UserRateThrottle``. Throttling in memory may cost at most 3 %; in Redis, at most
one local round trip per request: the target is what the same list with one Redis ``PING`` per
request (the ``pinged`` app) serves, less 5 % for the Lua scripts that round trip carries. (A
``PING`` timed alone, in a loop, is printed too; inside a request it costs more, as the
``pinged`` row shows.)

``create_keyed`` also compares the library with itself: the same create, sent to the ``keyed``
app (the ``ours`` app) with a new ``Idempotency-Key`` each time, so each request claims a key
and keeps its answer in the memory store.

Targets are for fastapi_viewsets' requests per second divided by the baseline's (the careful
hand-written app; for ``action`` its plain FastAPI route returning the same constant). The issue
gives no SQLite target for ``list_projects``; on PostgreSQL "none below 1.0" applies to every
workload that touches the database (``action`` does not, so it keeps its 0.9).

Writes never grow the data: ``patch`` sets ``size`` on companies 1..50 to a value no earlier
request wrote (so every PATCH really changes a column), and rows made by ``create`` go to
``bench_ticket``, which is emptied after every slice.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .apps import APP_NAMES
from .database import COMPANIES

__all__ = ("WORKLOADS", "Request", "Workload", "select")

PATCHED_ROWS = 50


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    query: str = ""
    body: bytes = b""
    #: Headers besides the Host, Accept and (with a body) Content-Type ones every request has.
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Workload:
    name: str
    title: str
    #: ``build(i, app_index)``: the ``i``-th request of this workload for one app.
    build: Callable[[int, int], Request]
    status: int = 200
    apps: tuple[str, ...] = ("hand", "idiom", "ours")
    baseline: str = "hand"
    target: float | None = None
    target_postgres: float | None = 1.0
    #: Whether it writes rows that must be removed after each slice.
    creates: bool = False
    #: Fields that legitimately differ between apps' answers (compared for presence only).
    volatile: tuple[str, ...] = ()
    #: The app the target judges (against ``baseline``).
    judged: str = "ours"
    #: The target is one Redis round trip per request over the baseline (see the docstring).
    round_trip: bool = False

    def target_for(self, postgres: bool) -> float | None:
        return self.target_postgres if postgres else self.target

    def label(self, app: str) -> str:
        if self.name == "action" and app == "hand":
            return "plain route"
        if self.name == "action" and app == "ours":
            return "@action"
        return app


def _get(path: str, query: str = "") -> Callable[[int, int], Request]:
    request = Request("GET", path, query)
    return lambda i, app_index: request


def _retrieve(i: int, app_index: int) -> Request:
    return Request("GET", f"/companies/{1 + i % COMPANIES}")


def _patch(i: int, app_index: int) -> Request:
    # A value unique to this app and request, so the UPDATE always changes the row.
    body = json.dumps({"size": 1_000_000 * (app_index + 1) + i}).encode()
    return Request("PATCH", f"/companies/{1 + i % PATCHED_ROWS}", body=body)


def _create(i: int, app_index: int) -> Request:
    body = json.dumps({"title": f"Ticket {i}", "priority": i % 5, "owner_id": 1 + i % 50})
    return Request("POST", "/tickets", body=body.encode())


# Keys unique to this run: a key seen before would be a replay, not a create.
_RUN = uuid.uuid4().hex[:12]
_KEYS = itertools.count()


def _create_keyed(i: int, app_index: int) -> Request:
    request = _create(i, app_index)
    if APP_NAMES[app_index] != "keyed":
        return request
    key = f"{_RUN}-{next(_KEYS)}"
    return Request(
        request.method, request.path, body=request.body, headers=(("Idempotency-Key", key),)
    )


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload(
            "list20",
            "list of 20, nested owner + count",
            _get("/companies", "page_size=20"),
            target=2.0,
        ),
        Workload(
            "list100",
            "list of 100, nested owner + count",
            _get("/companies", "page_size=100"),
            target=2.0,
        ),
        Workload(
            "list_projects",
            "list of 20, each with its 5 projects",
            _get("/companies-with-projects", "page_size=20"),
        ),
        Workload("retrieve", "retrieve, nested owner", _retrieve, target=1.5),
        Workload(
            "create",
            "create (201, nested owner)",
            _create,
            status=201,
            target=1.2,
            creates=True,
            volatile=("id",),
        ),
        Workload("patch", "partial update", _patch, target=1.2, volatile=("size",)),
        Workload(
            "action",
            "constant: @action vs plain route",
            _get("/companies/ping"),
            apps=("hand", "ours"),
            target=0.9,
            target_postgres=0.9,
        ),
        Workload(
            "throttle_memory",
            "list of 20 throttled (memory store) vs unthrottled",
            _get("/companies", "page_size=20"),
            apps=("ours", "throttled"),
            baseline="ours",
            judged="throttled",
            target=0.97,
            target_postgres=0.97,
        ),
        Workload(
            "throttle_redis",
            "list of 20 throttled (Redis store) vs unthrottled",
            _get("/companies", "page_size=20"),
            apps=("ours", "pinged", "throttled_redis"),
            baseline="ours",
            judged="throttled_redis",
            round_trip=True,
        ),
        Workload(
            "create_keyed",
            "create with an Idempotency-Key vs without",
            _create_keyed,
            status=201,
            apps=("ours", "keyed"),
            baseline="ours",
            judged="keyed",
            target=0.9,
            target_postgres=0.9,
            creates=True,
            volatile=("id",),
        ),
    )
}


def select(names: str | None) -> list[Workload]:
    """The workloads named in a comma-separated list (all when ``None``)."""
    if not names:
        return list(WORKLOADS.values())
    chosen = []
    for name in (n.strip() for n in names.split(",")):
        if name not in WORKLOADS:
            raise SystemExit(f"unknown workload {name!r}; choose from {', '.join(WORKLOADS)}")
        chosen.append(WORKLOADS[name])
    return chosen


def normalise(value: Any, volatile: tuple[str, ...] = ()) -> Any:
    """An answer made comparable: lists of objects sorted by id, the top level's ``volatile``
    fields blanked, absolute links without their host."""
    if isinstance(value, dict) and volatile:
        return {k: "<volatile>" if k in volatile else normalise(v) for k, v in value.items()}
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [normalise(v) for v in value]
        if all(isinstance(v, dict) and "id" in v for v in items):
            items.sort(key=lambda v: str(v["id"]))
        return items
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        # Links name the server they came from; in uvicorn mode each app has its own port.
        parts = urlsplit(value)
        return parts._replace(netloc="<server>").geturl()
    return value
