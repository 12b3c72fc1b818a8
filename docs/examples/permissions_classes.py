"""permission_classes for the viewset, and an action that names its own."""

from __future__ import annotations

from fastapi import APIRouter

from docs.examples.permissions_app import Company, CompanyCreate, CompanyRead
from fastapi_viewsets import (
    IsAdminUser,
    IsAuthenticatedOrReadOnly,
    ModelViewSet,
    action,
    viewset,
)

router = APIRouter(prefix="/companies", tags=["companies"])


@viewset(router)
class CompanyViewSet(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    create_schema = CompanyCreate
    # Anyone may read; writing needs a user.
    permission_classes = [IsAuthenticatedOrReadOnly]

    # This action replaces the viewset's list: only admins, even for a GET.
    @action(detail=False, permission_classes=[IsAdminUser])
    async def stats(self) -> dict[str, int]:
        companies = self.get_queryset()
        return {
            "companies": await companies.count(),
            "private": await companies.filter(is_public=False).count(),
        }

    # permission_classes=[] checks nothing: no 401, no 403, none documented either.
    @action(detail=False, permission_classes=[])
    async def ping(self) -> dict[str, str]:
        return {"status": "ok"}
