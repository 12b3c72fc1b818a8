"""Prepared SQL (``fastapi_viewsets._sql``) returns what Tortoise returns, on SQLite and PostgreSQL.

The property test builds random rows and random plain querysets (``Q`` trees over the supported
lookups, an ordering, a page) and compares the prepared statement's rows with ``values()`` and
its count with ``count()``. The unit tests pin the querysets that must stay with Tortoise, the
reuse of a shape's SQL text, and the single statement a prepared read runs.
"""

from __future__ import annotations

import datetime
import decimal
import operator
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from asgi_lifespan import LifespanManager
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict
from tortoise.expressions import F, Q, Subquery
from tortoise.functions import Lower
from tortoise.queryset import QuerySet

from fastapi_viewsets import _sql
from fastapi_viewsets._projection import Projection
from fastapi_viewsets.testing import assert_num_queries
from tests.models import (
    Badge,
    Company,
    Project,
    Sample,
    Tag,
    TicketPriority,
    TicketStatus,
    User,
)
from tests.utils import IS_POSTGRES, create_app

UTC = datetime.timezone.utc
IST = datetime.timezone(datetime.timedelta(hours=5, minutes=30))


@pytest.fixture
async def database() -> AsyncIterator[None]:
    """A fresh database with the test models (SQLite in memory, or TORTOISE_TEST_DB)."""
    async with LifespanManager(create_app()):
        yield


@pytest.fixture
async def users(database: None) -> list[User]:
    return [
        await User.create(username="ada"),
        await User.create(username="bob ✓", is_admin=True),
    ]


def strict(rows: list[list[Any]]) -> list[list[tuple[str, str]]]:
    """Rows compared by type and repr too: ``1 == True`` and equal instants in other zones
    would hide a reading that differs from Tortoise's."""
    return [[(type(value).__name__, repr(value)) for value in row] for row in rows]


# --- random rows -----------------------------------------------------------------------------

# No NUL (PostgreSQL text refuses it) and no lone surrogate (not UTF-8).
TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30)
INT32 = st.integers(-(2**31), 2**31 - 1)
INT64 = st.integers(-(2**63), 2**63 - 1)
FLOAT32 = st.floats(allow_nan=False, allow_infinity=False, width=32)
DECIMAL = st.decimals(
    min_value=-99999999, max_value=99999999, places=4, allow_nan=False, allow_infinity=False
)
DATE = st.dates(datetime.date(1900, 1, 1), datetime.date(2200, 12, 31))
# Aware only: a naive datetime in a filter is a RuntimeWarning (an error in this suite).
DATETIME = st.datetimes(
    datetime.datetime(1970, 1, 2),
    datetime.datetime(2200, 1, 1),
    timezones=st.sampled_from([UTC, IST]),
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)

ROW = st.fixed_dictionaries(
    {
        # Few names and counts, so that equal values (ties, hits of exact and in) are common.
        "name": st.sampled_from(["a", "b", "B", "é", ""]) | TEXT,
        "note": st.none() | st.sampled_from(["x", "y"]) | TEXT,
        "count": st.integers(-2, 3) | INT32,
        "big": st.none() | INT64,
        "ratio": st.none() | st.sampled_from([0.0, -1.5, 0.5]) | FLOAT32,
        "amount": st.none() | DECIMAL,
        "flag": st.booleans(),
        "day": st.none() | DATE,
        "at": DATETIME,
        "ref": st.uuids(),
        "status": st.sampled_from(list(TicketStatus)),
        "priority": st.sampled_from(list(TicketPriority)),
        "payload": st.none() | st.dictionaries(TEXT, JSON, max_size=3) | st.lists(JSON, max_size=2),
        "owner": st.sampled_from([None, 0, 1]),  # no owner, or users[0], users[1]
    }
)

# --- random plain querysets ------------------------------------------------------------------

ALL_LOOKUPS = (
    "exact",
    "not",
    "in",
    "not_in",
    "gt",
    "gte",
    "lt",
    "lte",
    "range",
    "isnull",
    "not_isnull",
)
# Own columns whose filters are plain; "pk" is the primary key's alias. DecimalField columns are
# compared through a CAST on SQLite, which keeps them with Tortoise (tested below).
FILTERED = [
    "pk",
    "id",
    "name",
    "note",
    "count",
    "big",
    "ratio",
    "flag",
    "day",
    "at",
    "ref",
    "status",
    "priority",
    "owner_id",
    *(["amount"] if IS_POSTGRES else []),
]
ORDERED = [c for c in FILTERED if c != "pk"] + ["payload"]
OUTSIDE: dict[str, st.SearchStrategy[Any]] = {
    "pk": st.integers(-1, 30) | INT32,
    "id": st.integers(-1, 30) | INT32,
    "name": TEXT,
    "note": TEXT,
    "count": INT32,
    "big": INT64,
    "ratio": FLOAT32 | st.floats(allow_nan=False, allow_infinity=False),
    "amount": DECIMAL,
    "flag": st.booleans(),
    "day": DATE,
    "at": DATETIME,
    "ref": st.uuids(),
    # Enum members and their raw values, which the fields' to_db_value accept alike.
    "status": st.sampled_from([*TicketStatus, *(s.value for s in TicketStatus)]),
    "priority": st.sampled_from([*TicketPriority, *(int(p) for p in TicketPriority)]),
    "owner_id": st.integers(-1, 30) | INT32,
}
PATHS = [
    "name",
    "note",
    "count",
    "big",
    "ratio",
    "amount",
    "flag",
    "day",
    "at",
    "ref",
    "status",
    "priority",
    "payload",
    "owner_id",
    "owner__username",
    "owner__is_admin",
    "owner__id",
]


def kwargs_strategy(
    pools: dict[str, list[Any]], owners: list[Any]
) -> st.SearchStrategy[tuple[str, Any]]:
    """One ``key=value`` filter: a supported lookup on a column, a value from the rows or not."""

    def value(column: str) -> st.SearchStrategy[Any]:
        inside = pools.get(column, [])
        return (st.sampled_from(inside) | OUTSIDE[column]) if inside else OUTSIDE[column]

    def for_lookup(column: str, lookup: str) -> st.SearchStrategy[tuple[str, Any]]:
        key = column if lookup == "exact" else f"{column}__{lookup}"
        if lookup == "exact":
            values = st.none() | value(column)  # None is __isnull=True
        elif lookup in ("in", "not_in"):
            values = st.lists(value(column), max_size=4)  # [] included
        elif lookup == "range":
            values = st.tuples(value(column), value(column))
        elif lookup in ("isnull", "not_isnull"):
            values = st.booleans()
        else:
            values = value(column)
        return values.map(lambda v: (key, v))

    own = st.sampled_from(FILTERED).flatmap(
        lambda column: st.sampled_from(ALL_LOOKUPS).flatmap(
            lambda lookup: for_lookup(column, lookup)
        )
    )
    # The foreign key itself: a User, a user id (existing or not), or None.
    owner = st.sampled_from(owners).map(lambda v: ("owner", v))
    # A JSON column: only its NULL tests are plain.
    payload = st.sampled_from(
        [("payload", None), ("payload__isnull", True), ("payload__not_isnull", True)]
    ) | st.tuples(st.sampled_from(["payload__isnull", "payload__not_isnull"]), st.booleans())
    return st.one_of(own, own, own, owner, payload)


def q_strategy(leaf_kwargs: st.SearchStrategy[tuple[str, Any]], depth: int) -> st.SearchStrategy[Q]:
    """A ``Q`` tree of at most ``depth`` levels of ``&``, ``|``, ``~`` and ``Q(*children)``."""
    single = leaf_kwargs.map(lambda kv: Q(**{kv[0]: kv[1]}))
    several = st.tuples(
        st.lists(leaf_kwargs, min_size=2, max_size=3, unique_by=lambda kv: kv[0]),
        st.sampled_from([Q.AND, Q.OR]),
    ).map(lambda t: Q(join_type=t[1], **dict(t[0])))
    leaf = st.integers(0, 9).flatmap(
        lambda n: st.just(Q()) if n == 0 else (several if n < 4 else single)
    )
    if depth == 0:
        return leaf
    inner = q_strategy(leaf_kwargs, depth - 1)
    return st.one_of(
        leaf,
        st.tuples(inner, inner).map(lambda ab: ab[0] & ab[1]),
        st.tuples(inner, inner).map(lambda ab: ab[0] | ab[1]),
        inner.map(operator.invert),
        st.tuples(st.lists(inner, min_size=1, max_size=3), st.sampled_from([Q.AND, Q.OR])).map(
            lambda t: Q(*t[0], join_type=t[1])
        ),
    )


# Up to two own columns, then the primary key as the tiebreak that makes the order total
# (Tortoise's order_by() refuses "pk"); or no ordering at all (and then no page either).
ORDERING = st.none() | st.tuples(
    st.lists(
        st.tuples(st.sampled_from(ORDERED), st.booleans()), max_size=2, unique_by=lambda t: t[0]
    ),
    st.sampled_from(["id", "-id"]),
).map(lambda t: [f"-{c}" if desc else c for c, desc in t[0]] + [t[1]])


def drops_a_negation(q: Q) -> bool:
    """Whether ``q`` holds a negated ``Q`` with no filters of its own whose only child is
    negated too, which Tortoise 1.1.9 renders with one ``NOT`` instead of two."""
    if q._is_negated and not q.filters and len(q.children) == 1 and q.children[0]._is_negated:
        return True
    return any(drops_a_negation(child) for child in q.children)


async def test_two_stacked_negations_cancel(users: list[User]) -> None:
    """``exclude(Q(~Q(pk__in=[x])))`` is the row ``x``: prepared SQL says so; Tortoise 1.1.9
    renders ``"id" NOT IN (x)`` and finds nothing (found by the property test below)."""
    await Sample.all().delete()
    kept = await Sample.create(name="a", at=datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC))
    queryset = Sample.all().exclude(Q(~Q(pk__in=[kept.id])))
    assert _sql.count(queryset) is not None
    assert await _sql.count_rows(queryset) == 1
    # Tortoise's own answer, while its bug lasts: when this fails, drop drops_a_negation().
    assert await queryset.count() == 0


@settings(
    max_examples=100 if IS_POSTGRES else 150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=st.lists(ROW, max_size=10), data=st.data())
async def test_prepared_sql_returns_what_tortoise_returns(
    users: list[User], rows: list[dict[str, Any]], data: st.DataObject
) -> None:
    await Sample.all().delete()
    await Sample.bulk_create(
        [
            Sample(
                **{k: v for k, v in row.items() if k != "owner"},
                owner=(None if row["owner"] is None else users[row["owner"]]),
            )
            for row in rows
        ]
    )
    # The values to filter with, as Tortoise reads them back (Decimals quantized, UTC times).
    stored = await Sample.all().values(*FILTERED[1:])
    pools = {
        column: [row[column] for row in stored if row[column] is not None]
        for column in FILTERED[1:]
    }
    pools["pk"] = pools["id"]
    owners: list[Any] = [*users, *(u.id for u in users), None, 2**31 - 1]
    kwargs = kwargs_strategy(pools, owners)
    trees = q_strategy(kwargs, depth=3)

    for attempt in range(3):
        queryset = Sample.all()
        if attempt == 0:
            # Plain keyword filters, where each lookup's own semantics decide the rows.
            for negate, (key, value) in data.draw(
                st.lists(st.tuples(st.booleans(), kwargs), min_size=1, max_size=2)
            ):
                queryset = (queryset.exclude if negate else queryset.filter)(**{key: value})
        else:
            for negate, q in data.draw(st.lists(st.tuples(st.booleans(), trees), max_size=3)):
                # Tortoise 1.1.9 drops one of two negations stacked without filters between
                # them (see test_two_stacked_negations_cancel): it is not the oracle there.
                assume(not drops_a_negation(~q if negate else q))
                queryset = queryset.exclude(q) if negate else queryset.filter(q)
        ordering = data.draw(ORDERING, label="ordering")
        paths = ["id", *data.draw(st.lists(st.sampled_from(PATHS), min_size=1, unique=True))]
        plan = _sql.SelectPlan.for_paths(Sample, paths)

        counted = _sql.count(queryset)
        assert counted is not None, "a plain queryset has a prepared count"
        assert await _sql.count_rows(queryset) == await queryset.count()

        if ordering is not None:
            queryset = queryset.order_by(*ordering)
            limit = data.draw(st.none() | st.integers(1, 12), label="limit")
            offset = data.draw(st.none() | st.integers(0, 12), label="offset")
            if offset is not None:
                queryset = queryset.offset(offset)
            if limit is not None:
                queryset = queryset.limit(limit)

        prepared = _sql.select(queryset, plan)
        assert prepared is not None, "a plain queryset has a prepared select"
        got = plan.read(await prepared.rows())
        expected = [[row[p] for p in paths] for row in await queryset.values(*paths)]
        if ordering is None:  # no ORDER BY: the same rows, in whichever order
            got.sort(key=lambda row: row[0])
            expected.sort(key=lambda row: row[0])
        assert strict(got) == strict(expected)
        assert got == expected
        event(
            "no row" if not expected else "all rows" if len(expected) == len(rows) else "some rows"
        )


# --- every lookup on every column, on fixed rows ---------------------------------------------


def lookup_cases(column: str, inside: list[Any], outside: Any) -> list[tuple[str, Any]]:
    """Each supported lookup of ``column`` with values from two rows and one from no row."""
    first, second = inside
    return [
        (column, None),
        (column, first),
        (column, outside),
        (f"{column}__not", first),
        (f"{column}__not", outside),
        (f"{column}__in", []),
        (f"{column}__in", [first]),
        (f"{column}__in", [first, second, outside]),
        (f"{column}__not_in", []),
        (f"{column}__not_in", [first]),
        (f"{column}__not_in", [first, second, outside]),
        *((f"{column}__{op}", first) for op in ("gt", "gte", "lt", "lte")),
        (f"{column}__range", (first, second)),
        (f"{column}__range", (second, first)),
        *((f"{column}__{op}", flag) for op in ("isnull", "not_isnull") for flag in (True, False)),
    ]


async def test_every_lookup_on_every_column_matches_tortoise(users: list[User]) -> None:
    ada, bob = users
    t1 = datetime.datetime(2020, 1, 1, 8, 30, tzinfo=UTC)
    t2 = datetime.datetime(2021, 6, 1, 23, 59, 59, 999999, tzinfo=IST)
    t3 = datetime.datetime(2019, 12, 31, 23, 0, tzinfo=UTC)
    d1, d2 = datetime.date(2021, 6, 1), datetime.date(1999, 2, 28)
    refs = [uuid.UUID(int=n * 2**100 + n) for n in (1, 2, 3, 4)]
    # NULLs, duplicates (the 2nd and 4th rows share values) and values on both sides.
    create = Sample.create
    samples = [
        await create(ref=refs[0], name="a", count=1, at=t1),
        await create(
            ref=refs[1],
            name="b",
            note="x",
            count=2,
            big=5,
            ratio=0.5,
            day=d1,
            at=t2,
            amount=decimal.Decimal("1.5"),
            flag=True,
            owner=ada,
            status=TicketStatus.WAITING,
            priority=TicketPriority.LOW,
            payload={"k": 1},
        ),
        await create(
            ref=refs[2],
            name="C",
            note="y",
            count=2,
            big=-5,
            ratio=-1.5,
            day=d2,
            at=t3,
            amount=decimal.Decimal("-2.25"),
            flag=True,
            owner=bob,
            status=TicketStatus.CLOSED,
            priority=TicketPriority.HIGH,
            payload=[1],
        ),
        await create(
            ref=refs[3],
            name="b",
            count=3,
            big=5,
            ratio=0.5,
            day=d1,
            at=t2,
            amount=decimal.Decimal("1.5"),
            owner=ada,
            status=TicketStatus.WAITING,
            priority=TicketPriority.HIGH,
        ),
    ]
    second, third = samples[1], samples[2]
    outside: dict[str, Any] = {
        "pk": 10**6,
        "id": 10**6,
        "name": "zz",
        "note": "",
        "count": 0,
        "big": 2**62,
        "ratio": 0.25,
        "amount": decimal.Decimal("0.0001"),
        "flag": False,
        "day": datetime.date(2000, 1, 1),
        "at": datetime.datetime(2020, 6, 1, tzinfo=IST),
        "ref": uuid.UUID(int=0),
        "status": TicketStatus.OPEN,
        "priority": TicketPriority.NORMAL,
        "owner_id": 10**6,
    }
    cases: list[tuple[str, Any]] = [("owner", value) for value in (ada, bob.id, None, 10**6)] + [
        ("payload", None),
        *(("payload__isnull", flag) for flag in (True, False)),
        *(("payload__not_isnull", flag) for flag in (True, False)),
    ]
    for column in FILTERED:
        attribute = "id" if column == "pk" else column
        inside = [getattr(second, attribute), getattr(third, attribute)]
        cases += lookup_cases(column, inside, outside[column])

    paths = ["id", "name", "note", "at", "owner_id", "owner__username"]
    plan = _sql.SelectPlan.for_paths(Sample, paths)
    some = 0
    for key, value in cases:
        for queryset in (Sample.filter(**{key: value}), Sample.exclude(**{key: value})):
            queryset = queryset.order_by("id")
            prepared = _sql.select(queryset, plan)
            assert prepared is not None, (key, value)
            got = plan.read(await prepared.rows())
            expected = [[row[p] for p in paths] for row in await queryset.values(*paths)]
            assert strict(got) == strict(expected), (key, value)
            assert await _sql.count_rows(queryset) == await queryset.count(), (key, value)
            some += 0 < len(expected) < len(samples)
    assert some > len(cases) // 2  # most cases split the rows: the comparisons are not vacuous


# --- querysets that stay with Tortoise -------------------------------------------------------


class SampleName(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    name: str
    owner_id: int | None


class SampleQuerySet(QuerySet[Sample]):
    """A queryset of one's own, whose methods prepared SQL cannot know."""


@pytest.fixture
async def three(users: list[User]) -> list[Sample]:
    ada, bob = users
    at = datetime.datetime(2024, 5, 1, 12, tzinfo=UTC)
    return [
        await Sample.create(name="alpha", count=1, amount=decimal.Decimal("1.5"), owner=ada, at=at),
        await Sample.create(
            name="Beta", note="n", count=2, amount=decimal.Decimal("0.5"), owner=bob, at=at
        ),
        await Sample.create(name="gamma", count=3, big=3, at=at),
    ]


# (id, queryset, names expected, in this order or not, prepared SQL used on this database?)
FALLBACKS: list[tuple[str, Callable[[], QuerySet[Sample]], list[str], bool, bool]] = [
    ("related lookup", lambda: Sample.filter(owner__username="ada"), ["alpha"], False, False),
    (
        "related lookup inside a Q",
        lambda: Sample.filter(Q(owner__is_admin=True) | Q(count=3)),
        ["Beta", "gamma"],
        False,
        False,
    ),
    ("text lookup", lambda: Sample.filter(name__icontains="ET"), ["Beta"], False, False),
    (
        "annotation",
        lambda: Sample.annotate(lowered=Lower("name")).filter(lowered="beta"),
        ["Beta"],
        False,
        False,
    ),
    ("distinct", lambda: Sample.all().distinct(), ["alpha", "Beta", "gamma"], False, False),
    (
        "subquery value",
        lambda: Sample.filter(id__in=Subquery(Sample.filter(count__gte=2).values("id"))),
        ["Beta", "gamma"],
        False,
        False,
    ),
    ("expression value", lambda: Sample.filter(count=F("big")), ["gamma"], False, False),
    (
        "ordering by a related field",
        lambda: Sample.filter(owner_id__not_isnull=True).order_by("-owner__username"),
        ["Beta", "alpha"],
        True,
        False,
    ),
    (
        "ordering by a DecimalField (a CAST on SQLite)",
        lambda: Sample.filter(name__in=["alpha", "Beta"]).order_by("amount"),
        ["Beta", "alpha"],
        True,
        IS_POSTGRES,
    ),
    (
        "filtering a DecimalField (a CAST on SQLite)",
        lambda: Sample.filter(amount__gt=decimal.Decimal("1")),
        ["alpha"],
        False,
        IS_POSTGRES,
    ),
    (
        # A no-op where the database has no FOR UPDATE (SQLite): then the queryset is plain.
        "select_for_update",
        lambda: Sample.filter(name="alpha").select_for_update(),
        ["alpha"],
        False,
        not IS_POSTGRES,
    ),
    (
        "a QuerySet subclass",
        lambda: SampleQuerySet(Sample).filter(count__lte=2),
        ["alpha", "Beta"],
        False,
        False,
    ),
    # None compared by anything but exact is SQL's NULL comparison: left to Tortoise.
    ("gt None", lambda: Sample.filter(count__gt=None), [], False, False),
    ("not None", lambda: Sample.filter(note__not=None), ["alpha", "gamma"], False, False),
]


@pytest.mark.parametrize(
    ("make", "names", "ordered", "prepared_here"),
    [pytest.param(*case[1:], id=case[0]) for case in FALLBACKS],
)
async def test_querysets_outside_plain_sql_are_left_to_tortoise(
    three: list[Sample],
    make: Callable[[], QuerySet[Sample]],
    names: list[str],
    ordered: bool,
    prepared_here: bool,
) -> None:
    queryset = make()
    projection = Projection.for_schema(SampleName, Sample, "test")
    assert projection is not None
    assert (_sql.select(queryset, projection.select) is not None) is prepared_here
    if not queryset._orderings:
        assert (_sql.count(queryset) is not None) is prepared_here

    # The callers: the fast read path reads with values() instead, counting with count().
    fetched = [row["name"] for row in await projection.fetch(queryset)]
    assert fetched == names if ordered else sorted(fetched) == sorted(names)
    assert await _sql.count_rows(queryset) == len(names)


async def test_a_queryset_of_another_model_than_the_plan_is_not_prepared(
    three: list[Sample],
) -> None:
    plan = _sql.SelectPlan.for_paths(Sample, ["id", "name"])
    assert _sql.select(User.all(), plan) is None
    assert _sql.select(Sample.all(), plan) is not None


async def test_a_page_is_counted_by_tortoise(three: list[Sample]) -> None:
    # count() of a sliced queryset counts what the slice holds: Tortoise's CountQuery does it.
    page = Sample.all().order_by("id").offset(1).limit(5)
    assert _sql.count(page) is None
    assert await _sql.count_rows(page) == 2
    assert _sql.count(Sample.all().limit(1)) is None
    assert await _sql.count_rows(Sample.all().limit(1)) == 1


async def test_a_zero_limit_selects_no_rows_as_the_queryset_does(three: list[Sample]) -> None:
    plan = _sql.SelectPlan.for_paths(Sample, ["id"])
    queryset = Sample.all().order_by("id").limit(0)
    prepared = _sql.select(queryset, plan)
    assert prepared is not None
    assert await prepared.rows() == []
    assert await queryset == []


class IdOnly(BaseModel):
    id: int


async def test_a_zero_limit_reads_no_rows_on_either_path(three: list[Sample]) -> None:
    # Tortoise's values() ignores limit(0) (it applies a limit only when it is truthy); the
    # fast read path answers no rows through prepared SQL and through its values() fallback
    # alike, as `await queryset` does.
    projection = Projection.for_schema(IdOnly, Sample, "Test")
    assert projection is not None
    assert await projection.fetch(Sample.all().order_by("id").limit(0)) == []
    assert await projection.fetch(Sample.all().order_by("id").distinct().limit(0)) == []
    assert len(await Sample.all().order_by("id").values("id")) == 3


async def test_paths_through_two_relations_read_as_values_reads_them(users: list[User]) -> None:
    ada, _ = users
    acme = await Company.create(name="acme", owner=ada)
    lonely = await Company.create(name="lonely")
    for company in (acme, lonely, acme):
        await Project.create(name=f"p-{company.name}", company=company)
    paths = ["id", "name", "company_id", "company__name", "company__owner__username"]
    plan = _sql.SelectPlan.for_paths(Project, paths)
    for queryset in (
        Project.all().order_by("-id"),
        Project.filter(company=acme).order_by("id"),
        Project.filter(Q(company_id=lonely.id) | ~Q(name="p-acme")).order_by("name", "id"),
    ):
        prepared = _sql.select(queryset, plan)
        assert prepared is not None
        got = plan.read(await prepared.rows())
        assert got == [[row[p] for p in paths] for row in await queryset.values(*paths)]
        assert got  # not vacuous: every queryset here has rows
    owners: list[Any] = list(
        await Project.all().order_by("id").values_list("company__owner__username", flat=True)
    )
    assert owners == ["ada", None, "ada"]  # the LEFT OUTER JOINs keep the company without owner


async def test_renamed_columns_one_to_one_and_uuid_keys_read_as_values_reads_them(
    users: list[User],
) -> None:
    ada, bob = users
    await Badge.create(code="abc", issued=datetime.date(2020, 1, 1), holder=ada)
    await Badge.create(code="XYZ", holder=bob)
    await Badge.create(code="mno")
    first = await Tag.create(name="t1")
    await Tag.create(name="t2")
    await Company.create(name="acme", owner=ada, size=3)
    await Company.create(name="bits", owner=ada, is_public=False)
    await Company.create(name="corp", size=3)
    cases: list[tuple[Any, list[str], list[QuerySet[Any]]]] = [
        (
            Badge,  # code is stored in the column "badge_code"; holder is a one-to-one
            ["id", "code", "issued", "holder_id", "holder__username"],
            [
                Badge.filter(code="abc"),
                Badge.filter(code__in=["abc", "XYZ"]).order_by("-code"),
                Badge.filter(holder=ada),
                Badge.filter(holder=None),
                Badge.filter(Q(holder_id__not=ada.id) | Q(issued__gte=datetime.date(2020, 1, 1)))
                .order_by("code")
                .offset(1),
            ],
        ),
        (
            Tag,  # a UUID primary key
            ["id", "name"],
            [
                Tag.filter(pk=first.id),
                Tag.filter(pk=str(first.id)),
                Tag.filter(id__in=[first.id, uuid.uuid4()]),
                Tag.exclude(id=first.id).order_by("-id"),
            ],
        ),
        (
            Company,  # auto_now datetimes, a nullable foreign key
            ["id", "name", "slug", "is_public", "size", "created_at", "owner__username"],
            [
                Company.filter(owner=ada, is_public=True).order_by("-created_at", "id"),
                Company.filter(owner_id=ada.id).order_by("name").limit(1).offset(1),
                Company.filter(Q(size=3) & ~Q(owner=None)),
                Company.filter(slug=None, size__range=(1, 5)).order_by("-name"),
            ],
        ),
    ]
    for model, paths, querysets in cases:
        plan = _sql.SelectPlan.for_paths(model, paths)
        for queryset in querysets:
            prepared = _sql.select(queryset, plan)
            assert prepared is not None
            got = plan.read(await prepared.rows())
            expected = [[row[p] for p in paths] for row in await queryset.values(*paths)]
            assert got  # not vacuous: every queryset here has rows
            assert strict(sorted(got, key=str)) == strict(sorted(expected, key=str))
            if queryset._orderings:
                assert got == expected
            unpaged = queryset.model.filter(*queryset._q_objects)
            assert await _sql.count_rows(unpaged) == await unpaged.count()
            assert _sql.count(unpaged) is not None


# --- one SQL text per shape ------------------------------------------------------------------


async def test_a_shape_s_sql_text_is_built_once_and_reused(database: None) -> None:
    plan = _sql.SelectPlan.for_paths(Sample, ["id", "name", "owner__username"])

    def page(count: int, name: str, ids: list[int], limit: int, offset: int) -> QuerySet[Sample]:
        return (
            Sample.filter(count__gte=count, name=name)
            .filter(Q(id__in=ids) | Q(note=None))
            .order_by("-at", "id")
            .offset(offset)
            .limit(limit)
        )

    first = _sql.select(page(1, "a", [1, 2], 20, 40), plan)
    second = _sql.select(page(7, "zz", [8, 9], 10, 30), plan)
    assert first is not None
    assert second is not None
    assert first.sql is second.sql  # the cached text itself, not an equal rebuild
    assert first.params == [1, "a", 1, 2, 20, 40]
    assert second.params == [7, "zz", 8, 9, 10, 30]
    # The placeholders of the driver: qmark for SQLite, numbered for asyncpg.
    assert ("$1" in first.sql) is IS_POSTGRES
    assert ("?" in first.sql) is not IS_POSTGRES

    counted = [_sql.count(Sample.filter(count__gte=n, name=str(n))) for n in (1, 2)]
    assert counted[0] is not None
    assert counted[1] is not None
    assert counted[0].sql is counted[1].sql
    assert counted[0].params == [1, "1"]
    assert counted[1].params == [2, "2"]

    def sql(queryset: QuerySet[Sample]) -> str:
        prepared = _sql.select(queryset, plan)
        assert prepared is not None
        return prepared.sql

    shapes = [
        Sample.filter(id__in=[1, 2]),
        Sample.filter(id__in=[1, 2, 3]),  # another number of parameters
        Sample.filter(id__in=[]),  # no parameter at all
        Sample.filter(note=None),  # IS NULL, not a comparison
        Sample.filter(note="x"),
        Sample.filter(note__not="x"),
        Sample.filter(Q(note="x") | Q(count=1)),
        Sample.filter(Q(note="x") & Q(count=1)),
        Sample.exclude(Q(note="x") & Q(count=1)),
        Sample.filter(note="x").order_by("id"),
        Sample.filter(note="x").order_by("-id"),
        Sample.filter(note="x").order_by("id").limit(3),
        Sample.filter(note="x").order_by("id").limit(3).offset(2),
    ]
    texts = [sql(queryset) for queryset in shapes]
    assert len(set(texts)) == len(texts)
    # The first shape again, with other values: its text, not a new one.
    assert sql(Sample.filter(id__in=[5, 6])) is texts[0]


# --- statements run --------------------------------------------------------------------------


async def test_a_prepared_select_runs_one_statement(users: list[User]) -> None:
    ada, bob = users
    at = datetime.datetime(2024, 1, 1, tzinfo=UTC)
    for index in range(5):
        await Sample.create(name=f"s{index}", at=at, owner=ada if index % 2 else bob)
    plan = _sql.SelectPlan.for_paths(Sample, ["id", "name", "owner__username"])
    queryset = Sample.filter(owner=ada).order_by("name")
    prepared = _sql.select(queryset, plan)
    assert prepared is not None
    with assert_num_queries(1) as queries:
        rows = plan.read(await prepared.rows())
    assert [row[1:] for row in rows] == [["s1", "ada"], ["s3", "ada"]]
    assert prepared.sql in queries.queries[0]
    assert "LEFT OUTER JOIN" in queries.queries[0]

    with assert_num_queries(1) as queries:
        assert await _sql.count_rows(Sample.filter(owner=bob)) == 3
    assert "SELECT COUNT(*)" in queries.queries[0]
