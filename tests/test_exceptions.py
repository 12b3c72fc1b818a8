"""Errors: bad input is a 4xx (never a 500), HTTP errors keep FastAPI's body, and configuration
mistakes raise ImproperlyConfigured when the class is decorated."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from fastapi_viewsets import (
    APIException,
    Conflict,
    CreateModelMixin,
    GenericViewSet,
    ImproperlyConfigured,
    ModelViewSet,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    ReadOnlyModelViewSet,
    StateNotAvailable,
    UpdateModelMixin,
    action,
    viewset,
)
from fastapi_viewsets.exceptions import (
    ErrorResponse,
    MethodNotAllowed,
    ParseError,
    ValidationErrorResponse,
)
from tests.models import Company, Project, Tag
from tests.utils import create_app, serve


class CompanyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    size: int


class CompanyWrite(BaseModel):
    name: str
    size: int = 0
    owner_id: int | None = None


class TagRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    name: str


router = APIRouter(prefix="/companies")


@viewset(router)
class CompanyViewSet(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    create_schema = CompanyWrite

    @action(detail=False)
    async def stats(self, q: int = 0) -> dict[str, int]:
        return {"q": q}


tags = APIRouter(prefix="/tags")


@viewset(tags)
class TagViewSet(ReadOnlyModelViewSet[Tag]):
    model = Tag
    read_schema = TagRead


async def send(client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """The response, or a 500 when the app raised (what a client behind a server would get)."""
    try:
        return await client.request(method, url, **kwargs)
    except Exception as exc:  # the test transport re-raises the app's unhandled errors
        return httpx.Response(500, json={"detail": f"unhandled {type(exc).__name__}"})


JSON = {"content-type": "application/json"}
SQL_WORDS = ("SELECT", "INSERT", "UPDATE ", "DELETE ", "t_company", "constraint", "Key (")

BAD_INPUTS = [
    pytest.param("POST", "/companies", {"content": b'{"name": ', "headers": JSON}, id="json"),
    pytest.param("POST", "/companies", {"content": b"", "headers": JSON}, id="empty-body"),
    pytest.param("POST", "/companies", {"json": ["acme"]}, id="body-is-a-list"),
    pytest.param("POST", "/companies", {"json": "acme"}, id="body-is-a-string"),
    pytest.param("POST", "/companies", {"data": {"name": "acme"}}, id="form-body"),
    pytest.param("POST", "/companies", {"json": {"name": 5}}, id="int-for-str"),
    pytest.param("POST", "/companies", {"json": {"name": "a", "size": "big"}}, id="str-for-int"),
    pytest.param("POST", "/companies", {"json": {"name": "a", "size": 1.5}}, id="float-for-int"),
    pytest.param("POST", "/companies", {"json": {"name": "a", "owner_id": "x"}}, id="bad-fk"),
    pytest.param("POST", "/companies", {"json": {"name": {"first": "a"}}}, id="nested-object"),
    pytest.param("POST", "/companies", {"json": {"name": ["a"]}}, id="nested-list"),
    pytest.param("PATCH", "/companies/1", {"json": {"size": {"n": 1}}}, id="patch-nested"),
    pytest.param("PATCH", "/companies/1", {"json": {"name": None}}, id="patch-null"),
    pytest.param("PUT", "/companies/1", {"json": {"size": 1}}, id="put-missing"),
    pytest.param("GET", "/companies/abc", {}, id="lookup-not-int"),
    pytest.param("GET", "/companies/1.5", {}, id="lookup-float"),
    pytest.param("GET", "/companies/2147483648", {}, id="lookup-overflow"),
    pytest.param("GET", "/companies/-2147483649", {}, id="lookup-underflow"),
    pytest.param("PATCH", "/companies/99999999999999999999", {"json": {}}, id="patch-overflow"),
    pytest.param("DELETE", "/companies/9223372036854775808", {}, id="delete-overflow"),
    pytest.param("GET", "/tags/not-a-uuid", {}, id="uuid-garbage"),
    pytest.param("GET", "/tags/1234", {}, id="uuid-int"),
    pytest.param("GET", "/tags/0000000-0000-0000-0000-000000000000", {}, id="uuid-short"),
    pytest.param("GET", "/companies/stats", {"params": {"q": "x"}}, id="action-query"),
]


@pytest.mark.parametrize(("method", "url", "kwargs"), BAD_INPUTS)
async def test_bad_input_is_422(method: str, url: str, kwargs: dict[str, Any]) -> None:
    async with serve(create_app(router, tags)) as client:
        await Company.create(id=1, name="acme", size=3)
        response = await send(client, method, url, **kwargs)
        assert response.status_code == 422, response.text
        assert await Company.all().values_list("name", "size") == [("acme", 3)]
    detail = ValidationErrorResponse.model_validate(response.json()).detail
    assert detail
    assert not any(word in response.text for word in SQL_WORDS)


TOO_BIG_FOR_THE_COLUMN = [
    pytest.param("POST", "/companies", {"name": "a", "size": 2**31}, id="post-int-overflow"),
    pytest.param("POST", "/companies", {"name": "a", "size": -(2**31) - 1}, id="post-underflow"),
    pytest.param("POST", "/companies", {"name": "a", "size": 10**30}, id="post-huge-int"),
    pytest.param("PATCH", "/companies/1", {"size": 2**31}, id="patch-int-overflow"),
    pytest.param("PUT", "/companies/1", {"name": "a", "size": 2**31}, id="put-int-overflow"),
    pytest.param("POST", "/companies", {"name": "x" * 101}, id="post-str-too-long"),
    pytest.param("PATCH", "/companies/1", {"name": "x" * 101}, id="patch-str-too-long"),
    pytest.param("POST", "/companies", {"name": "a\x00b"}, id="post-nul-character"),
    pytest.param("PATCH", "/companies/1", {"name": "\x00"}, id="patch-nul-character"),
]


@pytest.mark.parametrize(("method", "url", "body"), TOO_BIG_FOR_THE_COLUMN)
async def test_a_value_the_column_cannot_hold_is_422(
    method: str, url: str, body: dict[str, Any]
) -> None:
    # The write schema says only `int` / `str`; the column's bounds still apply.
    async with serve(create_app(router)) as client:
        await Company.create(id=1, name="acme", size=3)
        response = await send(client, method, url, json=body)
        rows = await Company.all().values_list("name", "size")
    assert response.status_code == 422, response.text
    field = "size" if "size" in body else "name"
    assert [error["loc"] for error in response.json()["detail"]] == [["body", field]]
    assert rows == [("acme", 3)]


class LooseWrite(BaseModel):
    """Allows what the columns do not: null name and size, any length, any integer."""

    name: str | None = None
    size: int | None = 0
    owner_id: int | None = None


loose = APIRouter(prefix="/loose")


@viewset(loose)
class LooseViewSet(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    create_schema = LooseWrite


@pytest.mark.parametrize(
    ("method", "url", "body", "field"),
    [
        pytest.param("POST", "/loose", {}, "name", id="post-default-null"),
        pytest.param("POST", "/loose", {"name": None}, "name", id="post-null"),
        pytest.param("POST", "/loose", {"name": "a", "size": None}, "size", id="post-null-int"),
        pytest.param("PUT", "/loose/1", {"size": 1}, "name", id="put-null"),
        pytest.param("PATCH", "/loose/1", {"name": None}, "name", id="patch-null"),
        pytest.param("PATCH", "/loose/1", {"size": 2**40}, "size", id="patch-overflow"),
    ],
)
async def test_null_in_a_non_nullable_column_is_422(
    method: str, url: str, body: dict[str, Any], field: str
) -> None:
    async with serve(create_app(loose)) as client:
        await Company.create(id=1, name="acme", size=3)
        response = await send(client, method, url, json=body)
        rows = await Company.all().values_list("name", "size")
    assert response.status_code == 422, response.text
    assert [error["loc"] for error in response.json()["detail"]] == [["body", field]]
    assert rows == [("acme", 3)]


@pytest.mark.parametrize(
    ("method", "url", "status"),
    [
        ("GET", "/nowhere", 404),
        ("GET", "/companies/1/nothing", 404),
        ("POST", "/companies/1", 405),
        ("PUT", "/companies", 405),
        ("DELETE", "/companies", 405),
        ("POST", "/tags", 405),
    ],
)
async def test_unknown_paths_and_methods(method: str, url: str, status: int) -> None:
    async with serve(create_app(router, tags)) as client:
        response = await client.request(method, url)
    assert response.status_code == status
    assert isinstance(response.json()["detail"], str)


# --- HTTP errors raised by hooks and actions --------------------------------------------------


class Teapot(APIException):
    status_code = 418
    default_detail = "I'm a teapot."
    default_code = "teapot"


raising = APIRouter(prefix="/raising")


@viewset(raising)
class Raising(GenericViewSet[Company]):
    model = Company

    @action(detail=False)
    async def fail(self, kind: str) -> None:
        errors: dict[str, APIException] = {
            "not_found": NotFound(),
            "not_found_custom": NotFound("No such thing."),
            "denied": PermissionDenied("Locked.", code="locked"),
            "unauthenticated": NotAuthenticated(headers={"WWW-Authenticate": "Bearer"}),
            "conflict": Conflict(),
            "parse": ParseError(),
            "method": MethodNotAllowed(),
            "base": APIException(),
            "teapot": Teapot(),
        }
        raise errors[kind]


@pytest.mark.parametrize(
    ("kind", "status", "detail"),
    [
        ("not_found", 404, "Not found."),
        ("not_found_custom", 404, "No such thing."),
        ("denied", 403, "Locked."),
        ("unauthenticated", 401, "Authentication credentials were not provided."),
        ("conflict", 409, "The request conflicts with the current state of the resource."),
        ("parse", 400, "Malformed request."),
        ("method", 405, "Method not allowed."),
        ("base", 500, "A server error occurred."),
        ("teapot", 418, "I'm a teapot."),
    ],
)
async def test_api_exceptions_answer_with_their_status_and_detail(
    kind: str, status: int, detail: str
) -> None:
    async with serve(create_app(raising)) as client:
        response = await client.get("/raising/fail", params={"kind": kind})
    assert response.status_code == status
    assert response.json() == {"detail": detail}
    assert ErrorResponse.model_validate(response.json()).detail == detail
    if kind == "unauthenticated":
        assert response.headers["www-authenticate"] == "Bearer"


def test_api_exception_attributes() -> None:
    denied = PermissionDenied("Locked.", code="locked")
    assert isinstance(denied, HTTPException)
    assert (denied.status_code, denied.detail, denied.code) == (403, "Locked.", "locked")
    assert denied.headers is None
    assert NotFound().code == "not_found"
    assert Teapot().code == "teapot"
    assert Conflict(headers={"Retry-After": "1"}).headers == {"Retry-After": "1"}
    assert not isinstance(ImproperlyConfigured("x"), HTTPException)
    assert issubclass(StateNotAvailable, RuntimeError)


async def test_an_apps_handler_for_http_exception_formats_viewset_errors() -> None:
    app = create_app(router)

    @app.exception_handler(HTTPException)
    async def handler(request: Request, exc: HTTPException) -> JSONResponse:
        code = getattr(exc, "code", "http")
        return JSONResponse({"error": exc.detail, "code": code}, status_code=exc.status_code)

    async with serve(app) as client:
        response = await client.get("/companies/4242")
    assert response.status_code == 404
    assert response.json() == {"error": "No company matches the given query.", "code": "not_found"}


# --- configuration mistakes found at decoration -----------------------------------------------


class CompanyNameAndGhost(BaseModel):
    name: str
    ghost: str


class CompanyOwnerObject(BaseModel):
    name: str
    owner: int


class ProjectWithTags(BaseModel):
    name: str
    company_id: int
    tags: list[str]


class CompanyReadGhost(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    ghost: str


class CompanyWithProjects(BaseModel):
    name: str
    projects: list[int]


def no_model() -> type:
    class NoModel(ReadOnlyModelViewSet[Company]):
        pass

    return NoModel


def not_a_model() -> type:
    class NotAModel(ReadOnlyModelViewSet[Company]):
        model = CompanyRead  # type: ignore[assignment]

    return NotAModel


def unknown_lookup() -> type:
    class UnknownLookup(ReadOnlyModelViewSet[Company]):
        model = Company
        lookup_field = "uuid"

    return UnknownLookup


def relation_lookup() -> type:
    class RelationLookup(ReadOnlyModelViewSet[Company]):
        model = Company
        lookup_field = "owner"

    return RelationLookup


def non_unique_lookup() -> type:
    class NonUniqueLookup(ReadOnlyModelViewSet[Company]):
        model = Company
        lookup_field = "size"

    return NonUniqueLookup


def write_field_not_on_model() -> type:
    class GhostWrite(ModelViewSet[Company]):
        model = Company
        create_schema = CompanyNameAndGhost

    return GhostWrite


def write_fk_without_id() -> type:
    class OwnerWithoutId(ModelViewSet[Company]):
        model = Company
        create_schema = CompanyOwnerObject

    return OwnerWithoutId


def write_many_to_many() -> type:
    class TagsWrite(ModelViewSet[Project]):
        model = Project
        create_schema = ProjectWithTags

    return TagsWrite


def create_without_schema() -> type:
    class NoCreateSchema(CreateModelMixin[Company], GenericViewSet[Company]):
        model = Company

    return NoCreateSchema


def update_without_schema() -> type:
    class NoUpdateSchema(UpdateModelMixin[Company], GenericViewSet[Company]):
        model = Company

    return NoUpdateSchema


def bad_state_class() -> type:
    class BadState(ReadOnlyModelViewSet[Company]):
        model = Company
        state_class = dict  # type: ignore[assignment]

    return BadState


def no_read_schema() -> type:
    class NoReadSchema(ReadOnlyModelViewSet[Company]):
        model = Company

        @classmethod
        def get_schema_class(cls, action: str, *, write: bool = False) -> Any:
            return None

    return NoReadSchema


@pytest.mark.parametrize(
    ("make", "words"),
    [
        pytest.param(no_model, ["NoModel", "has no model", "model ="], id="no-model"),
        pytest.param(not_a_model, ["NotAModel", "has no model"], id="not-a-model"),
        pytest.param(unknown_lookup, ["UnknownLookup", "'uuid'", "slug"], id="unknown-lookup"),
        pytest.param(relation_lookup, ["RelationLookup", "'owner'", "owner_id"], id="fk-lookup"),
        pytest.param(non_unique_lookup, ["NonUniqueLookup", "'size'", "unique"], id="non-unique"),
        pytest.param(
            write_field_not_on_model,
            ["GhostWrite", "CompanyNameAndGhost", "'ghost'", "not a column"],
            id="write-ghost",
        ),
        pytest.param(
            write_fk_without_id, ["OwnerWithoutId", "'owner'", "'owner_id'"], id="write-fk"
        ),
        pytest.param(write_many_to_many, ["TagsWrite", "'tags'", "many-to-many"], id="write-m2m"),
        pytest.param(create_without_schema, ["NoCreateSchema", "create_schema"], id="no-create"),
        pytest.param(update_without_schema, ["NoUpdateSchema", "update_schema"], id="no-update"),
        pytest.param(bad_state_class, ["BadState", "state_class"], id="state-class"),
        pytest.param(no_read_schema, ["NoReadSchema", "get_schema_class"], id="no-read-schema"),
    ],
)
def test_mistakes_are_improperly_configured_at_decoration(make: Any, words: list[str]) -> None:
    local = APIRouter(prefix="/broken")
    cls = make()
    with pytest.raises(ImproperlyConfigured) as raised:
        viewset(local)(cls)
    for word in words:
        assert word in str(raised.value)


@pytest.mark.parametrize("prefix", [None, "", "/"])
def test_a_router_without_prefix_needs_prefix(prefix: str | None) -> None:
    class NoPrefix(ReadOnlyModelViewSet[Company]):
        model = Company

    local = APIRouter()
    with pytest.raises(ImproperlyConfigured) as raised:
        viewset(local, prefix=prefix)(NoPrefix)
    assert "NoPrefix" in str(raised.value)
    assert "prefix" in str(raised.value)
    assert local.routes == []


async def test_schema_mistakes_once_tortoise_knows_the_relations() -> None:
    # Defined after the app started: reverse relations are known, so the checks are complete.
    async with serve(create_app()):

        class GhostRead(ReadOnlyModelViewSet[Company]):
            model = Company
            read_schema = CompanyReadGhost

        class ProjectsWrite(ModelViewSet[Company]):
            model = Company
            read_schema = CompanyRead
            create_schema = CompanyWithProjects

        with pytest.raises(ImproperlyConfigured) as ghost:
            viewset(APIRouter(prefix="/ghost"))(GhostRead)
        with pytest.raises(ImproperlyConfigured) as projects:
            viewset(APIRouter(prefix="/projects"))(ProjectsWrite)
    assert "GhostRead" in str(ghost.value)
    assert "CompanyReadGhost" in str(ghost.value)
    assert "'ghost'" in str(ghost.value)
    assert "ProjectsWrite" in str(projects.value)
    assert "'projects'" in str(projects.value)
    assert "reverse relations" in str(projects.value)
