"""The request body limit of viewset routes: ``max_body_size``, answered with a 413.

A viewset's ``max_body_size`` (or an ``@action``'s) is the most bytes a request body may have;
``None`` takes any. :class:`~fastapi_viewsets.dispatch.ViewSetRoute` enforces it with a
:class:`BodyLimit`::

    limit = BodyLimit(1_048_576)
    limit.refuses(scope)              # Content-Length is over it: answered before anything runs
    receive = limit.counting(receive) # a chunked body: counted as it is read

A body too large raises :class:`~fastapi_viewsets.exceptions.ContentTooLarge` where it is
read. FastAPI reads a route's body before its dependencies and its endpoint run, so nothing has
been written then; an action that reads the body itself gets the exception where it reads,
inside its transaction when it opened one.
"""

from __future__ import annotations

from typing import Any

from starlette.types import Message, Receive, Scope

from .exceptions import ContentTooLarge, ImproperlyConfigured

__all__ = ("BodyLimit", "checked_size")


def checked_size(value: Any, where: str) -> int | None:
    """``value`` as a ``max_body_size``: a number of bytes, or ``None`` for no limit."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ImproperlyConfigured(
            f"{where}: max_body_size = {value!r}: give a number of bytes (0 or more), or None "
            f"for no limit."
        )
    return value


def declared_length(scope: Scope) -> int | None:
    """The request's ``Content-Length``, or ``None`` when it sends none (or a malformed one,
    which the server refuses before the app sees the request)."""
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimit:
    """The most bytes one route's request bodies may have."""

    __slots__ = ("size",)

    def __init__(self, size: int) -> None:
        self.size = size

    def error(self) -> ContentTooLarge:
        return ContentTooLarge(
            f"The request body is too large: this endpoint takes at most {self.size} bytes."
        )

    def refuses(self, scope: Scope) -> bool:
        """Whether the request says its body is over the limit (``Content-Length``)."""
        length = declared_length(scope)
        return length is not None and length > self.size

    def counting(self, receive: Receive) -> Receive:
        """``receive``, raising :class:`ContentTooLarge` once the body read passes the limit
        (and on every read after: a reader that goes on never gets a body cut short)."""
        size = self.size
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > size:
                    raise self.error()
            return message

        return limited
