"""Permissions chosen per action by get_permissions()."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request

from docs.examples.permissions_app import Company, CompanyCreate, CompanyRead
from fastapi_viewsets import BasePermission, IsAuthenticated, ModelViewSet, viewset


class IsOwner(BasePermission):
    message = "Only the owner may do this."

    def has_object_permission(self, request: Request, view: Any, obj: Company) -> bool:
        return view.user is not None and obj.owner_id == view.user.id


router = APIRouter(prefix="/companies", tags=["companies"])


@viewset(router)
class CompanyViewSet(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    create_schema = CompanyCreate
    permission_classes = [IsAuthenticated]  # what super().get_permissions() answers

    def get_permissions(self) -> Sequence[BasePermission]:
        # Different permissions based on action
        if self.action in ("list", "retrieve"):
            return []  # Public read access
        if self.action in ("create", "update", "partial_update"):
            return [IsAuthenticated()]
        if self.action == "destroy":
            return [IsAuthenticated(), IsOwner()]
        return super().get_permissions()

    async def perform_create(self, obj: Company) -> Company:
        obj.owner_id = self.user.id  # create requires a user, so there is one
        return await super().perform_create(obj)
