"""Small helpers shared by the modes.

:func:`deadline` bounds a block of async code in time, as ``asyncio.timeout`` does on Python
3.11+, but also on 3.10 (the project's oldest Python) and without starting a new task, so the
block keeps the caller's context variables (Tortoise's connections live in one).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ("deadline",)


@contextmanager
def deadline(seconds: float, what: str = "the block") -> Iterator[None]:
    """Cancel the current task when the block runs past ``seconds``; raise ``TimeoutError``."""
    task = asyncio.current_task()
    if task is None:
        raise RuntimeError("deadline() must be used inside a task")
    fired = False

    def fire() -> None:
        nonlocal fired
        fired = True
        task.cancel()

    handle = asyncio.get_running_loop().call_later(seconds, fire)
    try:
        yield
    except asyncio.CancelledError:
        if fired:
            raise TimeoutError(f"{what} took more than {seconds:g} s") from None
        raise
    finally:
        handle.cancel()
