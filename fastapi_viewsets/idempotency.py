"""Idempotency keys: a POST sent again with the same ``Idempotency-Key`` runs once.

A client that may lose an answer (a timeout, a dropped connection) sends a key of its own
choosing with ``create`` or a POST ``@action``, and sends the same request with the same key
when it retries (draft-ietf-httpapi-idempotency-key-header)::

    POST /orders                              201 Created, Location: /orders/7
    Idempotency-Key: "3f1c9a52-order-42"      (runs; the answer is kept for 24 hours)

    POST /orders                              201 Created, Location: /orders/7: the same bytes,
    Idempotency-Key: "3f1c9a52-order-42"      and Idempotent-Replayed: true (nothing runs)

What a request with a key gets:

- the first one runs; its answer (status, headers, body) is kept for ``idempotency_key_ttl``
  seconds, unless it is a 5xx, after which the client may simply retry;
- the same key with the same request (method, path, query and body) gets the kept answer;
- the same key with another request gets ``422``; nothing runs;
- the same key while the first is still running gets ``409`` with ``Retry-After``;
- when the store cannot be reached, ``503``: nothing runs, so nothing runs twice.

Keys belong to the user (to the client address for anonymous requests): two users may use the
same key. The first request claims its key in the store (``FASTAPI_VIEWSETS_STORE``; one atomic
``SET NX`` in Redis, so of any number of processes exactly one wins); a claim that is never
settled (the process died) lapses after ``idempotency_key_lease`` seconds.

It is on by default, and chosen per viewset or per ``@action``::

    class OrderViewSet(ModelViewSet[Order]):
        require_idempotency_key = True            # create answers 400 without the header
        idempotency_key_ttl = 60 * 60             # replay answers for an hour

        @action(methods=["POST"], detail=True, idempotency_keys=False)
        async def ping(self) -> dict[str, str]:   # the header is ignored here
            ...

The answer is kept as it left the action: headers that belong to one request (``X-Request-ID``,
the throttles' ``RateLimit``) are those of the request that gets it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import os
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi.exceptions import RequestValidationError
from limits.errors import StorageError
from starlette.responses import Response

from .exceptions import Conflict, ImproperlyConfigured, ParseError, ServiceUnavailable
from .state import user_ident
from .store import Store, get_store

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.types import Message, Scope, Send

__all__ = (
    "HEADER",
    "REPLAYED_HEADER",
    "IdempotencyPolicy",
    "ResponseKeeper",
)

logger = logging.getLogger("fastapi_viewsets")

#: The request header that carries the key.
HEADER = "Idempotency-Key"
#: The header a kept answer is replayed with.
REPLAYED_HEADER = "Idempotent-Replayed"
#: The longest key taken, in characters.
MAX_KEY_LENGTH = 255
#: Seconds a client is told to wait when the request it retries is still running.
RETRY_AFTER_RUNNING = 1
#: Seconds a client is told to wait when the store cannot be reached.
RETRY_AFTER_STORE_ERROR = 5
#: Seconds between the attempts to withdraw a claim the store may have run after failing.
WITHDRAW_EVERY = 1.0

# Where the claim a request made waits for its answer (ResponseKeeper reads it).
_CLAIM = "fastapi_viewsets.idempotency"
_HEADER_KEY = HEADER.lower()
_REPLAYED = (REPLAYED_HEADER.lower().encode("latin-1"), b"true")
# A kept value is one of:  R<fingerprint><token>                 claimed, running
#                          D<fingerprint><len>\n<meta><body>    answered; meta is the status
#                                                                and the headers, CRLF-ended
_RUNNING = b"R"
_DONE = b"D"
_FINGERPRINT_SIZE = 32  # hex digits of a 16-byte blake2b
_FORMS = frozenset({"multipart/form-data", "application/x-www-form-urlencoded"})
_PRINTABLE = re.compile(f"[ -~]{{1,{MAX_KEY_LENGTH}}}")


@dataclass(frozen=True)
class IdempotencyPolicy:
    """What one action does with ``Idempotency-Key``, settled when the viewset is registered."""

    owner: str
    action: str
    #: Whether a POST without the header answers 400.
    required: bool
    #: Seconds an answer is kept and replayed.
    ttl: float
    #: Seconds a claim lasts while its request runs.
    lease: float

    @classmethod
    def for_action(
        cls,
        viewset: Any,
        action: str,
        methods: tuple[str, ...],
        *,
        enabled: bool | None = None,
        required: bool | None = None,
    ) -> IdempotencyPolicy | None:
        """The policy of ``viewset``'s ``action`` (a create or an ``@action`` answering
        ``methods``), ``enabled`` and ``required`` being what its ``@action`` says, if it says;
        ``None`` where the action takes no keys."""
        owner = viewset.__name__
        if "POST" not in methods:
            if enabled or required:
                raise ImproperlyConfigured(
                    f"{owner}.{action}: idempotency keys are for POST actions; it answers "
                    f"{', '.join(methods)}. Remove idempotency_keys= and "
                    f"require_idempotency_key= from its @action."
                )
            return None
        on = viewset.idempotency_keys if enabled is None else enabled
        # An action that turns keys off does not inherit the viewset's requirement.
        inherited = viewset.require_idempotency_key if enabled is None else False
        needed = inherited if required is None else required
        if not on:
            if needed:
                raise ImproperlyConfigured(
                    f"{owner}.{action} requires an Idempotency-Key but does not take one: set "
                    f"idempotency_keys = True, or require_idempotency_key = False."
                )
            return None
        for name in ("idempotency_key_ttl", "idempotency_key_lease"):
            value = getattr(viewset, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
                or value <= 0
            ):
                raise ImproperlyConfigured(
                    f"{owner}.{name} = {value!r}: give a number of seconds above 0."
                )
        return cls(
            owner=owner,
            action=action,
            required=bool(needed),
            ttl=float(viewset.idempotency_key_ttl),
            lease=float(viewset.idempotency_key_lease),
        )

    async def begin(self, view: Any) -> Response | None:
        """Claim the key of ``view``'s request before its action runs: ``None`` to run it,
        else the kept answer to replay. Raises 400 (a missing or malformed key), 409 (its
        first request is running), 422 (the key was used for another request) and 503 (the
        store cannot be reached)."""
        request: Request = view.request
        if request.method != "POST":
            return None
        raw = request.headers.get(_HEADER_KEY)
        if raw is None:
            if self.required:
                raise ParseError(
                    f"This request needs an {HEADER} header: a unique value of the client's, "
                    f"sent again with the request when it is retried.",
                    code="idempotency_key_missing",
                )
            return None
        key = parse_key(raw)
        fingerprint = fingerprint_of(request, await body_of(request))
        name = _storage_name(_owner_of(view), key)
        store = get_store()
        # The token tells this request's claim from a later one of the same key.
        running = b"%b%b%b" % (_RUNNING, fingerprint, os.urandom(8).hex().encode("ascii"))
        try:
            found = await store.claim(name, running, self.lease)
        except StorageError as exc:
            if _timed_out(exc):
                # A Redis that timed out may still run the claim when it wakes: withdraw it
                # then, or the key would answer 409 for the lease though nothing runs.
                _withdraw_later(store, name, running, self.lease)
            raise ServiceUnavailable(
                "Idempotency keys cannot be checked now; nothing was done. Retry with the same "
                "key.",
                code="idempotency_store_unavailable",
                headers={"Retry-After": str(RETRY_AFTER_STORE_ERROR)},
            ) from None
        # Our own value: a SET that ran, retried after its reply was lost on the way back.
        if found is None or found == running:
            request.scope[_CLAIM] = _Claim(store, name, fingerprint, running, self.ttl)
            return None
        kind, kept = found[:1], found[1 : 1 + _FINGERPRINT_SIZE]
        if kept != fingerprint:
            raise RequestValidationError(
                [
                    {
                        "type": "idempotency_key_reused",
                        "loc": ("header", HEADER),
                        "msg": "This key was sent with another request; use a new key for a "
                        "new request.",
                        "input": key,
                    }
                ]
            )
        if kind == _DONE:
            replay = _decode(found)
            if replay is not None:
                return replay
        raise Conflict(
            "A request with this Idempotency-Key is still being processed; retry later.",
            code="idempotency_key_in_use",
            headers={"Retry-After": str(RETRY_AFTER_RUNNING)},
        )


def parse_key(raw: str) -> str:
    """The key in an ``Idempotency-Key`` value: a structured-field string (``"abc"``), as the
    draft writes it, or the bare value most clients send. Raises 400 for anything else."""
    key = raw.strip()
    if len(key) > 2 and key[0] == '"' and key[-1] == '"':
        key = key[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if _PRINTABLE.fullmatch(key) is None:
        raise ParseError(
            f"The {HEADER} header must hold 1 to {MAX_KEY_LENGTH} printable ASCII characters.",
            code="idempotency_key_malformed",
        )
    return key


async def body_of(request: Request) -> bytes:
    """What of the request's body the fingerprint compares: a form's fields and files in
    order (their raw bytes hold a boundary each client picks anew), else the bytes as received.

    The body is read here, before the action runs, and kept for it (``request.body()``,
    ``request.stream()`` and ``request.form()`` give it again). A body a dependency already
    consumed as a stream cannot be read again: it is left out of the fingerprint.
    """
    try:
        raw = await request.body()
    except RuntimeError:  # "Stream consumed": FastAPI read it as a form, or a dependency did
        raw = None
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type not in _FORMS:
        return b"\x00streamed" if raw is None else raw
    parts: list[bytes] = []
    for name, value in (await request.form()).multi_items():
        parts.append(name.encode("utf-8", "surrogatepass"))
        if isinstance(value, str):
            parts.append(b"=" + value.encode("utf-8", "surrogatepass"))
        else:  # an UploadFile: its name, type and content
            content = await value.read()
            await value.seek(0)
            parts.append(f"@{value.filename}:{value.content_type}:".encode("utf-8", "replace"))
            parts.append(hashlib.blake2b(content, digest_size=16).digest())
        parts.append(b"\x00")
    return b"".join(parts)


def fingerprint_of(request: Request, body: bytes) -> bytes:
    """What tells two requests with one key apart: method, path, query string and body."""
    scope = request.scope
    path = scope.get("raw_path") or scope["path"].encode("utf-8")
    method = scope["method"].encode("latin-1")
    whole = b"%b %b?%b\n%b" % (method, path, scope.get("query_string", b""), body)
    return hashlib.blake2b(whole, digest_size=16).hexdigest().encode("ascii")


def _owner_of(view: Any) -> str:
    """Whose keys a request's key is among: its user's, else its client address's."""
    ident = user_ident(view.user)
    if ident is not None:
        return f"user {ident}"
    client = view.request.client
    return f"address {client.host if client is not None else 'unknown'}"


def _storage_name(owner: str, key: str) -> str:
    # Hashed: fixed length whatever the key, and no owner and key can spell another's name.
    digest = hashlib.blake2b(f"{owner}\x00{key}".encode(), digest_size=20).hexdigest()
    return f"idempotency:{digest}"


def _encode(
    fingerprint: bytes, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> bytes:
    # The headers as HTTP writes them (a value holds no CR or LF; ASGI servers refuse one).
    meta = b"%d\r\n%b" % (status, b"".join(b"%b: %b\r\n" % pair for pair in headers))
    return b"%b%b%d\n%b%b" % (_DONE, fingerprint, len(meta), meta, body)


def _decode(value: bytes) -> Response | None:
    """The answer a kept value holds; ``None`` when it holds none that can be read."""
    try:
        size, _, rest = value[1 + _FINGERPRINT_SIZE :].partition(b"\n")
        count = int(size)
        status, *lines = rest[:count].split(b"\r\n")
        response = Response(rest[count:], status_code=int(status))
        raw = []
        for line in lines[:-1]:  # the block ends with a CRLF, so the last is empty
            name, sep, field = line.partition(b": ")
            if not sep:
                return None
            raw.append((name, field))
    except ValueError:
        return None
    response.raw_headers = [*raw, _REPLAYED]
    return response


@dataclass
class _Claim:
    """A key a request claimed, waiting for the request's answer."""

    store: Store
    name: str
    fingerprint: bytes
    #: The value the claim set: released only while the key still holds it.
    running: bytes
    ttl: float


class ResponseKeeper:
    """Wraps a route's ``send``: once the request has claimed a key, the answer it sends is
    kept before its last byte leaves (a client that has the answer finds it kept).

    The claim is released instead when the answer is a 5xx or a 422 (nothing was written: the
    client may correct the body and retry with the key), or when no answer was begun (the
    request raised). An answer begun but not finished (the client left mid-stream) keeps the
    claim until its lease ends: the action ran, so a retry must not run it again.
    """

    __slots__ = ("_body", "_headers", "_send", "_settled", "_status", "scope")

    def __init__(self, scope: Scope, send: Send) -> None:
        self.scope = scope
        self._send = send
        self._status = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._settled = False

    async def send(self, message: Message) -> None:
        claim: _Claim | None = self.scope.get(_CLAIM)
        if claim is not None and not self._settled:
            kind = message["type"]
            if kind == "http.response.start":
                self._status = message["status"]
                self._headers = list(message.get("headers", ()))
            elif kind == "http.response.body":
                self._body.append(message.get("body", b""))
                if not message.get("more_body", False):
                    await self._settle(claim)
        await self._send(message)

    async def _settle(self, claim: _Claim) -> None:
        self._settled = True
        if self._status >= 500 or self._status == 422:
            await _release(claim)
            return
        value = _encode(claim.fingerprint, self._status, self._headers, b"".join(self._body))
        try:
            await claim.store.put(claim.name, value, claim.ttl)
        except StorageError as exc:
            # The action ran and its answer goes out; a retry gets 409 until the claim lapses.
            logger.error("The answer to an idempotent request could not be kept: %s", exc)

    async def close(self) -> None:
        """After the route: release a claim whose request began no answer (it raised)."""
        claim: _Claim | None = self.scope.get(_CLAIM)
        if claim is not None and not self._settled:
            self._settled = True
            if not self._status or self._status >= 500:
                await _release(claim)


async def _release(claim: _Claim) -> None:
    try:
        await claim.store.delete_if(claim.name, claim.running)
    except StorageError as exc:
        logger.warning("An idempotency key could not be released (it lapses): %s", exc)


# The withdrawals under way, by claim (a task only weakly referenced by its loop could be
# collected); at most MAX_WITHDRAWALS, so a long outage cannot pile them up.
_withdrawals: dict[bytes, asyncio.Task[None]] = {}
MAX_WITHDRAWALS = 1000


def _timed_out(exc: StorageError) -> bool:
    """Whether the store failed by not answering in time: the command may have reached it
    (refused connections and the failure second never sent it)."""
    cause: BaseException | None = exc.__cause__ or getattr(exc, "storage_error", None)
    return isinstance(cause, TimeoutError) or type(cause).__name__ == "TimeoutError"


def _withdraw_later(store: Store, name: str, running: bytes, lease: float) -> None:
    """Withdraw a claim whose ``SET`` timed out, in case the store ran it anyway."""
    if len(_withdrawals) >= MAX_WITHDRAWALS or running in _withdrawals:
        return
    task = asyncio.get_running_loop().create_task(_withdraw(store, name, running, lease))
    _withdrawals[running] = task
    task.add_done_callback(lambda _: _withdrawals.pop(running, None))


async def _withdraw(store: Store, name: str, running: bytes, lease: float) -> None:
    # Once the store answers, a command it had queued has run; one more look a second later
    # covers a claim that arrived on another connection at the same moment.
    deadline = time.monotonic() + lease
    answered = 0
    while answered < 2 and time.monotonic() < deadline:
        await asyncio.sleep(WITHDRAW_EVERY)
        try:
            if await store.delete_if(name, running):
                return
        except StorageError:
            continue
        answered += 1
