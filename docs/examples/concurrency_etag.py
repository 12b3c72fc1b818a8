"""Conditional reads: list and retrieve answer an ETag; a client revalidates with it."""

from __future__ import annotations

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
    # Nothing to set: list and retrieve tag their answers.


class CachingClient:
    """A client that keeps each answer with its tag, and asks the server whether it changed."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.cache: dict[str, tuple[str, bytes]] = {}

    async def get(self, url: str) -> bytes:
        cached = self.cache.get(url)
        headers = {"If-None-Match": cached[0]} if cached else {}
        answer = await self.http.get(url, headers=headers)
        if answer.status_code == 304 and cached:
            return cached[1]  # unchanged: no body was sent
        answer.raise_for_status()
        self.cache[url] = (answer.headers["ETag"], answer.content)
        return answer.content
