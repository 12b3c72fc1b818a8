"""Filtering: a FilterSet, for filters beyond field__lookup."""

from __future__ import annotations

from fastapi import APIRouter
from tortoise.queryset import QuerySet

from docs.examples.filtering_fields import Team, TeamRead
from fastapi_viewsets import ReadOnlyModelViewSet, viewset
from fastapi_viewsets.filters import Filter, FilterSet


class TeamFilter(FilterSet):
    fields = {"name": ["icontains"]}  # as filterset_fields

    # ?min_size=5: a name of your own for size__gte; the value is parsed as the column's type
    min_size = Filter(field_name="size", lookup="gte", description="Teams of at least this size.")
    # ?owner=ADA: owner__username, ignoring case
    owner = Filter(field_name="owner__username", lookup="iexact")
    # ?staffed=true: a method decides; the value is parsed as the given type
    staffed = Filter(bool, method="filter_staffed", description="Teams with (or without) an owner.")

    def filter_staffed(self, queryset: QuerySet[Team], value: bool) -> QuerySet[Team]:
        # self.view is the viewset serving the request (self.view.user, self.view.request...)
        return queryset.filter(owner_id__isnull=not value)


router = APIRouter(prefix="/teams", tags=["teams"])


@viewset(router)
class TeamViewSet(ReadOnlyModelViewSet[Team]):
    model = Team
    read_schema = TeamRead
    filterset_class = TeamFilter
    ordering = ["name"]
