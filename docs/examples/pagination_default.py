"""Pagination: a project-wide default is a base class of the project's viewsets."""

from __future__ import annotations

from typing import TypeVar

from fastapi import APIRouter
from tortoise.models import Model

from docs.examples.pagination_basic import Article, ArticleRead
from fastapi_viewsets import ReadOnlyModelViewSet, viewset
from fastapi_viewsets.pagination import PageNumberPagination

ModelT = TypeVar("ModelT", bound=Model)


class ApiPagination(PageNumberPagination):
    page_size = 25
    max_page_size = 200


class ApiViewSet(ReadOnlyModelViewSet[ModelT]):
    """The base of every viewset of the project (it is not registered itself)."""

    pagination_class = ApiPagination


articles = APIRouter(prefix="/articles", tags=["articles"])
export = APIRouter(prefix="/export", tags=["export"])


@viewset(articles)
class ArticleViewSet(ApiViewSet[Article]):  # paginated with ApiPagination
    model = Article
    read_schema = ArticleRead


@viewset(export, basename="article-export")
class ArticleExport(ApiViewSet[Article]):
    model = Article
    read_schema = ArticleRead
    pagination_class = None  # this one answers a plain JSON array
