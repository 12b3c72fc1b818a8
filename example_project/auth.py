"""Authentication: signed bearer tokens, password hashes, the login route, the current user.

A token is ``<payload>.<signature>``, both URL-safe base64 without padding; the payload is
``<user id>:<expiry as a unix time>`` and the signature is its HMAC-SHA256 under the secret key
(environment variable ``EXAMPLE_SECRET_KEY``; a development default otherwise)::

    >>> token = sign_token(7, expires_in=3600)
    >>> verify_token(token)
    7
    >>> verify_token(token + "x") is None      # tampered: anonymous
    True

Clients get a token from ``POST /auth/token`` with a JSON or form body::

    curl -X POST localhost:8000/auth/token -d username=alice -d password=alice-password
    {"access_token": "Nzox...", "token_type": "bearer"}

and send it as ``Authorization: Bearer <token>``. :func:`get_current_user`, a dependency of
every viewset router (``app.include_router(router, dependencies=[...])``), turns the header into
the request's user with ``BaseStateManager.set_user``. A missing, tampered or expired token makes
the request anonymous, not an error: public reads keep working, and writes answer 401 from the
viewsets' permissions.

Passwords are stored as PBKDF2-SHA256 hashes in Django's format,
``pbkdf2_sha256$<iterations>$<salt>$<hash>``, so the iteration count can grow without breaking
existing hashes.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import logging
import os
import secrets
import time
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from fastapi_viewsets import BaseStateManager
from fastapi_viewsets.exceptions import ErrorResponse, ValidationErrorResponse

from .models import User
from .schemas import LoginRequest, TokenResponse

__all__ = (
    "bearer",
    "check_password",
    "get_current_user",
    "hash_password",
    "router",
    "sign_token",
    "verify_token",
)

log = logging.getLogger(__name__)

DEV_SECRET_KEY = "dev-only-secret-change-me"
#: User.id is an IntField: 32 bits.
MAX_USER_ID = 2**31 - 1
TOKEN_LIFETIME = 60 * 60
#: OWASP's 2023 figure for PBKDF2-SHA256. Read at hashing time, so tests may lower it.
PASSWORD_ITERATIONS = 600_000
_ALGORITHM = "pbkdf2_sha256"


def secret_key() -> bytes:
    # Read on every use so a key rotated in the environment (or in a test) applies at once.
    return os.environ.get("EXAMPLE_SECRET_KEY", DEV_SECRET_KEY).encode()


def warn_if_development_key() -> bool:
    """Log a warning when tokens are signed with the public development key (no
    ``EXAMPLE_SECRET_KEY``): anyone can then forge a token for any user. Whether it is."""
    if os.environ.get("EXAMPLE_SECRET_KEY"):
        return False
    log.warning(
        "EXAMPLE_SECRET_KEY is not set: tokens are signed with the public development key, so "
        "anyone can forge one. Set it outside development: EXAMPLE_SECRET_KEY=$(openssl rand "
        "-hex 32)."
    )
    return True


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    """Strict: the default decoder skips foreign characters, so 'abc!' would equal 'abc'."""
    raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    if _b64encode(raw) != text:  # unused trailing bits: another spelling of the same bytes
        raise ValueError("non-canonical base64")
    return raw


def _sign(payload: bytes) -> bytes:
    return hmac.new(secret_key(), payload, hashlib.sha256).digest()


# --- tokens ------------------------------------------------------------------------------


def sign_token(user_id: int, *, expires_in: int = TOKEN_LIFETIME, now: float | None = None) -> str:
    """A bearer token for ``user_id`` that is valid for ``expires_in`` seconds."""
    expires = int((time.time() if now is None else now) + expires_in)
    payload = f"{user_id}:{expires}".encode("ascii")
    return f"{_b64encode(payload)}.{_b64encode(_sign(payload))}"


def verify_token(token: str, *, now: float | None = None) -> int | None:
    """The user id ``token`` was signed for, or ``None`` if it is malformed, forged or expired."""
    try:
        encoded_payload, encoded_signature = token.split(".")
        payload = _b64decode(encoded_payload)
        signature = _b64decode(encoded_signature)
    except (ValueError, binascii.Error):
        return None
    # compare_digest takes as long for a near miss as for a wild guess: no timing oracle.
    if not hmac.compare_digest(signature, _sign(payload)):
        return None
    try:
        user_part, expires_part = payload.decode("ascii").split(":")
        user_id, expires = int(user_part), int(expires_part)
    except ValueError:
        return None
    if expires <= (time.time() if now is None else now):
        return None
    # Anyone may sign with the public development key: an id the column cannot hold is no one.
    if not 1 <= user_id <= MAX_USER_ID:
        return None
    return user_id


# --- passwords ---------------------------------------------------------------------------


def hash_password(password: str, *, iterations: int | None = None) -> str:
    rounds = iterations if iterations is not None else PASSWORD_ITERATIONS
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, rounds)
    return f"{_ALGORITHM}${rounds}${_b64encode(salt)}${_b64encode(digest)}"


def check_password(password: str, encoded: str) -> bool:
    try:
        algorithm, rounds, salt, digest = encoded.split("$")
        expected = _b64decode(digest)
        actual = hashlib.pbkdf2_hmac("sha256", password.encode(), _b64decode(salt), int(rounds))
    except (ValueError, binascii.Error):
        return False
    return algorithm == _ALGORITHM and hmac.compare_digest(actual, expected)


@functools.lru_cache(maxsize=4)
def _decoy_hash(iterations: int) -> str:
    return hash_password(secrets.token_urlsafe(), iterations=iterations)


async def authenticate(username: str, password: str) -> User | None:
    # No username holds a NUL (sign-up allows letters, digits and "_.-"), and PostgreSQL
    # refuses one in a query: such a name is unknown without asking the database.
    user = None if "\x00" in username else await User.get_or_none(username=username)
    # An unknown name still pays for one hash, so response times do not reveal which names exist.
    encoded = user.password_hash if user is not None else _decoy_hash(PASSWORD_ITERATIONS)
    # PBKDF2 is deliberately slow CPU work; in the event loop it would stall every other request.
    valid = await run_in_threadpool(check_password, password, encoded)
    return user if user is not None and valid else None


# --- the current user --------------------------------------------------------------------

#: ``auto_error=False``: no header means an anonymous request, which permissions then judge.
bearer = HTTPBearer(auto_error=False, description="A token from POST /auth/token.")


async def get_current_user(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User | None:
    """The viewset routers' dependency that makes the token's user the request's user."""
    user = None
    if credentials is not None:
        user_id = verify_token(credentials.credentials)
        if user_id is None:
            log.info("ignoring an invalid or expired bearer token")
        else:
            user = await User.get_or_none(id=user_id)
    BaseStateManager.set_user(user)
    return user


# --- the login route ---------------------------------------------------------------------

router = APIRouter(tags=["auth"])


def _body_error(message: str) -> RequestValidationError:
    return RequestValidationError([{"type": "body_invalid", "loc": ("body",), "msg": message}])


async def _read_login(request: Request) -> LoginRequest:
    body = await request.body()
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    is_form = content_type == "application/x-www-form-urlencoded"
    # The media types FastAPI reads as JSON; like FastAPI's routes, nothing else is guessed at.
    is_json = content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )
    if not (is_form or is_json):
        raise _body_error("Send the username and password as JSON or as an HTML form.")
    try:
        # Decoded here: a validation error would echo bytes that are not UTF-8, which the
        # error response cannot encode (a 500).
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _body_error("The body is not UTF-8 text.") from None
    try:
        if is_form:
            # Parsed here rather than with Form(): that needs python-multipart, one more
            # dependency for two fields.
            fields = dict(parse_qsl(text, keep_blank_values=True))
            return LoginRequest.model_validate(fields)
        return LoginRequest.model_validate_json(text)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None


def _login_openapi() -> dict[str, Any]:
    # The route reads its body by hand, so OpenAPI is told what it accepts.
    schema = LoginRequest.model_json_schema()
    content = {
        "application/json": {"schema": schema},
        "application/x-www-form-urlencoded": {"schema": schema},
    }
    return {"requestBody": {"required": True, "content": content}}


@router.post(
    "/auth/token",
    response_model=TokenResponse,
    summary="Exchange a username and password for a bearer token",
    responses={
        401: {"model": ErrorResponse, "description": "Wrong username or password"},
        # FastAPI adds its 422 only to routes with declared parameters; this one reads its
        # body by hand.
        422: {"model": ValidationErrorResponse, "description": "Validation Error"},
    },
    openapi_extra=_login_openapi(),
)
async def issue_token(request: Request) -> TokenResponse:
    """Accepts ``{"username": ..., "password": ...}`` as JSON or as an HTML form."""
    login = await _read_login(request)
    user = await authenticate(login.username, login.password)
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Incorrect username or password.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    log.info("issued a token to %s", user.username)
    return TokenResponse(access_token=sign_token(user.id))
