"""Row scoping: a permission's filter_queryset narrows every action's rows."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from docs.examples.permissions_app import Company, CompanyCreate, CompanyRead
from docs.examples.permissions_objects import IsOwnerOrReadOnly
from fastapi_viewsets import BasePermission, IsAuthenticatedOrReadOnly, ModelViewSet, viewset


class PublicOrOwnRows(BasePermission):
    """Everyone sees public companies; a user also sees their own private ones."""

    def filter_queryset(
        self, request: Request, view: Any, queryset: QuerySet[Company]
    ) -> QuerySet[Company]:
        if view.user is None:
            return queryset.filter(is_public=True)
        return queryset.filter(Q(is_public=True) | Q(owner_id=view.user.id))


router = APIRouter(prefix="/companies", tags=["companies"])


@viewset(router)
class CompanyViewSet(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    create_schema = CompanyCreate
    # `&` keeps the scoping of its operands; IsOwnerOrReadOnly checks each object.
    permission_classes = [IsAuthenticatedOrReadOnly & PublicOrOwnRows, IsOwnerOrReadOnly]
