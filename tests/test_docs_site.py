"""The docs site: a search index of prose and names, not whole code blocks, and Reference pages
that show every public name's docstring as Markdown.

mkdocs-material indexes a section's ``<pre>`` blocks whole, so its search previews showed pages
of imports; scripts/mkdocs_hooks.py (``hooks:`` in mkdocs.yml) keeps them out. The package's
docstrings are Sphinx's (``#:`` comments, ``:class:`` roles); scripts/griffe_sphinx.py turns
them into what mkdocstrings renders.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.griffe_sphinx import markdown
from scripts.mkdocs_hooks import exclude_code_blocks_from_search

ROOT = Path(__file__).resolve().parent.parent

PAGE = """\
# Getting started

Save this as `overview.py`:

```python
--8<-- "docs/examples/overview.py"
```

## Serve it

Start the server with `uvicorn overview:app`.

```bash
uvicorn overview:app --reload
```
"""


def test_the_hook_marks_each_code_block() -> None:
    html = (
        '<p>Call <code>get_queryset()</code>.</p><div class="highlight"><pre><span></span>'
        "<code>x = 1\n</code></pre></div><pre>\n</pre>"
    )
    assert exclude_code_blocks_from_search(html) == (
        '<p>Call <code>get_queryset()</code>.</p><div class="highlight">'
        '<pre data-search-exclude="code"><span></span><code>x = 1\n</code></pre></div>'
        '<pre data-search-exclude="code">\n</pre>'
    )


def test_search_previews_show_prose_not_code_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A one-page site built with the project's mkdocs.yml (its hooks, Markdown extensions,
    theme and search plugin): about a second, where the whole site takes a few."""
    monkeypatch.setenv("NO_MKDOCS_2_WARNING", "1")  # material's notice, as scripts/dev.py does
    monkeypatch.chdir(ROOT)  # the snippets' base path
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text(PAGE)
    site = tmp_path / "site"
    config = load_config(
        str(ROOT / "mkdocs.yml"), docs_dir=str(docs), site_dir=str(site), nav=["index.md"]
    )
    build(config)

    entries = json.loads((site / "search" / "search_index.json").read_text())["docs"]
    assert [(entry["location"], entry["title"], entry["text"]) for entry in entries] == [
        ("", "Getting started", "<p>Save this as <code>overview.py</code>:</p>"),
        (
            "#serve-it",
            "Serve it",
            "<p>Start the server with <code>uvicorn overview:app</code>.</p>",
        ),
    ]
    # The page itself still shows the code, without the attribute the search plugin reads.
    page = (site / "index.html").read_text()
    assert "CompanyViewSet" in page
    assert "data-search-exclude" not in page


# --- the Reference pages ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sphinx", "markdown_text"),
    [
        (":class:`~fastapi_viewsets.exceptions.NotFound`", "`NotFound`"),
        (":class:`fastapi_viewsets.NotFound`", "`fastapi_viewsets.NotFound`"),
        (":meth:`Store.claim` answers", "`Store.claim` answers"),
        (":func:`the hook <fastapi_viewsets.x.y>`", "`the hook`"),
        ("after its permissions pass::\n\n    code", "after its permissions pass:\n\n    code"),
        ("Example:\n\n::\n\n    code", "Example:\n\n    code"),
        ("``literal`` stays", "``literal`` stays"),
    ],
)
def test_sphinx_markup_becomes_markdown(sphinx: str, markdown_text: str) -> None:
    assert markdown(sphinx) == markdown_text


def test_every_public_name_has_a_docstring_the_reference_can_render() -> None:
    """What mkdocstrings renders (``show_if_no_docstring: false``): each name of each module's
    ``__all__`` with its docstring, ``#:`` comments read by scripts/griffe_sphinx.py."""
    import griffe

    package = griffe.load(
        "fastapi_viewsets",
        search_paths=[str(ROOT)],
        extensions=griffe.load_extensions("scripts/griffe_sphinx.py:SphinxDocstrings"),
    )
    undocumented, sphinx_left = [], []
    for module in package.modules.values():
        exported = module.exports or []
        for name in exported:
            member = module.members.get(str(name))
            if member is None or member.is_alias:
                continue  # re-exported from the module that defines it, checked there
            if member.docstring is None or not member.docstring.value.strip():
                undocumented.append(member.path)
            elif ":class:`" in member.docstring.value or ":meth:`" in member.docstring.value:
                sphinx_left.append(member.path)
    assert undocumented == []
    assert sphinx_left == []
