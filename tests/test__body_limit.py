"""``max_body_size``: a request body over the limit is a 413 in the library's error shape, before
it is read (Content-Length) or as it is read (chunked); nothing runs or is written; OpenAPI says
so. Only the library's routes are limited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from fastapi_viewsets import (
    ContentTooLarge,
    ImproperlyConfigured,
    ModelViewSet,
    ViewSetRoute,
    action,
    viewset,
)
from fastapi_viewsets.exceptions import ErrorResponse
from tests.models import Company
from tests.utils import create_app, serve

LIMIT = 100
DETAIL = f"The request body is too large: this endpoint takes at most {LIMIT} bytes."


class CompanyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str


class CompanyWrite(BaseModel):
    name: str
    description: str | None = None


class Note(BaseModel):
    text: str


#: What ran of each request: initial(), the actions.
ran: list[str] = []


def limited_router() -> APIRouter:
    router = APIRouter(prefix="/companies")

    @viewset(router)
    class CompanyViewSet(ModelViewSet[Company]):
        model = Company
        read_schema = CompanyRead
        create_schema = CompanyWrite
        max_body_size = LIMIT

        async def initial(self) -> None:
            ran.append("initial")
            await super().initial()

        @action(methods=["POST"], detail=False)
        async def note(self, note: Note) -> dict[str, int]:
            ran.append("note")
            return {"length": len(note.text)}

        @action(methods=["POST"], detail=False, max_body_size=None)
        async def upload(self, note: Note) -> dict[str, int]:
            return {"length": len(note.text)}

        @action(methods=["POST"], detail=False)
        async def import_rows(self, request: Request) -> dict[str, int]:
            # Writes first, then reads the body itself: the 413 rolls the write back.
            async with self.atomic():
                await Company.create(name="half-written")
                body = await request.body()
            return {"length": len(body)}

        @action(methods=["POST"], detail=False)
        async def ping(self) -> dict[str, bool]:
            return {"pong": True}

    return router


def big_body() -> dict[str, Any]:
    return {"name": "acme", "description": "x" * LIMIT}


async def chunks(body: bytes, size: int = 16) -> AsyncIterator[bytes]:
    """The body in pieces, sent chunked: without Content-Length."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def assert_413(response: Any) -> None:
    assert response.status_code == 413, response.text
    assert ErrorResponse.model_validate(response.json()).detail == DETAIL
    assert response.headers["x-request-id"]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
async def test_a_body_over_the_limit_is_a_413_before_anything_runs(method: str) -> None:
    async with serve(create_app(limited_router())) as client:
        company = await Company.create(name="kept")
        ran.clear()
        url = "/companies" if method == "POST" else f"/companies/{company.id}"
        response = await client.request(method, url, json=big_body())
        assert await Company.all().values_list("name", flat=True) == ["kept"]
    assert int(response.request.headers["content-length"]) > LIMIT
    assert_413(response)
    assert ran == []


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
async def test_a_chunked_body_over_the_limit_is_a_413_as_it_is_read(method: str) -> None:
    async with serve(create_app(limited_router())) as client:
        company = await Company.create(name="kept")
        ran.clear()
        url = "/companies" if method == "POST" else f"/companies/{company.id}"
        body = CompanyWrite(**big_body()).model_dump_json().encode()
        response = await client.request(
            method, url, content=chunks(body), headers={"content-type": "application/json"}
        )
        assert await Company.all().values_list("name", flat=True) == ["kept"]
    assert "content-length" not in response.request.headers
    assert_413(response)
    assert ran == []  # FastAPI reads the body before the dependencies run


async def test_a_body_within_the_limit_is_served() -> None:
    body = b'{"name": "' + b"a" * (LIMIT - 12) + b'"}'
    assert len(body) == LIMIT
    async with serve(create_app(limited_router())) as client:
        sized = await client.post(
            "/companies", content=body, headers={"content-type": "application/json"}
        )
        await Company.all().delete()
        chunked = await client.post(
            "/companies", content=chunks(body), headers={"content-type": "application/json"}
        )
    assert (sized.status_code, chunked.status_code) == (201, 201)


async def test_an_action_takes_the_viewsets_limit_or_its_own() -> None:
    note = {"text": "x" * LIMIT}
    async with serve(create_app(limited_router())) as client:
        refused = await client.post("/companies/note", json=note)
        allowed = await client.post("/companies/upload", json=note)
        bodiless = await client.post("/companies/ping")
        bodiless_but_sent = await client.post("/companies/ping", content=b"x" * (LIMIT + 1))
    assert_413(refused)
    assert allowed.status_code == 200
    assert bodiless.status_code == 200
    assert_413(bodiless_but_sent)  # the request says its body is too large: not served


async def test_an_action_that_reads_the_body_itself_writes_nothing() -> None:
    async with serve(create_app(limited_router())) as client:
        response = await client.post("/companies/import-rows", content=chunks(b"x" * (LIMIT * 3)))
        assert await Company.all().count() == 0
        small = await client.post("/companies/import-rows", content=chunks(b"x" * 10))
        assert await Company.all().count() == 1
    assert_413(response)
    assert small.json() == {"length": 10}


async def test_a_refused_body_claims_no_idempotency_key() -> None:
    async with serve(create_app(limited_router())) as client:
        headers = {"Idempotency-Key": "key-1"}
        refused = await client.post("/companies", json=big_body(), headers=headers)
        retried = await client.post("/companies", json={"name": "acme"}, headers=headers)
    assert_413(refused)
    assert retried.status_code == 201, retried.text


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_the_413_goes_through_the_apps_exception_handler(chunked: bool) -> None:
    app = create_app(limited_router())

    async def handler(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"error": exc.detail, "kind": type(exc).__name__}, status_code=exc.status_code
        )

    app.add_exception_handler(StarletteHTTPException, handler)
    body = CompanyWrite(**big_body()).model_dump_json().encode()
    async with serve(app) as client:
        response = await client.post(
            "/companies",
            content=chunks(body) if chunked else body,
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 413
    assert response.json() == {"error": DETAIL, "kind": "ContentTooLarge"}


async def test_a_limit_of_zero_takes_no_body() -> None:
    router = APIRouter(prefix="/companies")

    @viewset(router)
    class CompanyViewSet(ModelViewSet[Company]):
        model = Company
        read_schema = CompanyRead
        create_schema = CompanyWrite
        max_body_size = 0

    async with serve(create_app(router)) as client:
        company = await Company.create(name="kept")
        refused = await client.patch(f"/companies/{company.id}", json={})
        read = await client.get(f"/companies/{company.id}")
        deleted = await client.delete(f"/companies/{company.id}")
    assert refused.status_code == 413
    assert refused.json() == {
        "detail": "The request body is too large: this endpoint takes at most 0 bytes."
    }
    assert (read.status_code, deleted.status_code) == (200, 204)


async def test_routes_the_library_did_not_create_take_any_body() -> None:
    own = APIRouter(prefix="/own", route_class=ViewSetRoute)

    @own.post("/notes")
    async def own_note(note: Note) -> dict[str, int]:
        return {"length": len(note.text)}

    app = create_app(limited_router(), own)

    @app.post("/plain")
    async def plain(note: Note) -> dict[str, int]:
        return {"length": len(note.text)}

    note = {"text": "x" * LIMIT * 10}
    async with serve(app) as client:
        for url in ("/own/notes", "/plain"):
            response = await client.post(url, json=note)
            assert response.status_code == 200, url


def test_without_a_limit_openapi_documents_no_413() -> None:
    router = APIRouter(prefix="/companies")

    @viewset(router)
    class CompanyViewSet(ModelViewSet[Company]):
        model = Company
        read_schema = CompanyRead
        create_schema = CompanyWrite

    spec = create_app(router).openapi()
    for path in spec["paths"].values():
        for operation in path.values():
            assert "413" not in operation["responses"]


def test_openapi_documents_the_413_of_operations_with_a_body() -> None:
    spec = create_app(limited_router()).openapi()
    with_413 = {
        operation["operationId"]
        for path in spec["paths"].values()
        for operation in path.values()
        if "413" in operation["responses"]
    }
    assert with_413 == {
        "company_create",
        "company_update",
        "company_partial_update",
        "company_note",
    }
    answer = spec["paths"]["/companies"]["post"]["responses"]["413"]
    assert answer["description"] == (
        f"Content Too Large: the request body is over {LIMIT} bytes; nothing was done"
    )
    assert answer["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorResponse"
    }


@pytest.mark.parametrize("value", [-1, 1.5, "1MB", True])
def test_a_limit_that_is_not_a_number_of_bytes_is_refused_at_registration(value: Any) -> None:
    with pytest.raises(ImproperlyConfigured, match="max_body_size"):

        @viewset(APIRouter(prefix="/companies"))
        class CompanyViewSet(ModelViewSet[Company]):
            model = Company
            read_schema = CompanyRead
            create_schema = CompanyWrite
            max_body_size = value

    with pytest.raises(ImproperlyConfigured, match=r"ActionViewSet\.note: max_body_size"):

        @viewset(APIRouter(prefix="/companies"))
        class ActionViewSet(ModelViewSet[Company]):
            model = Company
            read_schema = CompanyRead
            create_schema = CompanyWrite

            @action(methods=["POST"], detail=False, max_body_size=value)
            async def note(self, note: Note) -> None:
                pass


def test_content_too_large_is_an_api_exception() -> None:
    exc = ContentTooLarge()
    assert (exc.status_code, exc.detail, exc.code) == (
        413,
        "The request body is too large.",
        "content_too_large",
    )
