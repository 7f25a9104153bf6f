"""`draw_dot`: a computation graph as a `graphviz.Digraph` (DOT source only: nothing is rendered or written)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..backward import topological_order
from .explain import local_partials, neuron_partials
from .format import as_float, describe, dot_string, is_int, number, record_field
from .modules import ModuleMap, map_module
from .select import DrawnNode, select_nodes
from .style import DEAD_RELU_COLOR, GradScale, is_dead_relu

if TYPE_CHECKING:
    import graphviz

    from ..value import Value

__all__ = ["draw_dot", "RANKDIRS"]

RANKDIRS = ("LR", "TB", "RL", "BT")
_FONT = "Helvetica"
# nslimit caps dot's network simplex (node placement) at 5 passes per node: a node used by many
# ops along a long graph (an input reused at every step) otherwise makes layout take minutes.
# Usual graphs settle well within the cap, so their layout does not change.
_GRAPH_ATTRS = {"fontname": _FONT, "fontsize": "11", "nodesep": "0.2", "ranksep": "0.35", "nslimit": "5"}
# Edge labels (show_contributions) are laid out as nodes of their own: between the ranks in LR, where
# ranksep keeps them clear of the node boxes, and beside their edges in TB, where nodesep keeps them
# apart. The room is generous because a viewer's font can be wider than Graphviz's estimate of it.
_LABEL_SPACING = {"LR": {"nodesep": "0.3", "ranksep": "0.6"}, "TB": {"nodesep": "0.6", "ranksep": "0.5"}}
_LABEL_SPACING.update(RL=_LABEL_SPACING["LR"], BT=_LABEL_SPACING["TB"])
# Ops whose operands are not interchangeable: their edges say which operand is which.
_ORDERED = {"-", "/", "**", "%", "atan2"}


def draw_dot(
    root: Value,
    *,
    rankdir: str = "LR",
    show_grad: bool = True,
    max_nodes: int | None = 500,
    depth: int | None = None,
    module: Any = None,
    collapse_neurons: bool = False,
    cluster_by_module: bool = False,
    color_by_grad: bool = False,
    show_contributions: bool = False,
    digits: int = 4,
) -> graphviz.Digraph:
    """The graph that computed `root`: a record per Value (label, data, grad), a small node per op.

    A node used by several ops is drawn once, with an edge to each: the paths whose
    gradients backward() sums. Node ids follow the graph's structure (topological
    position), so the same expression gives the same DOT source on every run.

    Args:
        root: the output whose graph to draw.
        rankdir: layout direction: "LR" (left to right), "TB", "RL" or "BT".
        show_grad: show each node's grad beside its data.
        max_nodes: refuse (GraphTooLargeError) to draw more nodes than this; None for no limit.
        depth: draw only the ops at most this many steps from the root; their inputs are cut (dashed).
        module: an nn module whose parameters to name, and whose neurons and layers to find.
        collapse_neurons: draw each neuron call, dot(w, x) + b and its activation, as one node (needs module).
        cluster_by_module: group nodes in a box per layer and per neuron (needs module).
        color_by_grad: fill nodes by |grad| (a legend explains the colours) and mark dead relus in red.
        show_contributions: label each edge with its term of the parent's grad: upstream grad × local derivative.
        digits: significant digits of the numbers shown.
    """
    max_nodes, depth, digits = _check_options(
        root, rankdir, max_nodes, depth, module, collapse_neurons, cluster_by_module, digits
    )
    modules = map_module(module, topological_order(root), "draw_dot: module") if module is not None else None
    drawn = select_nodes(root, depth, max_nodes, modules.calls if collapse_neurons else None)

    import graphviz

    graph = graphviz.Digraph(
        name="autodiff",
        graph_attr={**_GRAPH_ATTRS, "rankdir": rankdir, **(_LABEL_SPACING[rankdir] if show_contributions else {})},
        node_attr={"fontname": _FONT, "fontsize": "11"},
        edge_attr={"fontname": _FONT, "fontsize": "9", "arrowsize": "0.7"},
    )
    scale = GradScale.of(d.node for d in drawn if d.kind != "constant") if color_by_grad else None
    clusters = _clusters(drawn, modules) if cluster_by_module else {}
    statements: dict[tuple[str, ...], list[Callable[[Any], None]]] = {}
    for d in drawn:
        where = clusters.get(d.node, ())
        enclosing = where[-1] if where else ""
        statements.setdefault(where, []).append(
            lambda g, d=d, enclosing=enclosing: _node(g, d, enclosing, modules, show_grad, scale, digits)
        )
    _emit(graph, statements)

    ids = {d.node: d.id for d in drawn}
    for d in drawn:
        _edges(graph, d, ids, show_contributions, digits)
    if scale is not None:
        _legend(graph, scale, any(_is_dead(d) for d in drawn), rankdir)
    return graph


def _check_options(
    root, rankdir, max_nodes, depth, module, collapse_neurons, cluster_by_module, digits
) -> tuple[int | None, int | None, int]:
    """Refuse bad options; return max_nodes, depth and digits as ints (numpy integers are accepted)."""
    from ..value import Value

    if not isinstance(root, Value):
        raise TypeError(f"draw_dot: root must be a Value, got {type(root).__name__} ({root!r:.60})")
    if rankdir not in RANKDIRS:
        raise ValueError(f"draw_dot: rankdir must be one of {', '.join(map(repr, RANKDIRS))}, got {rankdir!r}")
    for name, x in (("max_nodes", max_nodes), ("depth", depth)):
        if x is not None and (not is_int(x) or x < 1):
            raise ValueError(f"draw_dot: {name} must be a positive int or None, got {x!r}")
    if not is_int(digits) or not 1 <= digits <= 17:
        raise ValueError(f"draw_dot: digits must be an int from 1 to 17, got {digits!r}")
    for name, flag in (("collapse_neurons", collapse_neurons), ("cluster_by_module", cluster_by_module)):
        if flag and module is None:
            raise ValueError(f"draw_dot: {name}=True needs module=, the nn module whose neurons to find")
    return (None if max_nodes is None else int(max_nodes)), (None if depth is None else int(depth)), int(digits)


def _clusters(drawn: list[DrawnNode], modules: ModuleMap) -> dict[Value, tuple[str, ...]]:
    """The module paths (outermost first) enclosing each drawn node; constants go with their consumer."""
    clusters = {}
    for d in drawn:
        if d.kind == "neuron":
            paths = modules.clusters(d.call.name)
            clusters[d.node] = paths[:-1] if paths and paths[-1] == d.call.name else paths
        elif d.kind != "constant":
            clusters[d.node] = modules.clusters(modules.path_of(d.node))
    for d in drawn:
        for parent, _ in d.inputs:
            if parent not in clusters:
                clusters[parent] = clusters.get(d.node, ())
    return clusters


def _emit(graph: Any, statements: dict[tuple[str, ...], list[Callable[[Any], None]]]) -> None:
    """Run each node's statements inside nested subgraphs cluster_0, cluster_1, ... (in order of first use)."""
    children: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    for where in statements:
        for i in range(1, len(where) + 1):
            parent, child = where[: i - 1], where[:i]
            if child not in children.setdefault(parent, []):
                children[parent].append(child)
    numbers = {}

    def emit(g: Any, where: tuple[str, ...]) -> None:
        for statement in statements.get(where, []):
            statement(g)
        for child in children.get(where, []):
            numbers[child] = len(numbers)
            with g.subgraph(name=f"cluster_{numbers[child]}") as sub:
                label = _relative(child[-1], where[-1] if where else "")
                sub.attr(label=_text(label), style="rounded", color="#999999", fontcolor="#555555", fontsize="10")
                emit(sub, child)

    emit(graph, ())


def _relative(name: str, enclosing: str) -> str:
    """`name` without the path of the cluster it is drawn in: "neurons.3" inside "layers.0"."""
    return name[len(enclosing) + 1 :] if enclosing and name.startswith(enclosing + ".") else name


def _is_dead(d: DrawnNode) -> bool:
    return d.kind != "constant" and is_dead_relu(d.node)


def _node(g: Any, d: DrawnNode, enclosing: str, modules, show_grad: bool, scale, digits: int) -> None:
    node = d.node
    data, grad = number(node.data, digits), number(node.grad, digits)
    if d.kind == "constant":
        g.node(d.id, _text(data), shape="plaintext", fontsize="10", tooltip=_text(f"constant {node.data!r}"))
        return
    attrs: dict[str, str] = {}
    if scale is not None:
        attrs.update(style="filled", fillcolor=scale.fill(node.grad))
        if _is_dead(d):
            attrs.update(color=DEAD_RELU_COLOR, penwidth="2")
    values = [f"data {data}"] + ([f"grad {grad}"] if show_grad else [])
    full = f"data={node.data!r}, grad={as_float(node.grad)!r}"
    if d.kind == "neuron":
        call = d.call
        formula = "w·x + b" if call.activation == "linear" else f"{call.activation}(w·x + b)"
        name = _relative(call.name, enclosing)
        fields = [name, formula, *values]
        g.node(d.id, _record(fields), shape="Mrecord", tooltip=_text(f"{call.name}: {formula}, {full}"), **attrs)
        return
    label = node.label or (modules.names.get(node, "") if modules is not None else "")
    label = _relative(label, enclosing) if not node.label else label
    fields = ([label] if label else []) + values
    if d.kind == "cut":
        fields.insert(0, f"… {node.op}")
        attrs["style"] = "dashed,filled" if scale is not None else "dashed"
    tooltip = f"{label or describe(node)}: {full}" + (" (its inputs are not drawn)" if d.kind == "cut" else "")
    g.node(d.id, _record(fields), shape="record", tooltip=_text(tooltip), **attrs)
    if d.kind == "value" and node.parents:
        g.node(f"{d.id}_op", _text(node.op), shape="ellipse", fontsize="10", margin="0.05,0.02", height="0.3",
               tooltip=_text(f"{node.op}: {describe(node)}"))  # fmt: skip


def _edges(graph: Any, d: DrawnNode, ids: dict[Value, str], show_contributions: bool, digits: int) -> None:
    if not d.inputs:
        return
    head = d.id if d.kind == "neuron" else f"{d.id}_op"
    partials = (neuron_partials(d.call) if d.kind == "neuron" else local_partials(d.node)) if show_contributions else ()
    for parent, k in d.inputs:
        role = "" if d.kind == "neuron" else _role(d.node, k)
        attrs = {}
        if show_contributions and not parent.is_constant:  # a constant gets no gradient: no term
            upstream = as_float(d.node.grad)
            term = 0.0 if upstream == 0.0 else upstream * partials[k]
            text = f"{number(upstream, digits)} × {number(partials[k], digits)} = {number(term, digits)}"
            attrs["label"] = _text(f"{role}: {text}" if role else text)
            full = f"{upstream!r} × {partials[k]!r} = {term!r}"
            attrs["tooltip"] = _text(f"adds {full} to the grad of {describe(parent)}")
        elif role:  # a head label takes no room in the layout (an edge label adds a rank of its own)
            attrs["headlabel"] = _text(role)
        graph.edge(ids[parent], head, **attrs)
    if d.kind == "value":
        graph.edge(head, d.id)


def _role(node: Value, k: int) -> str:
    """Which operand an edge is, where the op cares: 1 and 2 for - / ** % atan2; w0, x0, w1, ... for dot (as nn
    names them); slope, lo and hi for the parameters of leaky_relu and clamp."""
    if node.op == "dot":
        n = len(node.parents) // 2
        return f"w{k}" if k < n else f"x{k - n}"
    if node.op in _ORDERED:
        return str(k + 1)
    if node.op == "leaky_relu" and k == 1:
        return "slope"
    if node.op == "clamp" and k > 0:
        return ("lo", "hi")[k - 1]
    return ""


def _legend(graph: Any, scale: GradScale, dead_relus: bool, rankdir: str) -> None:
    rows = list(enumerate(scale.legend(dead_relus=dead_relus)))
    if rankdir in ("LR", "RL"):  # nodes of one rank stack bottom to top there: keep the largest |grad| on top
        rows.reverse()
    with graph.subgraph(name="cluster_legend") as legend:
        legend.attr(label="fill: |grad|", style="rounded", color="#999999", fontcolor="#555555", fontsize="10")
        for i, (fill, border, text) in rows:
            penwidth = "1" if border == "black" else "2"
            legend.node(f"legend_{i}", _text(text), shape="box", style="filled", fillcolor=fill, color=border,
                        penwidth=penwidth, fontsize="9", height="0.25")  # fmt: skip


def _record(fields: list[str]) -> str:
    return _text("{ " + " | ".join(record_field(f) for f in fields) + " }", escaped=True)


def _text(text: str, escaped: bool = False) -> str:
    """A label or tooltip for the graphviz package: backslashes literal, never read as an HTML label."""
    import graphviz

    return graphviz.nohtml(text if escaped else dot_string(text))
