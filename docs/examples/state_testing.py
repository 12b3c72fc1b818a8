"""Code that calls ``get_state()``, run where there is no request: tests, scripts, workers."""

from docs.examples.state_custom_manager import CustomStateManager
from fastapi_viewsets.state import BaseStateManager
from fastapi_viewsets.testing import request_state


def audit(event: str) -> None:
    """Deep in the call stack: no request passed in."""
    state = BaseStateManager.get_state()
    state.set("events", [*state.get("events", []), event])


def test_audit():
    with request_state(user={"id": 1}, data={"tenant": 7}) as state:
        audit("login")
        assert state.get("events") == ["login"]
        assert state.get("tenant") == 7


def test_custom_state_manager():
    with request_state(user={"id": 1}, state_class=CustomStateManager) as state:
        state.cache_permissions(["companies.view"])
        assert state.permissions == ["companies.view"]
        assert state.organization_id is None  # a dict user has no organization_id attribute


def test_nested_states():
    with request_state(user="alice") as outer:
        with request_state(user="bob"):
            assert BaseStateManager.get_state().user == "bob"
        assert BaseStateManager.get_state() is outer


async def rebuild_report(user) -> list[str]:
    """A queue worker's job: open a state for the user it works for."""
    async with request_state(user=user, action="rebuild_report"):
        audit("rebuild")
        return BaseStateManager.get_state().get("events")
