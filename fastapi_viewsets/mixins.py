"""The standard actions, one mixin each, composed with ``GenericViewSet`` as in DRF.

======================  ========  ====================  ==================================
mixin                   method    path                  answers
======================  ========  ====================  ==================================
``ListModelMixin``      GET       ``{prefix}``          200, a list of the read schema
``CreateModelMixin``    POST      ``{prefix}``          201, the read schema
``RetrieveModelMixin``  GET       ``{prefix}/{id}``     200, the read schema
``UpdateModelMixin``    PUT       ``{prefix}/{id}``     200 (full replacement)
\\                       PATCH     ``{prefix}/{id}``     200 (only the fields sent change)
``DestroyModelMixin``   DELETE    ``{prefix}/{id}``     204, an empty body
======================  ========  ====================  ==================================

Compose any subset::

    class CompanyViewSet(ListModelMixin[Company], RetrieveModelMixin[Company],
                         GenericViewSet[Company]):
        model = Company

Each write runs in one transaction with its hooks (``perform_create``, ``perform_update``,
``perform_destroy``): when a hook raises, nothing is written.

These bodies are the plain path: model objects, through the hooks. Where a viewset overrides
none of the hooks an action relies on, the action runs its fast twin instead (prepared SQL,
rows without model objects, writes in one statement; see ``fastapi_viewsets._fastpath``), which
answers the same.
"""

from __future__ import annotations

from fastapi.responses import Response
from pydantic import BaseModel

from .generics import GenericViewSet, ModelT

__all__ = (
    "CreateModelMixin",
    "DestroyModelMixin",
    "ListModelMixin",
    "RetrieveModelMixin",
    "UpdateModelMixin",
)


class ListModelMixin(GenericViewSet[ModelT]):
    """``GET {prefix}``: the rows of ``get_queryset()``, filtered, ordered and paginated."""

    async def list(self) -> Response:
        return await self.list_response(self.get_queryset())


class CreateModelMixin(GenericViewSet[ModelT]):
    """``POST {prefix}``: validate the body with the create schema, ``perform_create``, 201
    with a ``Location`` naming the new object."""

    async def create(self, data: BaseModel) -> Response:
        values = self.get_write_values(data, creating=True)
        self.validate_values(values)
        async with self.atomic(values):
            obj = self.model(**values)
            created = await self.perform_create(obj)
        if created is not None:  # a hook that returns None keeps the object it was given
            obj = created
        lookup = getattr(obj, self.lookup_field, None)
        return self.created_response(await self.reload(obj), lookup)


class RetrieveModelMixin(GenericViewSet[ModelT]):
    """``GET {prefix}/{lookup}``: the object ``get_object()`` finds."""

    async def retrieve(self) -> Response:
        return self.make_response(await self.get_object())


class UpdateModelMixin(GenericViewSet[ModelT]):
    """``PUT`` (full replacement) and ``PATCH`` (only the fields sent) of ``{prefix}/{lookup}``."""

    async def update(self, data: BaseModel) -> Response:
        return await self._update(data, partial=False)

    async def partial_update(self, data: BaseModel) -> Response:
        # Not through update(): an override of update() is for PUT only.
        return await self._update(data, partial=True)

    async def _update(self, data: BaseModel, *, partial: bool) -> Response:
        values = self.get_write_values(data, partial=partial)
        self.validate_values(values)
        async with self.atomic(values):
            obj = await self.get_object()
            if self.conditional_write():
                self.check_if_match(obj)
            self._note_loaded(obj)
            self.apply_values(obj, values)
            updated = await self.perform_update(obj)
        if updated is not None:
            obj = updated
        return self.make_response(await self.reload(obj))


class DestroyModelMixin(GenericViewSet[ModelT]):
    """``DELETE {prefix}/{lookup}``: ``perform_destroy`` and a 204 with an empty body."""

    async def destroy(self) -> Response:
        async with self.atomic(deleting=True):
            obj = await self.get_object()
            if self.conditional_write():
                self.check_if_match(obj)
            await self.perform_destroy(obj)
        return Response(status_code=204)
