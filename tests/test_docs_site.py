"""The docs site's search index: prose and names, not whole code blocks.

mkdocs-material indexes a section's ``<pre>`` blocks whole, so its search previews showed pages
of imports; scripts/mkdocs_hooks.py (``hooks:`` in mkdocs.yml) keeps them out.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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
