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

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._lifecycle import StateLifecycle

__all__ = ("RequestStateMiddleware",)


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
        lifecycle = StateLifecycle(scope, send)
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await lifecycle.send(message)

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
            lifecycle.close()


def _app_handles_errors(scope: Scope) -> bool:
    """Whether Starlette should answer an unhandled error: the app has its own handler for
    it, or runs with ``debug=True`` and shows a traceback page."""
    app = scope.get("app")
    handlers = getattr(app, "exception_handlers", None) or {}
    return bool(getattr(app, "debug", False)) or 500 in handlers or Exception in handlers
