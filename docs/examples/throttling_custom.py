"""Throttles of your own: counts keyed by an API key, and a throttle that is not about rates."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request

from docs.examples.permissions_app import Company, CompanyCreate, CompanyRead
from fastapi_viewsets import BaseThrottle, ModelViewSet, SimpleRateThrottle, viewset


class ApiKeyRate(SimpleRateThrottle):
    """1000 requests an hour per API key; requests without a key are not counted here."""

    scope = "api-key"
    rate = "1000/hour"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        key = request.headers.get("X-API-Key")
        return f"{self.scope}:{key}" if key else None


class ReadOnlyHours(BaseThrottle):
    """No writes while the nightly import runs; allow_request may also be ``async def``."""

    import_running = False  # a real app asks its scheduler

    def allow_request(self, request: Request, view: Any) -> bool:
        return request.method == "GET" or not self.import_running

    def wait(self) -> float | None:
        return 600  # Retry-After: 600


router = APIRouter(prefix="/companies", tags=["companies"])


@viewset(router)
class CompanyViewSet(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    create_schema = CompanyCreate
    throttle_classes = [ApiKeyRate, ReadOnlyHours]
