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
"""

from __future__ import annotations

from typing import Any

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
    """``POST {prefix}``: validate the body with the create schema, ``perform_create``, 201."""

    async def create(self, data: BaseModel) -> Response:
        values = self.get_write_values(data, creating=True)
        self.validate_values(values)
        one_statement = self.writes_one_statement("perform_create")
        async with self.atomic(values, single_statement=one_statement):
            built = self.model(**values)
            if one_statement:
                row = await self.insert_row(built)
                if row is not None:
                    return self.make_response(row, status_code=201)
            created = await self.perform_create(built)
            obj = created if created is not None else built
        return await self.written_response(obj, status_code=201)


class RetrieveModelMixin(GenericViewSet[ModelT]):
    """``GET {prefix}/{lookup}``: the object ``get_object()`` finds."""

    async def retrieve(self) -> Response:
        if self.reads_rows():
            return self.make_response(await self.get_row())
        return self.make_response(await self.get_object())


class UpdateModelMixin(GenericViewSet[ModelT]):
    """``PUT`` (full replacement) and ``PATCH`` (only the fields sent) of ``{prefix}/{lookup}``."""

    async def update(self, data: BaseModel) -> Response:
        return await self._update(self.get_write_values(data))

    async def partial_update(self, data: BaseModel) -> Response:
        return await self._update(self.get_write_values(data, partial=True))

    async def _update(self, values: dict[str, Any]) -> Response:
        self.validate_values(values)
        # One statement writes: the row is read first (a 404, the changed columns), and only the
        # columns that changed are written, so a transaction adds nothing for the default hook.
        async with self.atomic(
            values, single_statement=self.writes_one_statement("perform_update")
        ):
            obj = await self.get_object_to_write()
            self.remember(obj)
            obj.update_from_dict(values)
            updated = await self.perform_update(obj)
            obj = updated if updated is not None else obj
        return await self.written_response(obj)


class DestroyModelMixin(GenericViewSet[ModelT]):
    """``DELETE {prefix}/{lookup}``: ``perform_destroy`` and a 204 with an empty body."""

    async def destroy(self) -> Response:
        async with self.atomic(deleting=True):
            obj = await self.get_object_to_write()
            await self.perform_destroy(obj)
        return Response(status_code=204)
