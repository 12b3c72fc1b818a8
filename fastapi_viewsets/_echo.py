"""What a validation error echoes of the request: values JSON can carry, and only a little of them.

A 422 repeats what the client sent: the ``input``, the dict keys in ``loc``, values in ``ctx``,
and sometimes the ``msg`` of a validator that quotes its input. The app's handler writes them out
(FastAPI's default runs ``jsonable_encoder``, then ``json.dumps``), which fails on a NaN or an
infinity (JSON ``1e400`` parses as one), a lone surrogate (JSON ``"\\ud800"``), a decimal too large
for a float, or bytes that are not UTF-8: the client got a 500 instead of its 422. And a 10 MB
string came back whole. Viewset routes hand the app's handler errors shaped by
:func:`answerable_error`, whose values :func:`echo` makes::

    echo("x" * 10_000_000)        # "xxx…x…": 200 characters and "…"
    echo(float("nan"))            # "nan"
    echo("a\\ud800")               # "a\\\\ud800": the lone surrogate escaped
    echo(list(range(1000)))       # [0, 1, ..., 9, "…"]
    echo({"a": {"b": {"c": 1}}})  # {"a": {"b": "…"}}: two levels of nesting are shown

At most :data:`MAX_ERRORS` errors are listed; one more says how many were left out.
"""

from __future__ import annotations

import decimal
import inspect
import math
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi.exceptions import RequestValidationError

__all__ = (
    "ELLIPSIS",
    "MAX_CHARS",
    "MAX_ERRORS",
    "MAX_ITEMS",
    "answerable_error",
    "answerable_errors",
    "echo",
)

#: What stands for the part of a value an error leaves out.
ELLIPSIS = "…"
#: Characters of a string an error echoes.
MAX_CHARS = 200
#: Items of a list, or entries of a dict, an error echoes.
MAX_ITEMS = 10
#: Levels of lists and dicts an error echoes; deeper ones are shown as "…".
MAX_DEPTH = 2
#: Characters of an error's message (messages may list choices, so more than an echo).
MAX_MESSAGE_CHARS = 1000
#: Errors a 422 lists.
MAX_ERRORS = 100

# Older FastAPI releases (the library supports 0.115 on) have no endpoint context to carry over.
_TAKES_ENDPOINT_CTX = "endpoint_ctx" in inspect.signature(RequestValidationError).parameters


def _escaped(text: str) -> str:
    """``text`` with lone surrogates and NUL written as escapes, so that it encodes as UTF-8."""
    if text.isascii():  # no surrogates, and no copy made to find out
        return text.replace("\x00", "\\x00") if "\x00" in text else text
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def _text(value: str, limit: int = MAX_CHARS) -> str:
    # Cut before escaping, so a 10 MB string is not copied; escaping may lengthen what is left.
    shown = _escaped(value[:limit])
    if len(value) > limit or len(shown) > limit:
        return shown[:limit] + ELLIPSIS
    return shown


def echo(value: Any, depth: int = 0) -> Any:
    """``value`` as an error may repeat it: JSON can carry it, and it is short.

    Strings are cut at :data:`MAX_CHARS` characters, lists and dicts at :data:`MAX_ITEMS`
    items (then "…"), and nesting below :data:`MAX_DEPTH` levels is "…"; NaN and infinities
    become text, as do decimals too large for a float; bytes are decoded. Other values are left
    to the app's encoder. Echoing an echo changes nothing.
    """
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, decimal.Decimal):
        # jsonable_encoder writes a decimal with a fraction as a float: 1e400 + 0.5 is infinite.
        if not value.is_finite() or not math.isfinite(float(value)):
            return _text(str(value))
        return value
    if isinstance(value, bytes | bytearray):
        # A UTF-8 character takes at most 4 bytes: more than this cannot show.
        text = bytes(value[: MAX_CHARS * 4]).decode("utf-8", "backslashreplace")
        return _text(text + ELLIPSIS if len(value) > MAX_CHARS * 4 else text)
    if isinstance(value, Mapping):
        if depth >= MAX_DEPTH:
            return ELLIPSIS
        shown: dict[Any, Any] = {}
        for index, (key, item) in enumerate(value.items()):
            if index == MAX_ITEMS:
                shown[ELLIPSIS] = ELLIPSIS
                break
            shown[echo(key, depth + 1)] = echo(item, depth + 1)
        return shown
    if isinstance(value, Sequence | set | frozenset):
        if depth >= MAX_DEPTH:
            return ELLIPSIS
        items = list(value) if not isinstance(value, Sequence) else value
        listed = [echo(item, depth + 1) for item in items[:MAX_ITEMS]]
        if len(items) > MAX_ITEMS:
            listed.append(ELLIPSIS)
        return listed
    return value


def _error(error: Any) -> Any:
    if not isinstance(error, Mapping):
        return error
    shaped = dict(error)
    if "input" in shaped:
        shaped["input"] = echo(shaped["input"])
    loc = shaped.get("loc")
    if isinstance(loc, list | tuple):
        shaped["loc"] = tuple(_text(part) if isinstance(part, str) else part for part in loc)
    msg = shaped.get("msg")
    if isinstance(msg, str):
        shaped["msg"] = _text(msg, MAX_MESSAGE_CHARS)
    ctx = shaped.get("ctx")
    if isinstance(ctx, Mapping):
        shaped["ctx"] = {key: echo(value, 1) for key, value in ctx.items()}
    return shaped


def answerable_errors(errors: Sequence[Any]) -> list[Any]:
    """``errors`` as :func:`answerable_error` shapes them: each echoes little, and at most
    :data:`MAX_ERRORS` are listed, then one that says how many more there were."""
    shaped = [_error(error) for error in errors[:MAX_ERRORS]]
    left_out = len(errors) - MAX_ERRORS
    if left_out > 0:
        shaped.append(
            {
                "type": "too_many_errors",
                "loc": (),
                "msg": f"{left_out} more errors are not shown.",
                "input": None,
            }
        )
    return shaped


def answerable_error(exc: RequestValidationError) -> RequestValidationError:
    """``exc``, or a copy whose errors echo what :func:`echo` makes of their values.

    The copy keeps the request's ``body`` as it was, for handlers that read it. A subclass of
    ``RequestValidationError`` (an app's own) is left as it is.
    """
    if type(exc) is not RequestValidationError:
        return exc
    errors = list(exc.errors())
    shaped = answerable_errors(errors)
    if shaped == errors:
        return exc
    if _TAKES_ENDPOINT_CTX:
        context = getattr(exc, "endpoint_ctx", None)
        return RequestValidationError(shaped, body=exc.body, endpoint_ctx=context)
    return RequestValidationError(shaped, body=exc.body)
