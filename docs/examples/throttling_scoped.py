"""ScopedRateThrottle: one throttle class, a rate per scope that viewsets and actions name."""

from __future__ import annotations

from fastapi import APIRouter

from docs.examples.permissions_app import Company, CompanyCreate, CompanyRead
from fastapi_viewsets import ModelViewSet, ScopedRateThrottle, action, viewset


class Scoped(ScopedRateThrottle):
    rates = {"companies": "100/hour", "exports": "3/hour"}


router = APIRouter(prefix="/companies", tags=["companies"])


@viewset(router)
class CompanyViewSet(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    create_schema = CompanyCreate
    throttle_classes = [Scoped]
    throttle_scope = "companies"  # every action of this viewset shares 100 an hour

    @action(detail=False, throttle_scope="exports")  # counted apart, 3 an hour
    async def export(self) -> list[str]:
        return [company.name async for company in self.get_queryset()]
