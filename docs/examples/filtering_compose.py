"""Filtering: get_queryset(), a permission's row scoping, filters, search, ordering and
pagination, on the list route and on a listing action."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Header
from starlette.requests import Request
from tortoise.queryset import QuerySet

from docs.examples.filtering_fields import Member, Team, TeamRead
from fastapi_viewsets import BasePermission, BaseStateManager, ReadOnlyModelViewSet, action, viewset
from fastapi_viewsets.pagination import PageNumberPagination


async def current_member(x_member: str | None = Header(default=None)) -> None:
    # A real app checks a token; this example trusts the header.
    member = await Member.get_or_none(username=x_member) if x_member else None
    BaseStateManager.set_user(member)


class VisibleTeams(BasePermission):
    """Row scoping: anonymous clients see public teams only."""

    def filter_queryset(self, request: Request, view: Any, queryset: QuerySet[Team]) -> Any:
        return queryset if view.user is not None else queryset.filter(is_public=True)


router = APIRouter(prefix="/teams", tags=["teams"], dependencies=[Depends(current_member)])


@viewset(router)
class TeamViewSet(ReadOnlyModelViewSet[Team]):
    model = Team
    read_schema = TeamRead
    permission_classes = [VisibleTeams]
    pagination_class = PageNumberPagination
    filterset_fields = {"size": ["gte"], "owner__username": ["exact"]}
    search_fields = ["name", "description"]
    ordering_fields = ["name", "size"]
    ordering = ["name"]

    def get_queryset(self) -> QuerySet[Team]:
        return Team.filter(is_archived=False)  # every action starts here

    # GET /teams/large?search=core&page=2: the same filters, scoping and pages
    @action(detail=False)
    async def large(self) -> QuerySet[Team]:
        return self.get_queryset().filter(size__gte=10)
