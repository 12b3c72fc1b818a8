"""Actions in a module with ``from __future__ import annotations``: every annotation is a string.

The viewset resolves them (``typing.get_type_hints``) before FastAPI reads the signature, so
bodies, query parameters, dependencies, background tasks, the request and return types behave
as in a module without the import.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Optional

import pytest
from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request
from pydantic import BaseModel, ConfigDict

from fastapi_viewsets import GenericViewSet, ImproperlyConfigured, ModelViewSet, action, viewset
from tests.models import Company, Tag
from tests.utils import create_app, query_parameters, serve


class CompanyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    size: int


class CompanyWrite(BaseModel):
    name: str
    size: int = 0


class Resize(BaseModel):
    size: int
    reason: Optional[str] = None  # noqa: UP045 - an old-style annotation, resolved too


class Page(BaseModel):
    limit: int
    offset: int


def paging(
    limit: Annotated[int, Query(ge=1, le=100)] = 10, offset: Annotated[int, Query(ge=0)] = 0
) -> Page:
    return Page(limit=limit, offset=offset)


events: list[str] = []


def record(event: str) -> None:
    events.append(event)


router = APIRouter(prefix="/companies", tags=["companies"])


@viewset(router)
class CompanyViewSet(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    create_schema = CompanyWrite

    @action(methods=["POST"], detail=True)
    async def resize(self, body: Resize, tasks: BackgroundTasks) -> CompanyRead:
        company = await self.get_object()
        company.size = body.size
        await company.save()
        tasks.add_task(record, f"{company.name}:{body.size}:{body.reason}")
        return CompanyRead.model_validate(company)

    @action(detail=False)
    async def page(self, page: Annotated[Page, Depends(paging)]) -> list[CompanyRead]:
        rows = await self.get_queryset().order_by("id").offset(page.offset).limit(page.limit)
        return [CompanyRead.model_validate(row) for row in rows]

    @action(detail=False)
    async def where(self, request: Request, tag: uuid.UUID | None = None) -> dict[str, Any]:
        return {"path": request.url.path, "tag": str(tag) if tag else None, "action": self.action}


async def test_a_body_model_and_background_tasks_resolve() -> None:
    events.clear()
    async with serve(create_app(router)) as client:
        company = await Company.create(name="acme")
        response = await client.post(
            f"/companies/{company.id}/resize", json={"size": 12, "reason": "growth"}
        )
        invalid = await client.post(f"/companies/{company.id}/resize", json={"size": "big"})
        missing = await client.post("/companies/4242/resize", json={"size": 1})
        assert (await Company.get(id=company.id)).size == 12
    assert response.status_code == 200
    assert response.json() == {"id": company.id, "name": "acme", "size": 12}
    assert events == ["acme:12:growth"]
    assert invalid.status_code == 422
    assert invalid.json()["detail"][0]["loc"] == ["body", "size"]
    assert missing.status_code == 404


async def test_an_annotated_dependency_resolves() -> None:
    async with serve(create_app(router)) as client:
        for index in range(5):
            await Company.create(name=f"c{index}", size=index)
        page = await client.get("/companies/page", params={"limit": 2, "offset": 1})
        too_big = await client.get("/companies/page", params={"limit": 1000})
    assert [row["name"] for row in page.json()] == ["c1", "c2"]
    assert too_big.status_code == 422
    assert too_big.json()["detail"][0]["loc"] == ["query", "limit"]


async def test_the_request_and_an_optional_uuid_resolve() -> None:
    tag = uuid.uuid4()
    async with serve(create_app(router)) as client:
        plain = await client.get("/companies/where")
        tagged = await client.get("/companies/where", params={"tag": str(tag)})
        bad = await client.get("/companies/where", params={"tag": "nope"})
    assert plain.json() == {"path": "/companies/where", "tag": None, "action": "where"}
    assert tagged.json()["tag"] == str(tag)
    assert bad.status_code == 422


async def test_openapi_shows_the_resolved_types() -> None:
    async with serve(create_app(router)) as client:
        spec = (await client.get("/openapi.json")).json()
    resize = spec["paths"]["/companies/{id}/resize"]["post"]
    assert resize["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Resize"
    }
    assert resize["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CompanyRead"
    }
    page = spec["paths"]["/companies/page"]["get"]
    assert {p["name"]: p["schema"].get("maximum") for p in query_parameters(page)} == {
        "limit": 100,
        "offset": None,
    }
    listing = page["responses"]["200"]["content"]["application/json"]["schema"]
    assert listing["type"] == "array"
    assert listing["items"] == {"$ref": "#/components/schemas/CompanyRead"}
    assert "Resize" in spec["components"]["schemas"]


async def test_standard_routes_work_in_the_module() -> None:
    async with serve(create_app(router)) as client:
        created = await client.post("/companies", json={"name": "acme", "size": 2})
        patched = await client.patch(f"/companies/{created.json()['id']}", json={"size": 3})
    assert created.status_code == 201
    assert patched.json() == {"id": created.json()["id"], "name": "acme", "size": 3}


def test_a_type_defined_inside_a_function_cannot_be_resolved() -> None:
    class LocalBody(BaseModel):
        x: int

    class LocalTypes(GenericViewSet[Tag]):
        model = Tag

        @action(methods=["POST"], detail=False)
        async def local(self, body: LocalBody) -> int:
            return body.x

    with pytest.raises(ImproperlyConfigured) as raised:
        viewset(APIRouter(prefix="/tags"))(LocalTypes)
    message = str(raised.value)
    assert "LocalTypes.local" in message
    assert "LocalBody" in message
    assert "module level" in message
