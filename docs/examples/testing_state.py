"""Code that reads the request state, run from a test, a script or a queue worker."""

from fastapi_viewsets import BaseStateManager
from fastapi_viewsets.testing import request_state


def audit(event: str) -> None:
    """Deep in the call stack: no request passed in, the state is reached directly."""
    state = BaseStateManager.get_state()
    state.set("events", [*state.get("events", []), f"{state.user}: {event}"])


def test_audit_records_the_user() -> None:
    with request_state(user="alice", data={"tenant": 7}) as state:
        audit("login")
        assert state.get("events") == ["alice: login"]
        assert state.get("tenant") == 7


async def send_reports(users: list[str]) -> list[str]:
    """A worker: one state per job, so each job's user and data stay apart."""
    events: list[str] = []
    for user in users:
        async with request_state(user=user) as state:
            audit("report sent")
            events.extend(state.get("events"))
    return events
