"""Permissions composed with &, | and ~."""

from __future__ import annotations

from fastapi import APIRouter
from tortoise.queryset import QuerySet

from docs.examples.permissions_app import Company, CompanyCreate, CompanyRead
from docs.examples.permissions_basic import IsOwner
from fastapi_viewsets import IsAdminUser, IsAuthenticated, ModelViewSet, action, viewset

router = APIRouter(prefix="/companies", tags=["companies"])


@viewset(router)
class CompanyViewSet(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    create_schema = CompanyCreate
    # A user, who owns the company or is an admin.
    permission_classes = [IsAuthenticated & (IsOwner | IsAdminUser)]

    # Users who are not admins: admins have the full list already.
    @action(detail=False, permission_classes=[IsAuthenticated & ~IsAdminUser])
    async def mine(self) -> QuerySet[Company]:
        return self.get_queryset().filter(owner_id=self.user.id)
