"""Find an `nn` module's parameters and neurons in a graph, for collapsing and clustering.

The contract, duck-typed (nothing from `nn` is imported): a module has
`named_parameters()` yielding (name, Value) with names like `layers.0.neurons.3.w.1`
and `layers.0.neurons.3.b`; the object at `layers.0.neurons.3` is a neuron with
`.w` (list of Values), `.b` (a Value) and `.activation` (a str); its forward pass is
`dot(w, x) + b` followed by the activation's op (none for "linear").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..value import Value

__all__ = ["ModuleMap", "NeuronCall", "map_module"]

_WEIGHT = re.compile(r"(?P<neuron>.+)\.w\.(?P<index>\d+)")
_BIAS = re.compile(r"(?P<neuron>.+)\.b")


@dataclass(frozen=True)
class NeuronCall:
    """One forward pass of one neuron, found in the graph: dot(w, x) + b, then its activation."""

    name: str  # the neuron's path in the module, e.g. "layers.0.neurons.3"
    activation: str  # "linear" when the sum is the output
    out: Value  # the activation's node (the "+" node for "linear")
    inner: tuple[Value, ...]  # the nodes drawn inside it: the dot node, the "+" node, the activation node
    inputs: tuple[Value, ...]  # x_1..x_n


@dataclass(frozen=True)
class ModuleMap:
    """Where a module's parameters and neurons sit in one graph."""

    names: dict[Value, str]  # parameter -> its name
    calls: dict[Value, NeuronCall]  # output node -> the neuron call it ends
    modules: frozenset[str]  # the paths that name modules (clusters), e.g. "layers.0"
    owners: dict[Value, str]  # parameter or node inside a neuron call -> the module it belongs to

    def path_of(self, node: Value) -> str:
        """The path of the module a node belongs to, "" for none."""
        return self.owners.get(node, "")

    def clusters(self, path: str) -> tuple[str, ...]:
        """The module paths enclosing `path`, outermost first, `path` itself included if a module."""
        parts = path.split(".")
        prefixes = (".".join(parts[:i]) for i in range(1, len(parts) + 1))
        return tuple(p for p in prefixes if p in self.modules)


def map_module(module: Any, order: list[Value], option: str = "module") -> ModuleMap:
    """Match `module`'s parameters and neurons against the nodes of `order` (a topological order).

    Args:
        module: an `nn` module (anything with `named_parameters()`).
        order: every node of the graph, each after its parents.
        option: the option's name, for error messages.
    """
    named = getattr(module, "named_parameters", None)
    if not callable(named):
        raise TypeError(f"{option} must be an nn module with named_parameters(), got {type(module).__name__}")
    names: dict[Value, str] = {}
    for name, param in named():
        names.setdefault(param, name)
    neurons = _neurons(module, names)
    modules: set[str] = set()
    owners: dict[Value, str] = {}
    for param, name in names.items():
        parts = name.split(".")
        for i in range(1, len(parts)):
            prefix = ".".join(parts[:i])
            if prefix not in modules and hasattr(_resolve(module, prefix), "named_parameters"):
                modules.add(prefix)
        owners[param] = _owner(name, modules)
    calls = _neuron_calls(order, neurons)
    for call in calls.values():
        for node in call.inner:
            owners[node] = call.name
    return ModuleMap(names, calls, frozenset(modules), owners)


def _owner(name: str, modules: set[str]) -> str:
    """The innermost module path that is a prefix of a parameter's name."""
    parts = name.split(".")
    for i in range(len(parts) - 1, 0, -1):
        prefix = ".".join(parts[:i])
        if prefix in modules:
            return prefix
    return ""


@dataclass(frozen=True)
class _Neuron:
    name: str
    w: tuple[Value, ...]
    b: Value
    activation: str


def _neurons(module: Any, names: dict[Value, str]) -> dict[Value, _Neuron]:
    """The neurons of `module`, keyed by their first weight."""
    weights: dict[str, dict[int, Value]] = {}
    biases: dict[str, Value] = {}
    for param, name in names.items():
        if m := _WEIGHT.fullmatch(name):
            weights.setdefault(m["neuron"], {})[int(m["index"])] = param
        elif m := _BIAS.fullmatch(name):
            biases[m["neuron"]] = param
    found = {}
    for name, w in weights.items():
        if name not in biases or sorted(w) != list(range(len(w))):
            continue
        activation = getattr(_resolve(module, name), "activation", None)
        if isinstance(activation, str):
            found[w[0]] = _Neuron(name, tuple(w[i] for i in range(len(w))), biases[name], activation)
    return found


def _neuron_calls(order: list[Value], neurons: dict[Value, _Neuron]) -> dict[Value, NeuronCall]:
    """Every dot(w, x) + b -> activation chain in the graph whose inner nodes feed nothing else."""
    if not neurons:
        return {}
    from ..ops import OPS  # the engine's ops, recognised by identity: a user's Op("dot") is not a neuron's sum

    consumers: dict[Value, list[Value]] = {}
    for node in order:
        for parent in node.parents:
            consumers.setdefault(parent, []).append(node)
    calls = {}
    for node in order:
        if node.primitive is not OPS["dot"] or node.parents[0] not in neurons:
            continue
        neuron = neurons[node.parents[0]]
        n = len(neuron.w)
        if len(node.parents) != 2 * n or any(a is not b for a, b in zip(node.parents[:n], neuron.w)):
            continue
        plus = _only_consumer(node, consumers)
        if plus is None or plus.primitive is not OPS["add"] or set(plus.parents) != {node, neuron.b}:
            continue
        out, inner = plus, (node, plus)
        if neuron.activation != "linear":
            out = _only_consumer(plus, consumers)
            activation = OPS.get(neuron.activation)
            if out is None or activation is None or out.primitive is not activation or out.parents[0] is not plus:
                continue
            inner += (out,)
        calls[out] = NeuronCall(neuron.name, neuron.activation, out, inner, node.parents[n:])
    return calls


def _only_consumer(node: Value, consumers: dict[Value, list[Value]]) -> Value | None:
    found = consumers.get(node, [])
    return found[0] if len(found) == 1 else None


def _resolve(module: Any, path: str) -> Any:
    """The object at a dotted path ("layers.0"), or None if there is none."""
    obj = module
    for part in path.split("."):
        try:
            obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
        except (AttributeError, IndexError, KeyError, TypeError):
            return None
    return obj
