"""Filtering: DRF's short forms, a list of exact filters and a string ordering."""

from __future__ import annotations

from fastapi import APIRouter

from docs.examples.filtering_fields import Team, TeamRead
from fastapi_viewsets import ReadOnlyModelViewSet, viewset

router = APIRouter(prefix="/teams", tags=["teams"])


@viewset(router)
class TeamViewSet(ReadOnlyModelViewSet[Team]):
    model = Team
    read_schema = TeamRead
    # ?owner=2&size=5&is_public=true: each compared with `exact`; the foreign key `owner` by
    # the member's id (owner_id would name the same filter)
    filterset_fields = ["owner", "size", "is_public"]
    ordering = "-created_at"  # one field, as in DRF
