"""What filters and pagination need of a view, as a Protocol, so they need not import it.

``GenericViewSet`` imports the filters and the pagination classes; they in turn only read a few
attributes of the view serving the request. Typing those attributes here keeps the arrows one
way (generics -> filters, pagination -> this module)::

    def filter_mine(self, queryset: QuerySet[Company], value: bool) -> QuerySet[Company]:
        view: ListingView = self.view
        return queryset.filter(owner_id=view.user.id) if value else queryset
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from starlette.requests import Request
    from tortoise.models import Model

__all__ = ("ListingView",)


class ListingView(Protocol):
    """The viewset instance serving a list request, as filters and paginators see it."""

    @property
    def model(self) -> type[Model]: ...

    @property
    def request(self) -> Request: ...

    @property
    def action(self) -> str: ...

    @property
    def kwargs(self) -> dict[str, Any]: ...

    @property
    def query_params(self) -> dict[str, Any]:
        """The list's parsed filter and pagination parameters."""
        ...

    @property
    def ordering_used(self) -> list[str] | None:
        """The order ``filter_queryset`` applied, if it applied one."""
        ...

    @property
    def user(self) -> Any: ...

    @property
    def state(self) -> Any: ...
