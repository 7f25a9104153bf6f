"""demos/tutorial.ipynb runs top to bottom in a fresh Jupyter kernel and prints what it has stored.

The notebook is stored with its outputs, so that it reads without being run. Its
cells check every claim with `assert`, so running it is a test of the engine; this
file runs it and compares what it prints with what is stored. Pictures (SVG, PNG,
the backward page) are compared by kind only: their bytes depend on the Graphviz
and matplotlib versions. Cells tagged "timing" print times, compared by shape only.

After an intended change, `AUTODIFF_UPDATE_SNAPSHOTS=1 python -m pytest tests/test_tutorial.py`
stores the new outputs (then review the diff).
"""

from __future__ import annotations

import copy
import os

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

from notebook_helpers import ROOT, run_in_fresh_kernel  # noqa: E402

from autodiff.graph import available_renderers  # noqa: E402

NOTEBOOK = ROOT / "demos" / "tutorial.ipynb"
UPDATE = bool(os.environ.get("AUTODIFF_UPDATE_SNAPSHOTS"))
TIMING = "timing"
MAX_BYTES = 300_000
COMPARED_AS_TEXT = ("text/plain",)
# The notebook-level metadata kept in the file; the rest (versions of the kernel, of Python) is noise in a diff.
KEPT_METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}

needs_renderer = pytest.mark.skipif(not available_renderers(), reason="no Graphviz renderer to draw the graphs")


def cleaned(notebook):
    """The notebook as stored: no execution counts, no per-cell or per-output metadata, minimal notebook metadata."""
    notebook = copy.deepcopy(notebook)
    notebook.metadata = copy.deepcopy(KEPT_METADATA)
    for cell in notebook.cells:
        cell.metadata = {key: value for key, value in cell.metadata.items() if key == "tags"}
        if cell.cell_type == "code":
            cell.execution_count = None
            cell.outputs = merged_streams(cell.outputs)
            for output in cell.outputs:
                if "execution_count" in output:
                    output.execution_count = None
                if "metadata" in output:
                    output.metadata = {}
    return notebook


def merged_streams(outputs: list) -> list:
    """The outputs with consecutive pieces of one stream joined: how the kernel cuts a stream depends on timing."""
    merged = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if output.output_type == "stream" and previous and previous.output_type == "stream":
            if previous.name == output.name:
                previous.text += output.text
                continue
        merged.append(output)
    return merged


def outputs_as_compared(cell) -> list:
    """What must not change between runs: each output's kind and its text, or only its kind where noted above."""
    timing = TIMING in cell.metadata.get("tags", [])
    shown = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            shown.append(("stream", output.name, None if timing else output.text))
        elif output.output_type in ("display_data", "execute_result"):
            data = {kind: (value if kind in COMPARED_AS_TEXT else None) for kind, value in output.data.items()}
            shown.append((output.output_type, data))
        else:
            shown.append((output.output_type, output.get("ename"), output.get("evalue")))
    return shown


@pytest.fixture
def stored():
    return nbformat.read(NOTEBOOK, as_version=4)


@pytest.mark.slow
@needs_renderer
def test_the_tutorial_runs_in_a_fresh_kernel_and_prints_what_it_stores(stored, tmp_path):
    executed = cleaned(run_in_fresh_kernel(copy.deepcopy(stored), tmp_path))  # fails on any error or assert
    if UPDATE:
        nbformat.write(executed, NOTEBOOK)
        return
    assert len(executed.cells) == len(stored.cells)
    for number, (ran, kept) in enumerate(zip(executed.cells, stored.cells), start=1):
        assert outputs_as_compared(ran) == outputs_as_compared(kept), (
            f"cell {number} prints something else than the stored notebook: "
            "run AUTODIFF_UPDATE_SNAPSHOTS=1 python -m pytest tests/test_tutorial.py, then review the diff\n"
            f"{ran.source}"
        )


def test_the_stored_tutorial_is_clean_small_and_shows_its_pictures(stored):
    nbformat.validate(stored)
    assert stored == cleaned(stored)  # no execution counts, no metadata noise in diffs
    assert NOTEBOOK.stat().st_size < MAX_BYTES
    code = [cell for cell in stored.cells if cell.cell_type == "code"]
    kinds = {kind for cell in code for output in cell.outputs for kind in output.get("data", {})}
    assert {"image/svg+xml", "image/png", "text/html"} <= kinds  # graphs, the decision boundary, the backward page
    assert all(cell.outputs for cell in code[1:]), "every cell after the imports shows what it did"
    assert not any(output.output_type == "error" for cell in code for output in cell.outputs)
    for number, cell in enumerate(stored.cells):  # each code cell is followed by a line of text
        if cell.cell_type == "code":
            assert number + 1 < len(stored.cells) and stored.cells[number + 1].cell_type == "markdown", cell.source
