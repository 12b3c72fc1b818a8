"""The request-state page's examples (docs/examples/state_*.py), served and driven as written.

Each test loads a fresh copy of its example module, so every test has a fresh app and router; the
example's ``app`` gets the test database's lifespan and nothing else.
"""

from __future__ import annotations

import asyncio
import importlib
import io
import logging
import sys
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from fastapi import Request

from docs.examples.state_testing import test_audit, test_custom_state_manager, test_nested_states
from fastapi_viewsets import BaseStateManager
from fastapi_viewsets.testing import request_state
from tests.test_state import assert_closed, is_uuid4, serve_isolated
from tests.utils import tortoise_lifespan

# The examples of the "testing helpers" section are tests themselves: pytest runs them from here.
__all__ = ["test_audit", "test_custom_state_manager", "test_nested_states"]

TOKEN = {"Authorization": "Bearer token"}


#: The module of the page's model, ``Company``, which the other examples import.
MODELS = "docs.examples.state_basic"


def load(name: str) -> ModuleType:
    """A fresh import of ``docs/examples/<name>.py`` (and of the examples it imports, the
    model's module included)."""
    for key in [k for k in sys.modules if k.startswith("docs.examples.state_")]:
        del sys.modules[key]
    module = importlib.import_module(f"docs.examples.{name}")
    if hasattr(module, "app"):
        module.app.router.lifespan_context = tortoise_lifespan([MODELS])
    return module


async def companies() -> dict[str, int]:
    """The seed's user is ``{"id": 1, ...}``: john's companies have ``owner_id`` 1, the other
    user's 2. Returns the companies' ids by name."""
    company = sys.modules[MODELS].Company  # this test's fresh import of the example
    rows = [
        ("john-public", 1, True),
        ("john-private", 1, False),
        ("other-public", 2, True),
        ("other-private", 2, False),
        ("nobody-public", None, True),
    ]
    return {
        name: (await company.create(name=name, owner_id=owner_id, is_public=public)).id
        for name, owner_id, public in rows
    }


def names(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return sorted(c["name"] for c in response.json())


# --- state_basic.py ----------------------------------------------------------------------------


async def test_basic_user_request_and_action_without_extra_set_up(caplog: pytest.LogCaptureFixture):
    module = load("state_basic")
    caplog.set_level(logging.INFO, logger=module.__name__)
    async with serve_isolated(module.app) as client:
        ids = await companies()
        anonymous = await client.get("/companies", headers={"user-agent": "seed-test"})
        john = await client.get("/companies", headers=TOKEN)
        wrong_token = await client.get("/companies", headers={"Authorization": "Bearer nope"})
        refused = await client.post("/companies", json={"name": "new"})
        created = await client.post(
            "/companies", json={"name": "new", "owner_id": 1}, headers=TOKEN
        )
        not_theirs = await client.delete(f"/companies/{ids['other-public']}", headers=TOKEN)
        deleted = await client.delete(f"/companies/{ids['john-private']}", headers=TOKEN)
    assert_closed()
    assert names(anonymous) == ["john-public", "nobody-public", "other-public"]
    assert names(john) == ["john-private", "john-public"]
    assert names(wrong_token) == names(anonymous)
    assert refused.status_code == 401
    assert created.status_code == 201, created.text
    assert not_theirs.status_code == 404  # get_queryset() keeps john to his companies
    assert deleted.status_code == 204
    for response in (anonymous, john, refused, created, not_theirs, deleted):
        assert is_uuid4(response.headers["x-request-id"])
    assert "list from 127.0.0.1 (seed-test)" in caplog.messages


# --- state_custom_data.py ----------------------------------------------------------------------


async def test_custom_data_set_in_a_dependency_is_read_by_the_viewset():
    module = load("state_custom_data")
    async with serve_isolated(module.app) as client:
        await companies()
        anonymous = await client.get("/companies")
        john = await client.get("/companies", headers=TOKEN)
    assert names(anonymous) == ["nobody-public"]  # organization None, new_filtering on
    assert names(john) == ["john-public"]


async def test_custom_data_methods_in_a_viewset():
    module = load("state_custom_data")
    async with serve_isolated(module.app) as client:
        response = await client.get("/companies/preferences", headers=TOKEN)
        anonymous = await client.get("/companies/preferences")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "value": "value",
        "missing": "default_value",
        "prefs": {"theme": "dark", "language": "en"},
        "temporary_data": False,
        "started": True,
        "after_clear": {
            "key": False,
            "user": {"id": 1, "username": "john"},
            "action": "preferences",
            "request_id": True,
        },
    }
    assert anonymous.json()["after_clear"]["user"] is None


# --- state_custom_manager.py -------------------------------------------------------------------


def capture_activities(app: Any) -> list[Any]:
    """Read the custom data a request left, after the endpoint, as seed 003's middleware does."""
    seen: list[Any] = []

    @app.middleware("http")
    async def read_activities(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        seen.append(getattr(request.state, "activities", None))
        return response

    return seen


async def test_custom_manager_sees_the_user_get_current_user_set():
    module = load("state_custom_manager")
    activities = capture_activities(module.app)
    async with serve_isolated(module.app) as client:
        await companies()
        john = await client.get("/companies", headers=TOKEN)
        created = await client.post("/companies", json={"name": "acme"}, headers=TOKEN)
        anonymous = await client.post("/companies", json={"name": "anon"})
    assert_closed()
    # a dict user has no organization_id or is_admin attribute: the public companies
    assert names(john) == ["john-public", "nobody-public", "other-public"]
    assert created.status_code == anonymous.status_code == 201
    assert activities[0] is None
    for seen, user_id, name in ((activities[1], 1, "acme"), (activities[2], None, "anon")):
        assert len(seen) == 1
        activity = seen[0]
        assert activity["user_id"] == user_id
        assert activity["action"] == "company_created"
        assert activity["details"] == {"company_name": name}
        assert activity["ip_address"] == "127.0.0.1"
        assert isinstance(activity["timestamp"], float)


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        (
            SimpleNamespace(id=9, is_admin=True),
            ["john-private", "john-public", "nobody-public", "other-private", "other-public"],
        ),
        (SimpleNamespace(id=9, organization_id=2), ["other-private", "other-public"]),
        (SimpleNamespace(id=9), ["john-public", "nobody-public", "other-public"]),
    ],
)
async def test_custom_manager_properties_choose_the_queryset(user: Any, expected: list[str]):
    module = load("state_custom_manager")

    async def get_user() -> Any:
        BaseStateManager.set_user(user)  # the base class sets it, the custom manager reads it
        return user

    module.app.dependency_overrides[module.get_current_user] = get_user
    async with serve_isolated(module.app) as client:
        await companies()
        response = await client.get("/companies")
    assert names(response) == sorted(expected)


def test_custom_manager_outside_a_request():
    module = load("state_custom_manager")
    user = SimpleNamespace(id=3, organization_id=12, is_admin=True)
    with request_state(user=user, state_class=module.CustomStateManager) as state:
        assert state.organization_id == 12
        assert state.is_admin is True
        assert state.permissions == []
        state.cache_permissions(["companies.delete"])
        assert module.CustomStateManager.get_state().permissions == ["companies.delete"]
    with request_state(state_class=module.CustomStateManager) as anonymous:
        assert anonymous.organization_id is None
        assert anonymous.is_admin is False
        anonymous.log_activity("job")
        assert anonymous.get("activities")[0]["user_id"] is None
        assert anonymous.get("activities")[0]["ip_address"] is None


# --- state_api_credits.py (seed 003) -----------------------------------------------------------


async def test_api_credits_set_by_endpoints_are_read_by_the_http_middleware():
    module = load("state_api_credits")
    async with serve_isolated(module.app) as client:
        one = await client.get("/myendpoint1")
        two = await client.post("/myendpoint2")
        none = await client.get("/no_credits_endpoint")
        report = await client.get("/companies/report")
    assert [r.status_code for r in (one, two, none, report)] == [200, 200, 200, 200]
    assert one.json() == {"message": "Endpoint 1 processed", "api_credits_set": 5}
    assert two.json() == {"message": "Endpoint 2 processed", "api_credits_set": 10}
    assert module.DEDUCTED == [5, 10, None, 3]
    assert is_uuid4(report.headers["x-request-id"])  # the viewset route opened a state
    assert_closed()


async def test_api_credits_of_concurrent_requests_stay_apart():
    module = load("state_api_credits")
    paths = [
        ("GET", "/myendpoint1", 5),
        ("POST", "/myendpoint2", 10),
        ("GET", "/no_credits_endpoint", None),
        ("GET", "/companies/report", 3),
    ] * 25
    async with serve_isolated(module.app) as client:
        responses = await asyncio.gather(*(client.request(m, p) for m, p, _ in paths))
    assert all(r.status_code == 200 for r in responses)
    expected = [credits for _, _, credits in paths]
    assert sorted(module.DEDUCTED, key=str) == sorted(expected, key=str)


# --- state_middleware.py -------------------------------------------------------------------------


async def test_middleware_example():
    module = load("state_middleware")
    async with serve_isolated(module.app) as client:
        await companies()
        john = await client.get("/me", headers=TOKEN)
        anonymous = await client.get("/me")
        listing = await client.get("/companies", headers=TOKEN)
        missing = await client.get("/nowhere")
    assert_closed()
    assert john.json() == {
        "user": {"id": 1, "username": "john"},
        "request_id": john.headers["x-request-id"],
    }
    assert anonymous.json()["user"] is None
    assert len(names(listing)) == 5
    assert missing.status_code == 404
    for response in (john, anonymous, listing, missing):
        assert is_uuid4(response.headers["x-request-id"])
        assert response.headers["server-timing"].startswith("app;dur=")


# --- state_logging.py ----------------------------------------------------------------------------


async def test_logging_example():
    module = load("state_logging")
    stream = io.StringIO()
    module.handler.setStream(stream)
    try:
        async with serve_isolated(module.app) as client:
            await companies()
            response = await client.get("/companies/stats", headers=TOKEN)
            anonymous = await client.get("/companies/stats")
        module.logger.info("outside")
    finally:
        module.logger.removeHandler(module.handler)
    assert response.json() == {"count": 5}
    assert stream.getvalue().splitlines() == [
        f"{response.headers['x-request-id']} 1 INFO counted 5 companies",
        f"{anonymous.headers['x-request-id']} - INFO counted 5 companies",
        "- - INFO outside",
    ]


# --- state_testing.py ----------------------------------------------------------------------------


async def test_worker_job_opens_its_own_state():
    module = load("state_testing")
    assert await module.rebuild_report("alice") == ["rebuild"]
    results = await asyncio.gather(*(module.rebuild_report(u) for u in ("a", "b", "c")))
    assert results == [["rebuild"]] * 3
    assert_closed()
