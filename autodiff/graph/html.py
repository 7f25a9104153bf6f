"""One self-contained HTML page that replays the backward pass of a graph, step by step.

The engine records the pass (`replay.record_backward`), `stepping` lays it onto
the drawn graph and words each step, and the page shows those texts: the graph's
SVG inline, with a small script and style inside the file, and nothing fetched
from anywhere (its Content-Security-Policy forbids it), so it opens offline.
"""

from __future__ import annotations

import html
import json
import os
import re
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..backward import topological_order
from .dot import draw_dot
from .format import as_float, describe, number
from .modules import map_module
from .names import node_names
from .render import render_svg
from .replay import record_backward
from .roles import operand_role
from .select import select_nodes
from .stepping import Stepping, edge_id, out_edge_id, plan_steps

if TYPE_CHECKING:
    from ..value import Value
    from .select import DrawnNode

__all__ = ["to_html", "save_html", "show_backward", "PAGE_OPTIONS"]

# draw_dot's options that the page takes; it decides show_grad, color_by_grad and show_contributions itself.
PAGE_OPTIONS = (
    "rankdir", "max_nodes", "depth", "module", "collapse_neurons", "cluster_by_module", "digits", "auto_names", "title",
)  # fmt: skip
_DECIDED = {
    "show_grad": "it shows each gradient as the pass reaches it",
    "show_contributions": "it shows each edge's term as the pass reaches it",
    "color_by_grad": "it colours the nodes by the step they are at",
}
_SUFFIXES = (".html", ".htm")
# The page loads nothing: no file, no font, no image; only its own style and script run.
_POLICY = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'"
# Up to this many drawn Values the edges' terms are laid out as labels; beyond, as xlabels: placed after the
# layout, they keep it fast (about half the time for a 485-Value MLP) and the page small, but may overlap.
_LAYOUT_LABELS_UP_TO = 150
_NODE_LINE = re.compile(r"^(\s*)(n\d+(?:_op)?) \[(.*)\]$")
_EDGE_LINE = re.compile(r"^(\s*)(n\d+(?:_op)?) -> (n\d+(?:_op)?)(?: \[(.*)\])?$")
_ROLE_LABEL = re.compile(r'^label=(?:"(?:[^"\\]|\\.)*"|\S+)')  # draw_dot writes an edge's label first


def to_html(root: Value, renderer: str = "auto", **options: Any) -> str:
    """A self-contained HTML page that replays `root.backward()` step by step, as text.

    Step 0 shows the graph with data only, step 1 seeds the root's gradient with 1,
    and each further step is backward()'s visit of one node, in reverse topological
    order: the node is highlighted, each edge into it shows its term (upstream grad ×
    local derivative) and each parent's gradient updates as a sum. Buttons, a slider
    and the arrow keys step; a line narrates each step for screen readers; `#step=N`
    in the address opens step N. The page replays one pass from zero (the gradients
    backward() computes; a leaf's `.grad` also accumulates over repeated calls), and
    the graph's `.grad` fields are not changed.

    Args:
        root: the output whose backward pass to replay.
        renderer: "auto", "dot" or "wasm", as for `to_svg`.
        **options: draw_dot's rankdir, max_nodes, depth, module, collapse_neurons, cluster_by_module, digits,
            auto_names, title.
    """
    from ..value import Value

    if not isinstance(root, Value):
        raise TypeError(f"to_html: root must be a Value, got {type(root).__name__} ({root!r:.60})")
    _check_options(options)
    if renderer not in ("auto", "dot", "wasm"):  # before drawing, which can take a while
        raise ValueError(f"to_html: renderer must be one of 'auto', 'dot', 'wasm', got {renderer!r}")
    graph = draw_dot(root, show_grad=True, **options)  # checks the options
    digits = int(options.get("digits", 4))
    module, collapse = options.get("module"), options.get("collapse_neurons", False)
    modules = map_module(module, topological_order(root), "to_html: module") if module is not None else None
    max_nodes = options.get("max_nodes", 500)
    drawn = select_nodes(root, options.get("depth"), max_nodes, modules.calls if collapse else None)
    auto, clustered = options.get("auto_names", True), options.get("cluster_by_module", False)
    names = node_names(drawn, modules, auto=auto, shorten_parameters=not clustered)
    record = record_backward(root)
    stepping = plan_steps(record, drawn, modules, digits, names)
    roles = {edge_id(d, k): operand_role(d.node, k) for d in drawn if d.kind == "value" for k in range(len(d.inputs))}
    roles = {eid: role for eid, role in roles.items() if role and eid in stepping.edge_labels}
    # An edge that names its operand says so before its term appears, and with it: "2: 1 × -1 = -1".
    labels = {eid: f"{roles[eid]}: {t}" if eid in roles else t for eid, t in stepping.edge_labels.items()}
    graph.body[:] = _annotate(graph.body, drawn, stepping, labels, digits)
    svg = _inline_svg(render_svg(graph.source, renderer))
    return _page(root, svg, stepping, labels, roles, drawn[-1].id, options.get("depth"))


def save_html(root: Value, path: str | os.PathLike[str], renderer: str = "auto", **options: Any) -> Path:
    """Write the page of `to_html(root, renderer, **options)` to `path` (UTF-8) and return the path.

    Args:
        root: the output whose backward pass to replay.
        path: the file to write; its name must end in .html (or .htm).
        renderer: "auto", "dot" or "wasm", as for `to_svg`.
        **options: as for `to_html`.
    """
    path = Path(path)
    if path.suffix.lower() not in _SUFFIXES:
        raise ValueError(f"save_html writes an HTML page: the path must end in .html, got {str(path)!r}")
    page = to_html(root, renderer, **options)
    path.write_text(page, encoding="utf-8")
    return path


def show_backward(root: Value, renderer: str = "auto", **options: Any) -> None:
    """Display the page of `to_html` in Jupyter, in an iframe (the page keeps its own script and style).

    Args:
        root: the output whose backward pass to replay.
        renderer: "auto", "dot" or "wasm", as for `to_svg`.
        **options: as for `to_html`.
    """
    try:
        from IPython.display import display
    except ImportError as error:
        raise ModuleNotFoundError(
            "show_backward displays the page in Jupyter and needs IPython; elsewhere, write it with "
            "autodiff.save_html(root, 'backward.html') and open that file in a browser"
        ) from error
    # A raw bundle: IPython's HTML class would warn "Consider using IPython.display.IFrame" (for an iframe of a URL)
    display({"text/html": iframe(to_html(root, renderer, **options))}, raw=True)


def iframe(page: str) -> str:
    """An iframe that shows `page` (a whole HTML document) inline, sandboxed to run its own script only.

    The page fits whatever height its frame has (its graph scrolls inside it); the frame starts at a height
    guessed from the drawing, and a notebook that runs the output's script (a trusted one) then sets it to
    the height the page asks for, which shows the whole graph (up to 900 pixels).
    """
    height = 640
    if m := re.search(r'<svg width="[\d.]+pt" height="([\d.]+)pt"', page):
        height = int(min(900, max(360, float(m[1]) * 4 / 3 + 300)))
    return (
        f'<iframe class="autodiff-backward" srcdoc="{html.escape(page, quote=True)}" sandbox="allow-scripts" '
        f'title="backward pass" style="width: 100%; height: {height}px; border: 1px solid #ddd"></iframe>\n'
        f"<script>{_FRAME_SIZER}</script>"
    )


# Sets each backward page's frame to the height the page asks for (the page posts it: a number, nothing else).
_FRAME_SIZER = (
    "(() => { if (window.autodiffBackwardFrames) return; window.autodiffBackwardFrames = true; "
    'window.addEventListener("message", (event) => { const asked = event.data && event.data.autodiffBackwardPage; '
    'if (!asked || typeof asked.height !== "number" || !Number.isFinite(asked.height)) return; '
    'for (const frame of document.querySelectorAll("iframe.autodiff-backward")) { '
    "if (frame.contentWindow === event.source) frame.style.height = Math.round(Math.max(320, Math.min(asked.height, "
    '900))) + "px"; } }); })();'
)


def _check_options(options: dict[str, Any]) -> None:
    for name in options:
        if name in _DECIDED:
            raise TypeError(f"to_html: the page sets {name} itself ({_DECIDED[name]}); leave it out")
        if name not in PAGE_OPTIONS:
            raise TypeError(f"to_html: unknown option {name!r}; the page takes: {', '.join(PAGE_OPTIONS)}")


# --- the drawing: ids the script addresses, room for the gradients it shows -------------------------------


def _annotate(
    body: list[str], drawn: list[DrawnNode], stepping: Stepping, labels: dict[str, str], digits: int
) -> list[str]:
    """draw_dot's statements with an `id` on every node and edge, the widest gradient each node will show in its
    grad field, tooltips without the graph's current gradients, and each edge's term as its label (`labels`)."""
    shown = {d.id: d for d in drawn if d.kind != "constant"}
    edges = []  # (tail, head, edge id), in the order draw_dot writes the edges
    ids = {d.node: d.id for d in drawn}
    for d in drawn:
        head = d.id if d.kind == "neuron" else f"{d.id}_op"
        edges += [(ids[parent], head, edge_id(d, k)) for k, (parent, _) in enumerate(d.inputs)]
        if d.kind == "value" and d.inputs:
            edges.append((head, d.id, out_edge_id(d)))
    # A label takes part in the layout (it gets a place of its own); an xlabel is placed after it, faster and
    # in less room, where it fits.
    key = "label" if len(shown) <= _LAYOUT_LABELS_UP_TO else "xlabel"
    edge_number = 0
    lines = []
    for line in body:
        text = line.rstrip("\n")
        if m := _EDGE_LINE.match(text):
            indent, tail, head, attrs = m.groups()
            if edge_number >= len(edges) or edges[edge_number][:2] != (tail, head):
                raise RuntimeError(f"to_html: draw_dot's edge {tail} -> {head} is not the edge expected here")
            eid = edges[edge_number][2]
            edge_number += 1
            label = labels.get(eid)
            if label is not None:  # the term's label, with the operand's name, replaces draw_dot's label (the name)
                attrs = _ROLE_LABEL.sub("", attrs or "").strip()
            new = [f"id={eid}"] + ([f"{key}={_quote(label)}"] if label is not None else [])
            text = f"{indent}{tail} -> {head} [{' '.join(new + ([attrs] if attrs else []))}]"
        elif m := _NODE_LINE.match(text):
            indent, name, attrs = m.groups()
            if name in shown:
                attrs = _room_for_grads(attrs, shown[name].node, stepping.widest[name], digits)
            text = f"{indent}{name} [id={name} {attrs}]"
        lines.append(text + "\n")
    if edge_number != len(edges):
        raise RuntimeError(f"to_html: draw_dot wrote {edge_number} edges, {len(edges)} expected")
    return lines


def _room_for_grads(attrs: str, node: Value, widest: str, digits: int) -> str:
    """A node's attributes with `widest` in its grad field and no gradient in its tooltip."""
    # The label comes first and ends with its grad field (then " }" where its fields are in braces, and the quote
    # that closes it); the tooltip, which repeats the node's label as it is, comes after it and ends with its grad.
    field = re.search(re.escape(f"| grad {number(node.grad, digits)}") + r'(?: \})?"', attrs)
    tip = f", grad={as_float(node.grad)!r}"
    if field is None or attrs.rfind(tip) < 0:
        raise RuntimeError(f"to_html: no grad field in draw_dot's node [{attrs}]")
    closing = field[0][len(f"| grad {number(node.grad, digits)}") :]
    # (where, what is there, what replaces it): the label's grad field and the tooltip's grad
    edits = [(field.start(), field[0], f"| grad {widest}{closing}"), (attrs.rfind(tip), tip, "")]
    for at, old, new in sorted(edits, reverse=True):  # the later one first, so that the other's place holds
        attrs = attrs[:at] + new + attrs[at + len(old) :]
    return attrs


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _inline_svg(svg: str) -> str:
    """Graphviz's SVG, compacted for the page (a 500-node graph's page stays under 1 MB).

    From <svg> on, without comments and <title>s (the ids say what is what); coordinates to 0.1 pt; the
    attributes that nearly every element repeats (font-family, font-size="11.00", text-anchor="middle",
    stroke="black", fill="none") are left to the page's style sheet, which gives the elements without them those values.
    """
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<!--.*?-->\n?", "", svg, flags=re.DOTALL)
    svg = re.sub(r"<title>[^<]*</title>\n?", "", svg)
    svg = re.sub(r' (?:font-family="[^"]*"|text-anchor="middle"|stroke="black"|fill="none")', "", svg)
    svg = re.sub(r' font-size="11\.00"', "", svg)  # the size of the nodes' text, the style sheet's default
    svg = re.sub(r'font-size="(\d+)\.00"', r'font-size="\1"', svg)
    return re.sub(r' (d|points)="([^"]*)"', lambda m: f' {m[1]}="{_NUMBER.sub(_tenths, m[2])}"', svg)


_NUMBER = re.compile(r"-?\d+\.\d\d+")


def _tenths(m: re.Match) -> str:
    text = f"{float(m[0]):.1f}"
    text = text[:-2] if text.endswith(".0") else text
    return "0" if text == "-0" else text


# --- the page -----------------------------------------------------------------------------------------------


def _page(root: Value, svg: str, stepping: Stepping, labels: dict, roles: dict, root_id: str, depth: int | None) -> str:
    name = root.label or describe(root, width=60)
    data = {
        "root": root_id,
        "nodes": stepping.grad_nodes,
        "labels": labels,
        "roles": roles,
        "steps": [step.as_json() for step in stepping.steps],
    }
    # In a <script> element nothing may look like a closing tag or a comment: escape <, > and & in the JSON.
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    payload = payload.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    files = resources.files(__package__)
    style = (files / "backward_page.css").read_text(encoding="utf-8")
    script = (files / "backward_page.js").read_text(encoding="utf-8")
    last = stepping.last
    cut = f" Nodes further than depth={depth} from {html.escape(name)} are not drawn." if depth is not None else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_POLICY}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>backward pass of {html.escape(name)}</title>
<style>
{style}</style>
</head>
<body>
<header>
<h1>The backward pass of <code>{html.escape(name)}</code>, step by step</h1>
<p class="about">{html.escape(stepping.note)}{cut} Step with the buttons, the slider or the arrow keys;
<code>#step=N</code> at the end of the address opens step N.</p>
</header>
<div class="controls" role="group" aria-label="step through the backward pass">
<button type="button" id="step-back" aria-label="step back">&#9664; back</button>
<button type="button" id="step-play" aria-pressed="false">&#9654; play</button>
<button type="button" id="step-forward" aria-label="step forward">forward &#9654;</button>
<input type="range" id="step-slider" min="0" max="{last}" value="0" step="1" aria-label="step">
<output id="step-counter" for="step-slider">step 0 of {last}</output>
<label class="fit"><input type="checkbox" id="fit-width"> fit to width</label>
</div>
<noscript><p>This page steps through the pass with JavaScript, which is off: the gradients drawn below only
hold the room each one needs.</p></noscript>
<p id="narration" aria-live="polite"></p>
<div class="graph" id="graph">
{svg}</div>
<ul class="legend" aria-label="what the marks mean">
<li><span class="swatch current"></span> the node backward() visits (thick red border) and the edges into it</li>
<li><span class="swatch updated"></span> a gradient that this step adds to (orange, dashed)</li>
<li><span class="swatch done"></span> a complete gradient: the node has been visited (green)</li>
<li>on each edge: upstream grad &#215; local derivative = the term it adds</li>
</ul>
<script type="application/json" id="backward-data">{payload}</script>
<script>
{script}</script>
</body>
</html>
"""
