"""``fastapi_viewsets.testing``: counting queries, and a request state outside requests."""

from __future__ import annotations

import logging

import pytest
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from fastapi_viewsets import BaseStateManager, ReadOnlyModelViewSet, StateNotAvailable, viewset
from fastapi_viewsets.testing import (
    CapturedQueries,
    assert_num_queries,
    capture_queries,
    request_state,
)
from tests.models import Company, User
from tests.utils import create_app, serve


class OwnerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str


class CompanyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    owner: OwnerRead | None


router = APIRouter(prefix="/companies")


@viewset(router)
class CompanyViewSet(ReadOnlyModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead


async def test_assert_num_queries_passes_on_the_right_count() -> None:
    async with serve(create_app(router)) as client:
        await Company.create(name="acme")
        with assert_num_queries(1) as captured:
            response = await client.get("/companies")
        with assert_num_queries(0):
            await client.get("/openapi.json")
    assert response.status_code == 200
    assert isinstance(captured, CapturedQueries)
    assert len(captured) == 1
    (query,) = captured
    assert query.startswith("SELECT")
    assert "t_company" in query
    assert "t_user" in query  # the owner is joined, not queried per row


async def two_queries() -> None:
    await Company.all()
    await User.all()


async def query_then_fail() -> None:
    await Company.all()
    raise ZeroDivisionError


async def test_assert_num_queries_lists_the_queries_on_a_wrong_count() -> None:
    async with serve(create_app(router)) as client:
        await Company.create(name="acme")
        with pytest.raises(AssertionError) as too_few, assert_num_queries(2):
            await client.get("/companies")
        with pytest.raises(AssertionError) as too_many, assert_num_queries(0):
            await two_queries()
        with pytest.raises(AssertionError) as none_run, assert_num_queries(1):
            pass
    message = str(too_few.value)
    assert message.startswith("Expected 2 queries, 1 were run:")
    assert "\n  1. SELECT" in message
    assert "t_company" in message
    message = str(too_many.value)
    assert message.startswith("Expected 0 queries, 2 were run:")
    assert "\n  1. SELECT" in message
    assert "\n  2. SELECT" in message
    assert "t_user" in message
    assert str(none_run.value) == "Expected 1 queries, 0 were run:\n  (none)"


async def test_an_error_inside_assert_num_queries_is_not_hidden() -> None:
    async with serve(create_app(router)):
        with pytest.raises(ZeroDivisionError), assert_num_queries(5):
            await query_then_fail()


async def test_capture_queries_collects_and_restores_the_logger() -> None:
    logger = logging.getLogger("tortoise.db_client")
    level, handlers = logger.level, list(logger.handlers)
    async with serve(create_app(router)):
        with capture_queries() as outer:
            await Company.create(name="acme")
            with capture_queries() as inner:
                await Company.filter(name="acme").first()
            assert logger.level == logging.DEBUG
        with pytest.raises(RuntimeError), capture_queries():
            raise RuntimeError
    assert (logger.level, logger.handlers) == (level, handlers)
    assert len(inner) == 1
    assert inner.queries[0].startswith("SELECT")
    assert len(outer) == 2
    assert outer.queries[0].startswith("INSERT")
    assert list(outer) == outer.queries


def test_capture_queries_ignores_connection_pool_messages() -> None:
    logger = logging.getLogger("tortoise.db_client")
    with capture_queries() as captured:
        logger.debug("Created connection pool %s", "x")
        logger.debug("SELECT 1")
    assert captured.queries == ["SELECT 1"]


def test_request_state_sync() -> None:
    with pytest.raises(StateNotAvailable):
        BaseStateManager.get_state()
    with request_state(user="alice", data={"tenant": 7}, action="job") as state:
        assert BaseStateManager.get_state() is state
        assert (state.user, state.action, state.get("tenant")) == ("alice", "job", 7)
        assert state.request is None
        with request_state(user="bob") as inner:
            assert BaseStateManager.get_state().user == "bob"
            assert inner.get("tenant") is None
        assert BaseStateManager.get_state().user == "alice"
    with pytest.raises(StateNotAvailable):
        BaseStateManager.get_state()


class TenantState(BaseStateManager[str]):
    @property
    def tenant(self) -> int:
        return int(self.get("tenant", 0))


async def test_request_state_async_with_a_state_class() -> None:
    async with request_state(
        user="alice", data={"tenant": 3}, request_id="job-1", state_class=TenantState
    ) as state:
        assert isinstance(state, TenantState)
        assert state.tenant == 3
        assert state.request_id == "job-1"
        assert TenantState.get_state() is state
    with pytest.raises(StateNotAvailable):
        TenantState.get_state()
