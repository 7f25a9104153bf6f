"""In a real Jupyter kernel: a Value displays as the SVG of its graph, or as text that says why not."""

import html
import re

import pytest

pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from notebook_helpers import code_notebook, run_in_fresh_kernel  # noqa: E402

import autodiff  # noqa: E402
from autodiff import Value  # noqa: E402
from autodiff.graph import available_renderers  # noqa: E402

SHOW_A_VALUE = """
from autodiff import Value

x = Value(3.0, label="x")
y = x * x + 1
y.label = "y"
y.backward()
y
"""

SHOW_A_GRAPH_TOO_BIG = """
z = Value(0.5)
for _ in range(600):
    z = z.sin()
z
"""

SHOW_BACKWARD = """
import autodiff

autodiff.show_backward(y)
"""


@pytest.mark.slow
@pytest.mark.skipif(not available_renderers(), reason="no Graphviz renderer to draw the graphs")
def test_values_and_the_backward_page_display_in_a_real_kernel(tmp_path):
    notebook = run_in_fresh_kernel(code_notebook(SHOW_A_VALUE, SHOW_A_GRAPH_TOO_BIG, SHOW_BACKWARD), tmp_path)
    value, too_big, page = (cell.outputs for cell in notebook.cells)

    (shown,) = value
    assert shown.output_type == "execute_result"
    assert shown.data["text/plain"] == "Value(data=10.0, grad=1.0, op='+', label='y')"
    svg = shown.data["image/svg+xml"]
    assert "<svg" in svg and ">y</text>" in svg and ">grad 6</text>" in svg  # dy/dx = 2x at x = 3

    (shown,) = too_big
    assert list(shown.data) == ["text/plain"]  # no picture, and the text says why
    assert shown.data["text/plain"].startswith("Value(data=")
    assert "(graph not drawn: GraphTooLargeError: draw_dot: the graph has 601 nodes" in shown.data["text/plain"]

    (shown,) = page  # the page alone: no warning printed beside it
    assert shown.output_type == "display_data" and list(shown.data) == ["text/html"]
    frame = shown.data["text/html"]
    assert frame.startswith('<iframe class="autodiff-backward" srcdoc=')
    x = Value(3.0, label="x")
    y = x * x + 1
    y.label = "y"
    y.backward()
    assert html.unescape(re.search(r'srcdoc="([^"]*)"', frame)[1]) == autodiff.to_html(y)  # the page of the same y
