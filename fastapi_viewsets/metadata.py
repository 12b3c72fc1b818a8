"""``OPTIONS``: what a path of a viewset answers, and what its writes take, as DRF describes it.

An ``OPTIONS`` request to a viewset's path answers ``200`` with an ``Allow`` header naming every
method of the path, and a body in the shape of DRF's ``SimpleMetadata``::

    OPTIONS /companies                        200 OK
                                              Allow: GET, HEAD, OPTIONS, POST
    {
      "name": "Company List",
      "description": "Companies you can see.",
      "renders": ["application/json"],
      "parses": ["application/json"],
      "actions": {
        "POST": {
          "name": {"type": "string", "required": true, "read_only": false,
                   "label": "Name", "max_length": 100},
          "size": {"type": "integer", "required": false, "read_only": false,
                   "label": "Size", "min_value": 0}
        }
      }
    }

``actions`` describes the body of each writing method of the path (``POST`` on a list path,
``PUT`` on a detail path), read from the action's write schema. Unlike DRF it is not filtered by
the caller's permissions: the same schemas are public in the app's OpenAPI document.

A viewset chooses the class with ``metadata_class`` (``None`` answers ``OPTIONS`` with ``405``,
as a viewset without it would); a class of its own overrides ``determine_metadata``::

    class BriefMetadata(SimpleMetadata):
        def determine_metadata(self, request, view, actions):
            return {"name": self.view_name(view)}
"""

from __future__ import annotations

import inspect
import re
import typing
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = ("BaseMetadata", "SimpleMetadata")

# JSON schema types as DRF's SimpleMetadata names its serializer fields.
_TYPES = {
    "string": "string",
    "integer": "integer",
    "number": "float",
    "boolean": "boolean",
    "array": "list",
    "object": "nested object",
}
_FORMATS = {
    "date-time": "datetime",
    "date": "date",
    "time": "time",
    "email": "email",
    "uri": "url",
    "uuid": "string",
}
# JSON schema keywords and DRF's names for them.
_CONSTRAINTS = {
    "maxLength": "max_length",
    "minLength": "min_length",
    "maximum": "max_value",
    "minimum": "min_value",
    "exclusiveMaximum": "max_value",
    "exclusiveMinimum": "min_value",
}


class BaseMetadata:
    """What an ``OPTIONS`` request to a viewset's path answers."""

    def determine_metadata(
        self, request: Request, view: Any, actions: dict[str, type[BaseModel]]
    ) -> dict[str, Any]:
        """The body of the answer: ``view`` is a viewset instance (its ``action`` is
        ``"metadata"``); ``actions`` maps each writing method of the path to its body model."""
        raise NotImplementedError


class SimpleMetadata(BaseMetadata):
    """DRF's ``SimpleMetadata``: name, description, media types and the writes' fields."""

    def determine_metadata(
        self, request: Request, view: Any, actions: dict[str, type[BaseModel]]
    ) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "name": self.view_name(view),
            # The class's own docstring, as DRF's: not one a base class wrote for itself.
            "description": inspect.cleandoc(type(view).__doc__ or ""),
            "renders": ["application/json"],
            "parses": ["application/json"],
        }
        if actions:
            metadata["actions"] = {
                method: self.schema_info(schema) for method, schema in sorted(actions.items())
            }
        return metadata

    def view_name(self, view: Any) -> str:
        """``CompanyViewSet`` on a list path gives ``Company List``, on a detail path
        ``Company Instance``, as DRF's ``get_view_name``."""
        name = re.sub(r"(ViewSet|View)$", "", type(view).__name__) or type(view).__name__
        words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
        return f"{words} {'Instance' if view.kwargs else 'List'}"

    def schema_info(self, schema: type[BaseModel]) -> dict[str, dict[str, Any]]:
        """Each field a write takes: type, required, read_only, label and constraints."""
        full = schema.model_json_schema(by_alias=True)
        properties, defs = full.get("properties", {}), full.get("$defs", {})
        info: dict[str, dict[str, Any]] = {}
        for name, field in schema.model_fields.items():
            key = field.alias or name
            info[key] = self.field_info(field, _resolve(_unwrap(properties.get(key, {})), defs))
        return info

    def field_info(self, field: FieldInfo, schema: dict[str, Any]) -> dict[str, Any]:
        """One field, from the Pydantic field and its JSON schema."""
        found = _unwrap(schema)
        info: dict[str, Any] = {
            "type": "decimal" if _is_decimal(field.annotation) else _type_of(found),
            "required": field.is_required(),
            "read_only": False,
            "label": field.title or schema.get("title") or "",
        }
        if field.description:
            info["help_text"] = field.description
        for keyword, name in _CONSTRAINTS.items():
            if keyword in found:
                info[name] = found[keyword]
        if "enum" in found:
            info["type"] = "choice"
            info["choices"] = [{"value": v, "display_name": str(v)} for v in found["enum"]]
        return info


def _unwrap(schema: dict[str, Any]) -> dict[str, Any]:
    # An optional field is anyOf [X, null]: describe X.
    options = [s for s in schema.get("anyOf", ()) if s.get("type") != "null"]
    if len(options) == 1:
        return {**schema, **options[0]}
    return schema


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    # An enum is a $ref to its definition: its values are the field's choices.
    name = str(schema.get("$ref", "")).rpartition("/")[2]
    found = defs.get(name) if name else None
    if found is not None and "enum" in found:
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        return {**rest, "type": found.get("type", "string"), "enum": found["enum"]}
    return schema


def _is_decimal(annotation: Any) -> bool:
    # Pydantic writes a Decimal as "a number or a string" in JSON schema: read the type.
    found = [a for a in (typing.get_args(annotation) or (annotation,)) if a is not type(None)]
    return len(found) == 1 and isinstance(found[0], type) and issubclass(found[0], Decimal)


def _type_of(schema: dict[str, Any]) -> str:
    if "$ref" in schema or "allOf" in schema:
        return "nested object"
    if schema.get("type") == "string" and schema.get("format") in _FORMATS:
        return _FORMATS[schema["format"]]
    return _TYPES.get(str(schema.get("type")), "field")
