"""Optimistic concurrency: a viewset that requires If-Match, and a client that retries on 412."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from fastapi import APIRouter

from docs.examples.permissions_app import Company, CompanyCreate, CompanyRead
from fastapi_viewsets import ModelViewSet, viewset

router = APIRouter(prefix="/companies", tags=["companies"])


@viewset(router)
class CompanyViewSet(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    create_schema = CompanyCreate
    # PUT, PATCH and DELETE without If-Match are refused (428): no write on a stale read.
    require_if_match = True


async def edit(
    http: httpx.AsyncClient, url: str, change: Callable[[dict[str, Any]], dict[str, Any]]
) -> httpx.Response:
    """Read, change, write back if nobody wrote in between; else read again and retry."""
    while True:
        read = await http.get(url)
        read.raise_for_status()
        answer = await http.patch(
            url, json=change(read.json()), headers={"If-Match": read.headers["ETag"]}
        )
        if answer.status_code != 412:  # 412: someone else wrote first; nothing was written
            return answer
