"""Permission classes on their own: built-ins, composition truth tables, scoping, challenges.

No HTTP and no database here: a permission only sees ``request.method`` and ``view.user``, so
plain namespaces stand in for both. tests/test_permissions_http.py drives the same classes
through real routes.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import BaseModel

from fastapi_viewsets import (
    AllowAny,
    BasePermission,
    DenyAll,
    GenericViewSet,
    IsAdminUser,
    IsAuthenticated,
    IsAuthenticatedOrReadOnly,
    NotAuthenticated,
    PermissionDenied,
)
from fastapi_viewsets.generics import BoundAction, authenticate_challenges
from fastapi_viewsets.permissions import SAFE_METHODS, _PermissionMeta, refusing_operand, resolve
from fastapi_viewsets.state import BaseStateManager, RequestStore
from tests.models import Company

METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE")
ANONYMOUS = None
PLAIN = SimpleNamespace(id=1, is_admin=False)
ADMIN = SimpleNamespace(id=2, is_admin=True)
OBJ = SimpleNamespace(owner_id=1)


def request(method: str = "GET") -> Any:
    return SimpleNamespace(method=method)


def view(user: Any = ANONYMOUS) -> Any:
    return SimpleNamespace(user=user)


async def allows(permission: BasePermission, method: str = "GET", user: Any = PLAIN) -> bool:
    return await resolve(permission.has_permission(request(method), view(user)))


async def allows_object(permission: BasePermission, user: Any = PLAIN, obj: Any = OBJ) -> bool:
    return await resolve(permission.has_object_permission(request(), view(user), obj))


# --- resolve ---------------------------------------------------------------------------------


async def _async_value(value: Any) -> Any:
    return value


@pytest.mark.parametrize(
    ("result", "expected"),
    [(True, True), (False, False), (1, True), (0, False), (None, False), ("yes", True)],
)
@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
async def test_resolve_answers_a_bool_for_sync_and_async_results(
    result: Any, expected: bool, asynchronous: bool
) -> None:
    answer = await resolve(_async_value(result) if asynchronous else result)
    assert answer is expected


# --- built-ins ---------------------------------------------------------------------------------

USERS: dict[str, Any] = {
    "anonymous": ANONYMOUS,
    "user": PLAIN,
    "admin": ADMIN,
}


def _expected_builtin(permission: type[BasePermission], method: str, who: str) -> bool:
    if permission is AllowAny:
        return True
    if permission is DenyAll:
        return False
    if permission is IsAuthenticated:
        return who != "anonymous"
    if permission is IsAuthenticatedOrReadOnly:
        return method in SAFE_METHODS or who != "anonymous"
    assert permission is IsAdminUser
    return who == "admin"


BUILTINS = (AllowAny, IsAuthenticated, IsAuthenticatedOrReadOnly, IsAdminUser, DenyAll)


@pytest.mark.parametrize("who", list(USERS))
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("permission", BUILTINS, ids=lambda p: p.__name__)
async def test_builtin_has_permission_table(
    permission: type[BasePermission], method: str, who: str
) -> None:
    expected = _expected_builtin(permission, method, who)
    assert await allows(permission(), method, USERS[who]) is expected


@pytest.mark.parametrize("who", list(USERS))
@pytest.mark.parametrize("permission", BUILTINS, ids=lambda p: p.__name__)
async def test_builtin_has_object_permission_only_denyall_refuses(
    permission: type[BasePermission], who: str
) -> None:
    assert await allows_object(permission(), USERS[who]) is (permission is not DenyAll)


def test_safe_methods_are_drfs() -> None:
    assert frozenset({"GET", "HEAD", "OPTIONS"}) == SAFE_METHODS


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        (None, False),
        (SimpleNamespace(), False),
        (SimpleNamespace(is_admin=False), False),
        (SimpleNamespace(is_admin=True), True),
        (SimpleNamespace(is_staff=True), True),
        (SimpleNamespace(is_superuser=True), True),
        (SimpleNamespace(is_admin=False, is_staff=False, is_superuser=True), True),
        ({}, False),
        ({"is_admin": False}, False),
        ({"is_admin": True}, True),
        ({"is_staff": True}, True),
        ({"is_superuser": 1}, True),
        ({"username": "alice", "is_staff": 0}, False),
    ],
    ids=repr,
)
async def test_is_admin_user_reads_whichever_flag_the_user_has(user: Any, expected: bool) -> None:
    assert await allows(IsAdminUser(), "GET", user) is expected


@pytest.mark.parametrize("user", [{}, {"id": 1}, SimpleNamespace()], ids=repr)
async def test_any_user_that_is_not_none_is_authenticated(user: Any) -> None:
    assert await allows(IsAuthenticated(), "POST", user) is True
    assert await allows(IsAuthenticatedOrReadOnly(), "POST", user) is True


def test_builtin_messages_and_codes() -> None:
    assert BasePermission.message == "You do not have permission to perform this action."
    assert BasePermission.code == "permission_denied"
    assert IsAuthenticated.message == "Authentication credentials were not provided."
    assert IsAuthenticated.code == "not_authenticated"
    for permission in (AllowAny, IsAuthenticatedOrReadOnly, IsAdminUser, DenyAll):
        assert permission.message == BasePermission.message
        assert permission.code == "permission_denied"


async def test_base_permission_allows_everything() -> None:
    assert await allows(BasePermission(), "DELETE", ANONYMOUS) is True
    assert await allows_object(BasePermission(), ANONYMOUS) is True


def test_builtins_are_exported() -> None:
    import fastapi_viewsets
    from fastapi_viewsets import permissions

    for name in permissions.__all__:
        assert hasattr(permissions, name)
    for permission in BUILTINS:
        assert getattr(fastapi_viewsets, permission.__name__) is permission


# --- composition truth tables ----------------------------------------------------------------


def operand(has: bool, has_object: bool, asynchronous: bool) -> type[BasePermission]:
    """A permission class answering ``has`` and ``has_object``, as ``def`` or ``async def``."""
    if asynchronous:

        class AsyncOperand(BasePermission):
            message = f"async {has}/{has_object}"

            async def has_permission(self, request: Any, view: Any) -> bool:
                return has

            async def has_object_permission(self, request: Any, view: Any, obj: Any) -> bool:
                return has_object

        return AsyncOperand

    class SyncOperand(BasePermission):
        message = f"sync {has}/{has_object}"

        def has_permission(self, request: Any, view: Any) -> bool:
            return has

        def has_object_permission(self, request: Any, view: Any, obj: Any) -> bool:
            return has_object

    return SyncOperand


Compose = Callable[[type[BasePermission], type[BasePermission]], BasePermission]

#: The four ways to write a binary composition; each builds the instance a viewset would use.
AND_FORMS: dict[str, Compose] = {
    "class&class": lambda a, b: (a & b)(),
    "instance&instance": lambda a, b: a() & b(),
    "class&instance": lambda a, b: (a & b())(),
    "instance&class": lambda a, b: a() & b,
}
OR_FORMS: dict[str, Compose] = {
    "class|class": lambda a, b: (a | b)(),
    "instance|instance": lambda a, b: a() | b(),
    "class|instance": lambda a, b: (a | b())(),
    "instance|class": lambda a, b: a() | b,
}
NOT_FORMS: dict[str, Callable[[type[BasePermission]], BasePermission]] = {
    "~class": lambda a: (~a)(),
    "~instance": lambda a: ~a(),
}

ANSWERS = list(itertools.product([True, False], repeat=2))  # (has_permission, has_object)
SYNCNESS = {"sync,sync": (False, False), "sync,async": (False, True), "async,sync": (True, False)}
SYNCNESS["async,async"] = (True, True)


@pytest.mark.parametrize("syncness", list(SYNCNESS))
@pytest.mark.parametrize("form", list(AND_FORMS))
@pytest.mark.parametrize("second", ANSWERS, ids=lambda a: "b={}/{}".format(*a))
@pytest.mark.parametrize("first", ANSWERS, ids=lambda a: "a={}/{}".format(*a))
async def test_and_truth_table(
    first: tuple[bool, bool], second: tuple[bool, bool], form: str, syncness: str
) -> None:
    a_async, b_async = SYNCNESS[syncness]
    permission = AND_FORMS[form](operand(*first, a_async), operand(*second, b_async))
    assert isinstance(permission, BasePermission)
    assert await allows(permission) is (first[0] and second[0])
    assert await allows_object(permission) is (first[1] and second[1])


@pytest.mark.parametrize("syncness", list(SYNCNESS))
@pytest.mark.parametrize("form", list(OR_FORMS))
@pytest.mark.parametrize("second", ANSWERS, ids=lambda a: "b={}/{}".format(*a))
@pytest.mark.parametrize("first", ANSWERS, ids=lambda a: "a={}/{}".format(*a))
async def test_or_truth_table(
    first: tuple[bool, bool], second: tuple[bool, bool], form: str, syncness: str
) -> None:
    a_async, b_async = SYNCNESS[syncness]
    permission = OR_FORMS[form](operand(*first, a_async), operand(*second, b_async))
    assert isinstance(permission, BasePermission)
    assert await allows(permission) is (first[0] or second[0])
    # DRF 3.14+: at object level an operand grants only if it grants the request too.
    expected_object = (first[0] and first[1]) or (second[0] and second[1])
    assert await allows_object(permission) is expected_object


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("form", list(NOT_FORMS))
@pytest.mark.parametrize("answers", ANSWERS, ids=lambda a: "a={}/{}".format(*a))
async def test_not_truth_table(answers: tuple[bool, bool], form: str, asynchronous: bool) -> None:
    permission = NOT_FORMS[form](operand(*answers, asynchronous))
    assert await allows(permission) is (not answers[0])
    # As DRF: the object check is negated too, so ~P refuses every object P allows.
    assert await allows_object(permission) is (not answers[1])


async def test_not_of_a_builtin_refuses_at_object_level_as_drf_does() -> None:
    # BasePermission.has_object_permission answers True, so its negation answers False.
    assert await allows(~IsAdminUser(), user=PLAIN) is True
    assert await allows_object(~IsAdminUser(), user=PLAIN) is False


@pytest.mark.parametrize(
    ("build", "who", "expected"),
    [
        # IsAuthenticated & (IsOwner | IsAdminUser), the docs' example
        ("nested", "anonymous", (False, False)),
        ("nested", "owner", (True, True)),
        ("nested", "stranger", (True, False)),
        ("nested", "admin", (True, True)),
        # ~(IsAdminUser | DenyAll): everyone but admins
        ("not-or", "anonymous", (True, True)),
        ("not-or", "stranger", (True, True)),
        ("not-or", "admin", (False, False)),
        # A & B & C chains
        ("chain", "owner", (True, True)),
        ("chain", "stranger", (True, False)),
    ],
)
async def test_nested_compositions(build: str, who: str, expected: tuple[bool, bool]) -> None:
    class IsOwner(BasePermission):
        async def has_object_permission(self, request: Any, view: Any, obj: Any) -> bool:
            return view.user is not None and obj.owner_id == view.user.id

    users = {
        "anonymous": None,
        "owner": SimpleNamespace(id=1, is_admin=False),
        "stranger": SimpleNamespace(id=5, is_admin=False),
        "admin": SimpleNamespace(id=9, is_admin=True),
    }
    forms: dict[str, Any] = {
        "nested": IsAuthenticated & (IsOwner | IsAdminUser),
        "not-or": ~(IsAdminUser | DenyAll),
        "chain": IsAuthenticated & AllowAny & IsOwner,
    }
    permission = forms[build]()
    user = users[who]
    answers = (await allows(permission, "GET", user), await allows_object(permission, user))
    assert answers == expected


def test_compositions_of_classes_are_built_fresh_per_call() -> None:
    composed = IsAuthenticated & IsAdminUser
    assert not isinstance(composed, BasePermission)
    first, second = composed(), composed()
    assert isinstance(first, BasePermission)
    assert first is not second


def test_compositions_of_operands_stay_classes_until_called() -> None:
    composed = ~(IsAuthenticated & IsAdminUser) | (DenyAll | AllowAny) & IsAuthenticated
    assert not isinstance(composed, BasePermission)
    assert isinstance(composed(), BasePermission)


@pytest.mark.parametrize(
    ("call", "expected_order"),
    [
        # The reflected operators build the mirrored composition: other first.
        (lambda: _PermissionMeta.__rand__(IsAuthenticated, DenyAll), "and"),
        (lambda: _PermissionMeta.__ror__(IsAuthenticated, DenyAll), "or"),
        (lambda: BasePermission.__rand__(IsAuthenticated(), DenyAll), "and"),
        (lambda: BasePermission.__ror__(IsAuthenticated(), DenyAll), "or"),
        (lambda: (IsAuthenticated & AllowAny).__rand__(DenyAll), "and"),
        (lambda: (IsAuthenticated & AllowAny).__ror__(DenyAll), "or"),
    ],
    ids=["meta-rand", "meta-ror", "instance-rand", "instance-ror", "operand-rand", "operand-ror"],
)
async def test_reflected_operators_put_the_other_operand_first(
    call: Callable[[], Any], expected_order: str
) -> None:
    composed = call()
    permission = composed if isinstance(composed, BasePermission) else composed()
    first = permission.first
    assert isinstance(first, DenyAll)
    answer = await allows(permission, "POST", PLAIN)
    assert answer is (expected_order == "or")


async def test_reflected_operators_admit_a_plain_class_on_the_left() -> None:
    class Duck:  # not a BasePermission: `type` has no `&`, so Python asks the right operand
        message = "duck refused."

        def has_permission(self, request: Any, view: Any) -> bool:
            return False

        def has_object_permission(self, request: Any, view: Any, obj: Any) -> bool:
            return False

    by_class = (Duck & IsAuthenticated)()
    by_instance = Duck & IsAuthenticated()
    for permission in (by_class, by_instance):
        assert await allows(permission, "GET", PLAIN) is False
        assert permission.message == "duck refused."


@pytest.mark.parametrize(
    "shared",
    [
        lambda: IsAdminUser() | DenyAll(),
        lambda: IsAdminUser() | DenyAll,
        lambda: IsAuthenticated() & (IsAdminUser() | DenyAll()),
        lambda: (IsAuthenticated & (IsAdminUser() | DenyAll()))(),
    ],
    ids=["instance|instance", "instance|class", "nested-instances", "class&nested-instance"],
)
async def test_a_shared_or_instance_answers_each_request_for_its_own_user(
    shared: Callable[[], BasePermission],
) -> None:
    # Written in permission_classes, such an `|` instance is built once and serves every request.
    permission = shared()
    for user, expected in [(ADMIN, True), (PLAIN, False), (ANONYMOUS, False), (ADMIN, True)]:
        assert await allows(permission, "GET", user) is expected, user
        assert await allows_object(permission, user) is expected, user


# --- messages and codes of compositions -----------------------------------------------------


def _refusing(name: str, *, refuses_object: bool = False) -> type[BasePermission]:
    class Refusing(BasePermission):
        message = f"{name} refused."
        code = f"{name}_refused"

        def has_permission(self, request: Any, view: Any) -> bool:
            return refuses_object

        def has_object_permission(self, request: Any, view: Any, obj: Any) -> bool:
            return not refuses_object

    Refusing.__name__ = name
    return Refusing


async def test_and_reports_the_message_of_the_operand_that_failed() -> None:
    first, second = _refusing("first", refuses_object=True), _refusing("second")
    permission = (first & second)()
    current = view(PLAIN)
    assert refusing_operand(permission, current).message == "first refused."  # none failed yet
    assert await resolve(permission.has_permission(request(), current)) is False
    assert refusing_operand(permission, current).message == "second refused."
    # The answer belongs to that request: another request's view knows nothing of it.
    assert refusing_operand(permission, view(PLAIN)) is permission

    object_level = (_refusing("a", refuses_object=True) & AllowAny)()
    current = view(PLAIN)
    assert await resolve(object_level.has_permission(request(), current)) is True
    assert await resolve(object_level.has_object_permission(request(), current, OBJ)) is False
    assert refusing_operand(object_level, current).message == "a refused."


async def test_and_reports_the_failing_operand_of_a_nested_and() -> None:
    permission = (AllowAny & (AllowAny & _refusing("inner")))()
    current = view(PLAIN)
    assert await resolve(permission.has_permission(request(), current)) is False
    assert refusing_operand(permission, current).message == "inner refused."


async def test_and_reports_the_code_of_the_operand_that_failed() -> None:
    permission = (AllowAny & _refusing("second"))()
    current = view(PLAIN)
    assert await resolve(permission.has_permission(request(), current)) is False
    assert refusing_operand(permission, current).code == "second_refused"


async def test_or_and_not_messages() -> None:
    assert (_refusing("a") | _refusing("b"))().message == "b refused."
    assert (~_refusing("a"))().message == BasePermission.message


# --- row scoping composition -----------------------------------------------------------------


class FakeQuerySet:
    """Records the filters applied, in order."""

    def __init__(self, filters: tuple[tuple[str, Any], ...] = ()) -> None:
        self.filters = filters

    def filter(self, **kwargs: Any) -> FakeQuerySet:
        return FakeQuerySet(self.filters + tuple(kwargs.items()))


def _scoping(field: str, value: Any) -> type[BasePermission]:
    class Scoping(BasePermission):
        def filter_queryset(self, request: Any, view: Any, queryset: Any) -> Any:
            return queryset.filter(**{field: value})

    return Scoping


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda a, b: (a & b)(), (("owner_id", 1), ("is_public", True))),
        (lambda a, b: a() & b(), (("owner_id", 1), ("is_public", True))),
        (lambda a, b: (b & a)(), (("is_public", True), ("owner_id", 1))),
        (lambda a, b: (a & AllowAny)(), (("owner_id", 1),)),
        (lambda a, b: (AllowAny & b)(), (("is_public", True),)),
        (lambda a, b: (a & (b & AllowAny))(), (("owner_id", 1), ("is_public", True))),
    ],
    ids=["class&", "instance&", "reversed", "left-only", "right-only", "nested"],
)
def test_and_applies_the_scoping_of_both_operands(build: Compose, expected: tuple[Any]) -> None:
    permission = build(_scoping("owner_id", 1), _scoping("is_public", True))
    queryset = permission.filter_queryset(request(), view(PLAIN), FakeQuerySet())
    assert queryset.filters == expected


@pytest.mark.parametrize(
    "build",
    [lambda a, b: (a | b)(), lambda a, b: a() | b(), lambda a, b: (~a)()],
    ids=["class|", "instance|", "~"],
)
def test_or_and_not_apply_no_scoping(build: Compose) -> None:
    permission = build(_scoping("owner_id", 1), _scoping("is_public", True))
    assert getattr(permission, "filter_queryset", None) is None


def test_and_skips_scoping_nested_inside_or() -> None:
    inner_or = _scoping("owner_id", 1) | IsAdminUser
    permission = (_scoping("is_public", True) & inner_or)()
    queryset = permission.filter_queryset(request(), view(PLAIN), FakeQuerySet())
    assert queryset.filters == (("is_public", True),)


# --- WWW-Authenticate challenges ---------------------------------------------------------------


def _app_with(schemes: dict[str, Any] | Exception) -> Any:
    def openapi() -> dict[str, Any]:
        if isinstance(schemes, Exception):
            raise schemes
        return {"components": {"securitySchemes": schemes}}

    return SimpleNamespace(openapi=openapi)


@pytest.mark.parametrize(
    ("schemes", "expected"),
    [
        ({}, []),
        ({"HTTPBearer": {"type": "http", "scheme": "bearer"}}, ["Bearer"]),
        ({"HTTPBasic": {"type": "http", "scheme": "basic"}}, ["Basic"]),
        ({"HTTPDigest": {"type": "http", "scheme": "digest"}}, ["Digest"]),
        ({"OAuth2": {"type": "oauth2", "flows": {}}}, ["Bearer"]),
        ({"OIDC": {"type": "openIdConnect", "openIdConnectUrl": "x"}}, ["Bearer"]),
        ({"Key": {"type": "apiKey", "in": "header", "name": "X-Key"}}, []),
        ({"Odd": {"type": "http"}}, []),
        (
            {
                "HTTPBasic": {"type": "http", "scheme": "basic"},
                "HTTPBearer": {"type": "http", "scheme": "bearer"},
                "OAuth2": {"type": "oauth2", "flows": {}},
            },
            ["Basic", "Bearer"],
        ),
        (RuntimeError("no openapi"), []),
    ],
    ids=[
        "none",
        "bearer",
        "basic",
        "digest",
        "oauth2",
        "oidc",
        "apikey",
        "http-without-scheme",
        "several",
        "broken-openapi",
    ],
)
def test_authenticate_challenges(schemes: dict[str, Any] | Exception, expected: list[str]) -> None:
    assert authenticate_challenges(_app_with(schemes)) == expected


def test_authenticate_challenges_of_an_app_without_components() -> None:
    assert authenticate_challenges(SimpleNamespace(openapi=dict)) == []


# --- GenericViewSet's permission hooks, on a bare instance -----------------------------------


class CompanyRead(BaseModel):
    id: int


def _bare_view(
    permission_classes: Any = None, *, user: Any = None, schemes: dict[str, Any] | None = None
) -> GenericViewSet[Company]:
    class Bare(GenericViewSet[Company]):
        model = Company

    Bare.permission_classes = (IsAuthenticated, _refusing("object", refuses_object=True)())
    instance = Bare()
    instance.action = "retrieve"
    instance.kwargs = {}
    instance.bound = BoundAction(
        owner="Bare",
        name="retrieve",
        detail=True,
        model=Company,
        read_schema=CompanyRead,
        permission_classes=permission_classes,
    )
    instance.request = SimpleNamespace(method="GET", app=_app_with(schemes or {}))
    instance.state = BaseStateManager(RequestStore(user=user))
    return instance


def test_get_permissions_instantiates_classes_and_keeps_instances() -> None:
    instance = _bare_view()
    permissions = instance.get_permissions()
    assert [type(p).__name__ for p in permissions] == ["IsAuthenticated", "object"]
    assert permissions[1] is type(instance).permission_classes[1]


def test_get_permissions_prefers_the_actions_own_list() -> None:
    assert _bare_view([]).get_permissions() == []
    permissions = _bare_view([IsAdminUser & DenyAll]).get_permissions()
    assert len(permissions) == 1
    assert isinstance(permissions[0], BasePermission)


async def test_object_check_without_a_request_check_asks_get_permissions_once() -> None:
    # A viewset whose initial() skips check_permissions still checks objects, and scopes.
    instance = _bare_view(user=PLAIN)
    calls = []
    original = instance.get_permissions

    def counting() -> Any:
        calls.append(1)
        return original()

    instance.get_permissions = counting
    with pytest.raises(PermissionDenied) as refused:
        await instance.check_object_permissions(SimpleNamespace(id=1))
    assert refused.value.status_code == 403
    assert refused.value.detail == "object refused."
    assert refused.value.code == "object_refused"
    assert instance.scope_queryset(FakeQuerySet()).filters == ()
    assert calls == [1]


async def test_check_permissions_refuses_anonymous_with_401_and_the_apps_challenge() -> None:
    instance = _bare_view(schemes={"HTTPBearer": {"type": "http", "scheme": "bearer"}})
    with pytest.raises(NotAuthenticated) as refused:
        await instance.check_permissions()
    assert refused.value.status_code == 401
    assert refused.value.detail == "Authentication credentials were not provided."
    assert refused.value.headers == {"WWW-Authenticate": "Bearer"}


async def test_a_401_has_no_challenge_when_the_app_declares_no_scheme() -> None:
    instance = _bare_view()
    with pytest.raises(NotAuthenticated) as refused:
        await instance.check_permissions()
    assert refused.value.headers is None
    assert instance.authenticate_headers() is None


@pytest.mark.parametrize("user", [PLAIN, {"id": 1}], ids=["object", "dict"])
def test_permission_denied_is_403_with_message_and_code_for_a_user(user: Any) -> None:
    instance = _bare_view(user=user)
    with pytest.raises(PermissionDenied) as refused:
        instance.permission_denied(_refusing("custom")())
    assert refused.value.status_code == 403
    assert (refused.value.detail, refused.value.code) == ("custom refused.", "custom_refused")
