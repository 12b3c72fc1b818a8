"""Pagination: the three classes, with the page sizes of each viewset."""

from __future__ import annotations

from fastapi import APIRouter

from docs.examples.pagination_basic import Article, ArticleRead
from fastapi_viewsets import ReadOnlyModelViewSet, viewset
from fastapi_viewsets.pagination import (
    CursorPagination,
    LimitOffsetPagination,
    PageNumberPagination,
)


class LargePages(PageNumberPagination):
    page_size = 50  # without ?page_size=
    max_page_size = 500  # a larger ?page_size= is a 422


class Slices(LimitOffsetPagination):
    default_limit = 10  # without ?limit=
    max_limit = 100


class Newest(CursorPagination):
    page_size = 25
    max_page_size = 100
    # Used when the viewset sets no `ordering`; the primary key ends every ordering.
    ordering = ("-published_at", "-id")


by_page = APIRouter(prefix="/by-page", tags=["articles"])
by_offset = APIRouter(prefix="/by-offset", tags=["articles"])
feed = APIRouter(prefix="/feed", tags=["articles"])


@viewset(by_page, basename="article-page")
class PagedArticles(ReadOnlyModelViewSet[Article]):
    model = Article
    read_schema = ArticleRead
    pagination_class = LargePages
    ordering = ["title"]


@viewset(by_offset, basename="article-slice")
class SlicedArticles(ReadOnlyModelViewSet[Article]):
    model = Article
    read_schema = ArticleRead
    pagination_class = Slices
    ordering = "title"  # a string is one field, as in DRF


@viewset(feed, basename="article-feed")
class ArticleFeed(ReadOnlyModelViewSet[Article]):
    model = Article
    read_schema = ArticleRead
    pagination_class = Newest
    ordering_fields = ["score", "published_at"]  # ?ordering=-score works with cursors too
