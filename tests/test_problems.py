"""fastapi_viewsets.problems: RFC 9457 problem details behind one switch, and nothing changed
without it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, Body, Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict

from docs.examples import errors_problem_details
from fastapi_viewsets import (
    APIException,
    BasePermission,
    BaseStateManager,
    BaseThrottle,
    ImproperlyConfigured,
    ModelViewSet,
    PermissionDenied,
    UserRateThrottle,
    action,
    install_problem_details,
    viewset,
)
from fastapi_viewsets.problems import (
    MEDIA_TYPE,
    ProblemDetails,
    ValidationProblemDetails,
    problem_openapi,
    problem_response,
    status_code_name,
    status_title,
)
from fastapi_viewsets.store import Store
from tests.models import Company
from tests.utils import DB_URL, copy_lifespan_state, create_app, prepare_database, serve

ROOT = Path(__file__).resolve().parent.parent
DOWN = "redis://127.0.0.1:1/0"  # nothing listens on port 1: the connection is refused
BASE = "https://api.example.com/problems/"


class CompanyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str


class CompanyWrite(BaseModel):
    name: str  # no max_length: the column's own check answers a name that is too long


bearer = HTTPBearer(auto_error=False)


async def current_user(
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
) -> None:
    BaseStateManager.set_user({"id": 1} if credentials else None)


class Refusing(BasePermission):
    """Refuses the requests that say ``X-Refuse``."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return "x-refuse" not in request.headers


class Gate(BaseThrottle):
    """Throttles the requests that say ``X-Throttle``."""

    def allow_request(self, request: Request, view: Any) -> bool:
        return "x-throttle" not in request.headers

    def wait(self) -> float:
        return 7


def company_router() -> APIRouter:
    class Unreachable(UserRateThrottle):
        rate = "5/minute"
        on_store_error = "refuse"
        store = Store(DOWN)

    router = APIRouter(prefix="/companies", dependencies=[Depends(current_user)])

    @viewset(router)
    class CompanyViewSet(ModelViewSet[Company]):
        model = Company
        read_schema = CompanyRead
        create_schema = CompanyWrite
        permission_classes = [Refusing]
        throttle_classes = [Gate]
        ordering_fields = ["name"]
        require_if_match = True
        max_body_size = 1024

        @action(detail=False, throttle_classes=[Unreachable])
        async def unavailable(self) -> dict[str, str]:
            return {}

    return router


class PaymentRequired(APIException):
    status_code = 402
    default_detail = "Pay first."
    default_code = "payment_required"
    title = "Payment needed"


def plain_router() -> APIRouter:
    router = APIRouter()

    @router.get("/plain/{number}")
    async def plain(number: int) -> dict[str, int]:
        if number == 0:
            raise HTTPException(418, "No coffee here.", headers={"X-Pot": "tea"})
        if number == 1:
            raise PermissionDenied("Not yours.")
        if number == 2:
            raise RuntimeError("a bug")
        if number == 3:
            raise PaymentRequired()
        if number == 4:
            raise HTTPException(304)
        if number == 5:
            raise HTTPException(400, {"field": "name"})
        return {"number": number}

    @router.post("/plain")
    async def plain_body(values: dict[str, int] = Body()) -> dict[str, int]:
        return values

    @router.post("/plain/items")
    async def plain_items(items: list[int] = Body()) -> int:
        return len(items)

    return router


def make_app(*, on: bool, **switch: Any) -> FastAPI:
    app = create_app(company_router(), plain_router())
    if on:
        install_problem_details(app, **switch)
    return app


# --- every error the library answers, in both shapes -----------------------------------------


@dataclass
class Case:
    method: str
    path: str
    status: int
    code: str
    detail: str | None = None  # None: a 422's list
    headers: dict[str, str] = field(default_factory=dict)
    sent: dict[str, Any] = field(default_factory=dict)
    answered: dict[str, str] = field(default_factory=dict)  # headers the answer must carry
    loc: list[str | int] | None = None
    pointer: str | None = None


TOO_LARGE = "The request body is too large: this endpoint takes at most 1024 bytes."
CASES = {
    "400-parse-error": Case(
        "GET",
        "/companies?ordering=size",
        400,
        "invalid_ordering",
        "Cannot order by 'size'; ordering accepts: name (with '-' for descending).",
    ),
    "401-www-authenticate": Case(
        "POST",
        "/companies",
        401,
        "not_authenticated",
        "Authentication credentials were not provided.",
        headers={"X-Refuse": "1"},
        sent={"json": {"name": "initech"}},
        answered={"www-authenticate": "Bearer"},
    ),
    "403": Case(
        "POST",
        "/companies",
        403,
        "permission_denied",
        "You do not have permission to perform this action.",
        headers={"X-Refuse": "1", "Authorization": "Bearer alice"},
        sent={"json": {"name": "initech"}},
    ),
    "404": Case(
        "GET", "/companies/999999", 404, "not_found", "No company matches the given query."
    ),
    "405-allow": Case(
        "PUT",
        "/companies",
        405,
        "method_not_allowed",
        "Method Not Allowed",
        answered={"allow": "GET, HEAD, OPTIONS, POST"},
    ),
    "409": Case(
        "POST",
        "/companies",
        409,
        "unique",
        "A company with this name already exists.",
        sent={"json": {"name": "acme"}},
    ),
    "412": Case(
        "PATCH",
        "/companies/{id}",
        412,
        "precondition_failed",
        "The resource has changed since it was read: If-Match does not name its current ETag.",
        headers={"If-Match": '"stale"'},
        sent={"json": {"name": "acme 2"}},
    ),
    "413": Case(
        "POST",
        "/companies",
        413,
        "content_too_large",
        TOO_LARGE,
        sent={"json": {"name": "x" * 2000}},
    ),
    "422-body": Case(
        "POST",
        "/companies",
        422,
        "validation_error",
        sent={"json": {"name": 5}},
        loc=["body", "name"],
        pointer="#/name",
    ),
    "422-column-check": Case(
        "POST",
        "/companies",
        422,
        "validation_error",
        sent={"json": {"name": "x" * 101}},
        loc=["body", "name"],
        pointer="#/name",
    ),
    "422-path": Case(
        "GET", "/companies/abc", 422, "validation_error", loc=["path", "id"], pointer=None
    ),
    "428": Case(
        "PATCH",
        "/companies/{id}",
        428,
        "precondition_required",
        "This write needs an If-Match header with the resource's current ETag.",
        sent={"json": {"name": "acme 2"}},
    ),
    "429-retry-after": Case(
        "GET",
        "/companies",
        429,
        "throttled",
        "Request was throttled. Expected available in 7 seconds.",
        headers={"X-Throttle": "1"},
        answered={"retry-after": "7"},
    ),
    "503-retry-after": Case(
        "GET",
        "/companies/unavailable",
        503,
        "service_unavailable",
        "The rate limit cannot be checked right now; retry shortly.",
        answered={"retry-after": "5"},
    ),
    # The app's own routes, and what Starlette answers before any route.
    "plain-404": Case("GET", "/nowhere", 404, "not_found", "Not Found"),
    "plain-405": Case(
        "DELETE",
        "/plain/7",
        405,
        "method_not_allowed",
        "Method Not Allowed",
        answered={"allow": "GET"},
    ),
    "plain-422": Case(
        "GET", "/plain/abc", 422, "validation_error", loc=["path", "number"], pointer=None
    ),
    "plain-http-exception": Case(
        "GET", "/plain/0", 418, "i_m_a_teapot", "No coffee here.", answered={"x-pot": "tea"}
    ),
    "plain-api-exception": Case("GET", "/plain/1", 403, "permission_denied", "Not yours."),
}


@asynccontextmanager
async def answering(*, on: bool, **switch: Any) -> AsyncIterator[tuple[httpx.AsyncClient, int]]:
    """A client of a fresh app (the switch on or off) and the id of the company "acme"."""
    async with serve(make_app(on=on, **switch)) as client:
        acme = await Company.create(name="acme")
        yield client, acme.id


async def send(client: httpx.AsyncClient, case: Case, company_id: int) -> httpx.Response:
    path = case.path.replace("{id}", str(company_id))
    return await client.request(case.method, path, headers=case.headers, **case.sent)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_every_error_keeps_its_shape_without_the_switch(case: Case) -> None:
    async with answering(on=False) as (client, company_id):
        response = await send(client, case, company_id)
    assert response.status_code == case.status
    assert response.headers["content-type"] == "application/json"
    for name, value in case.answered.items():
        assert response.headers[name] == value
    body = response.json()
    assert list(body) == ["detail"]
    if case.detail is not None:
        assert body["detail"] == case.detail
    else:
        assert body["detail"][0]["loc"] == case.loc
        assert "pointer" not in body["detail"][0]


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_every_error_is_a_problem_with_the_switch(case: Case) -> None:
    async with answering(on=True) as (client, company_id):
        response = await send(client, case, company_id)
    assert response.status_code == case.status
    assert response.headers["content-type"] == MEDIA_TYPE
    for name, value in case.answered.items():
        assert response.headers[name] == value
    body = response.json()
    instance = case.path.replace("{id}", str(company_id)).split("?")[0]
    expected = {
        "type": "about:blank",
        "title": status_title(case.status),
        "status": case.status,
        "detail": case.detail or "The request did not validate; errors lists each problem.",
        "instance": instance,
        "code": case.code,
    }
    request_id = response.headers.get("x-request-id")
    if request_id is not None:  # the routes that open a request state: the viewset's
        expected["request_id"] = request_id
    assert (request_id is not None) == instance.startswith("/companies")
    if case.detail is None:
        [error] = body.pop("errors")
        assert error["loc"] == case.loc
        assert error.get("pointer") == case.pointer
        assert {"msg", "type", "input"} <= set(error)
        ValidationProblemDetails.model_validate({**body, "errors": [error]})
    assert body == expected
    ProblemDetails.model_validate(body)


async def test_nothing_was_written_by_the_refused_writes() -> None:
    async with answering(on=True) as (client, company_id):
        for case in CASES.values():
            if case.method in ("POST", "PATCH"):
                await send(client, case, company_id)
        assert [c.name for c in await Company.all()] == ["acme"]


async def test_a_type_base_names_each_problem_by_its_code() -> None:
    async with answering(on=True, type_base=BASE) as (client, _):
        missing = (await client.get("/companies/999999")).json()
        invalid = (await client.get("/companies/abc")).json()
        teapot = (await client.get("/plain/0")).json()
        own = (await client.get("/plain/3")).json()
    assert missing["type"] == f"{BASE}not_found"
    assert invalid["type"] == f"{BASE}validation_error"
    assert teapot["type"] == f"{BASE}i_m_a_teapot"
    # An APIException subclass may give its problem type a title of its own.
    assert (own["type"], own["title"], own["status"], own["detail"], own["code"]) == (
        f"{BASE}payment_required",
        "Payment needed",
        402,
        "Pay first.",
        "payment_required",
    )


async def test_a_code_that_is_not_a_uri_segment_is_quoted_in_the_type() -> None:
    router = APIRouter()

    @router.get("/odd")
    async def odd() -> None:
        raise PermissionDenied(code="not/mine yet")

    app = FastAPI()
    app.include_router(router)
    install_problem_details(app, type_base=BASE)
    async with serve(app) as client:
        body = (await client.get("/odd")).json()
    assert (body["type"], body["code"]) == (f"{BASE}not%2Fmine%20yet", "not/mine yet")


async def test_a_status_without_a_body_stays_without_one() -> None:
    async with answering(on=True) as (client, _):
        response = await client.get("/plain/4")
    assert (response.status_code, response.content) == (304, b"")


async def test_a_detail_that_is_not_a_string_goes_out_as_it_is() -> None:
    async with answering(on=True) as (client, _):
        body = (await client.get("/plain/5")).json()
    assert (body["status"], body["detail"], body["code"]) == (400, {"field": "name"}, "bad_request")


# --- 422s: the errors list -------------------------------------------------------------------


async def test_validation_errors_are_shaped_and_point_into_the_body() -> None:
    async with answering(on=True) as (client, _):
        body = (await client.post("/plain", json={"a/b~c": "x", "é": "y", "ok": 1})).json()
    assert [(e["loc"], e["pointer"]) for e in body["errors"]] == [
        (["body", "a/b~c"], "#/a~1b~0c"),
        (["body", "é"], "#/%C3%A9"),
    ]
    assert [e["type"] for e in body["errors"]] == ["int_parsing", "int_parsing"]


async def test_a_body_that_is_not_json_has_no_pointer() -> None:
    async with answering(on=True) as (client, _):
        response = await client.post(
            "/companies", content=b'{"name": ', headers={"content-type": "application/json"}
        )
    [error] = response.json()["errors"]
    assert error["type"] == "json_invalid"
    assert "pointer" not in error


@pytest.mark.parametrize("path", ["/plain/items", "/companies"])
async def test_the_errors_list_is_capped_on_every_route(path: str) -> None:
    # The viewset takes bodies of up to 1024 bytes.
    body = ["x" * 10_000] * 150 if path == "/plain/items" else {"name": ["x"] * 150}
    async with answering(on=True) as (client, _):
        response = await client.post(path, json=body)
    assert response.status_code == 422
    errors = response.json()["errors"]
    if path == "/plain/items":
        assert len(errors) == 101
        assert errors[-1] == {
            "type": "too_many_errors",
            "loc": [],
            "msg": "50 more errors are not shown.",
            "input": None,
        }
        assert errors[0]["pointer"] == "#/0"
        assert len(errors[0]["input"]) == 201  # 200 characters and "…"
    else:
        assert len(errors[0]["input"]) == 11  # 10 items and "…"


async def test_a_plain_route_that_echoes_nan_answers_its_422() -> None:
    router = APIRouter()

    @router.post("/ratio")
    async def ratio(value: int = Body(embed=True)) -> int:
        return value

    app = FastAPI()
    app.include_router(router)
    install_problem_details(app)
    async with serve(app) as client:
        response = await client.post(
            "/ratio", content=b'{"value": NaN}', headers={"content-type": "application/json"}
        )
    [error] = response.json()["errors"]
    assert (response.status_code, error["input"], error["pointer"]) == (422, "nan", "#/value")


# --- server errors ---------------------------------------------------------------------------


@asynccontextmanager
async def raising_nothing(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client that gets the 500 instead of the exception that made it."""
    async with LifespanManager(copy_lifespan_state(app)) as manager:
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@pytest.mark.parametrize("on", [False, True], ids=["off", "on"])
async def test_a_server_error(on: bool) -> None:
    async with raising_nothing(make_app(on=on)) as client:
        response = await client.get("/plain/2")
    assert response.status_code == 500
    if not on:
        assert response.text == "Internal Server Error"
        return
    assert response.headers["content-type"] == MEDIA_TYPE
    assert response.json() == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "A server error occurred.",
        "instance": "/plain/2",
        "code": "internal_server_error",
    }


async def test_the_apps_own_server_error_handler_is_kept() -> None:
    app = make_app(on=False)

    @app.exception_handler(Exception)
    async def own(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("ours", status_code=500)

    install_problem_details(app)
    async with raising_nothing(app) as client:
        response = await client.get("/plain/2")
        missing = await client.get("/nowhere")
    assert (response.status_code, response.text) == (500, "ours")
    assert missing.headers["content-type"] == MEDIA_TYPE


# --- the switch ------------------------------------------------------------------------------


async def test_a_handler_added_afterwards_answers_its_errors() -> None:
    app = make_app(on=True)

    @app.exception_handler(404)
    async def not_found(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("nothing", status_code=404)

    async with serve(app) as client:
        missing = await client.get("/nowhere")
        refused = await client.get("/plain/1")
    assert missing.text == "nothing"
    assert refused.headers["content-type"] == MEDIA_TYPE


async def test_an_apps_own_handler_answers_in_the_same_shape() -> None:
    class OutOfStock(Exception):
        pass

    router = APIRouter()

    @router.get("/stock")
    async def stock() -> None:
        raise OutOfStock

    app = FastAPI()
    app.include_router(router)
    install_problem_details(app, type_base=BASE)

    @app.exception_handler(OutOfStock)
    async def out_of_stock(request: Request, exc: Exception) -> Response:
        return problem_response(
            request, 409, "None left.", code="out_of_stock", headers={"Retry-After": "60"}, left=0
        )

    async with serve(app) as client:
        response = await client.get("/stock")
    assert response.headers["retry-after"] == "60"
    assert response.json() == {
        "type": f"{BASE}out_of_stock",
        "title": "Conflict",
        "status": 409,
        "detail": "None left.",
        "instance": "/stock",
        "code": "out_of_stock",
        "left": 0,
    }


async def test_problem_response_refuses_an_extension_named_like_a_member() -> None:
    app = FastAPI()
    seen: list[str] = []

    @app.get("/clash")
    async def clash(request: Request) -> None:
        with pytest.raises(ValueError, match="status"):
            problem_response(request, 400, status=401)
        seen.append("refused")

    async with serve(app) as client:
        await client.get("/clash")
    assert seen == ["refused"]


async def test_problem_response_without_the_switch_uses_about_blank() -> None:
    app = FastAPI()

    @app.get("/gone")
    async def gone(request: Request) -> Response:
        return problem_response(request, 410)

    async with serve(app) as client:
        response = await client.get("/gone")
    assert response.json() == {
        "type": "about:blank",
        "title": "Gone",
        "status": 410,
        "detail": "Gone",
        "instance": "/gone",
        "code": "gone",
    }


async def test_a_second_call_changes_the_type_base() -> None:
    app = make_app(on=True)
    install_problem_details(app, type_base=BASE)
    assert app.openapi()["paths"]  # the schema is built once, and rewritten once
    async with serve(app) as client:
        body = (await client.get("/nowhere")).json()
    assert body["type"] == f"{BASE}not_found"


async def test_the_switch_refuses_an_app_that_has_served() -> None:
    app = make_app(on=False)
    async with serve(app) as client:
        await client.get("/nowhere")
    with pytest.raises(ImproperlyConfigured, match="has served requests"):
        install_problem_details(app)


def test_the_switch_refuses_a_type_base_that_is_not_text() -> None:
    with pytest.raises(ImproperlyConfigured, match="type_base is 3"):
        install_problem_details(FastAPI(), type_base=3)  # type: ignore[arg-type]


def test_status_titles_and_codes() -> None:
    assert [status_title(s) for s in (404, 413, 422, 599)] == [
        "Not Found",
        "Content Too Large",
        "Unprocessable Content",
        "Error",
    ]
    assert [status_code_name(s) for s in (405, 413, 429, 599)] == [
        "method_not_allowed",
        "content_too_large",
        "too_many_requests",
        "error",
    ]


# --- OpenAPI ---------------------------------------------------------------------------------

ERROR_SHAPES = {"ErrorResponse", "HTTPValidationError", "ValidationErrorResponse"}


def error_answers(spec: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {
        (method, path, status): answer
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        for status, answer in operation["responses"].items()
        if int(status) >= 400
    }


def test_openapi_is_unchanged_without_the_switch() -> None:
    spec = make_app(on=False).openapi()
    answers = error_answers(spec)
    assert answers
    for answer in answers.values():
        [(kind, content)] = answer["content"].items()
        assert kind == "application/json"
        assert content["schema"]["$ref"].rsplit("/", 1)[1] in ERROR_SHAPES
    assert set(spec["components"]["schemas"]) >= ERROR_SHAPES
    assert "ProblemDetails" not in spec["components"]["schemas"]


def test_openapi_documents_problems_with_the_switch() -> None:
    before = make_app(on=False).openapi()
    app = make_app(on=True)
    spec = app.openapi()
    answers = error_answers(spec)
    assert set(answers) == set(error_answers(before))
    for (method, path, status), answer in answers.items():
        expected = "ValidationProblemDetails" if status == "422" else "ProblemDetails"
        assert answer["content"] == {
            MEDIA_TYPE: {"schema": {"$ref": f"#/components/schemas/{expected}"}}
        }, (method, path, status)
        old = before["paths"][path][method]["responses"][status]
        # Descriptions and headers (Retry-After, RateLimit) stay as they were.
        assert {k: v for k, v in answer.items() if k != "content"} == {
            k: v for k, v in old.items() if k != "content"
        }
    # Success answers are not errors.
    assert (
        spec["paths"]["/companies"]["get"]["responses"]["200"]
        == (before["paths"]["/companies"]["get"]["responses"]["200"])
    )
    schemas = spec["components"]["schemas"]
    assert not (ERROR_SHAPES | {"ValidationError", "ValidationErrorItem"}) & set(schemas)
    assert schemas["ProblemDetails"] == ProblemDetails.model_json_schema()
    assert schemas["ValidationProblemDetails"]["properties"]["errors"]["items"] == {
        "$ref": "#/components/schemas/ValidationProblem"
    }
    assert "ValidationProblem" in schemas
    assert app.openapi() is spec


async def test_the_served_schema_is_the_rewritten_one() -> None:
    app = make_app(on=True)
    async with serve(app) as client:
        served = (await client.get("/openapi.json")).json()
    assert served == json.loads(json.dumps(app.openapi()))
    assert "ProblemDetails" in served["components"]["schemas"]


def test_problem_openapi_changes_nothing_the_second_time() -> None:
    spec = make_app(on=False).openapi()
    once = json.loads(json.dumps(problem_openapi(spec)))
    assert problem_openapi(spec) == once


class Report(BaseModel):
    """A request body in FastAPI's error shape: what it is, is not an error."""

    detail: str


def test_problem_openapi_keeps_what_else_refers_to_an_error_shape() -> None:
    router = APIRouter()

    @router.post("/reports", responses={404: {"model": ProblemDetails}})
    async def report(body: Report) -> None:
        return None

    app = FastAPI()
    app.include_router(router)
    install_problem_details(app)
    spec = app.openapi()
    operation = spec["paths"]["/reports"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Report"
    }
    assert "Report" in spec["components"]["schemas"]
    # A response documented with a problem model says its media type.
    assert operation["responses"]["404"]["content"] == {
        MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}
    }


def test_an_apps_own_openapi_set_afterwards_calls_problem_openapi() -> None:
    app = make_app(on=True)
    build = app.openapi

    def openapi() -> dict[str, Any]:
        spec = build()
        spec["info"]["x-logo"] = "logo.png"
        return problem_openapi(spec)

    app.openapi = openapi  # type: ignore[method-assign]
    spec = app.openapi()
    assert spec["info"]["x-logo"] == "logo.png"
    assert "ErrorResponse" not in spec["components"]["schemas"]


# --- the example of docs/errors.md -----------------------------------------------------------


def test_the_errors_page_includes_the_example() -> None:
    page = (ROOT / "docs" / "errors.md").read_text()
    assert '```python\n--8<-- "docs/examples/errors_problem_details.py"\n```' in page


async def test_the_example_answers_problems_as_its_page_says() -> None:
    base = "https://api.example.com/problems/"
    async with serve(errors_problem_details.create_app(DB_URL)) as client:
        await prepare_database([errors_problem_details.__name__])
        missing = await client.get("/books/99")
        assert missing.status_code == 404
        assert missing.json() == {
            "type": f"{base}not_found",
            "title": "Not Found",
            "status": 404,
            "detail": "No book matches the given query.",
            "instance": "/books/99",
            "code": "not_found",
            "request_id": missing.headers["X-Request-ID"],
        }
        assert (await client.post("/books", json={"title": "Dune"})).status_code == 201
        taken = await client.post("/books", json={"title": "Dune"})
        assert (taken.status_code, taken.json()["type"], taken.json()["detail"]) == (
            409,
            f"{base}unique",
            "A book with this title already exists.",
        )
        invalid = await client.post("/books", json={"title": 7})
        assert invalid.status_code == 422
        assert invalid.json()["type"] == f"{base}validation_error"
        assert invalid.json()["errors"] == [
            {
                "type": "string_type",
                "loc": ["body", "title"],
                "pointer": "#/title",
                "msg": "Input should be a valid string",
                "input": 7,
            }
        ]
        out = await client.post("/books", json={"title": "Ubik", "in_print": False})
        ordered = await client.post(f"/books/{out.json()['id']}/order")
        assert ordered.status_code == 409
        assert ordered.headers["content-type"] == MEDIA_TYPE
        assert ordered.json()["type"] == f"{base}out_of_print"
        assert ordered.json()["detail"] == "This book is out of print."
        nowhere = await client.get("/nowhere")
        assert nowhere.json() == {
            "type": f"{base}not_found",
            "title": "Not Found",
            "status": 404,
            "detail": "Not Found",
            "instance": "/nowhere",
            "code": "not_found",
        }
        spec = (await client.get("/openapi.json")).json()
    answer = spec["paths"]["/books/{id}"]["get"]["responses"]["404"]
    assert answer["content"] == {
        MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}
    }


def test_problem_openapi_on_a_schema_of_ones_own() -> None:
    error = {"$ref": "#/components/schemas/Error"}
    spec: dict[str, Any] = {
        "paths": {
            "/a": {
                "parameters": [],
                "get": {
                    "responses": {
                        "404": {
                            "description": "Gone",
                            "content": {
                                "text/plain": {"schema": {"type": "string"}},
                                "application/json": {"schema": error, "example": {"detail": "x"}},
                            },
                        },
                        "409": {
                            "description": "Numbered",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Numbered"}
                                }
                            },
                        },
                        "default": {"$ref": "#/components/responses/Other"},
                    }
                },
            }
        },
        "webhooks": {
            "ping": {
                "post": {"responses": {"400": {"content": {"application/json": {"schema": error}}}}}
            }
        },
        "components": {
            "schemas": {
                "Error": {"type": "object", "properties": {"detail": {"type": "string"}}},
                "Numbered": {"type": "object", "properties": {"detail": {"type": "integer"}}},
                "Odd": True,
            }
        },
    }
    problem_openapi(spec)
    problem = {"$ref": "#/components/schemas/ProblemDetails"}
    assert spec["paths"]["/a"]["get"]["responses"]["404"]["content"] == {
        "text/plain": {"schema": {"type": "string"}},
        MEDIA_TYPE: {"schema": problem},
    }
    assert list(spec["paths"]["/a"]["get"]["responses"]["409"]["content"]) == ["application/json"]
    assert spec["webhooks"]["ping"]["post"]["responses"]["400"]["content"] == {
        MEDIA_TYPE: {"schema": problem}
    }
    assert set(spec["components"]["schemas"]) == {
        "Numbered",
        "Odd",
        "ProblemDetails",
        "ValidationProblem",
        "ValidationProblemDetails",
    }


async def test_validation_errors_that_are_not_pydantics_are_listed_as_they_are() -> None:
    app = FastAPI()

    @app.get("/odd")
    async def odd() -> None:
        raise RequestValidationError(["Something is off."])

    install_problem_details(app)
    async with serve(app) as client:
        body = (await client.get("/odd")).json()
    assert (body["status"], body["errors"]) == (422, ["Something is off."])
