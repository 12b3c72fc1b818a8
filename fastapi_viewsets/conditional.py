"""Conditional requests (RFC 9110, section 13): entity tags, ``If-None-Match`` and ``304``.

``retrieve`` and ``list`` answer a strong ``ETag``, a hash of the bytes they send; a client that
sends it back in ``If-None-Match`` gets ``304 Not Modified`` with no body while the
representation is the same::

    GET /companies/1                      200, ETag: "5d41402abc4b2a76b9719d911017c592"
    GET /companies/1
    If-None-Match: "5d41402abc4b2a76b9719d911017c592"
                                          304, ETag: "5d41402abc4b2a76b9719d911017c592"

Writes honour ``If-Match``: ``update``, ``partial_update`` and ``destroy`` compare it with the
tag of the row as it is, in the transaction that writes, with the row locked (``SELECT ... FOR
UPDATE`` on PostgreSQL; SQLite runs one write transaction at a time), and answer ``412`` without
writing when it does not match. ``create``, ``update`` and ``partial_update`` answer the new tag.

The tag is made from the response's bytes, so it changes with anything the client would see
(a field, a nested relation, a page's ``count``), whatever changed it, and costs a hash of the
body (about a microsecond per kilobyte). ``If-None-Match`` compares weakly, as RFC 9110
13.1.2 says: ``W/"x"`` matches ``"x"``; ``*`` matches any representation; a list matches when
one of its tags does.
"""

from __future__ import annotations

import hashlib

from starlette.responses import Response

__all__ = ("etag_of", "if_match", "none_match", "not_modified")

# What a 304 keeps of the 200 it stands for (RFC 9110 15.4.5).
_KEPT = ("cache-control", "content-location", "date", "etag", "expires", "vary")


def etag_of(body: bytes) -> str:
    """The strong entity tag of ``body``: a quoted hash of its bytes."""
    return f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'


def _tags(header: str) -> list[str]:
    """The opaque tags of an ``If-None-Match`` or ``If-Match`` value, ``W/`` dropped."""
    found = []
    for item in header.split(","):
        tag = item.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag:
            found.append(tag)
    return found


def none_match(header: str | None, etag: str) -> bool:
    """Whether ``If-None-Match: header`` is false for a representation tagged ``etag``: the
    client has it (weak comparison), so the answer is 304."""
    if header is None:
        return False
    tags = _tags(header)
    return "*" in tags or etag in tags


def if_match(header: str, etag: str) -> bool:
    """Whether ``If-Match: header`` holds for a representation tagged ``etag``. It compares
    strongly (RFC 9110 13.1.1): a weak tag ``W/"x"`` never matches; ``*`` matches any."""
    items = [item.strip() for item in header.split(",")]
    return "*" in items or etag in items


def not_modified(response: Response) -> Response:
    """The 304 that stands for ``response``: no body, its ETag and caching headers."""
    headers = [(k, v) for k, v in response.raw_headers if k.decode("latin-1") in _KEPT]
    answer = Response(status_code=304)
    answer.raw_headers = headers
    return answer
