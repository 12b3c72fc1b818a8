"""A griffe extension for the docs' Reference pages: the package's docstrings are written for
Sphinx, and mkdocstrings renders Markdown.

- An attribute documented by ``#:`` comments above it (Sphinx's autodoc reads those; griffe
  reads only a string after the assignment) gets them as its docstring, so the class settings
  (``lookup_field``, ``throttle_classes``, ``max_body_size``...) and the public constants appear
  in the Reference.
- Sphinx roles (``:class:`~fastapi_viewsets.exceptions.NotFound```, ``:meth:`Store.claim```)
  become code spans (```NotFound```, ```Store.claim```), and a paragraph ending in ``::``
  (reST's "a literal block follows") ends in ``:``; the block itself is indented, which
  Markdown reads as code.

mkdocs.yml loads it with ``extensions: [scripts/griffe_sphinx.py]``; checked with griffe 2.4.
"""

from __future__ import annotations

import ast
import re
from typing import Any

import griffe

__all__ = ("SphinxDocstrings", "markdown")

_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|mod|attr|data|exc|obj|const):`(~?)([^`]+)`")
_LITERAL_MARKER = re.compile(r"(?<=\S)::$", re.MULTILINE)
_BARE_MARKER = re.compile(r"^\s*::\s*$", re.MULTILINE)


def _role(match: re.Match[str]) -> str:
    shorten, target = match.groups()
    target = target.strip()
    if target.startswith("!"):
        target = target[1:]
    if "<" in target and target.endswith(">"):  # :class:`text <target>`
        return f"`{target.split('<', 1)[0].strip()}`"
    if shorten:
        target = target.rsplit(".", 1)[-1]
    return f"`{target}`"


def markdown(text: str) -> str:
    """``text``, a Sphinx docstring, as the Markdown mkdocstrings renders."""
    text = _ROLE.sub(_role, text)
    text = _BARE_MARKER.sub("", text)
    return _LITERAL_MARKER.sub(":", text)


def _comment_above(attr: griffe.Attribute) -> str | None:
    """The ``#:`` comment lines right above ``attr``'s first line, without the markers."""
    if attr.lineno is None or attr.filepath is None or isinstance(attr.filepath, list):
        return None
    lines = attr.lines_collection[attr.filepath]
    found: list[str] = []
    index = attr.lineno - 2  # the line above, 0-based
    while index >= 0 and lines[index].strip().startswith("#:"):
        found.append(lines[index].strip()[2:].strip())
        index -= 1
    return "\n".join(reversed(found)) or None


class SphinxDocstrings(griffe.Extension):
    """Read ``#:`` comments as attribute docstrings, and Sphinx markup as Markdown."""

    def on_attribute_instance(
        self, *, node: ast.AST | griffe.ObjectNode, attr: griffe.Attribute, **kwargs: Any
    ) -> None:
        if attr.docstring is None:
            comment = _comment_above(attr)
            if comment is not None:
                attr.docstring = griffe.Docstring(comment, parent=attr)

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        self._convert(pkg, seen=set())

    def _convert(self, obj: griffe.Object, seen: set[str]) -> None:
        if obj.path in seen:
            return
        seen.add(obj.path)
        if obj.docstring is not None:
            obj.docstring.value = markdown(obj.docstring.value)
        for member in obj.members.values():
            if not member.is_alias:
                self._convert(member, seen)  # type: ignore[arg-type]
