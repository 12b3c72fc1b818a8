"""Filtering, search and ordering of lists, declared on the viewset.

::

    @viewset(router)
    class CompanyViewSet(ModelViewSet[Company]):
        model = Company
        filterset_fields = {
            "name": ["exact", "icontains"],        # ?name=Acme  ?name__icontains=acm
            "created_at": ["gte", "lte"],           # ?created_at__gte=2024-01-01T00:00:00Z
            "owner__username": ["exact"],           # across a relation you allowed
            "status": ["in"],                       # ?status__in=open,closed
        }
        search_fields = ["name", "^slug", "=owner__username"]   # ?search=acme corp
        ordering_fields = ["name", "created_at"]                 # ?ordering=-created_at,name
        ordering = ["-created_at"]                               # the default order

As in django-filter, ``filterset_fields`` may also be a list of names, each compared with
``exact``; a foreign key (or one-to-one) is compared by the related row's key under its own
name, ``owner`` or ``owner_id`` alike::

        filterset_fields = ["owner", "is_public"]               # ?owner=2&is_public=true

And as in DRF, a string ``ordering`` is one field: ``ordering = "-created_at"``.

Every parameter is a typed query parameter in OpenAPI, parsed by the model field's type (int,
bool, date, datetime, decimal, UUID, enum). A value that does not parse is a 422 that names the
parameter; an ``?ordering=`` field outside ``ordering_fields`` is a 400. Only declared
parameters are read, so a client cannot filter on a field, or follow a relation, that the viewset
did not allow.

Search terms are split on spaces and commas; every term must match at least one of the
``search_fields`` (case-insensitive ``icontains``; ``^`` for starts-with, ``=`` for an exact
case-insensitive match). The order always ends with the primary key, so pages are stable.

For filters beyond ``field__lookup``, write a :class:`FilterSet`::

    class CompanyFilter(FilterSet):
        fields = {"name": ["icontains"]}
        has_projects = Filter(bool, method="filter_has_projects",
                              description="Only companies with (or without) projects.")

        def filter_has_projects(self, queryset, value):
            return queryset.filter(projects__id__isnull=not value).distinct()

    class CompanyViewSet(ModelViewSet[Company]):
        filterset_class = CompanyFilter
"""

from __future__ import annotations

import datetime
import inspect
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from fastapi import Query
from pydantic import BeforeValidator
from tortoise.expressions import Q, Subquery
from tortoise.models import Model
from tortoise.queryset import QuerySet

from ._paths import resolve_field, resolve_filter
from ._tortoise import is_inited
from ._values import TEXT_LOOKUPS, check_text, query_converter, value_type
from .exceptions import ImproperlyConfigured, ParseError

if TYPE_CHECKING:
    from ._protocols import ListingView

__all__ = ("Filter", "FilterSet", "Listing", "QueryParam")

#: ``filterset_fields`` and ``FilterSet.fields``: lookups by field, or names compared exactly.
FilterFields = Mapping[str, Sequence[str]] | Sequence[str]

LOOKUPS = TEXT_LOOKUPS | {"exact", "not", "gt", "gte", "lt", "lte", "in", "isnull"}
_SEARCH_PREFIXES = {"^": "istartswith", "=": "iexact", "@": "icontains"}
_TERMS = re.compile(r"[\s,]+")
SEARCH_PARAM = "search"
ORDERING_PARAM = "ordering"


@dataclass(frozen=True)
class Filter:
    """One filter parameter of a :class:`FilterSet`.

    ``field_name`` is a model path (``"owner__username"``); it defaults to the attribute's name.
    ``type`` is the value's type; it defaults to the field's. With ``method``, the FilterSet's
    method of that name gets ``(queryset, value)`` and returns the filtered queryset.
    """

    type: Any = None
    field_name: str | None = None
    lookup: str = "exact"
    method: str | None = None
    description: str | None = None


class FilterSet:
    """A reusable set of filters: ``fields`` as in ``filterset_fields``, plus :class:`Filter`
    attributes. Its methods run with ``self.view``, the viewset serving the request."""

    fields: ClassVar[FilterFields] = {}
    view: ListingView

    @classmethod
    def declared_filters(cls) -> dict[str, Filter]:
        found: dict[str, Filter] = {}
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                if isinstance(value, Filter):
                    found[name] = value
        return found


@dataclass(frozen=True)
class QueryParam:
    """A query parameter of a list route, and how its value narrows the queryset."""

    name: str
    annotation: Any
    description: str
    apply: Callable[[ListingView, QuerySet[Any], Any], QuerySet[Any]] | None = None
    #: Whether the filter crosses a to-many relation (so rows could repeat).
    many: bool = False
    #: What OpenAPI says of the value beyond its type (a ``pattern``), not checked by FastAPI.
    schema: Mapping[str, Any] | None = None

    def parameter(self) -> inspect.Parameter:
        annotation = self.annotation
        if annotation in (datetime.datetime, datetime.date):
            annotation = Annotated[annotation, BeforeValidator(_not_a_timestamp)]
        query = Query(
            description=self.description,
            json_schema_extra=dict(self.schema) if self.schema else None,
        )
        return inspect.Parameter(
            self.name,
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Annotated[annotation | None, query],
            default=None,
        )


#: A number: pydantic reads one as a Unix timestamp where a date or datetime is asked, but
#: OpenAPI's ``format: date-time`` (RFC 3339) does not allow it.
_NUMBER = re.compile(r"\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*")


def _not_a_timestamp(value: Any) -> Any:
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        raise ValueError("give a date or a datetime in ISO 8601 form, not a number")
    return value


def ordering_entries(ordering: str | Sequence[str] | None) -> tuple[str, ...]:
    """An ``ordering`` setting as its entries. A string is one field, as DRF reads it
    (``"-created_at"``), not a sequence of one-letter names."""
    if not ordering:
        return ()
    if isinstance(ordering, str):
        return (ordering,)
    return tuple(ordering)


@dataclass
class _FieldFilter:
    """A ``field__lookup`` filter; what it compares, and its converter, are decided on first
    use, when Tortoise knows every relation (a related field may be unknown at registration)."""

    owner: str
    model: type[Model]
    name: str
    path: str
    lookup: str
    declared_type: Any
    converter: Callable[[Any], Any] | None = None
    key: str = ""

    def __call__(self, view: Any, queryset: QuerySet[Any], raw: Any) -> QuerySet[Any]:
        if self.converter is None:
            target = resolve_filter(self.model, self.path, self.owner)
            declared = self.declared_type
            if declared is None or (declared is int and target.field is not None):
                declared = value_type(target.field)  # a declared int keeps the column's bounds
            self.key = target.path if self.lookup == "exact" else f"{target.path}__{self.lookup}"
            self.converter = query_converter(self.name, declared, self.lookup)
        return queryset.filter(**{self.key: self.converter(raw)})


class Listing:
    """The compiled filters, search and ordering of one viewset's list routes."""

    #: More search terms than this are a 400: each term adds a clause to the query.
    max_search_terms = 10

    def __init__(self, cls: type[Any], model: type[Model], owner: str) -> None:
        self.owner = owner
        self.model = model
        self.params: list[QueryParam] = []
        # The paths of filters, and of search and ordering: checked again after init.
        self.filter_paths: list[str] = []
        self.paths: list[str] = []
        self._checked = is_inited(model)
        self._add_filters(cls)
        self.search_fields = tuple(getattr(cls, "search_fields", None) or ())
        self._add_search()
        self.ordering_fields = tuple(getattr(cls, "ordering_fields", None) or ())
        self.default_ordering = ordering_entries(getattr(cls, "ordering", None))
        self._add_ordering()
        names = [p.name for p in self.params]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ImproperlyConfigured(
                f"{owner}: the query parameter(s) {', '.join(duplicates)} are declared twice "
                f"(in filterset_fields, the FilterSet, search or ordering). Rename one."
            )

    @property
    def is_empty(self) -> bool:
        return not self.params and not self.default_ordering

    @property
    def refuses_bad_requests(self) -> bool:
        """Whether a request can be a 400: a search with too many terms, an ordering by a field
        not allowed. (A filter value that does not parse is FastAPI's 422.)"""
        return bool(self.search_fields or self.ordering_fields)

    def check(self) -> None:
        """Check every declared path again once Tortoise knows all relations (names that could
        be reverse relations are accepted at registration, before ``Tortoise.init``)."""
        if self._checked or not is_inited(self.model):
            return
        for path in self.filter_paths:
            resolve_filter(self.model, path, self.owner)
        for path in self.paths:
            if path != "pk":
                resolve_field(self.model, path, self.owner)
        self._checked = True

    # --- filters --------------------------------------------------------------------------

    def _add_filters(self, cls: type[Any]) -> None:
        fields = self._lookups(getattr(cls, "filterset_fields", None), "filterset_fields")
        filterset: type[FilterSet] | None = getattr(cls, "filterset_class", None)
        declared: dict[str, Filter] = {}
        if filterset is not None:
            if not (isinstance(filterset, type) and issubclass(filterset, FilterSet)):
                raise ImproperlyConfigured(f"{self.owner}.filterset_class must be a FilterSet.")
            fields = {**self._lookups(filterset.fields, f"{filterset.__name__}.fields"), **fields}
            declared = filterset.declared_filters()
        for path, lookups in fields.items():
            if isinstance(lookups, str):
                raise ImproperlyConfigured(
                    f"{self.owner}: filterset_fields[{path!r}] must be a list of lookups, "
                    f"such as ['exact'], not the string {lookups!r}."
                )
            for lookup in lookups:
                name = path if lookup == "exact" else f"{path}__{lookup}"
                self._add_filter(name, Filter(field_name=path, lookup=lookup), filterset)
        for name, declared_filter in declared.items():
            self._add_filter(name, declared_filter, filterset)

    def _lookups(self, fields: FilterFields | None, setting: str) -> dict[str, Sequence[str]]:
        """``fields`` as lookups by field: the list form names fields compared with ``exact``,
        as django-filter reads it."""
        if not fields:
            return {}
        if isinstance(fields, Mapping):
            return dict(fields)
        names = list(fields) if isinstance(fields, Iterable) and not isinstance(fields, str) else []
        if not names or not all(isinstance(name, str) for name in names):
            example = repr([fields]) if isinstance(fields, str) else "['name', 'owner']"
            raise ImproperlyConfigured(
                f"{self.owner}: {setting} must be a list of field names, such as {example}, "
                f"or a mapping of fields to lookups, such as {{'name': ['exact', 'icontains']}}; "
                f"not {fields!r}."
            )
        return {name: ["exact"] for name in names}

    def _add_filter(self, name: str, spec: Filter, filterset: type[FilterSet] | None) -> None:
        if spec.lookup not in LOOKUPS:
            raise ImproperlyConfigured(
                f"{self.owner}: unknown lookup {spec.lookup!r} for {name!r}. "
                f"Use one of: {', '.join(sorted(LOOKUPS))}."
            )
        path = spec.field_name or name
        if spec.method is not None:
            method_name = spec.method
            if filterset is None or not callable(getattr(filterset, method_name, None)):
                raise ImproperlyConfigured(
                    f"{self.owner}: filter {name!r} names method {method_name!r}, which its "
                    f"FilterSet does not define."
                )
            python_type = spec.type or str
            convert = query_converter(name, python_type, "exact")

            def apply_method(view: Any, queryset: QuerySet[Any], raw: Any) -> QuerySet[Any]:
                instance = filterset()
                instance.view = view
                result: QuerySet[Any] = getattr(instance, method_name)(queryset, convert(raw))
                return result

            description = _describe(spec, path.replace("__", "."))
            self.params.append(QueryParam(name, python_type, description, apply_method))
            return
        target = resolve_filter(self.model, path, self.owner)
        self.filter_paths.append(path)
        field_type = spec.type or value_type(target.field)
        if spec.lookup == "isnull":
            annotation: Any = bool
        elif spec.lookup == "in" or spec.lookup in TEXT_LOOKUPS or field_type is None:
            annotation = str
        else:
            annotation = field_type
        apply = _FieldFilter(self.owner, self.model, name, path, spec.lookup, spec.type)
        description = _describe(spec, target.label)
        self.params.append(QueryParam(name, annotation, description, apply, target.many))

    # --- search -----------------------------------------------------------------------------

    def _add_search(self) -> None:
        if not self.search_fields:
            return
        lookups: list[str] = []
        many = False
        for entry in self.search_fields:
            prefix = entry[0] if entry[:1] in _SEARCH_PREFIXES else ""
            path = entry[1:] if prefix else entry
            lookup = _SEARCH_PREFIXES.get(prefix, "icontains")
            _, crosses = resolve_field(self.model, path, self.owner)
            self.paths.append(path)
            many = many or crosses
            lookups.append(f"{path}__{lookup}")
        limit = self.max_search_terms

        def apply(view: Any, queryset: QuerySet[Any], raw: Any) -> QuerySet[Any]:
            terms = [t for t in _TERMS.split(str(raw)) if t]
            if len(terms) > limit:
                raise ParseError(
                    f"Search with at most {limit} terms.", code="too_many_search_terms"
                )
            for term in terms:
                check_text(SEARCH_PARAM, term)
                queryset = queryset.filter(
                    Q(*(Q(**{lookup: term}) for lookup in lookups), join_type="OR")
                )
            return queryset

        fields = ", ".join(self.search_fields)
        self.params.append(
            QueryParam(
                SEARCH_PARAM,
                str,
                f"Search terms (separated by spaces, at most {limit}); each must match one "
                f"of: {fields}.",
                apply,
                many,
            )
        )

    # --- ordering ---------------------------------------------------------------------------

    def _add_ordering(self) -> None:
        for entry in self.default_ordering:
            self._check_ordering_entry(entry)
            self.paths.append(_ordering_name(entry)[0])
        for entry in self.ordering_fields:
            if entry.startswith("-"):
                raise ImproperlyConfigured(
                    f"{self.owner}: ordering_fields lists field names without '-': {entry!r}."
                )
            self._check_ordering_entry(entry)
            self.paths.append(entry)
        if self.ordering_fields:
            fields = ", ".join(self.ordering_fields)
            self.params.append(
                QueryParam(
                    ORDERING_PARAM,
                    str,
                    f"Comma-separated fields to order by, '-' for descending. One of: {fields}.",
                    # The values ordering_for() accepts: a client (or a fuzzer) can tell from
                    # the schema which are answered 400. Not checked by FastAPI, so the 400
                    # keeps its message naming the fields.
                    schema={"pattern": _ordering_pattern(self.ordering_fields)},
                )
            )

    def _check_ordering_entry(self, entry: str) -> None:
        name, _ = _ordering_name(entry)
        if name != "pk":
            resolve_field(self.model, name, self.owner)

    def ordering_for(self, raw: str | None) -> list[str]:
        """The requested ordering, or the default one; ``pk`` named by its field."""
        if not raw:
            return [self._pk(entry) for entry in self.default_ordering]
        ordering = []
        for part in (p.strip() for p in raw.split(",")):
            if not part:
                continue
            name, _ = _ordering_name(part)
            if name not in self.ordering_fields:
                allowed = ", ".join(self.ordering_fields)
                raise ParseError(
                    f"Cannot order by {part!r}; ordering accepts: {allowed} (with '-' for "
                    f"descending).",
                    code="invalid_ordering",
                )
            ordering.append(self._pk(part))
        return ordering

    def _pk(self, entry: str) -> str:
        name, descending = _ordering_name(entry)
        if name == "pk":
            name = self.model._meta.pk_attr
        return f"-{name}" if descending else name

    # --- applying ---------------------------------------------------------------------------

    def apply(
        self, view: ListingView, queryset: QuerySet[Any], values: Mapping[str, Any]
    ) -> tuple[QuerySet[Any], list[str]]:
        """Filter and search ``queryset`` with ``values``; return it and the requested (or
        default) ordering, which may be empty."""
        self.check()
        filtered = queryset
        crosses_many = False
        for param in self.params:
            value = values.get(param.name)
            if value is None or param.apply is None:
                continue
            filtered = param.apply(view, filtered, value)
            crosses_many = crosses_many or param.many
        if crosses_many:
            # A join through a to-many relation repeats rows. Rather than DISTINCT (which
            # PostgreSQL refuses beside an ORDER BY on a related column), keep the rows whose
            # key the filtered query finds.
            pk = self.model._meta.pk_attr
            filtered = queryset.filter(**{f"{pk}__in": Subquery(filtered.values(pk))})
        return filtered, self.ordering_for(values.get(ORDERING_PARAM))


def _ordering_pattern(fields: Sequence[str]) -> str:
    """The regular expression of the ``?ordering=`` values that name only ``fields``: entries
    separated by commas, each ``-`` or not, spaces around them, empty entries skipped."""
    names = "|".join(re.escape(field) for field in fields)
    entry = rf"\s*(?:-?(?:{names}))?\s*"
    return rf"^{entry}(?:,{entry})*$"


def _ordering_name(entry: str) -> tuple[str, bool]:
    """``("name", True)`` for ``"-name"``; a second ``-`` is part of the name (and unknown)."""
    if entry.startswith("-"):
        return entry[1:], True
    return entry, False


def _describe(spec: Filter, subject: str) -> str:
    """``spec``'s description, or one about ``subject``, its path as dotted names."""
    if spec.description:
        return spec.description
    words = {
        "exact": "equals",
        "not": "differs from",
        "iexact": "equals, ignoring case,",
        "contains": "contains",
        "icontains": "contains, ignoring case,",
        "startswith": "starts with",
        "istartswith": "starts with, ignoring case,",
        "endswith": "ends with",
        "iendswith": "ends with, ignoring case,",
        "gt": "is greater than",
        "gte": "is at least",
        "lt": "is less than",
        "lte": "is at most",
        "in": "is one of (comma-separated)",
        "isnull": "is null (true) or not (false):",
    }
    return f"Rows whose {subject} {words[spec.lookup]} the value."
