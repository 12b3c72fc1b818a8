"""Serve the example API with uvicorn: ``http://127.0.0.1:8000`` unless told otherwise.

::

    python -m example_project                                   # ./example.sqlite3
    python -m example_project --host 0.0.0.0 --port 8080        # another address or port
    python -m example_project --workers 4                       # four worker processes
    DATABASE_URL=postgres://postgres@127.0.0.1/app python -m example_project
    EXAMPLE_SECRET_KEY=$(openssl rand -hex 32) python -m example_project

Then open http://127.0.0.1:8000/docs, or get a token for a demo user::

    curl -X POST 127.0.0.1:8000/auth/token -d username=bob -d password=bob-password

``python3 scripts/dev.py run`` passes its arguments on: ``python3 scripts/dev.py run --port
8080``.
"""

from __future__ import annotations

import argparse
import asyncio

import uvicorn

from .app import create_app, prepare_database

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m example_project", description=__doc__)
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"default {DEFAULT_HOST}")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes (default 1); the migrations and the demo data are applied "
        "once, before they start",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.port <= 65535:
        parser.error(f"--port {args.port}: give a port from 1 to 65535")
    if args.workers < 1:
        parser.error(f"--workers {args.workers}: give at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.workers == 1:
        uvicorn.run(create_app(), host=args.host, port=args.port)
        return
    # Once, here: workers that each migrated on startup would race to create the same tables.
    asyncio.run(prepare_database())
    uvicorn.run(
        "example_project.app:create_worker_app",
        factory=True,
        workers=args.workers,
        host=args.host,
        port=args.port,
    )


if __name__ == "__main__":
    main()
