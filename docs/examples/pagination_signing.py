"""Pagination: cursors signed with a key of your own."""

from __future__ import annotations

import os

from fastapi import APIRouter

from docs.examples.pagination_basic import Article, ArticleRead
from fastapi_viewsets import ReadOnlyModelViewSet, viewset
from fastapi_viewsets.pagination import CursorPagination


class SignedCursor(CursorPagination):
    ordering = ("-published_at", "-id")
    # A secret of your own (from the environment, a secrets manager...): a client cannot make
    # up a cursor, and a cursor of another deployment is a 400.
    signing_key = os.environ.get("CURSOR_SIGNING_KEY", "development only").encode()


router = APIRouter(prefix="/signed", tags=["articles"])


@viewset(router, basename="article-signed")
class SignedFeed(ReadOnlyModelViewSet[Article]):
    model = Article
    read_schema = ArticleRead
    pagination_class = SignedCursor
