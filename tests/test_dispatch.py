"""How a request to a viewset action runs (``fastapi_viewsets.dispatch``), seen by a client.

* ``finalize_response()`` has the last word on the response of every kind of action, including a
  value FastAPI serialises itself (its headers reach the client through FastAPI's ``Response``).
* ``initial()`` runs once per request, after the dependencies and before the action (and before
  the body is validated); an ``APIException`` raised there is the answer.
* A method the path does not answer is a 405 answered by the viewset route, through the app's
  handlers for 405 or ``HTTPException``, with ``X-Request-ID``.
* The request state is opened once, before the first dependency, and closed after the response
  and its background tasks.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from tortoise.queryset import QuerySet

from fastapi_viewsets import (
    BaseStateManager,
    ModelViewSet,
    PermissionDenied,
    RequestStateMiddleware,
    ViewSetRoute,
    action,
    viewset,
)
from tests.models import Company
from tests.test_state import assert_closed, is_uuid4, serve_isolated
from tests.utils import create_app, serve


class CompanyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    size: int


class CompanyWrite(BaseModel):
    name: str
    size: int = 0


class Sparse(BaseModel):
    name: str
    description: str | None = None


# --- finalize_response --------------------------------------------------------------------------

#: (action, status code) of every response finalize_response() saw, in order.
finalized: list[tuple[str, int | None]] = []

finalizing = APIRouter(prefix="/finalizing")


@viewset(finalizing)
class FinalizingViewSet(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    create_schema = CompanyWrite

    def finalize_response(self, response: Response) -> Response:
        finalized.append((self.action, response.status_code))
        response.headers["X-Finalized"] = self.action
        if self.request.query_params.get("teapot"):
            response.status_code = 418
        return super().finalize_response(response)

    @action(detail=True)
    async def info(self) -> dict[str, Any]:
        company = await self.get_object()
        return {"name": company.name}

    @action(methods=["POST"], detail=False)
    async def ping(self) -> JSONResponse:
        return JSONResponse({"pong": True}, status_code=202, headers={"X-Own": "yes"})

    @action(detail=False)
    async def big(self) -> QuerySet[Company]:
        return self.get_queryset().filter(size__gte=10)

    @action(detail=True, response_model_exclude_none=True)
    async def sparse(self) -> Sparse:
        company = await self.get_object()
        return Sparse(name=company.name, description=company.description)


@pytest.fixture
def seen() -> list[tuple[str, int | None]]:
    finalized.clear()
    return finalized


# method, path (with {id}), body, action, status, JSON body (None: not checked here)
KINDS = [
    ("GET", "/finalizing", None, "list", 200, None),
    ("POST", "/finalizing", {"name": "new", "size": 3}, "create", 201, None),
    ("GET", "/finalizing/{id}", None, "retrieve", 200, None),
    ("PUT", "/finalizing/{id}", {"name": "renamed", "size": 5}, "update", 200, None),
    ("PATCH", "/finalizing/{id}", {"size": 6}, "partial_update", 200, None),
    ("DELETE", "/finalizing/{id}", None, "destroy", 204, None),
    ("GET", "/finalizing/{id}/info", None, "info", 200, {"name": "acme"}),
    ("POST", "/finalizing/ping", None, "ping", 202, {"pong": True}),
    ("GET", "/finalizing/big", None, "big", 200, None),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "name", "status", "expected"),
    [pytest.param(*kind, id=kind[3]) for kind in KINDS],
)
async def test_finalize_response_sees_and_changes_every_kind_of_response(
    seen: list[tuple[str, int | None]],
    method: str,
    path: str,
    body: dict[str, Any] | None,
    name: str,
    status: int,
    expected: Any,
) -> None:
    async with serve(create_app(finalizing)) as client:
        acme = await Company.create(name="acme", size=10)
        tiny = await Company.create(name="tiny", size=1)
        response = await client.request(method, path.format(id=acme.id), json=body)
        again = {**body, "name": f"{body['name']}-2"} if body and "name" in body else body
        changed = await client.request(
            method, path.format(id=tiny.id), json=again, params={"teapot": "1"}
        )

    assert response.status_code == status, response.text
    assert response.headers["x-finalized"] == name
    if expected is not None:
        assert response.json() == expected
    if name == "list":
        assert [c["name"] for c in response.json()] == ["acme", "tiny"]
    if name == "big":
        assert [c["name"] for c in response.json()] == ["acme"]
    if name in ("create", "retrieve", "update", "partial_update"):
        assert set(response.json()) == {"id", "name", "size"}
    if name == "ping":
        assert response.headers["x-own"] == "yes"
    # finalize_response saw the response the action answered, with its status code.
    assert seen[0] == (name, status)
    # ... and what it changed is what the client got.
    assert changed.status_code == 418, changed.text
    assert changed.headers["x-finalized"] == name
    assert seen[1] == (name, status)


async def test_finalize_response_headers_reach_a_value_fastapi_serialises(
    seen: list[tuple[str, int | None]],
) -> None:
    """``response_model_exclude_none=True``: FastAPI serialises the value; the header set on the
    response finalize_response() is given (FastAPI's ``Response`` parameter) is merged."""
    async with serve(create_app(finalizing)) as client:
        acme = await Company.create(name="acme", size=10)
        response = await client.get(f"/finalizing/{acme.id}/sparse")
        changed = await client.get(f"/finalizing/{acme.id}/sparse", params={"teapot": "1"})
    assert response.status_code == 200
    assert response.json() == {"name": "acme"}  # None left out: FastAPI's option was applied
    assert response.headers["x-finalized"] == "sparse"
    assert [name for name, _ in seen] == ["sparse", "sparse"]
    assert changed.status_code == 418
    assert changed.json() == {"name": "acme"}


replacing = APIRouter(prefix="/replacing")


@viewset(replacing)
class ReplacingViewSet(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    create_schema = CompanyWrite

    def finalize_response(self, response: Response) -> Response:
        return JSONResponse(
            {"action": self.action, "was": response.status_code}, headers={"X-Replaced": "1"}
        )


async def test_a_response_finalize_response_returns_replaces_the_actions() -> None:
    async with serve(create_app(replacing)) as client:
        acme = await Company.create(name="acme")
        listed = await client.get("/replacing")
        created = await client.post("/replacing", json={"name": "new"})
        deleted = await client.delete(f"/replacing/{acme.id}")
        remaining = await Company.all().order_by("name").values_list("name", flat=True)
    assert (listed.status_code, listed.json()) == (200, {"action": "list", "was": 200})
    assert (created.status_code, created.json()) == (200, {"action": "create", "was": 201})
    assert (deleted.status_code, deleted.json()) == (200, {"action": "destroy", "was": 204})
    assert deleted.headers["x-replaced"] == "1"
    assert remaining == ["new"]  # the actions ran; only their responses were replaced


# --- initial ------------------------------------------------------------------------------------


def record(event: str) -> None:
    state = BaseStateManager.get_state()
    state.set("events", [*state.get("events", []), event])


async def recording_dependency(request: Request) -> None:
    record("dependency")
    if request.headers.get("x-user"):
        BaseStateManager.set_user(request.headers["x-user"])


initial_router = APIRouter(prefix="/initial", dependencies=[Depends(recording_dependency)])


@viewset(initial_router)
class InitialViewSet(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    create_schema = CompanyWrite

    async def initial(self) -> None:
        # The dependencies have run: their user is here.
        record(f"initial:{self.action}:{self.user}")
        if self.user == "mallory":
            raise PermissionDenied("Not you.", code="mallory")
        await super().initial()

    def finalize_response(self, response: Response) -> Response:
        response.headers["X-Events"] = ",".join(self.state.get("events", []))
        return response

    async def perform_create(self, obj: Company) -> Company:
        record("action")
        return await super().perform_create(obj)

    async def perform_destroy(self, obj: Company) -> None:
        record("action")
        await super().perform_destroy(obj)

    def get_queryset(self) -> QuerySet[Company]:
        record("action")
        return super().get_queryset()

    @action(detail=True, methods=["POST"])
    async def touch(self, data: CompanyWrite) -> dict[str, Any]:
        record("action")
        company = await self.get_object()
        return {"id": company.id, "events": self.state.get("events")}


@pytest.mark.parametrize(
    ("method", "path", "body", "name", "status"),
    [
        ("GET", "/initial", None, "list", 200),
        ("POST", "/initial", {"name": "new"}, "create", 201),
        ("GET", "/initial/{id}", None, "retrieve", 200),
        ("DELETE", "/initial/{id}", None, "destroy", 204),
        ("POST", "/initial/{id}/touch", {"name": "x"}, "touch", 200),
    ],
)
async def test_initial_runs_once_after_the_dependencies_and_before_the_action(
    method: str, path: str, body: dict[str, Any] | None, name: str, status: int
) -> None:
    async with serve(create_app(initial_router)) as client:
        acme = await Company.create(name="acme")
        response = await client.request(
            method, path.format(id=acme.id), json=body, headers={"X-User": "alice"}
        )
    assert response.status_code == status, response.text
    events = response.headers["x-events"].split(",")
    # get_object() reads get_queryset() once more on some paths: the action's part may repeat.
    assert events[:2] == ["dependency", f"initial:{name}:alice"]
    assert set(events[2:]) == {"action"}
    assert events.count(f"initial:{name}:alice") == 1


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/initial", None),
        ("POST", "/initial", {"name": "new"}),
        ("POST", "/initial", {"size": "not a number"}),  # refused before the body is validated
        ("GET", "/initial/{id}", None),
        ("PATCH", "/initial/{id}", {"name": "stolen"}),
        ("DELETE", "/initial/{id}", None),
        ("POST", "/initial/{id}/touch", {"name": "x"}),
        ("POST", "/initial/{id}/touch", {}),
    ],
)
async def test_an_api_exception_raised_in_initial_is_the_answer_and_the_action_does_not_run(
    method: str, path: str, body: dict[str, Any] | None
) -> None:
    async with serve(create_app(initial_router)) as client:
        acme = await Company.create(name="acme")
        response = await client.request(
            method, path.format(id=acme.id), json=body, headers={"X-User": "mallory"}
        )
        rows = await Company.all().values_list("name", flat=True)
    assert response.status_code == 403, response.text
    assert response.json() == {"detail": "Not you."}
    assert is_uuid4(response.headers["x-request-id"])
    assert rows == ["acme"]  # nothing was created, changed or deleted


async def test_initial_sees_each_requests_own_state() -> None:
    async with serve(create_app(initial_router)) as client:
        acme = await Company.create(name="acme")
        responses = await asyncio.gather(
            *(
                client.post(
                    f"/initial/{acme.id}/touch", json={"name": "x"}, headers={"X-User": user}
                )
                for user in ("alice", "bob", "carol")
            )
        )
    for user, response in zip(("alice", "bob", "carol"), responses, strict=True):
        events = response.json()["events"]
        assert events[:3] == ["dependency", f"initial:touch:{user}", "action"]
        assert set(events[3:]) <= {"action"}  # get_object() reads get_queryset()


# --- 405 ----------------------------------------------------------------------------------------

things = APIRouter(prefix="/things")


@viewset(things)
class ThingViewSet(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    create_schema = CompanyWrite


def things_app(*, middleware: bool = False) -> FastAPI:
    app = create_app(things)
    if middleware:
        app.add_middleware(RequestStateMiddleware)
    return app


@pytest.mark.parametrize("middleware", [False, True], ids=["viewset-route", "middleware"])
async def test_a_method_the_detail_route_does_not_answer_is_a_405(middleware: bool) -> None:
    async with serve_isolated(things_app(middleware=middleware)) as client:
        company = await Company.create(name="acme")
        fresh = await client.post(f"/things/{company.id}")
        given = await client.post(f"/things/{company.id}", headers={"X-Request-ID": "req-405"})
        rows = await Company.all().count()
    assert_closed()
    assert fresh.status_code == given.status_code == 405
    assert fresh.json() == given.json() == {"detail": "Method Not Allowed"}
    assert len(fresh.headers.get_list("x-request-id")) == 1
    assert is_uuid4(fresh.headers["x-request-id"])
    assert given.headers.get_list("x-request-id") == ["req-405"]
    assert "GET" in fresh.headers["allow"].replace(" ", "").split(",")
    assert rows == 1


def allow_of(response: Any) -> list[str]:
    return [m.strip() for m in response.headers["allow"].split(",")]


async def test_the_405s_allow_header_lists_every_method_of_the_path() -> None:
    async with serve(things_app()) as client:
        detail = await client.post("/things/1")
        listing = await client.put("/things")
    assert detail.status_code == listing.status_code == 405
    assert allow_of(detail) == ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "PUT"]
    assert allow_of(listing) == ["GET", "HEAD", "OPTIONS", "POST"]


shared_path = APIRouter(prefix="/people")


@viewset(shared_path)
class PeopleViewSet(ModelViewSet[Company]):
    """People and what they may do."""

    model = Company
    read_schema = CompanyRead
    create_schema = CompanyWrite

    # A POST of its own on the list path, registered before the list: Starlette hands a
    # method no route answers to this first route of the path.
    @action(methods=["POST"], detail=False, url_path="", url_name="import")
    async def bulk(self) -> dict[str, int]:
        return {"imported": 0}


async def test_allow_names_the_methods_of_every_route_of_the_path_whichever_came_first() -> None:
    async with serve(create_app(shared_path)) as client:
        refused = await client.delete("/people")
        head = await client.head("/people")
    assert refused.status_code == 405
    assert allow_of(refused) == ["GET", "HEAD", "OPTIONS", "POST"]
    assert head.status_code == 200


@pytest.mark.parametrize("middleware", [False, True], ids=["viewset-route", "middleware"])
async def test_head_answers_the_gets_status_and_headers_without_a_body(middleware: bool) -> None:
    async with serve_isolated(things_app(middleware=middleware)) as client:
        company = await Company.create(name="acme", size=3)
        for path in (f"/things/{company.id}", "/things"):
            got = await client.get(path)
            head = await client.head(path, headers={"X-Request-ID": "req-head"})
            assert head.status_code == 200
            assert head.content == b""
            assert head.headers["content-length"] == got.headers["content-length"]
            assert head.headers["etag"] == got.headers["etag"]
            assert head.headers.get_list("x-request-id") == ["req-head"]
        missing = await client.head("/things/999999")
        assert missing.status_code == 404
        assert missing.content == b""
    assert_closed()


async def test_head_runs_the_dependencies_the_app_gives_the_get_route() -> None:
    seen: list[str] = []

    async def audit(request: Request) -> None:
        seen.append(request.method)

    app = create_app()
    app.include_router(things, dependencies=[Depends(audit)])
    async with serve(app) as client:
        assert (await client.head("/things")).status_code == 200
    assert seen == ["GET"]


async def test_options_answers_the_allow_header_and_drf_metadata() -> None:
    async with serve(create_app(shared_path, things)) as client:
        listing = await client.options("/people")
        detail = await client.options("/things/1")
    assert listing.status_code == detail.status_code == 200
    assert allow_of(listing) == ["GET", "HEAD", "OPTIONS", "POST"]
    fields = {
        "name": {"type": "string", "required": True, "read_only": False, "label": "Name"},
        "size": {
            "type": "integer",
            "required": False,
            "read_only": False,
            "label": "Size",
            # The column's bounds: an IntField holds 32 bits.
            "min_value": -2147483648,
            "max_value": 2147483647,
        },
    }
    assert listing.json() == {
        "name": "People List",
        "description": "People and what they may do.",
        "renders": ["application/json"],
        "parses": ["application/json"],
        "actions": {"POST": fields},
    }
    assert detail.json()["name"] == "Thing Instance"
    assert detail.json()["actions"] == {"PUT": fields}


async def test_a_viewset_without_metadata_class_answers_options_with_405() -> None:
    router = APIRouter(prefix="/quiet")
    viewset(router)(type("QuietViewSet", (ThingViewSet,), {"metadata_class": None}))
    async with serve(create_app(router)) as client:
        refused = await client.options("/quiet")
    assert refused.status_code == 405
    assert allow_of(refused) == ["GET", "HEAD", "POST"]


def custom_body(request: Request, exc: StarletteHTTPException) -> dict[str, Any]:
    return {
        "error": exc.detail,
        "status": exc.status_code,
        "allow": (exc.headers or {}).get("Allow"),
        "request_id": BaseStateManager.get_state().request_id,
    }


@pytest.mark.parametrize("key", [StarletteHTTPException, 405], ids=["HTTPException", "405"])
@pytest.mark.parametrize("sync", [False, True], ids=["async", "sync"])
@pytest.mark.parametrize("middleware", [False, True], ids=["viewset-route", "middleware"])
async def test_the_405_goes_through_the_apps_exception_handler(
    key: Any, sync: bool, middleware: bool
) -> None:
    app = things_app(middleware=middleware)
    if sync:

        def handler(request: Request, exc: StarletteHTTPException) -> JSONResponse:
            return JSONResponse(custom_body(request, exc), status_code=exc.status_code)

    else:

        async def handler(request: Request, exc: StarletteHTTPException) -> JSONResponse:
            return JSONResponse(custom_body(request, exc), status_code=exc.status_code)

    app.add_exception_handler(key, handler)
    async with serve_isolated(app) as client:
        given = await client.post("/things/1", headers={"X-Request-ID": "req-405"})
        fresh = await client.post("/things/1")
        # Other HTTP errors of the route still go through the HTTPException handler, or not.
        missing = await client.get("/things/4242")
    assert_closed()
    assert given.status_code == fresh.status_code == 405
    assert given.json()["error"] == "Method Not Allowed"
    assert given.json()["allow"] is not None
    # The handler ran inside the state: its request id is the response's.
    assert given.json()["request_id"] == "req-405"
    assert given.headers.get_list("x-request-id") == ["req-405"]
    assert fresh.json()["request_id"] == fresh.headers["x-request-id"]
    assert is_uuid4(fresh.headers["x-request-id"])
    assert missing.status_code == 404
    if key == 405:
        assert missing.json() == {"detail": "No company matches the given query."}
    else:
        assert missing.json()["error"] == "No company matches the given query."


# --- the request state's lifecycle --------------------------------------------------------------

#: What each part of a request saw: (part, request id).
sightings: list[tuple[str, str]] = []


async def async_dependency() -> None:
    sightings.append(("async dependency", BaseStateManager.get_state().request_id))


def sync_dependency() -> None:
    sightings.append(("sync dependency", BaseStateManager.get_state().request_id))


def background(expected: BaseStateManager[Any]) -> None:
    state = BaseStateManager.get_state()
    sightings.append(("background", state.request_id))
    assert state is expected


lifecycle = APIRouter(
    prefix="/lifecycle", dependencies=[Depends(async_dependency), Depends(sync_dependency)]
)


@viewset(lifecycle)
class LifecycleViewSet(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    create_schema = CompanyWrite

    def get_queryset(self) -> QuerySet[Company]:
        state = BaseStateManager.get_state()
        assert state is self.state  # one state, one view of it
        sightings.append(("action", state.request_id))
        return super().get_queryset()

    @action(detail=False)
    async def later(self, tasks: BackgroundTasks) -> dict[str, str]:
        sightings.append(("action", self.state.request_id))
        tasks.add_task(background, self.state)
        return {"request_id": self.state.request_id}


@pytest.mark.parametrize("middleware", [False, True], ids=["viewset-route", "middleware"])
@pytest.mark.parametrize("path", ["/lifecycle", "/lifecycle/later", "/lifecycle/{id}"])
@pytest.mark.parametrize("incoming", [None, "req-7"])
async def test_the_state_is_opened_once_and_closed_after_the_response(
    middleware: bool, path: str, incoming: str | None
) -> None:
    sightings.clear()
    app = create_app(lifecycle)
    if middleware:
        app.add_middleware(RequestStateMiddleware)
    headers = {"X-Request-ID": incoming} if incoming else {}
    async with serve_isolated(app) as client:
        acme = await Company.create(name="acme")
        first = await client.get(path.format(id=acme.id), headers=headers)
        first_seen = list(sightings)
        sightings.clear()
        second = await client.get(path.format(id=acme.id), headers=headers)
    assert_closed()
    assert first.status_code == second.status_code == 200, first.text
    request_id = first.headers["x-request-id"]
    assert first.headers.get_list("x-request-id") == [request_id]
    if incoming:
        assert request_id == incoming
    else:
        assert is_uuid4(request_id)
        assert second.headers["x-request-id"] != request_id  # each request has its own
    parts = ["async dependency", "sync dependency", "action"]
    if path.endswith("later"):
        parts.append("background")
        assert first.json() == {"request_id": request_id}
    assert [part for part, _ in first_seen] == parts
    assert {seen for _, seen in first_seen} == {request_id}
    assert {seen for _, seen in sightings} == {second.headers["x-request-id"]}


async def test_a_route_of_ones_own_may_use_the_viewset_route_class() -> None:
    router = APIRouter(prefix="/own", route_class=ViewSetRoute)

    @router.get("/id")
    async def request_id() -> dict[str, Any]:
        state = BaseStateManager.get_state()
        return {"request_id": state.request_id, "action": state.action}

    async with serve(create_app(router)) as client:
        response = await client.get("/own/id", headers={"X-Request-ID": "mine-1"})
    assert response.status_code == 200
    assert response.json() == {"request_id": "mine-1", "action": None}
    assert response.headers["x-request-id"] == "mine-1"


async def test_finalize_response_may_replace_a_value_fastapi_serialises() -> None:
    router = APIRouter(prefix="/replacing")

    @viewset(router, basename="replacing")
    class ReplacingViewSet(ModelViewSet[Company]):
        model = Company
        read_schema = CompanyRead
        create_schema = CompanyWrite

        def finalize_response(self, response: Response) -> Response:
            if self.request.query_params.get("replace"):
                return JSONResponse({"replaced": True}, status_code=299)
            return super().finalize_response(response)

        @action(detail=True, response_model_exclude_none=True)
        async def sparse(self) -> Sparse:
            company = await self.get_object()
            return Sparse(name=company.name, description=company.description)

    async with serve(create_app(router)) as client:
        acme = await Company.create(name="acme", size=10)
        kept = await client.get(f"/replacing/{acme.id}/sparse")
        replaced = await client.get(f"/replacing/{acme.id}/sparse", params={"replace": "1"})
    assert (kept.status_code, kept.json()) == (200, {"name": "acme"})
    assert (replaced.status_code, replaced.json()) == (299, {"replaced": True})


stats_router = APIRouter(prefix="/tallies")


@viewset(stats_router)
class TallyViewSet(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    create_schema = CompanyWrite

    @action(detail=False)
    async def stats(self) -> dict[str, int]:
        return {"companies": await Company.all().count()}

    @action(methods=["GET"], detail=False, url_path="import")
    async def import_status(self) -> dict[str, str]:
        return {"status": "idle"}

    @action(methods=["POST"], detail=False, url_path="import")
    async def import_start(self) -> dict[str, str]:
        return {"status": "started"}


async def test_another_method_on_a_list_actions_path_is_its_405_not_the_detail_routes() -> None:
    async with serve(create_app(stats_router)) as client:
        for method in ("PUT", "PATCH", "DELETE", "POST"):
            refused = await client.request(method, "/tallies/stats")
            assert refused.status_code == 405, (method, refused.text)
            assert allow_of(refused) == ["GET", "HEAD", "OPTIONS"]
        assert (await client.get("/tallies/stats")).status_code == 200
        assert (await client.head("/tallies/stats")).status_code == 200
        # Two actions on one path each answer their own method.
        assert (await client.get("/tallies/import")).json() == {"status": "idle"}
        assert (await client.post("/tallies/import")).json() == {"status": "started"}
        assert allow_of(await client.delete("/tallies/import")) == [
            "GET",
            "HEAD",
            "OPTIONS",
            "POST",
        ]
        # A lookup that does not parse is still the detail route's 422.
        assert (await client.get("/tallies/abc")).status_code == 422
