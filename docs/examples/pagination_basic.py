"""Pagination: page numbers on the list route and on a listing action."""

from __future__ import annotations

import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict
from tortoise import fields
from tortoise.models import Model
from tortoise.queryset import QuerySet

from fastapi_viewsets import ReadOnlyModelViewSet, action, viewset
from fastapi_viewsets.pagination import PageNumberPagination


class Article(Model):
    id = fields.IntField(primary_key=True)
    title = fields.CharField(max_length=200)
    score = fields.IntField(default=0)
    published_at = fields.DatetimeField()


class ArticleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    score: int
    published_at: datetime.datetime


router = APIRouter(prefix="/articles", tags=["articles"])


@viewset(router)
class ArticleViewSet(ReadOnlyModelViewSet[Article]):
    model = Article
    read_schema = ArticleRead
    pagination_class = PageNumberPagination  # ?page=2&page_size=50
    ordering_fields = ["published_at", "score"]  # ?ordering=-score
    ordering = ["-published_at"]  # the default order; the primary key breaks ties

    # GET /articles/popular: a listing action, filtered, ordered and paginated like the list
    @action(detail=False)
    async def popular(self) -> QuerySet[Article]:
        return self.get_queryset().filter(score__gte=100)
