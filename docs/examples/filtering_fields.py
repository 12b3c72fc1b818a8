"""Filtering, search and ordering, declared on the viewset."""

from __future__ import annotations

import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict
from tortoise import fields
from tortoise.models import Model

from fastapi_viewsets import ReadOnlyModelViewSet, viewset


class Member(Model):
    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=50, unique=True)
    is_admin = fields.BooleanField(default=False)


class Team(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100)
    slug = fields.CharField(max_length=50, unique=True)
    size = fields.IntField(default=0)
    description = fields.TextField(null=True)
    is_public = fields.BooleanField(default=True)
    is_archived = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    owner: fields.ForeignKeyNullableRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="teams", null=True, on_delete=fields.SET_NULL
    )


class TeamRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    slug: str
    size: int
    created_at: datetime.datetime
    owner_id: int | None


router = APIRouter(prefix="/teams", tags=["teams"])


@viewset(router)
class TeamViewSet(ReadOnlyModelViewSet[Team]):
    model = Team
    read_schema = TeamRead
    filterset_fields = {
        "name": ["exact", "icontains"],  # ?name=Core  ?name__icontains=core
        "created_at": ["gte", "lte"],  # ?created_at__gte=2024-01-01T00:00:00Z
        "owner__username": ["exact"],  # ?owner__username=ada: a relation you allow
        "size": ["in"],  # ?size__in=3,5
    }
    search_fields = ["name", "^slug", "=owner__username"]  # ?search=core ada
    ordering_fields = ["name", "size", "created_at"]  # ?ordering=-created_at,name
    ordering = ["-created_at"]  # without ?ordering=
