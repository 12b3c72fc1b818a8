"""MkDocs hooks of the docs site (mkdocs.yml loads this file under ``hooks:``).

``on_page_content`` keeps code blocks out of the search index. mkdocs-material's search plugin
indexes a section's ``<pre>`` blocks whole, so a search preview showed a page of imports and
class bodies instead of the prose around them. The plugin leaves out any element that carries
``data-search-exclude`` (and strips the attribute from the page it renders), so each ``<pre>``
of a page gets that attribute before the plugin reads the page. Inline ``<code>`` in prose, and
code in headings (the reference pages' names), stay searchable.
"""

from __future__ import annotations

import re

# A ``<pre>`` start tag. Within a code block a ``<`` is escaped (``&lt;``), so every match is a
# tag; the attribute goes right after the name, as the plugin's clean-up expects it quoted.
_PRE_TAG = re.compile(r"<pre(?=[\s>])")
EXCLUDE = ' data-search-exclude="code"'


def exclude_code_blocks_from_search(html: str) -> str:
    """``html`` with ``data-search-exclude`` on every ``<pre>`` element."""
    return _PRE_TAG.sub(f"<pre{EXCLUDE}", html)


def on_page_content(html: str, **kwargs: object) -> str:
    """MkDocs: a page's HTML, before the search plugin indexes it (``on_page_context``)."""
    return exclude_code_blocks_from_search(html)
