"""One app under uvicorn, in its own process, for ``--mode uvicorn``.

The parent starts, for each app::

    python -m benchmarks.server --app ours --db sqlite:///dev/shm/.../bench.sqlite3

The child binds a socket on ``127.0.0.1`` port 0 (the kernel picks a free port), builds the app
with a lifespan that opens Tortoise (``RegisterTortoise``, no schema generation: the parent made
and filled the tables), starts uvicorn on that socket (``access_log`` off, ``log_level``
warning) and, once uvicorn has started, prints ``LISTENING <port>``.

It stops gracefully (uvicorn runs the lifespan's shutdown) when its stdin reaches end of file:
:class:`ServerProcess` holds that pipe and closes it to stop the server, and if the parent dies
for any reason the pipe closes too, so no server outlives a run. SIGTERM (after 5 s) and SIGKILL
(after 10 s) are the fallbacks.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO

from .util import deadline

__all__ = ("ServerProcess",)

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


async def _serve(app_name: str, url: str) -> None:
    import uvicorn
    from fastapi import FastAPI
    from tortoise import Tortoise
    from tortoise.contrib.fastapi import RegisterTortoise

    from .apps import build_app
    from .database import MODELS

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with RegisterTortoise(
            app,
            db_url=url,
            modules={"models": MODELS},
            generate_schemas=False,
            add_exception_handlers=False,
        ):
            yield

    Tortoise.init_models(MODELS, "models")  # pydantic_model_creator needs the relations
    app = build_app(app_name, lifespan=lifespan)
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets that say they are TCP,
    # and without it Nagle's algorithm holds the response body for the client's delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        lifespan="on",
        log_level="warning",
        access_log=False,
        timeout_keep_alive=60,
        backlog=256,
    )
    server = uvicorn.Server(config)
    loop = asyncio.get_running_loop()

    def watch_parent() -> None:
        # The parent holds our stdin open; EOF means it closed it or died: stop serving.
        sys.stdin.buffer.read()
        loop.call_soon_threadsafe(setattr, server, "should_exit", True)

    threading.Thread(target=watch_parent, name="watch-parent", daemon=True).start()
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
            raise SystemExit("uvicorn stopped before it started")
        await asyncio.sleep(0.02)
    print(f"LISTENING {port}", flush=True)
    await task


class ServerProcess:
    """A child process serving one app; ``await start()``, then ``await stop()``."""

    def __init__(self, app: str, url: str) -> None:
        self.app = app
        self.url = url
        self.port = 0
        self.process: asyncio.subprocess.Process | None = None
        self._log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()

    def log_tail(self, lines: int = 5) -> str:
        self._log.seek(0)
        return "\n".join(self._log.read().decode(errors="replace").strip().splitlines()[-lines:])

    async def start(self, timeout: float = 60.0) -> int:
        command = [sys.executable, "-m", "benchmarks.server", "--app", self.app, "--db", self.url]
        self.process = await asyncio.create_subprocess_exec(
            *command,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=self._log,
        )
        assert self.process.stdout is not None
        try:
            with deadline(timeout, f"starting the {self.app} server"):
                while True:
                    line = await self.process.stdout.readline()
                    if not line:
                        raise RuntimeError(
                            f"the {self.app} server exited before listening:\n{self.log_tail()}"
                        )
                    if line.startswith(b"LISTENING "):
                        self.port = int(line.split()[1])
                        return self.port
        except BaseException:
            await self.stop()
            raise

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    async def stop(self) -> None:
        process = self.process
        if process is None:
            return
        self.process = None
        if process.stdin is not None:
            process.stdin.close()  # the server's cue to shut down
        if process.returncode is None:
            try:
                await asyncio.wait_for(process.wait(), 5)
            except asyncio.TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), 5)
                except asyncio.TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
                    await process.wait()
        self._log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", required=True)
    parser.add_argument("--db", required=True)
    args = parser.parse_args()
    asyncio.run(_serve(args.app, args.db))


if __name__ == "__main__":
    main()
