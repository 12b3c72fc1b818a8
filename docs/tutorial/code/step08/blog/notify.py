import logging

from .state import BlogState

log = logging.getLogger(__name__)


async def notify_readers(post_id: int, title: str) -> None:
    """Runs after the response is sent, still inside the request's state."""
    state = BlogState.get_state()
    # A real blog would send e-mails here. The log line carries the request's id and user.
    log.info("post %s (%r) published by %s: readers notified", post_id, title, state.username)
