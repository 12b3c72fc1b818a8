"""Conditional reads: ``list`` and ``retrieve`` answer an ``ETag``; ``If-None-Match`` gets 304."""

from __future__ import annotations

import asyncio
import datetime
import decimal
from typing import Any

import pytest
from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict

from fastapi_viewsets import ModelViewSet, ReadOnlyModelViewSet, UserRateThrottle, action, viewset
from fastapi_viewsets.conditional import etag_of, none_match
from fastapi_viewsets.pagination import PageNumberPagination
from tests.models import Company, Project, Queue, Ticket, TicketPriority, TicketStatus, User
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


async def test_a_create_answers_the_tag_of_what_it_made_and_errors_none() -> None:
    async with serve(create_app(company_router())) as client:
        created = await client.post("/companies", json={"name": "acme"})
        assert created.status_code == 201
        read = await client.get(f"/companies/{created.json()['id']}")
        assert created.headers["ETag"] == read.headers["ETag"]
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


# --- If-Match on writes ------------------------------------------------------------------------


async def test_a_write_with_the_current_etag_passes_and_answers_the_new_one() -> None:
    async with serve(create_app(company_router())) as client:
        company = await Company.create(name="acme")
        read = await client.get(f"/companies/{company.id}")
        tag = read.headers["ETag"]
        patched = await client.patch(
            f"/companies/{company.id}", json={"name": "acme 2"}, headers={"If-Match": tag}
        )
        assert patched.status_code == 200
        new_tag = patched.headers["ETag"]
        assert new_tag != tag
        # The new tag is the one a read now answers: the client may write again with it.
        assert (await client.get(f"/companies/{company.id}")).headers["ETag"] == new_tag
        again = await client.put(
            f"/companies/{company.id}", json={"name": "acme 3"}, headers={"If-Match": new_tag}
        )
        assert again.status_code == 200


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
async def test_a_write_with_a_stale_etag_is_412_and_writes_nothing(method: str) -> None:
    async with serve(create_app(company_router())) as client:
        company = await Company.create(name="acme")
        stale = (await client.get(f"/companies/{company.id}")).headers["ETag"]
        await Company.filter(id=company.id).update(name="changed elsewhere")
        body = {"json": {"name": "mine"}} if method != "DELETE" else {}
        answer = await client.request(
            method, f"/companies/{company.id}", headers={"If-Match": stale}, **body
        )
        assert answer.status_code == 412
        assert answer.json()["detail"].startswith("The resource has changed")
        row = await Company.get(id=company.id)
        assert row.name == "changed elsewhere"


@pytest.mark.parametrize(
    ("header", "status"),
    [("{tag}", 200), ("W/{tag}", 412), ('"other", {tag}', 200), ("*", 200), ('"other"', 412)],
)
async def test_if_match_compares_strongly_and_takes_lists(header: str, status: int) -> None:
    async with serve(create_app(company_router())) as client:
        company = await Company.create(name="acme")
        tag = (await client.get(f"/companies/{company.id}")).headers["ETag"]
        answer = await client.patch(
            f"/companies/{company.id}",
            json={"name": "new"},
            headers={"If-Match": header.format(tag=tag)},
        )
    assert answer.status_code == status


async def test_a_viewset_may_require_if_match() -> None:
    async with serve(create_app(company_router(require_if_match=True))) as client:
        company = await Company.create(name="acme")
        bare = await client.patch(f"/companies/{company.id}", json={"name": "new"})
        assert bare.status_code == 428
        assert "If-Match" in bare.json()["detail"]
        gone = await client.delete(f"/companies/{company.id}")
        assert gone.status_code == 428
        tag = (await client.get(f"/companies/{company.id}")).headers["ETag"]
        deleted = await client.delete(f"/companies/{company.id}", headers={"If-Match": tag})
        assert deleted.status_code == 204
        # Reads and creates need no header.
        assert (await client.post("/companies", json={"name": "b"})).status_code == 201


async def test_a_missing_row_is_404_before_its_precondition() -> None:
    async with serve(create_app(company_router(require_if_match=True))) as client:
        answer = await client.patch("/companies/999999", json={"name": "x"})
    assert answer.status_code == 404


async def test_of_concurrent_writes_with_one_etag_exactly_one_passes() -> None:
    async with serve(create_app(company_router())) as client:
        company = await Company.create(name="acme")
        tag = (await client.get(f"/companies/{company.id}")).headers["ETag"]
        answers = await asyncio.gather(
            *(
                client.patch(
                    f"/companies/{company.id}",
                    json={"name": f"writer {i}"},
                    headers={"If-Match": tag},
                )
                for i in range(20)
            )
        )
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [200] + [412] * 19
        winner = next(a for a in answers if a.status_code == 200)
        assert (await Company.get(id=company.id)).name == winner.json()["name"]


def test_openapi_documents_the_preconditions_of_writes() -> None:
    paths = create_app(company_router(require_if_match=True)).openapi()["paths"]
    for method in ("put", "patch", "delete"):
        responses = paths["/companies/{id}"][method]["responses"]
        assert {"412", "428"} <= set(responses), method
    assert set(paths["/companies/{id}"]["patch"]["responses"]["200"]["headers"]) == {"ETag"}
    assert set(paths["/companies"]["post"]["responses"]["201"]["headers"]) == {
        "ETag",
        "Idempotent-Replayed",
        "Location",
    }
    assert "412" not in paths["/companies"]["post"]["responses"]
    plain = create_app(company_router()).openapi()["paths"]
    assert "428" not in plain["/companies/{id}"]["patch"]["responses"]
    assert "412" in plain["/companies/{id}"]["patch"]["responses"]


# --- the tag a fast read answers is the tag a write compares -----------------------------------


class OwnerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str


class ProjectRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str


class CompanyNested(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str | None
    created_at: datetime.datetime
    owner: OwnerRead | None
    projects: list[ProjectRead]


class TicketWrite(BaseModel):
    title: str


async def test_the_tag_of_a_fast_read_is_the_one_a_write_compares() -> None:
    """A write compares If-Match with the tag of the row serialised from model objects; the
    fast read answers bytes made from rows. They must be the same bytes, or every If-Match
    would be a 412: for every kind of column, nested objects and lists."""
    tickets = APIRouter(prefix="/tickets")

    class TicketViewSet(ModelViewSet[Ticket]):
        model = Ticket  # the generated read schema: every column
        create_schema = TicketWrite

    viewset(tickets)(TicketViewSet)
    companies = APIRouter(prefix="/companies")

    class CompanyViewSet(ModelViewSet[Company]):
        model = Company
        read_schema = CompanyNested
        create_schema = CompanyWrite

    viewset(companies)(CompanyViewSet)
    async with serve(create_app(tickets, companies)) as client:
        queue = await Queue.create(name="support")
        ticket = await Ticket.create(
            title="Ünïcode ✓",
            status=TicketStatus.CLOSED,
            priority=TicketPriority.HIGH,
            score=0.1,
            price=decimal.Decimal("12.30"),
            due=datetime.date(2026, 12, 6),
            opened_at=datetime.datetime(2026, 12, 6, 5, 4, 3, 210987, tzinfo=datetime.UTC),
            note=None,
            queue=queue,
        )
        owner = await User.create(username="alice")
        company = await Company.create(name="acme", owner=owner, description="ü")
        await Project.create(name="one", company=company)
        await Project.create(name="two", company=company)
        for url, body in (
            (f"/tickets/{ticket.id}", {"title": "x"}),
            (f"/companies/{company.id}", {"name": "y"}),
        ):
            read = await client.get(url)
            written = await client.patch(url, json=body, headers={"If-Match": read.headers["ETag"]})
            assert written.status_code == 200, (url, written.text)
            # And the new tag it answers is the one the next read answers.
            assert (await client.get(url)).headers["ETag"] == written.headers["ETag"]


def test_openapi_documents_the_conditional_request_headers() -> None:
    def headers(operation: dict[str, Any]) -> dict[str, bool]:
        return {p["name"]: p["required"] for p in operation["parameters"] if p["in"] == "header"}

    paths = create_app(company_router()).openapi()["paths"]
    assert headers(paths["/companies"]["get"]) == {"If-None-Match": False}
    assert headers(paths["/companies/{id}"]["get"]) == {"If-None-Match": False}
    for method in ("put", "patch", "delete"):
        assert headers(paths["/companies/{id}"][method]) == {"If-Match": False}
    assert headers(paths["/companies"]["post"]) == {"Idempotency-Key": False}
    required = create_app(company_router(require_if_match=True)).openapi()["paths"]
    assert headers(required["/companies/{id}"]["patch"]) == {"If-Match": True}
