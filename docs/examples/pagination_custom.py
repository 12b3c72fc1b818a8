"""Pagination: a class of one's own, answering a plain array with its links in headers."""

from __future__ import annotations

import inspect
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from tortoise.queryset import QuerySet

from docs.examples.pagination_basic import Article, ArticleRead
from fastapi_viewsets import ReadOnlyModelViewSet, viewset
from fastapi_viewsets.pagination import BasePagination


class HeaderPagination(BasePagination):
    """``?page=``: the rows as a plain JSON array; ``X-Total-Count`` and a ``Link`` header."""

    page_size = 10

    @classmethod
    def query_parameters(cls) -> list[inspect.Parameter]:
        page = Annotated[int | None, Query(ge=1, description="A page number, from 1.")]
        keyword = inspect.Parameter.KEYWORD_ONLY
        return [inspect.Parameter("page", keyword, annotation=page, default=None)]

    async def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: Any
    ) -> QuerySet[Any]:
        page = view.query_params.get("page") or 1
        self.total = await queryset.count()
        self.next_url = None
        if page * self.page_size < self.total:
            self.next_url = str(request.url.include_query_params(page=page + 1))
        return queryset.offset((page - 1) * self.page_size).limit(self.page_size)

    def get_paginated_response(self, data: bytes) -> Response:
        headers = {"X-Total-Count": str(self.total)}
        if self.next_url is not None:
            headers["Link"] = f'<{self.next_url}>; rel="next"'
        return Response(data, media_type="application/json", headers=headers)


router = APIRouter(prefix="/headed", tags=["articles"])


@viewset(router, basename="article-headed")
class HeadedArticles(ReadOnlyModelViewSet[Article]):
    model = Article
    read_schema = ArticleRead
    pagination_class = HeaderPagination
    ordering = ["title"]
