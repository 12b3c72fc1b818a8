"""Values a column cannot hold never reach the database: writes, filters, lookups, cursors."""

from __future__ import annotations

import datetime
import decimal
import math
from typing import Any

import pytest
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from fastapi_viewsets import ModelViewSet, ReadOnlyModelViewSet, viewset
from fastapi_viewsets._values import column_problem, normalise_value, text_problem
from fastapi_viewsets.pagination import CursorPagination, PageNumberPagination
from tests.models import Company, Document, Ticket
from tests.utils import create_app, serve

FIELDS = Ticket._meta.fields_map
UTC = datetime.timezone.utc


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("title", "fine", None),
        ("title", "a\x00b", "NUL"),
        ("title", "\ud800", "surrogates"),
        ("title", "x" * 101, "at most 100 characters"),
        ("rank", 2**31, "between"),
        ("rank", -(2**31) - 1, "between"),
        ("rank", 7, None),
        ("is_urgent", True, None),
        ("score", math.nan, "finite"),
        ("score", math.inf, "finite"),
        ("score", 1e308, None),
        ("price", decimal.Decimal("12345678.99"), None),
        ("price", decimal.Decimal("123456789"), "no more than 8 digits"),
        ("price", 1e20, "no more than 8 digits"),
        ("price", 10**9, "no more than 8 digits"),
        ("price", decimal.Decimal("Infinity"), "finite"),
        ("price", math.inf, "finite"),
        # Too many digits for the decimal context: no arithmetic may overflow (a 500).
        ("price", decimal.Decimal("1" * 400 + ".5"), "no more than 8 digits"),
        ("price", decimal.Decimal("1e999999999"), "no more than 8 digits"),
        ("price", decimal.Decimal("1e-999999999"), None),
        # The column rounds to 2 places: these carry into a ninth digit.
        ("price", decimal.Decimal("99999999.995"), "no more than 8 digits"),
        ("price", decimal.Decimal("-99999999.995"), "no more than 8 digits"),
        ("price", decimal.Decimal("99999999.994"), None),
        ("opened_at", datetime.datetime(9999, 12, 31, 23, 0, tzinfo=UTC), None),
        (
            "opened_at",
            datetime.datetime(
                9999, 12, 31, 23, 0, tzinfo=datetime.timezone(-datetime.timedelta(hours=5))
            ),
            "out of range",
        ),
        ("title", None, "may not be null"),
        ("note", None, None),
        ("id", None, None),
    ],
)
def test_column_problem(field: str, value: Any, problem: str | None) -> None:
    found = column_problem(FIELDS[field], value)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"a": [1, 2.5, {"b": "text"}], "c": None}, None),
        ({"a": math.nan}, "finite"),
        ([[1, [math.inf]]], "finite"),
        ({"a": decimal.Decimal("NaN")}, "finite"),
        ({"a": ["\ud800"]}, "surrogates"),
        ({"\ud800": 1}, "surrogates"),
        ({"a": "b\x00"}, "NUL"),
        ({"\x00": 1}, "NUL"),
        ("\x00", "NUL"),
    ],
)
def test_a_json_column_holds_no_nan_nul_or_lone_surrogate(value: Any, problem: str | None) -> None:
    found = column_problem(Document._meta.fields_map["meta"], value)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


def test_a_failing_field_validator_is_a_problem() -> None:
    from tests.models import Badge

    code = Badge._meta.fields_map["code"]
    assert column_problem(code, "abc") is None
    assert column_problem(code, "ABC") is None  # the validator ignores case
    assert column_problem(code, "a1") is not None


def test_text_and_datetime_helpers() -> None:
    assert text_problem("ok") is None
    naive = datetime.datetime(2024, 1, 1, 12)
    assert normalise_value(naive) == naive.replace(tzinfo=UTC)
    assert normalise_value(5) == 5
    with pytest.raises(ValueError, match="out of range"):
        normalise_value(
            datetime.datetime(1, 1, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=1)))
        )


class TicketWrite(BaseModel):
    title: str
    opened_at: datetime.datetime
    score: float = 0
    price: float = 0


class TicketRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    title: str
    score: float
    price: decimal.Decimal


def ticket_router() -> APIRouter:
    router = APIRouter(prefix="/tickets")

    @viewset(router)
    class TicketViewSet(ModelViewSet[Ticket]):
        model = Ticket
        read_schema = TicketRead
        create_schema = TicketWrite
        filterset_fields = {"score": ["gte"], "opened_at": ["gte"], "rank": ["in"]}
        search_fields = ["title"]

    return router


BODY = {"title": "t", "opened_at": "2024-01-01T00:00:00Z"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"title": "\\ud800", "opened_at": "2024-01-01T00:00:00Z"}', "title"),
        ('{"title": "t", "opened_at": "9999-12-31T23:59:59-05:00"}', "opened_at"),
        ('{"title": "t", "opened_at": "2024-01-01T00:00:00Z", "price": 1e20}', "price"),
        ('{"title": "t", "opened_at": "2024-01-01T00:00:00Z", "score": 1e400}', "score"),
        ('{"title": "t", "opened_at": "2024-01-01T00:00:00Z", "price": 99999999.999}', "price"),
    ],
)
async def test_a_body_value_the_column_cannot_hold_is_422(body: str, field: str) -> None:
    async with serve(create_app(ticket_router())) as client:
        response = await client.post(
            "/tickets", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"][-1] == field
        assert await Ticket.all().count() == 0


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("opened_at__gte=9999-12-31T23:59:59-05:00", "opened_at__gte"),
        ("score__gte=NaN", "score__gte"),
        ("score__gte=inf", "score__gte"),
        ("rank__in=" + ",".join(["1"] * 1001), "rank__in"),
        ("search=" + "a" * 1001, "search"),
        ("search=ok+a%00b", "search"),
    ],
)
async def test_a_filter_value_the_column_cannot_hold_is_422(query: str, param: str) -> None:
    async with serve(create_app(ticket_router())) as client:
        response = await client.get(f"/tickets?{query}")
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"] == ["query", param]


async def test_a_cursor_whose_datetime_overflows_in_utc_is_404() -> None:
    router = APIRouter(prefix="/tickets")

    @viewset(router)
    class TicketViewSet(ReadOnlyModelViewSet[Ticket]):
        model = Ticket
        read_schema = TicketRead
        pagination_class = CursorPagination
        ordering_fields = ["opened_at"]

    cursor = CursorPagination().encode(["0001-01-01T00:00:00+01:00", 1], ["opened_at", "id"], False)
    async with serve(create_app(router)) as client:
        response = await client.get(f"/tickets?ordering=opened_at&cursor={cursor}")
    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid cursor."}


async def test_a_lookup_the_column_cannot_hold_is_404() -> None:
    router = APIRouter(prefix="/companies")

    @viewset(router)
    class CompanyViewSet(ReadOnlyModelViewSet[Company]):
        model = Company
        lookup_field = "slug"

    async with serve(create_app(router)) as client:
        await Company.create(name="Acme", slug="acme")
        assert (await client.get("/companies/acme")).status_code == 200
        for bad in ("acme%00", "%00", "%ED%A0%80"):
            response = await client.get(f"/companies/{bad}")
            assert response.status_code in (404, 422), response.text


class DocumentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    title: str
    meta: dict[str, Any]


class DocumentWrite(BaseModel):
    model_config = ConfigDict(validate_default=True)
    title: str
    meta: dict[str, Any] = {}


def document_router() -> APIRouter:
    router = APIRouter(prefix="/documents")

    @viewset(router)
    class DocumentViewSet(ModelViewSet[Document]):
        model = Document
        read_schema = DocumentRead
        create_schema = DocumentWrite

    return router


@pytest.mark.parametrize(
    "meta",
    [
        pytest.param('{"a": NaN}', id="nan"),
        pytest.param('{"a": [1, [Infinity]]}', id="nested-infinity"),
        pytest.param('{"a": 1e400}', id="1e400"),
        pytest.param('{"a": "\\ud800"}', id="surrogate"),
        pytest.param('{"a": "\\u0000"}', id="nul"),
        pytest.param('{"\\u0000": 1}', id="nul-key"),
    ],
)
@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_a_json_value_the_column_cannot_hold_is_422(method: str, meta: str) -> None:
    # PostgreSQL refused each with a 500; SQLite kept the NaN, which read back as null.
    async with serve(create_app(document_router())) as client:
        kept = await Document.create(title="kept", meta={"ok": 1})
        url = "/documents" if method == "POST" else f"/documents/{kept.id}"
        response = await client.request(
            method,
            url,
            content=f'{{"title": "t", "meta": {meta}}}',
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"] == ["body", "meta"]
        assert await Document.all().values_list("title", "meta") == [("kept", {"ok": 1})]


async def test_a_json_value_changed_in_place_by_a_hook_is_saved() -> None:
    router = APIRouter(prefix="/documents")

    @viewset(router)
    class DocumentViewSet(ModelViewSet[Document]):
        model = Document
        read_schema = DocumentRead
        create_schema = DocumentWrite

        async def perform_update(self, obj: Document) -> Document:
            obj.meta["edited"] = True
            return await super().perform_update(obj)

    async with serve(create_app(router)) as client:
        created = await client.post("/documents", json={"title": "t", "meta": {"a": 1}})
        doc_id = created.json()["id"]
        # validate_default=True on the write schema: PATCH still needs only the fields sent.
        response = await client.patch(f"/documents/{doc_id}", json={"title": "t2"})
        assert response.status_code == 200, response.text
        assert response.json()["meta"] == {"a": 1, "edited": True}
        stored = await Document.get(id=doc_id)
        assert (stored.title, stored.meta) == ("t2", {"a": 1, "edited": True})


async def test_page_numbers_keep_working_beside_the_checks() -> None:
    router = APIRouter(prefix="/tickets")

    @viewset(router)
    class TicketViewSet(ReadOnlyModelViewSet[Ticket]):
        model = Ticket
        read_schema = TicketRead
        pagination_class = PageNumberPagination
        filterset_fields = {"score": ["gte"]}

    async with serve(create_app(router)) as client:
        await Ticket.create(title="a", opened_at=datetime.datetime(2024, 1, 1, tzinfo=UTC), score=2)
        response = await client.get("/tickets?score__gte=1.5")
    assert response.status_code == 200
    assert response.json()["count"] == 1
