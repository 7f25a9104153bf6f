"""`draw_dot`: a computation graph as a `graphviz.Digraph` (DOT source only: nothing is rendered or written)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..backward import topological_order
from .explain import local_partials, neuron_partials
from .format import as_float, describe, dot_string, is_int, number, record_field
from .modules import ModuleMap, map_module
from .names import node_names
from .roles import operand_role
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
_EDGE_FONT = "10"


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
    auto_names: bool = True,
    title: str | None = None,
) -> graphviz.Digraph:
    """The graph that computed `root`: a record per Value (label, data, grad), a small node per op.

    A node used by several ops is drawn once, with an edge to each: the paths whose
    gradients backward() sums. Node ids follow the graph's structure (topological
    position), so the same expression gives the same DOT source on every run.
    Constants are small boxes; where an op's operands are not interchangeable (a - b,
    dot's w and x), each edge's label says which operand it is.

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
            A node whose grad is not the sum of the terms drawn (part of it comes through nodes not in the
            drawing) says how much comes from elsewhere.
        digits: significant digits of the numbers shown.
        auto_names: name the nodes that have no label: the expression when short ("log(x1)"), else v1, v2, ...
        title: a line above the graph, e.g. its formula.
    """
    max_nodes, depth, digits = _check_options(
        root, rankdir, max_nodes, depth, module, collapse_neurons, cluster_by_module, digits
    )
    _check_switches(title, show_grad=show_grad, color_by_grad=color_by_grad, show_contributions=show_contributions,
                    auto_names=auto_names)  # fmt: skip
    modules = map_module(module, topological_order(root), "draw_dot: module") if module is not None else None
    drawn = select_nodes(root, depth, max_nodes, modules.calls if collapse_neurons else None)
    graph = _digraph(rankdir, show_contributions, title)
    scale = GradScale.of(d.node for d in drawn if d.kind != "constant") if color_by_grad else None
    clusters = _clusters(drawn, modules) if cluster_by_module else {}
    names = node_names(drawn, modules, auto=auto_names, shorten_parameters=not cluster_by_module)
    elsewhere = _from_elsewhere(drawn, root) if show_contributions and show_grad else {}
    statements: dict[tuple[str, ...], list[Callable[[Any], None]]] = {}
    for d in drawn:
        where = clusters.get(d.node, ())
        look = _Look(where[-1] if where else "", rankdir, names, modules, show_grad, scale, digits,
                     elsewhere.get(d.node))  # fmt: skip
        statements.setdefault(where, []).append(lambda g, d=d, look=look: _node(g, d, look))
    _emit(graph, statements)

    ids = {d.node: d.id for d in drawn}
    for d in drawn:
        _edges(graph, d, ids, names, show_contributions, digits)
    if scale is not None:
        _legend(graph, scale, any(_is_dead(d) for d in drawn), rankdir)
    return graph


def _check_switches(title: object, **switches: object) -> None:
    for name, flag in switches.items():
        if not isinstance(flag, bool):
            raise TypeError(f"draw_dot: {name} must be True or False, got {flag!r}")
    if title is not None and not isinstance(title, str):
        raise TypeError(f"draw_dot: title must be a str or None, got {type(title).__name__} ({title!r:.60})")


def _digraph(rankdir: str, show_contributions: bool, title: str | None) -> graphviz.Digraph:
    """An empty graph with the drawing's fonts, spacing and title."""
    import graphviz

    titled = {"label": _text(title), "labelloc": "t", "fontsize": "14"} if title else {}
    spacing = _LABEL_SPACING[rankdir] if show_contributions else {}
    return graphviz.Digraph(
        name="autodiff",
        graph_attr={**_GRAPH_ATTRS, "rankdir": rankdir, **spacing, **titled},
        node_attr={"fontname": _FONT, "fontsize": "11"},
        edge_attr={"fontname": _FONT, "fontsize": _EDGE_FONT, "arrowsize": "0.7"},
    )


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


@dataclass(frozen=True)
class _Look:
    """How one node is drawn: where, under which name, with which numbers and fill."""

    enclosing: str  # the module path of the cluster it is drawn in ("" for none)
    rankdir: str
    names: dict[Value, str]
    modules: ModuleMap | None
    show_grad: bool
    scale: GradScale | None
    digits: int
    elsewhere: float | None  # the part of its grad that comes through nodes not drawn, if any


def _node(g: Any, d: DrawnNode, look: _Look) -> None:
    node, digits = d.node, look.digits
    data, grad = number(node.data, digits), number(node.grad, digits)
    if d.kind == "constant":
        g.node(d.id, _text(data), shape="box", fontsize="10", height="0.22", width="0.3", margin="0.05,0.02",
               color="#777777", tooltip=_text(f"constant {node.data!r}"))  # fmt: skip
        return
    attrs: dict[str, str] = {}
    if look.scale is not None:
        attrs.update(style="filled", fillcolor=look.scale.fill(node.grad))
        if _is_dead(d):
            attrs.update(color=DEAD_RELU_COLOR, penwidth="2")
    values = [f"data {data}"] + ([f"grad {grad}"] if look.show_grad else [])
    full = f"data={node.data!r}, grad={as_float(node.grad)!r}"
    if look.elsewhere is not None:
        values.append(_elsewhere_field(node, look.elsewhere, digits))
        full += f"; {look.elsewhere!r} of the grad comes through nodes not drawn (or an earlier backward())"
    if d.kind == "neuron":
        call = d.call
        formula = "w·x + b" if call.activation == "linear" else f"{call.activation}(w·x + b)"
        name = _relative(call.name, look.enclosing)
        fields = [name, formula, *values]
        tooltip = _text(f"{call.name}: {formula}, {full}")
        g.node(d.id, _record(fields, look.rankdir), shape="Mrecord", tooltip=tooltip, **attrs)
        return
    label = look.names.get(node, "")
    if look.modules is not None and node in look.modules.names and not node.label:
        label = _relative(label, look.enclosing)
    fields = ([label] if label else []) + values
    if d.kind == "cut":
        fields.insert(0, f"… {node.op}")
        attrs["style"] = "dashed,filled" if look.scale is not None else "dashed"
    tooltip = f"{label or describe(node)}: {full}" + (" (its inputs are not drawn)" if d.kind == "cut" else "")
    g.node(d.id, _record(fields, look.rankdir), shape="record", tooltip=_text(tooltip), **attrs)
    if d.kind == "value" and node.parents:
        g.node(f"{d.id}_op", _text(node.op), shape="ellipse", fontsize="10", margin="0.05,0.02", height="0.3",
               tooltip=_text(f"{node.op}: {describe(node, names=look.names, own_name=False)}"))  # fmt: skip


def _elsewhere_field(node: Value, elsewhere: float, digits: int) -> str:
    if elsewhere == as_float(node.grad):
        return "all via nodes not drawn"
    return f"{number(elsewhere, digits)} via nodes not drawn"


def _from_elsewhere(drawn: list[DrawnNode], root: Value) -> dict[Value, float]:
    """The part of each drawn node's grad that the terms on its drawn edges out do not account for.

    backward() sets a node's grad to the sum of one term per edge out of it (the root: the seed, 1).
    Where a drawing leaves out some of those edges (it shows one neuron of a network, whose inputs
    feed others too; its root is not the node backward() started from), the terms drawn fall short
    of the grad shown: the difference is what comes through the nodes not drawn.
    """
    terms: dict[Value, list[float]] = {}
    for d in drawn:
        if not d.inputs:
            continue
        upstream = as_float(d.node.grad)
        partials = neuron_partials(d.call) if d.kind == "neuron" else local_partials(d.node)
        for parent, k in d.inputs:
            if not parent.is_constant:
                terms.setdefault(parent, []).append(0.0 if upstream == 0.0 else upstream * partials[k])
    found = {}
    for d in drawn:
        if d.kind == "constant":
            continue
        grad = as_float(d.node.grad)
        if d.node is root:
            accounted = 1.0 if grad == 1.0 else 0.0  # 1: the seed (0 before backward(): nothing to account for)
        else:
            accounted = math.fsum(terms.get(d.node, ()))
        if not math.isclose(grad, accounted, rel_tol=1e-9, abs_tol=1e-12 * max(1.0, abs(grad))):
            found[d.node] = grad - accounted
    return found


def _edges(graph: Any, d: DrawnNode, ids: dict[Value, str], names: dict[Value, str], show_contributions: bool,
           digits: int) -> None:  # fmt: skip
    if not d.inputs:
        return
    head = d.id if d.kind == "neuron" else f"{d.id}_op"
    partials = (neuron_partials(d.call) if d.kind == "neuron" else local_partials(d.node)) if show_contributions else ()
    for parent, k in d.inputs:
        role = "" if d.kind == "neuron" else operand_role(d.node, k)
        attrs = {}
        if show_contributions and not parent.is_constant:  # a constant gets no gradient: no term
            upstream = as_float(d.node.grad)
            term = 0.0 if upstream == 0.0 else upstream * partials[k]
            text = f"{number(upstream, digits)} × {number(partials[k], digits)} = {number(term, digits)}"
            attrs["label"] = _text(f"{role}: {text}" if role else text)
            full = f"{upstream!r} × {partials[k]!r} = {term!r}"
            attrs["tooltip"] = _text(f"adds {full} to the grad of {describe(parent, names=names)}")
        elif role:  # in the edge's label, clear of the arrowhead
            attrs["label"] = _text(role)
            attrs["tooltip"] = _text(f"operand {k + 1} of {d.node.op}")
        graph.edge(ids[parent], head, **attrs)
    if d.kind == "value":
        graph.edge(head, d.id)


def _legend(graph: Any, scale: GradScale, dead_relus: bool, rankdir: str) -> None:
    rows = list(enumerate(scale.legend(dead_relus=dead_relus)))
    if rankdir in ("LR", "RL"):  # nodes of one rank stack bottom to top there: keep the largest |grad| on top
        rows.reverse()
    with graph.subgraph(name="cluster_legend") as legend:
        legend.attr(label="fill: |grad|", style="rounded", color="#999999", fontcolor="#555555", fontsize="10")
        for i, (fill, border, text) in rows:
            penwidth = "1" if border == "black" else "2"
            legend.node(f"legend_{i}", _text(text), shape="box", style="filled", fillcolor=fill, color=border,
                        penwidth=penwidth, fontsize="10", height="0.25")  # fmt: skip


def _record(fields: list[str], rankdir: str) -> str:
    """A record label whose fields stack top to bottom in every direction (graphviz turns a record's
    fields across the rank direction: braces turn them back where ranks run top to bottom)."""
    text = " | ".join(record_field(f) for f in fields)
    return _text("{ " + text + " }" if rankdir in ("TB", "BT") else text, escaped=True)


def _text(text: str, escaped: bool = False) -> str:
    """A label or tooltip for the graphviz package: backslashes literal, never read as an HTML label."""
    import graphviz

    return graphviz.nohtml(text if escaped else dot_string(text))
