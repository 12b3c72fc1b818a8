"""Checks that keep values a column cannot hold away from the database.

A value that passes a Pydantic schema may still be refused by the database, or stored wrong: a
string too long, an integer beyond the column, a decimal with too many digits, a NUL character
or a lone surrogate (PostgreSQL and SQLite's driver refuse both), a NaN, a datetime whose UTC
form is out of range, a JSON value holding a NaN, a NUL or a lone surrogate anywhere inside
(PostgreSQL refuses it; SQLite keeps a NaN that reads back as null). Writes, filters, lookups and
cursors check with these functions and answer 4xx instead.

Query parameters (filters, cursors) are parsed by the column's type, bounded like the column::

    value_type(Company._meta.fields_map["size"])   # Annotated[int, Field(ge=-2**31, le=2**31-1)]

And the other way: ``reader`` reads a column's value from the driver as Tortoise reads it.
"""

from __future__ import annotations

import datetime
import decimal
import math
import uuid
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi.exceptions import RequestValidationError
from pydantic import Field as PydanticField
from pydantic import TypeAdapter, ValidationError
from tortoise.exceptions import ValidationError as TortoiseValidationError
from tortoise.fields.base import Field
from tortoise.fields.data import DatetimeField, JSONField

from ._echo import echo

Reader = Callable[[Any], Any]

TEXT_LOOKUPS = frozenset(
    {"iexact", "contains", "icontains", "startswith", "istartswith", "endswith", "iendswith"}
)
#: Limits that keep a query within what the databases accept (PostgreSQL takes at most 32767
#: parameters; SQLite refuses LIKE patterns over 50,000 bytes).
MAX_IN_VALUES = 1000
MAX_TEXT_LENGTH = 1000


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text, or ``None``."""
    if "\x00" in value:
        return "Text may not contain NUL characters."
    if value.isascii():  # no surrogates, and no copy made to find out
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "Text must be valid Unicode (no lone surrogates)."
    return None


def json_problem(value: Any) -> str | None:
    """Why a JSON column cannot hold ``value`` (a dict, a list, ...), or ``None``."""
    pending = [value]  # a loop, not recursion: a body may nest as deep as the parser allows
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem is not None:
                return problem
        elif isinstance(item, float | decimal.Decimal):
            if not math.isfinite(item):
                return "JSON numbers must be finite (no NaN or Infinity)."
        elif isinstance(item, Mapping):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return None


def normalise_value(value: Any) -> Any:
    """Datetimes in UTC (a naive one is taken as UTC); ``ValueError`` when out of range."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=datetime.timezone.utc)
        try:
            return value.astimezone(datetime.timezone.utc)
        except OverflowError:
            raise ValueError("The date and time is out of range in UTC.") from None
    return value


def column_problem(field: Any, value: Any) -> str | None:
    """Why ``field``'s column cannot hold ``value``, or ``None``."""
    if value is None:
        return None if field.null or field.generated else "This field may not be null."
    constraints = getattr(field, "constraints", None) or {}
    if isinstance(field, JSONField):
        problem = json_problem(value)
        if problem is not None:
            return problem
    if isinstance(value, str):
        problem = text_problem(value)
        if problem is not None:
            return problem
        max_length = constraints.get("max_length")
        if max_length is not None and len(value) > max_length:
            return f"Ensure this value has at most {max_length} characters."
    elif isinstance(value, bool):
        pass
    elif isinstance(value, int) and field.field_type is not decimal.Decimal:
        low, high = constraints.get("ge"), constraints.get("le")
        if (low is not None and value < low) or (high is not None and value > high):
            return f"Ensure this value is between {low} and {high}."
    elif isinstance(value, float) and field.field_type is not decimal.Decimal:
        if not math.isfinite(value):
            return "Ensure this value is a finite number."
    elif isinstance(value, decimal.Decimal) or (
        field.field_type is decimal.Decimal and isinstance(value, int | float)
    ):
        if isinstance(value, float) and not math.isfinite(value):
            return "Ensure this value is a finite number."
        problem = _decimal_problem(field, decimal.Decimal(str(value)))
        if problem is not None:
            return problem
    elif isinstance(value, datetime.datetime):
        try:
            normalise_value(value)
        except ValueError as exc:
            return str(exc)
    try:
        field.validate(value)
    except TortoiseValidationError as exc:
        return str(exc).split(": ", 1)[-1]
    return None


def _decimal_problem(field: Any, value: decimal.Decimal) -> str | None:
    if not value.is_finite():
        return "Ensure this value is a finite number."
    max_digits = getattr(field, "max_digits", None)
    places = getattr(field, "decimal_places", None)
    if max_digits is None or places is None:
        return None
    # The column keeps `places` digits after the point, so the whole part has the rest.
    # adjusted() is the exponent of the first digit: no arithmetic, which would overflow the
    # context's 28 digits (InvalidOperation, a 500) for "1e999999999" or 400 digits.
    if value and value.adjusted() >= max_digits - places:
        return f"Ensure there are no more than {max_digits - places} digits before the point."
    # The database rounds to `places` digits (half away from zero), which may carry into one
    # whole digit more: 99999999.999 is 100000000.00, too long for decimal(10, 2).
    rounded = value.quantize(
        decimal.Decimal(1).scaleb(-places),
        rounding=decimal.ROUND_HALF_UP,
        context=decimal.Context(prec=max_digits + 1),
    )
    if rounded and rounded.adjusted() >= max_digits - places:
        return f"Ensure there are no more than {max_digits - places} digits before the point."
    return None


# --- query values: parsed by the column's type ------------------------------------------------


def _field_python_type(field: Field[Any]) -> Any:
    enum_type = getattr(field, "enum_type", None)
    if enum_type is not None:
        return enum_type
    python_type = field.field_type
    if python_type in (int, str, bool, float, decimal.Decimal, uuid.UUID):
        return python_type
    if python_type in (datetime.datetime, datetime.date, datetime.time, datetime.timedelta):
        return python_type
    return None


def _raise_invalid(name: str, raw: Any, message: str) -> None:
    raise RequestValidationError(
        [{"type": "value_error", "loc": ("query", name), "msg": message, "input": echo(raw)}]
    )


def value_type(field: Field[Any] | None) -> Any:
    """The type a filter value for ``field`` is parsed with, bounded like the column."""
    if field is None:
        return None
    python_type = _field_python_type(field)
    constraints = dict(getattr(field, "constraints", {}) or {})
    if python_type is int and ("ge" in constraints or "le" in constraints):
        return Annotated[int, PydanticField(ge=constraints.get("ge"), le=constraints.get("le"))]
    if python_type is float:
        return Annotated[float, PydanticField(allow_inf_nan=False)]
    if python_type is decimal.Decimal:
        # Finite, and no more digits than the column holds (PostgreSQL cannot encode 1e999999).
        max_digits = getattr(field, "max_digits", None)
        return Annotated[
            decimal.Decimal,
            PydanticField(
                allow_inf_nan=False,
                max_digits=max_digits,
                decimal_places=getattr(field, "decimal_places", None) if max_digits else None,
            ),
        ]
    return python_type


def check_text(name: str, raw: Any) -> Any:
    if isinstance(raw, str):
        problem = text_problem(raw)
        if problem is None and len(raw) > MAX_TEXT_LENGTH:
            problem = f"Ensure this value has at most {MAX_TEXT_LENGTH} characters."
        if problem is not None:
            _raise_invalid(name, raw, problem)
    return raw


def query_converter(name: str, python_type: Any, lookup: str) -> Callable[[Any], Any]:
    """Parse a raw value of parameter ``name`` for ``lookup`` (lists for ``in``)."""
    if lookup == "isnull":
        return lambda value: value
    adapter: TypeAdapter[Any] | None = TypeAdapter(python_type) if python_type else None

    def one(raw: Any) -> Any:
        check_text(name, raw)
        if adapter is None or lookup in TEXT_LOOKUPS:
            return raw
        try:
            return normalise_value(adapter.validate_python(raw))
        except ValidationError as exc:
            _raise_invalid(name, raw, exc.errors()[0]["msg"])
        except ValueError as exc:
            _raise_invalid(name, raw, str(exc))
        raise AssertionError("unreachable")  # pragma: no cover - _raise_invalid raises

    def many(raw: Any) -> list[Any]:
        parts = [part for part in str(raw).split(",") if part != ""]
        if len(parts) > MAX_IN_VALUES:
            _raise_invalid(name, raw, f"Give at most {MAX_IN_VALUES} values.")
        return [one(part) for part in parts]

    return many if lookup == "in" else one


def _passes_through(field: Field[Any]) -> bool:
    # Field.to_python_value only casts values that are not of the field's type yet; for ints and
    # strings the drivers already return that type.
    return type(field).to_python_value is Field.to_python_value and field.field_type in (int, str)


def _read_datetime(field: DatetimeField[Any]) -> Reader:
    to_python = field.to_python_value

    def read(value: Any) -> Any:
        # SQLite stores text; datetime.fromisoformat reads what Tortoise writes, faster than
        # the general ISO 8601 parser Tortoise uses. The time zone rules stay Tortoise's.
        if type(value) is str:
            try:
                return to_python(datetime.datetime.fromisoformat(value))
            except ValueError:
                return to_python(value)
        return to_python(value)

    return read


def reader(field: Field[Any]) -> Reader | None:
    """How to read ``field``'s column value from the driver as Tortoise's ``to_python_value``
    reads it; ``None`` when the driver's value is already the one."""
    if _passes_through(field):
        return None
    if isinstance(field, DatetimeField):
        return _read_datetime(field)
    return field.to_python_value
