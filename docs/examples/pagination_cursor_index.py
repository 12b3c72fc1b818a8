"""Pagination: a cursor-paginated feed and the index that serves each of its pages."""

from __future__ import annotations

import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict
from tortoise import fields
from tortoise.models import Model

from fastapi_viewsets import ReadOnlyModelViewSet, viewset
from fastapi_viewsets.pagination import CursorPagination


class Activity(Model):
    id = fields.IntField(primary_key=True)
    kind = fields.CharField(max_length=20)
    happened_at = fields.DatetimeField()  # not null: CursorPagination refuses nullable columns

    class Meta:
        # The ordering's columns, then the primary key: each page is one index range scan.
        indexes = (("happened_at", "id"),)


class ActivityRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    happened_at: datetime.datetime


router = APIRouter(prefix="/activity", tags=["activity"])


@viewset(router)
class ActivityViewSet(ReadOnlyModelViewSet[Activity]):
    model = Activity
    read_schema = ActivityRead
    pagination_class = CursorPagination
    # Newest first; the primary key goes the same way, so the index is read backwards.
    ordering = ["-happened_at", "-id"]
    filterset_fields = {"kind": ["exact"]}
