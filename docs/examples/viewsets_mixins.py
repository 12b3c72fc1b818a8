"""Compose only the actions a resource has; leave out read_schema to get one generated."""

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict
from tortoise import fields
from tortoise.models import Model

from fastapi_viewsets import (
    CreateModelMixin,
    GenericViewSet,
    ListModelMixin,
    ReadOnlyModelViewSet,
    viewset,
)


class Country(Model):
    code = fields.CharField(max_length=2, primary_key=True)
    name = fields.CharField(max_length=100)


class Event(Model):
    id = fields.IntField(primary_key=True)
    message = fields.CharField(max_length=200)
    created_at = fields.DatetimeField(auto_now_add=True)


class EventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    message: str


class EventCreate(BaseModel):
    message: str


router = APIRouter()


@viewset(router, prefix="/countries")
class CountryViewSet(ReadOnlyModelViewSet[Country]):
    model = Country  # no read_schema: "CountryRead" is generated from the columns
    lookup_field = "code"


@viewset(router, prefix="/events")
class EventViewSet(ListModelMixin[Event], CreateModelMixin[Event], GenericViewSet[Event]):
    """An append-only log: list and create, no retrieve, update or destroy."""

    model = Event
    read_schema = EventRead
    create_schema = EventCreate
