"""``RequestStateMiddleware``: open the request state for the whole app, not only viewset routes.

Viewset routes open the state themselves, so an app whose state is used only by viewsets and the
dependencies of their routes needs nothing more. Add the middleware when you also want:

- the state in your own middleware (``BaseStateManager.get_state()`` before ``call_next``);
- ``get_state()`` in plain routes and their dependencies;
- ``X-Request-ID`` on every response, 404s for unknown paths and unhandled 500s included
  (except when the app has its own handler for ``Exception`` or 500, or ``debug=True``: then
  Starlette's outermost middleware answers, outside this one, and the header is not added).

::

    from fastapi import FastAPI
    from fastapi_viewsets import RequestStateMiddleware

    app = FastAPI()
    app.add_middleware(RequestStateMiddleware)   # pure ASGI; works beside BaseHTTPMiddleware

Middlewares added after it (outer ones) do not see the state; add it last to cover them all.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .state import REQUEST_ID_HEADER, SCOPE_KEY, RequestStore

__all__ = ("RequestStateMiddleware", "send_with_request_id")

_HEADER = REQUEST_ID_HEADER.encode("latin-1")
_LENGTH = len(_HEADER)


def send_with_request_id(send: Send, store: RequestStore) -> Send:
    """``send``, adding ``X-Request-ID`` to the response's headers (replacing one the app set)."""

    def wrapped(message: Message) -> Awaitable[None]:
        # A plain function returning send's awaitable: one coroutine less for every message.
        if message["type"] == "http.response.start":
            headers = message.get("headers", ())
            for name, _ in headers:
                if len(name) == _LENGTH and name.lower() == _HEADER:  # ours replaces the app's
                    headers = [(k, v) for k, v in headers if k.lower() != _HEADER]
                    break
            # As Starlette's own middleware do, the message is changed where it is (its list
            # of headers may be a Response's own, so it is copied).
            message["headers"] = [*headers, (_HEADER, store.request_id.encode("latin-1"))]
        return send(message)

    return wrapped


class RequestStateMiddleware:
    """Pure ASGI middleware that opens one :class:`~fastapi_viewsets.BaseStateManager` state
    per HTTP request and closes it, with its token, when the response is done."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # No `receive`: the endpoint reads the body; a second reader would wait forever.
        store = RequestStore.from_scope(scope)
        scope[SCOPE_KEY] = store
        started = False
        send_header = send_with_request_id(send, store)

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send_header(message)

        token = store.activate()
        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            # Starlette's ServerErrorMiddleware answers unhandled errors outside of us, without
            # our header. Answer first, unless the app has its own handler for them.
            if not started and not _app_handles_errors(scope):
                body = json.dumps({"detail": "Internal Server Error"}).encode()
                await tracking_send(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await tracking_send({"type": "http.response.body", "body": body})
            raise
        finally:
            RequestStore.deactivate(token)
            store.close()


def _app_handles_errors(scope: Scope) -> bool:
    """Whether Starlette should answer an unhandled error: the app has its own handler for
    it, or runs with ``debug=True`` and shows a traceback page."""
    app = scope.get("app")
    handlers = getattr(app, "exception_handlers", None) or {}
    return bool(getattr(app, "debug", False)) or 500 in handlers or Exception in handlers
