"""The route table of an app: every route, and for a viewset's its action, permissions and
throttles. What ``python -m fastapi_viewsets routes`` prints, as Django's ``show_urls`` does::

    $ python -m fastapi_viewsets routes example_project.app:app
    METHOD  PATH          VIEWSET         ACTION  PERMISSIONS      THROTTLES
    POST    /auth/token   -               login   -                -
    GET     /projects     ProjectViewSet  list    AllowAny         AnonymousReads(100/minute)
    POST    /projects     ProjectViewSet  create  IsAuthenticated  AnonymousReads(100/minute)
    ...

``--factory`` calls the named function for the app, as uvicorn's option of the same name does.
Permissions are those ``get_permissions()`` gives for the action, asked as OpenAPI asks them;
when it needs a real request they show as ``get_permissions()``.

FastAPI 0.165 keeps the routes of included routers inside the routers, not in ``app.routes``:
the routes are read through ``fastapi.routing.iter_route_contexts`` where FastAPI has it
(checked with 0.165), and from ``app.routes`` on the releases that copy them (0.115 to 0.13x).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from starlette.routing import BaseRoute, Mount

from .dispatch import RUNNER_ATTR, ActionRunner
from .permissions import BasePermission
from .throttling import BaseThrottle, SimpleRateThrottle

__all__ = ("RouteRow", "format_table", "route_table")

HEADERS = ("METHOD", "PATH", "VIEWSET", "ACTION", "PERMISSIONS", "THROTTLES")


@dataclass(frozen=True)
class RouteRow:
    """One method of one route."""

    method: str
    path: str
    viewset: str
    action: str
    permissions: str
    throttles: str

    def cells(self) -> tuple[str, ...]:
        return (
            self.method,
            self.path,
            self.viewset,
            self.action,
            self.permissions,
            self.throttles,
        )


def route_table(app: Any) -> list[RouteRow]:
    """The rows of ``app``'s routes, in the order the app matches them."""
    rows: list[RouteRow] = []
    for route, prefix in _routes(app.routes, ""):
        path = prefix + str(getattr(route, "path", ""))
        runner: ActionRunner | None = getattr(getattr(route, "endpoint", None), RUNNER_ATTR, None)
        methods = sorted(getattr(route, "methods", None) or ()) or ["*"]
        for method in methods:
            if runner is None:
                name = str(getattr(route, "name", "") or "-")
                rows.append(RouteRow(method, path, "-", name, "-", "-"))
            else:
                rows.append(
                    RouteRow(
                        method,
                        path,
                        runner.cls.__name__,
                        runner.bound.name,
                        _permissions(runner),
                        _throttles(runner),
                    )
                )
    return rows


def format_table(rows: Iterable[RouteRow]) -> str:
    """``rows`` as aligned columns under a header."""
    lines = [HEADERS, *(row.cells() for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADERS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def _routes(routes: Iterable[Any], prefix: str) -> Iterator[tuple[Any, str]]:
    for route in _flat(routes):
        mount = getattr(route, "original_route", route)
        if isinstance(mount, Mount):
            inner = getattr(mount.app, "routes", None)
            if inner is not None:
                yield from _routes(inner, prefix + mount.path)
                continue
        yield route, prefix


def _flat(routes: Iterable[BaseRoute]) -> Iterator[Any]:
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before 0.165 copies included routes into app.routes
        yield from routes
        return
    yield from iter_route_contexts(list(routes))


def _permissions(runner: ActionRunner) -> str:
    probe = _probe(runner)
    try:
        permissions = list(probe.get_permissions())
    except Exception:  # it needs the request or the user
        return "get_permissions()"
    labels = [p.label() if isinstance(p, BasePermission) else repr(p) for p in permissions]
    return ", ".join(labels) or "-"


def _throttles(runner: ActionRunner) -> str:
    probe = _probe(runner)
    try:
        throttles = list(probe.get_throttles())
    except Exception:
        return "get_throttles()"
    return ", ".join(_throttle_label(t) for t in throttles) or "-"


def _throttle_label(throttle: BaseThrottle) -> str:
    name = type(throttle).__name__
    if isinstance(throttle, SimpleRateThrottle):
        try:
            return f"{name}({throttle.get_rate()})"
        except Exception:  # a scope without a rate: the registration check says so
            return name
    return name


def _probe(runner: ActionRunner) -> Any:
    """A bare viewset instance that knows only its action, as OpenAPI asks it."""
    cls = runner.cls
    probe = cls.__new__(cls)
    probe.action = runner.bound.name
    probe.bound = runner.bound
    probe.kwargs = {}
    return probe
