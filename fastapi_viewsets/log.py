"""``RequestIdLogFilter``: put the request id and the user's id on every log record.

::

    import logging
    from fastapi_viewsets import RequestIdLogFilter

    handler = logging.StreamHandler()
    handler.addFilter(RequestIdLogFilter())
    handler.setFormatter(logging.Formatter("%(request_id)s %(user_id)s %(levelname)s %(message)s"))
    logging.getLogger().addHandler(handler)

Outside a request both attributes are ``"-"``.
"""

from __future__ import annotations

import logging

from .state import RequestStore, user_id

__all__ = ("RequestIdLogFilter",)


class RequestIdLogFilter(logging.Filter):
    """Adds ``record.request_id`` and ``record.user_id``; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        store = RequestStore.current()
        record.request_id = store.request_id if store is not None else "-"
        record.user_id = user_id(store.user) if store is not None else "-"
        return True
