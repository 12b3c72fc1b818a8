"""Conditional reads: ``list`` and ``retrieve`` answer an ``ETag``; ``If-None-Match`` gets 304."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict

from fastapi_viewsets import ModelViewSet, ReadOnlyModelViewSet, UserRateThrottle, action, viewset
from fastapi_viewsets.conditional import etag_of, none_match
from fastapi_viewsets.pagination import PageNumberPagination
from tests.models import Company
from tests.utils import create_app, serve


class CompanyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str


class CompanyWrite(BaseModel):
    name: str


def company_router(**namespace: Any) -> APIRouter:
    router = APIRouter(prefix="/companies")

    class Base(ModelViewSet[Company]):
        model = Company
        read_schema = CompanyRead
        create_schema = CompanyWrite

    viewset(router)(type("CompanyViewSet", (Base,), namespace))
    return router


def test_an_etag_is_a_quoted_hash_of_the_bytes() -> None:
    tag = etag_of(b'{"id":1}')
    assert tag.startswith('"')
    assert tag.endswith('"')
    assert tag == etag_of(b'{"id":1}')
    assert tag != etag_of(b'{"id":2}')


@pytest.mark.parametrize(
    ("header", "matches"),
    [
        (None, False),
        ('"a"', True),
        ('W/"a"', True),  # If-None-Match compares weakly (RFC 9110 13.1.2)
        ('"b"', False),
        ('"b", "a"', True),
        ('"b",W/"a"', True),
        ("*", True),
        ("", False),
        ('"a', False),
    ],
)
def test_if_none_match_compares_weakly_and_takes_lists(header: str | None, matches: bool) -> None:
    assert none_match(header, '"a"') is matches


async def test_retrieve_answers_an_etag_and_304_while_it_holds() -> None:
    async with serve(create_app(company_router())) as client:
        company = await Company.create(name="acme")
        first = await client.get(f"/companies/{company.id}")
        tag = first.headers["ETag"]
        assert tag == etag_of(first.content)
        again = await client.get(f"/companies/{company.id}", headers={"If-None-Match": tag})
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["ETag"] == tag
        assert "content-type" not in again.headers
        assert again.headers["X-Request-ID"]
        weak = await client.get(f"/companies/{company.id}", headers={"If-None-Match": f"W/{tag}"})
        assert weak.status_code == 304

        # A change of the row is a new representation: a new tag, and a 200.
        await Company.filter(id=company.id).update(name="acme 2")
        changed = await client.get(f"/companies/{company.id}", headers={"If-None-Match": tag})
        assert changed.status_code == 200
        assert changed.json()["name"] == "acme 2"
        assert changed.headers["ETag"] != tag


async def test_list_answers_an_etag_of_the_page() -> None:
    router = company_router(pagination_class=PageNumberPagination)
    async with serve(create_app(router)) as client:
        for name in ("a", "b", "c"):
            await Company.create(name=name)
        first = await client.get("/companies", params={"page_size": 2})
        second = await client.get("/companies", params={"page_size": 2, "page": 2})
        assert first.headers["ETag"] != second.headers["ETag"]
        cached = await client.get(
            "/companies", params={"page_size": 2}, headers={"If-None-Match": first.headers["ETag"]}
        )
        assert cached.status_code == 304
        # A new row changes the count on every page: the tag too.
        await Company.create(name="d")
        fresh = await client.get(
            "/companies", params={"page_size": 2}, headers={"If-None-Match": first.headers["ETag"]}
        )
        assert fresh.status_code == 200
        assert fresh.json()["count"] == 4


async def test_only_reads_that_succeed_are_tagged() -> None:
    async with serve(create_app(company_router())) as client:
        created = await client.post("/companies", json={"name": "acme"})
        assert created.status_code == 201
        assert "ETag" not in created.headers  # writes answer their tag with If-Match (#13)
        missing = await client.get("/companies/999999", headers={"If-None-Match": "*"})
        assert missing.status_code == 404
        assert "ETag" not in missing.headers


async def test_actions_are_not_tagged() -> None:
    class WithAction(ReadOnlyModelViewSet[Company]):
        model = Company
        read_schema = CompanyRead

        @action(detail=False)
        async def stats(self) -> dict[str, int]:
            return {"count": await self.get_queryset().count()}

    router = APIRouter(prefix="/companies")
    viewset(router)(WithAction)
    async with serve(create_app(router)) as client:
        answer = await client.get("/companies/stats", headers={"If-None-Match": "*"})
    assert answer.status_code == 200
    assert "ETag" not in answer.headers


async def test_a_finalize_response_override_that_calls_super_keeps_the_etag() -> None:
    def finalize_response(self: Any, response: Response) -> Response:
        response.headers["Cache-Control"] = "private, max-age=0"
        return super(type(self), self).finalize_response(response)

    router = company_router(finalize_response=finalize_response)
    async with serve(create_app(router)) as client:
        company = await Company.create(name="acme")
        first = await client.get(f"/companies/{company.id}")
        cached = await client.get(
            f"/companies/{company.id}", headers={"If-None-Match": first.headers["ETag"]}
        )
    assert cached.status_code == 304
    # A 304 keeps the caching headers of the 200 it stands for (RFC 9110 15.4.5).
    assert cached.headers["Cache-Control"] == "private, max-age=0"


async def test_a_304_keeps_the_throttles_headers() -> None:
    router = company_router(throttle_classes=[UserRateThrottle("10/minute")])
    async with serve(create_app(router)) as client:
        company = await Company.create(name="acme")
        first = await client.get(f"/companies/{company.id}")
        cached = await client.get(
            f"/companies/{company.id}", headers={"If-None-Match": first.headers["ETag"]}
        )
    assert cached.status_code == 304
    assert cached.headers["RateLimit"].startswith('"user";r=8;')


def test_openapi_documents_the_etag_and_304_of_list_and_retrieve() -> None:
    app = create_app(company_router(throttle_classes=[UserRateThrottle("10/minute")]))
    paths = app.openapi()["paths"]
    for operation in (paths["/companies"]["get"], paths["/companies/{id}"]["get"]):
        responses = operation["responses"]
        assert set(responses["304"]["headers"]) == {"ETag"}
        # The success answer names the tag beside the throttles' headers.
        assert set(responses["200"]["headers"]) == {"ETag", "RateLimit", "RateLimit-Policy"}
        assert "application/json" in responses["200"]["content"]
    for operation in (paths["/companies"]["post"], paths["/companies/{id}"]["patch"]):
        assert "304" not in operation["responses"]
