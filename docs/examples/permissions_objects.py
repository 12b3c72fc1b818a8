"""Object permissions: checked by get_object(), in every detail route and detail action."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.requests import Request

from docs.examples.permissions_app import Company, CompanyCreate, CompanyRead
from fastapi_viewsets import (
    BasePermission,
    IsAuthenticatedOrReadOnly,
    ModelViewSet,
    action,
    viewset,
)
from fastapi_viewsets.permissions import SAFE_METHODS


class IsOwnerOrReadOnly(BasePermission):
    message = "Only the owner may change this company."

    def has_object_permission(self, request: Request, view: Any, obj: Company) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return view.user is not None and obj.owner_id == view.user.id


class Transfer(BaseModel):
    owner_id: int


router = APIRouter(prefix="/companies", tags=["companies"])


@viewset(router)
class CompanyViewSet(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    create_schema = CompanyCreate
    permission_classes = [IsAuthenticatedOrReadOnly, IsOwnerOrReadOnly]

    @action(methods=["POST"], detail=True)
    async def transfer(self, data: Transfer) -> CompanyRead:
        company = await self.get_object()  # 404 first, then has_object_permission
        company.owner_id = data.owner_id
        await company.save()
        return CompanyRead.model_validate(company)
