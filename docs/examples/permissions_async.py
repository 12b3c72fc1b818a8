"""An async permission, mixed with a sync one."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request

from docs.examples.permissions_app import Company, CompanyCreate, CompanyRead, User
from docs.examples.permissions_basic import IsOwner
from fastapi_viewsets import BasePermission, IsAuthenticated, ModelViewSet, viewset


class IsActive(BasePermission):
    """Refuses accounts disabled since their token was issued: asks the database each time."""

    message = "This account is disabled."

    async def has_permission(self, request: Request, view: Any) -> bool:
        if view.user is None:
            return True  # not this permission's business: IsAuthenticated answers that
        return await User.exists(id=view.user.id, is_active=True)


router = APIRouter(prefix="/companies", tags=["companies"])


@viewset(router)
class CompanyViewSet(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    create_schema = CompanyCreate
    permission_classes = [IsAuthenticated & IsActive, IsOwner]
