"""Serve the example API on http://127.0.0.1:8000 with uvicorn.

::

    python -m example_project                                   # ./example.sqlite3
    DATABASE_URL=postgres://postgres@127.0.0.1/app python -m example_project
    EXAMPLE_SECRET_KEY=$(openssl rand -hex 32) python -m example_project

Then open http://127.0.0.1:8000/docs, or::

    curl -X POST 127.0.0.1:8000/auth/token -d username=bob -d password=bob-password
"""

from __future__ import annotations

import uvicorn

from .app import create_app


def main() -> None:
    uvicorn.run(create_app(), host="127.0.0.1", port=8000)


if __name__ == "__main__":
    main()
