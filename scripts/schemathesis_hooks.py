"""Schemathesis hooks for the fuzz run of the example API (scripts/fuzz.py loads them).

Two things live here:

- ``before_call`` gives every request a fresh ``Idempotency-Key``. The header's contract is "a
  new value for each new request", which OpenAPI cannot say: a generated key sent twice with two
  different bodies is rightly refused 422, and a fuzzer that draws ``"0"`` for every create
  would see nothing but that.
- ``filter_failure`` drops the failures of the library's open defects, and only those: each is
  :class:`KnownDefect` in ``KNOWN_DEFECTS``, matched on the check's failure code, the request
  and the exact answer, so that any other failure of the same check on the same operation still
  fails the run. When a defect is fixed, its entry matches nothing (the run says so at the end)
  and is to be deleted.
"""

from __future__ import annotations

import atexit
import itertools
import re
import uuid
from collections.abc import Callable
from typing import Any

import schemathesis

# What fastapi_viewsets.idempotency accepts; a key it refuses is left as generated.
_ACCEPTED_KEY = re.compile(r"[ -~]{1,255}")
# Unique beyond this process too: a server may outlive one schemathesis run.
_fresh_keys = (f"fuzz-{uuid.uuid4().hex}-{n}" for n in itertools.count(1))


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    headers = case.headers
    if not headers:
        return
    for name, value in list(headers.items()):
        if name.lower() == "idempotency-key" and _ACCEPTED_KEY.fullmatch(str(value).strip()):
            headers[name] = next(_fresh_keys)


# --- the library's open defects ----------------------------------------------------------


class KnownDefect:
    """A failure the library causes and has not fixed yet: ``matches(failure, case, response)``
    says whether a failure is this one."""

    # A plain class: schemathesis executes this file without registering it as a module,
    # which dataclasses need.
    def __init__(self, title: str, matches: Callable[[Any, Any, Any], bool]) -> None:
        self.title = title
        self.matches = matches
        self.seen = 0


KNOWN_DEFECTS: list[KnownDefect] = [
    # None open. An entry: KnownDefect(title, lambda failure, case, response: ...), matched
    # on the check's code, the request and the exact answer, with a comment naming the defect.
]


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    for defect in KNOWN_DEFECTS:
        if defect.matches(failure, case, response):
            defect.seen += 1
            return False
    return True


@atexit.register
def _summary() -> None:
    print("\nKnown library defects (scripts/schemathesis_hooks.py), failures dropped:")
    for defect in KNOWN_DEFECTS:
        note = "" if defect.seen else "  (not met in this run)"
        print(f"  {defect.seen:5d}  {defect.title}{note}")
