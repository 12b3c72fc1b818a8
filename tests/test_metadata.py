"""``SimpleMetadata``: what ``OPTIONS`` says of a write's fields, as DRF's ``SimpleMetadata``."""

from __future__ import annotations

import datetime
import decimal
import enum
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from fastapi_viewsets import ModelViewSet, viewset
from fastapi_viewsets.metadata import SimpleMetadata
from tests.models import Company
from tests.utils import create_app, serve


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Address(BaseModel):
    street: str


class Everything(BaseModel):
    title: str = Field(min_length=2, max_length=50, description="What it is called.")
    count: int = Field(0, ge=0, le=10)
    ratio: float = 0.5
    price: decimal.Decimal = decimal.Decimal("1.00")
    when: datetime.datetime | None = None
    day: datetime.date | None = None
    colour: Colour = Colour.RED
    tags: list[str] = []
    address: Address | None = None
    flag: bool = False
    also_known_as: str = Field("", alias="aka", title="Also known as")


def test_each_field_is_described_by_type_requirement_label_and_constraints() -> None:
    info = SimpleMetadata().schema_info(Everything)
    assert info["title"] == {
        "type": "string",
        "required": True,
        "read_only": False,
        "label": "Title",
        "help_text": "What it is called.",
        "min_length": 2,
        "max_length": 50,
    }
    assert info["count"]["type"] == "integer"
    assert (info["count"]["min_value"], info["count"]["max_value"]) == (0, 10)
    assert info["count"]["required"] is False
    assert info["ratio"]["type"] == "float"
    assert info["price"]["type"] == "decimal"
    assert info["when"]["type"] == "datetime"
    assert info["day"]["type"] == "date"
    assert info["colour"]["type"] == "choice"
    assert info["colour"]["choices"] == [
        {"value": "red", "display_name": "red"},
        {"value": "blue", "display_name": "blue"},
    ]
    assert info["tags"]["type"] == "list"
    assert info["address"]["type"] == "nested object"
    assert info["flag"]["type"] == "boolean"
    assert info["aka"]["label"] == "Also known as"  # the body's key: the alias
    assert "also_known_as" not in info


class CompanyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str


class CompanyWrite(BaseModel):
    name: str


class Brief(SimpleMetadata):
    def determine_metadata(
        self, request: Request, view: Any, actions: dict[str, type[BaseModel]]
    ) -> dict[str, Any]:
        return {"name": self.view_name(view), "writes": sorted(actions), "action": view.action}


async def test_a_metadata_class_of_ones_own_answers_options() -> None:
    router = APIRouter(prefix="/brief")

    @viewset(router)
    class BriefCompanyViewSet(ModelViewSet[Company]):
        model = Company
        read_schema = CompanyRead
        create_schema = CompanyWrite
        metadata_class = Brief

    async with serve(create_app(router)) as client:
        listing = await client.options("/brief")
        detail = await client.options("/brief/1")
    assert listing.json() == {
        "name": "Brief Company List",
        "writes": ["POST"],
        "action": "metadata",
    }
    assert detail.json() == {
        "name": "Brief Company Instance",
        "writes": ["PUT"],
        "action": "metadata",
    }
