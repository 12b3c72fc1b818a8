"""What a validation error echoes: every bad body is a 422 in the one shape (never a 500 because
the error itself cannot be written), and an error repeats only a little of what was sent."""

from __future__ import annotations

import datetime
import decimal
import math
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field

from fastapi_viewsets import ModelViewSet, ViewSetRoute, action, viewset
from fastapi_viewsets._echo import (
    ELLIPSIS,
    MAX_CHARS,
    MAX_ERRORS,
    MAX_ITEMS,
    answerable_error,
    echo,
)
from fastapi_viewsets.exceptions import ValidationErrorResponse
from tests.models import Ticket
from tests.utils import create_app, serve

# --- echo ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("fine", "fine"),
        ("a\ud800", "a\\ud800"),
        ("a\x00b", "a\\x00b"),
        ("x" * MAX_CHARS, "x" * MAX_CHARS),
        ("x" * (MAX_CHARS + 1), "x" * MAX_CHARS + ELLIPSIS),
        ("\ud800" * MAX_CHARS, ("\\ud800" * MAX_CHARS)[:MAX_CHARS] + ELLIPSIS),
        (math.nan, "nan"),
        (math.inf, "inf"),
        (-math.inf, "-inf"),
        (1.5, 1.5),
        (decimal.Decimal("NaN"), "NaN"),
        (decimal.Decimal("1.5"), decimal.Decimal("1.5")),
        (decimal.Decimal("1" * 400 + ".5"), "1" * MAX_CHARS + ELLIPSIS),
        (b"\xff\xfe", "\\xff\\xfe"),
        (b"x" * 10_000, "x" * MAX_CHARS + ELLIPSIS),
        ("€" * 300, "€" * MAX_CHARS + ELLIPSIS),
        (3, 3),
        (True, True),
        (None, None),
        (list(range(MAX_ITEMS)), list(range(MAX_ITEMS))),
        (list(range(1000)), [*range(MAX_ITEMS), ELLIPSIS]),
        ((1, math.nan), [1, "nan"]),
        ({"a": {"b": {"c": 1}}}, {"a": {"b": ELLIPSIS}}),
        ({"a": [[1]]}, {"a": [ELLIPSIS]}),
        ({f"k{i}": i for i in range(50)}, {**{f"k{i}": i for i in range(10)}, ELLIPSIS: ELLIPSIS}),
        ({"\ud800": math.inf}, {"\\ud800": "inf"}),
        (datetime.date(2024, 1, 1), datetime.date(2024, 1, 1)),
    ],
)
def test_echo(value: Any, shown: Any) -> None:
    assert echo(value) == shown
    assert echo(echo(value)) == echo(value)  # echoing an echo changes nothing


def test_answerable_error_keeps_an_error_with_nothing_to_change() -> None:
    exc = RequestValidationError(
        [{"type": "missing", "loc": ("body", "name"), "msg": "Field required", "input": {}}],
        body={},
    )
    assert answerable_error(exc) is exc


def test_answerable_error_shapes_every_part_and_keeps_the_body() -> None:
    body = {"\ud800" * 300: math.nan}
    exc = RequestValidationError(
        [
            {
                "type": "value_error",
                "loc": ("body", "meta", "\ud800" * 300),
                "msg": "Value error, " + "\ud800" * 2000,
                "input": math.nan,
                "ctx": {"error": ValueError("x"), "limit": math.inf},
            }
        ],
        body=body,
    )
    shaped = answerable_error(exc)
    assert shaped is not exc
    assert shaped.body is body
    (error,) = shaped.errors()
    assert error["input"] == "nan"
    assert error["loc"] == ("body", "meta", ("\\ud800" * 300)[:MAX_CHARS] + ELLIPSIS)
    assert error["msg"].startswith("Value error, \\ud800")
    assert len(error["msg"]) == 1001
    assert error["ctx"]["limit"] == "inf"
    assert isinstance(error["ctx"]["error"], ValueError)  # the encoder's business, as before


def test_answerable_error_lists_at_most_max_errors() -> None:
    errors = [
        {"type": "int_parsing", "loc": ("body", i), "msg": "Bad", "input": "x"} for i in range(250)
    ]
    (*listed, last) = answerable_error(RequestValidationError(errors)).errors()
    assert listed == errors[:MAX_ERRORS]
    assert last == {
        "type": "too_many_errors",
        "loc": (),
        "msg": "150 more errors are not shown.",
        "input": None,
    }


def test_an_apps_own_subclass_is_left_as_it_is() -> None:
    class AppError(RequestValidationError):
        pass

    exc = AppError([{"type": "x", "loc": ("body",), "msg": "m", "input": math.nan}])
    assert answerable_error(exc) is exc


# --- over HTTP: the library's write routes and an action --------------------------------------


class TicketWrite(BaseModel):
    """Constraints Pydantic checks before the library's own column checks."""

    title: str = Field(max_length=100)
    opened_at: datetime.datetime
    rank: int = 0
    score: float = Field(0, ge=0)
    price: decimal.Decimal = Field(decimal.Decimal(0), max_digits=10, decimal_places=2)


class TicketRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    title: str
    rank: int
    score: float
    price: decimal.Decimal


class Reading(BaseModel):
    value: float = Field(ge=0)
    label: str = Field(max_length=10)
    counts: list[int] = []
    extra: dict[str, int] = {}


def ticket_router() -> APIRouter:
    router = APIRouter(prefix="/tickets")

    @viewset(router)
    class TicketViewSet(ModelViewSet[Ticket]):
        model = Ticket
        read_schema = TicketRead
        create_schema = TicketWrite

        @action(methods=["POST"], detail=False)
        async def record(self, reading: Reading) -> dict[str, float]:
            return {"value": reading.value}

    return router


OPENED = '"opened_at": "2024-01-01T00:00:00Z"'
SURROGATES = "\\ud800" * 101  # as JSON writes them

#: Raw JSON: Python's parser reads NaN, Infinity and 1e400 (as inf) and lone surrogates.
UNWRITABLE = [
    pytest.param(f'{{"title": "t", {OPENED}, "score": NaN}}', "score", id="float-nan"),
    pytest.param(f'{{"title": "t", {OPENED}, "score": -Infinity}}', "score", id="float-neg-inf"),
    pytest.param(f'{{"title": "t", {OPENED}, "score": Infinity}}', "score", id="float-inf"),
    pytest.param(f'{{"title": "t", {OPENED}, "score": 1e400}}', "score", id="float-1e400"),
    pytest.param(f'{{"title": "t", {OPENED}, "rank": NaN}}', "rank", id="int-nan"),
    pytest.param(f'{{"title": "t", {OPENED}, "rank": Infinity}}', "rank", id="int-inf"),
    pytest.param(f'{{"title": "t", {OPENED}, "rank": 1e400}}', "rank", id="int-1e400"),
    pytest.param(f'{{"title": "t", {OPENED}, "price": NaN}}', "price", id="decimal-nan"),
    pytest.param(f'{{"title": "t", {OPENED}, "price": -Infinity}}', "price", id="decimal-inf"),
    pytest.param(f'{{"title": "t", {OPENED}, "price": 1e400}}', "price", id="decimal-1e400"),
    pytest.param(f'{{"title": "\\ud800", {OPENED}}}', "title", id="char-surrogate"),
    pytest.param(f'{{"title": "{SURROGATES}", {OPENED}}}', "title", id="char-long-surrogates"),
    pytest.param(f'{{"title": "t\\u0000", {OPENED}}}', "title", id="char-nul"),
    # POST and PUT: the missing title's error echoes the whole body, NaN included.
    pytest.param(f'{{{OPENED}, "score": NaN}}', "score", id="missing-beside-nan"),
]


def assert_one_shape(response: Any, field: str | int) -> None:
    assert response.status_code == 422, response.text
    detail = ValidationErrorResponse.model_validate(response.json()).detail
    assert any(field in error.loc for error in detail)


def send(client: Any, method: str, url: str, body: str | bytes, **headers: str) -> Any:
    return client.request(
        method, url, content=body, headers={"content-type": "application/json", **headers}
    )


@pytest.mark.parametrize(("body", "field"), UNWRITABLE)
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
async def test_a_body_the_error_could_not_echo_is_a_422(method: str, body: str, field: str) -> None:
    async with serve(create_app(ticket_router())) as client:
        ticket = await Ticket.create(
            title="kept", opened_at=datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
        )
        url = "/tickets" if method == "POST" else f"/tickets/{ticket.id}"
        response = await send(client, method, url, body)
        assert_one_shape(response, field)
        assert await Ticket.all().values_list("title", flat=True) == ["kept"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param('{"value": NaN, "label": "a"}', "value", id="nan"),
        pytest.param('{"value": -1e400, "label": "a"}', "value", id="neg-1e400"),
        pytest.param('{"value": 1, "label": "\\ud800\\ud800"}', "label", id="surrogate"),
        pytest.param('{"value": 1, "label": "a", "counts": [NaN]}', 0, id="nan-in-list"),
        pytest.param('{"value": 1, "label": "a", "extra": {"\\ud800": "x"}}', "extra", id="key"),
    ],
)
async def test_an_actions_body_the_error_could_not_echo_is_a_422(
    body: str, field: str | int
) -> None:
    async with serve(create_app(ticket_router())) as client:
        response = await send(client, "POST", "/tickets/record", body)
    assert_one_shape(response, field)


async def test_bytes_that_are_not_utf_8_are_a_422() -> None:
    async with serve(create_app(ticket_router())) as client:
        response = await client.post(
            "/tickets", content=b"\xff\xfe", headers={"content-type": "application/octet-stream"}
        )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["input"] == "\\xff\\xfe"


async def test_an_error_echoes_at_most_200_characters_of_a_10_mb_string() -> None:
    huge = "x" * 10_000_000
    async with serve(create_app(ticket_router())) as client:
        response = await client.post(
            "/tickets", json={"title": huge, "opened_at": "2024-01-01T00:00:00Z"}
        )
        action_response = await client.post("/tickets/record", json={"value": 1, "label": huge})
    for answered in (response, action_response):
        assert answered.status_code == 422
        assert len(answered.content) < 1000
        assert answered.json()["detail"][0]["input"] == "x" * 200 + "…"


async def test_large_lists_and_dicts_are_summarised_and_the_errors_counted() -> None:
    async with serve(create_app(ticket_router())) as client:
        listed = await client.post(
            "/tickets/record", json={"value": 1, "label": list(range(10**5))}
        )
        many = await client.post(
            "/tickets/record", json={"value": 1, "label": "a", "counts": ["x"] * 10**5}
        )
    assert listed.status_code == 422
    assert listed.json()["detail"][0]["input"] == [*range(10), "…"]
    assert many.status_code == 422
    detail = many.json()["detail"]
    assert len(detail) == MAX_ERRORS + 1
    assert detail[-1]["type"] == "too_many_errors"
    assert detail[-1]["msg"] == f"{10**5 - MAX_ERRORS} more errors are not shown."


class LooseWrite(BaseModel):
    """No constraints: the library's column checks find the problem (title is 100 at most)."""

    title: str
    opened_at: datetime.datetime


async def test_the_librarys_own_value_errors_echo_as_little() -> None:
    router = APIRouter(prefix="/tickets")

    @viewset(router)
    class TicketViewSet(ModelViewSet[Ticket]):
        model = Ticket
        read_schema = TicketRead
        create_schema = LooseWrite

    async with serve(create_app(router)) as client:
        response = await client.post(
            "/tickets", json={"title": "y" * 100_000, "opened_at": "2024-01-01T00:00:00Z"}
        )
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["msg"] == "Ensure this value has at most 100 characters."
    assert error["input"] == "y" * 200 + "…"


async def test_routes_the_library_did_not_create_are_left_alone() -> None:
    own = APIRouter(prefix="/own", route_class=ViewSetRoute)

    @own.post("/readings")
    async def own_reading(reading: Reading) -> dict[str, float]:
        return {"value": reading.value}

    app = create_app(ticket_router(), own)

    @app.post("/plain")
    async def plain(reading: Reading) -> dict[str, float]:
        return {"value": reading.value}

    async with serve(app) as client:
        for url in ("/own/readings", "/plain"):
            response = await client.post(url, json={"value": 1, "label": "z" * 300})
            assert response.status_code == 422
            assert response.json()["detail"][0]["input"] == "z" * 300
