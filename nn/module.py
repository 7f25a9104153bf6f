"""`Module`: the base of every network: its parameters, their names, and its state."""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterator, Mapping
from typing import Any

from autodiff import Value

__all__ = ["Module"]


class Module:
    """A piece of a network that owns parameters (Values) and maybe other Modules.

    Subclasses define `forward(x)`; calling the module calls it. Parameters are
    found by walking the instance's public attributes in the order they were set:
    a Value, a Module, or a list or tuple of Values, of Modules or of such lists. A
    list item `i` of attribute `a` is named `a.i`, so an MLP's parameters are named
    like `layers.0.neurons.3.w.1`, and entry (i, j) of a matrix `weight` stored as a
    list of rows is `weight.i.j`. A Value reachable twice counts once.
    """

    def forward(self, x: Any, *args: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward(x)")

    def __call__(self, x: Any, *args: Any) -> Any:
        """forward(x), and the further arguments some modules take (an attention layer's cache)."""
        return self.forward(x, *args)

    def named_parameters(self) -> Iterator[tuple[str, Value]]:
        """Yield (name, Value) for every parameter, in `parameters()` order."""
        seen = set()
        for name, value in _walk(self, ""):
            if value not in seen:
                seen.add(value)
                yield name, value

    def parameters(self) -> list[Value]:
        """Every parameter, in a fixed order (for an MLP: neuron-major, weights then bias)."""
        return [value for _, value in self.named_parameters()]

    def zero_grad(self) -> None:
        """Set the gradient of every parameter to 0.0."""
        for p in self.parameters():
            p.grad = 0.0

    def state_dict(self) -> dict[str, float]:
        """The parameters' current values as {name: float}, in `parameters()` order."""
        return {name: p.data for name, p in self.named_parameters()}

    def load_state_dict(self, state: Mapping[str, float]) -> None:
        """Set every parameter from `state` ({name: number}, as `state_dict()` gives).

        All names must match and every value must be a finite number; otherwise a
        ValueError or TypeError names the parameter, and no parameter is changed.
        """
        who = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state, Mapping):
            raise TypeError(f"{who}: expected a mapping of parameter names to numbers, got {type(state).__name__}")
        params = dict(self.named_parameters())
        _check_same_names(who, params, state)
        values = {name: _finite_number(who, name, state[name]) for name in params}
        for name, p in params.items():
            p.data = values[name]

    def num_parameters(self) -> int:
        """How many parameters the module has."""
        return len(self.parameters())

    def config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this module's architecture (for `nn.save`)."""
        raise NotImplementedError(f"{type(self).__name__} does not define config()")

    def __repr__(self) -> str:
        try:
            args = ", ".join(f"{key}={value!r}" for key, value in self.config().items())
        except NotImplementedError:
            args = f"{self.num_parameters()} parameters"
        return f"{type(self).__name__}({args})"


def _walk(module: Module, prefix: str) -> Iterator[tuple[str, Value]]:
    for attr, value in vars(module).items():
        if attr.startswith("_"):
            continue
        if isinstance(value, Value):
            yield prefix + attr, value
        elif isinstance(value, Module):
            yield from _walk(value, f"{prefix}{attr}.")
        elif isinstance(value, (list, tuple)):
            yield from _walk_list(value, f"{prefix}{attr}")


def _walk_list(items: list | tuple, name: str) -> Iterator[tuple[str, Value]]:
    # Item i is named <name>.i; a list of lists (a weight matrix, row by row) is named <name>.i.j.
    for i, item in enumerate(items):
        if isinstance(item, Value):
            yield f"{name}.{i}", item
        elif isinstance(item, Module):
            yield from _walk(item, f"{name}.{i}.")
        elif isinstance(item, (list, tuple)):
            yield from _walk_list(item, f"{name}.{i}")


_INDEX = re.compile(r"\.\d+$")


def _check_same_names(who: str, params: Mapping[str, Value], state: Mapping[str, object]) -> None:
    missing = [name for name in params if name not in state]
    unexpected = [name for name in state if name not in params]
    if not missing and not unexpected:
        return
    # A parameter list of another length (a layer with more inputs, say) shows as
    # missing or extra indices; say so in terms of the list rather than one index.
    model_sizes, state_sizes = _list_sizes(params), _list_sizes(state)
    for group, size in model_sizes.items():
        if group in state_sizes and state_sizes[group] != size:
            raise ValueError(
                f"{who}: parameter {group!r} has {state_sizes[group]} entries in the state, {size} in the model"
            )
    if missing:
        raise ValueError(f"{who}: parameter {missing[0]!r} is missing from the state ({len(missing)} missing in all)")
    raise ValueError(
        f"{who}: the state has a parameter {unexpected[0]!r} that the model does not "
        f"({len(unexpected)} unexpected in all)"
    )


def _list_sizes(names: Mapping[str, object]) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for name in names:
        if not isinstance(name, str):
            continue
        group = _INDEX.sub("", name)
        if group != name:
            sizes[group] = sizes.get(group, 0) + 1
    return sizes


def _finite_number(who: str, name: str, x: object) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{who}: parameter {name!r} must be a number, got {type(x).__name__} ({x!r})")
    try:
        x = float(x)
    except OverflowError:  # an int beyond the float range
        raise ValueError(f"{who}: parameter {name!r} must be finite, got an int too large for a float") from None
    if not math.isfinite(x):
        raise ValueError(f"{who}: parameter {name!r} must be finite, got {x!r}")
    return x
