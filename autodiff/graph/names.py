"""The name each drawn node shows, so that a teacher can talk about it: "x1", "log(x1)", "v1".

A node shows its label if it has one, else its parameter name in the module drawn,
else (with automatic names on) the expression it computes when that is short
(`log(x1)`, `v1 + b`), else `v1`, `v2`, ... in drawing order. Expressions are
written with the names of their operands, so the names compose: `v1 = dot(...)`,
then `v1 + b`. Constants show their number and take no name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .format import describe

if TYPE_CHECKING:
    from ..value import Value
    from .modules import ModuleMap
    from .select import DrawnNode

__all__ = ["node_names", "SHORT"]

SHORT = 12
"""The longest expression kept as a name (characters); a longer one is named v1, v2, ..."""


def node_names(
    drawn: list[DrawnNode], modules: ModuleMap | None, *, auto: bool, shorten_parameters: bool
) -> dict[Value, str]:
    """{node: the name it shows} for the drawn nodes that have one (constants have none).

    Args:
        drawn: the nodes drawn, each after its inputs (as `select_nodes` lists them).
        modules: the module drawn, whose parameters and neurons are named by their paths.
        auto: name the nodes that have no label or parameter name (off: they show no name).
        shorten_parameters: write parameter names without the module path they all share
            ("w.0" rather than "layers.0.neurons.2.w.0" in a drawing of that one neuron).
    """
    parameters = _parameter_names(drawn, modules, shorten_parameters) if modules is not None else {}
    names: dict[Value, str] = {}
    atoms: dict[Value, str] = {}  # names that stand for their node in the expressions of its consumers
    taken = {d.node.label for d in drawn if d.node.label} | set(parameters.values())
    counter = 0
    for d in drawn:
        node = d.node
        if d.kind == "constant":
            continue
        if d.kind == "neuron":
            atoms[node] = d.call.name
        elif node.label:
            atoms[node] = node.label
        elif node in parameters:
            atoms[node] = parameters[node]
        elif not auto:
            continue
        elif d.kind == "value" and node.parents:
            text = describe(node, depth=SHORT, width=SHORT + 1, names=atoms)
            if len(text) <= SHORT:
                names[node] = text  # not an atom: a consumer writes it out, bracketed where needed
                continue
        if node not in atoms:  # a leaf without a label, a node whose inputs are cut, a long expression
            counter += 1
            while f"v{counter}" in taken:
                counter += 1
            atoms[node] = f"v{counter}"
        names[node] = atoms[node]
    return names


def _parameter_names(drawn: list[DrawnNode], modules: ModuleMap, shorten: bool) -> dict[Value, str]:
    """The drawn parameters' names in the module, without the longest module path they all share (if shorten)."""
    names = {d.node: modules.names[d.node] for d in drawn if d.node in modules.names}
    if not shorten or not names:
        return names
    shared = [m for m in modules.modules if all(name.startswith(m + ".") for name in names.values())]
    if not shared:
        return names
    cut = len(max(shared, key=len)) + 1
    return {node: name[cut:] for node, name in names.items()}
