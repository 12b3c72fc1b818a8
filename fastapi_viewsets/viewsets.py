"""Ready-made viewsets: the mixins composed with ``GenericViewSet``, with empty bodies.

``ModelViewSet[Company]`` answers list, create, retrieve, update, partial_update and destroy;
``ReadOnlyModelViewSet[Company]`` answers list and retrieve::

    @viewset(router)
    class CompanyViewSet(ModelViewSet[Company]):
        model = Company
        read_schema = CompanyRead
        create_schema = CompanyCreate
"""

from __future__ import annotations

from .generics import GenericViewSet, ModelT
from .mixins import (
    CreateModelMixin,
    DestroyModelMixin,
    ListModelMixin,
    RetrieveModelMixin,
    UpdateModelMixin,
)

__all__ = ("GenericViewSet", "ModelViewSet", "ReadOnlyModelViewSet")


class ReadOnlyModelViewSet(
    ListModelMixin[ModelT], RetrieveModelMixin[ModelT], GenericViewSet[ModelT]
):
    """List and retrieve."""


class ModelViewSet(
    ListModelMixin[ModelT],
    CreateModelMixin[ModelT],
    RetrieveModelMixin[ModelT],
    UpdateModelMixin[ModelT],
    DestroyModelMixin[ModelT],
    GenericViewSet[ModelT],
):
    """List, create, retrieve, update, partial_update and destroy."""
