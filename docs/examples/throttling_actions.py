"""Throttles chosen per action: get_throttles(), and @action's own throttle_classes."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter

from docs.examples.permissions_app import Company, CompanyCreate, CompanyRead
from fastapi_viewsets import BaseThrottle, ModelViewSet, UserRateThrottle, action, viewset

router = APIRouter(prefix="/companies", tags=["companies"])


@viewset(router)
class CompanyViewSet(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    create_schema = CompanyCreate

    def get_throttles(self) -> Sequence[BaseThrottle]:
        # Reads are free; each user may create 5 companies an hour.
        if self.action == "create":
            return [UserRateThrottle("5/hour", scope="creates")]
        return super().get_throttles()  # the instances of throttle_classes (none here)

    # An action's throttle_classes replace the viewset's for that action only.
    @action(detail=False, throttle_classes=[UserRateThrottle("2/minute", scope="report")])
    async def report(self) -> dict[str, int]:
        return {"companies": await self.get_queryset().count()}
