"""``python -m fastapi_viewsets``: the package's command line.

::

    python -m fastapi_viewsets routes example_project.app:app
    python -m fastapi_viewsets routes example_project.app:create_app --factory

``routes`` prints the app's route table (see :mod:`fastapi_viewsets.route_table`).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any

from .route_table import format_table, route_table


def load(target: str, *, factory: bool = False) -> Any:
    """The object ``module:attribute`` names (called, with ``factory``), as uvicorn loads
    its app; ``SystemExit`` with a sentence for a target that does not load."""
    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise SystemExit(f"{target!r}: give the app as MODULE:NAME, like example_project.app:app.")
    sys.path.insert(0, "")  # the current directory, as `python -m uvicorn` has it
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SystemExit(f"{target!r}: cannot import {module_name!r} ({exc}).") from None
    found: Any = module
    for part in attribute.split("."):
        found = getattr(found, part, None)
        if found is None:
            raise SystemExit(f"{target!r}: {module_name} has no {attribute!r}.")
    if factory:
        if not callable(found):
            raise SystemExit(f"{target!r}: --factory needs a function that returns the app.")
        found = found()
    if not hasattr(found, "routes"):
        hint = " Is it a factory? Add --factory." if callable(found) else ""
        raise SystemExit(f"{target!r} is not an app (it has no routes).{hint}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fastapi_viewsets")
    commands = parser.add_subparsers(dest="command", required=True)
    routes = commands.add_parser(
        "routes", help="print the route table: method, path, viewset, action, permissions"
    )
    routes.add_argument("app", help="MODULE:NAME of the app (or of its factory, with --factory)")
    routes.add_argument("--factory", action="store_true", help="call NAME for the app")
    args = parser.parse_args(argv)
    app = load(args.app, factory=args.factory)
    print(format_table(route_table(app)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
