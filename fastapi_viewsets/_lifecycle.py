"""The request state's lifecycle, shared by viewset routes and ``RequestStateMiddleware``.

A request's state is opened when the request arrives and closed when its response and
background tasks are done, the same way whoever opens it::

    lifecycle = StateLifecycle(scope, send)   # open the store, put it in the scope, make it the
                                              # current one, add X-Request-ID to what `send` sends
    await app(scope, receive, lifecycle.send)
    lifecycle.close()                         # reset the context variable, free the store

A viewset route behind the middleware finds the store in the scope and only makes it current
again (a ``BaseHTTPMiddleware`` in between runs the route in a copied context); closing it is
left to the middleware that opened it.
"""

from __future__ import annotations

from starlette.types import Message, Scope, Send

from .state import REQUEST_ID_HEADER, SCOPE_KEY, RequestStore, current_store

__all__ = ("StateLifecycle", "send_with_request_id")

_HEADER = REQUEST_ID_HEADER.encode("latin-1")


def send_with_request_id(send: Send, store: RequestStore) -> Send:
    """``send``, adding ``X-Request-ID`` to the response's headers (replacing one the app set),
    and the store's ``response_headers``."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = message.get("headers", ())
            for name, _ in headers:
                if name.lower() == _HEADER:  # ours replaces the app's
                    headers = [(k, v) for k, v in headers if k.lower() != _HEADER]
                    break
            # As Starlette's own middleware do, the message is changed where it is (its list
            # of headers may be a Response's own, so it is copied).
            message["headers"] = [*headers, (_HEADER, store.request_id.encode("latin-1"))]
            if store.response_headers:
                message["headers"].extend(store.response_headers)
        await send(message)

    return wrapped


class StateLifecycle:
    """One request's state, from :meth:`__init__` (open) to :meth:`close`."""

    __slots__ = ("opened", "send", "store", "token")

    def __init__(self, scope: Scope, send: Send) -> None:
        found = scope.get(SCOPE_KEY)
        #: Whether this lifecycle opened the store (and so closes it), or found it open.
        self.opened = not isinstance(found, RequestStore)
        if isinstance(found, RequestStore):
            store = found
        else:
            store = RequestStore.from_scope(scope)
            scope[SCOPE_KEY] = store
            send = send_with_request_id(send, store)
        self.store = store
        #: What the app answers through: ``X-Request-ID`` is added where the store was opened.
        self.send = send
        self.token = current_store.set(store)

    def close(self) -> None:
        """Reset the context variable; free the store if this lifecycle opened it."""
        current_store.reset(self.token)
        if self.opened:
            self.store.close()
