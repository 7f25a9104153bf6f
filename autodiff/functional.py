"""`grad` and `value_and_grad`: derivatives of a Python function, as floats."""

from __future__ import annotations

import copy
import functools
import numbers
from collections.abc import Callable, Sequence
from typing import Any

from .backward import backward, topological_order
from .errors import add_context
from .value import Number, Value, enable_grad

__all__ = ["grad", "value_and_grad"]

Argument = Number | Value | Sequence[Number | Value]
Gradient = float | list
ArgNums = int | Sequence[int] | None


def value_and_grad(
    f: Callable[..., Any], argnums: ArgNums = None, has_aux: bool = False
) -> Callable[..., tuple[Any, Any]]:
    """Turn `f` into a function returning (f(*args), gradient) as floats.

    Each differentiated argument is a number (its gradient is a float) or a list of
    numbers (its gradient is a list); Values are read for their data. Gradients are
    computed on fresh leaves, and the `.grad` of any Value that `f` captures (a model's
    parameters, say) is left as it was.

    Args:
        f: a function of Values returning a Value (or, with `has_aux`, `(Value, aux)`).
        argnums: which arguments to differentiate, as in JAX: an int gives that
            argument's gradient, a tuple of ints a tuple of gradients. The default,
            None, differentiates every argument: the gradient as is for one argument,
            a tuple for several (JAX's default is 0). Arguments not differentiated are
            passed as Values too (numbers, lists of numbers) or as they are (anything else);
            keyword arguments are passed to f as they are, never differentiated (as in JAX).
        has_aux: f returns `(value, aux)`; the result is then `((value, aux), gradient)`,
            with the Values in aux read as floats, in every container (lists, tuples,
            namedtuples, dicts, sets) at any depth.

    Example:
        >>> value_and_grad(lambda x, y: x * y + y)(2.0, 3.0)
        (9.0, (3.0, 3.0))
        >>> value_and_grad(lambda x, y: x * y + y, argnums=1)(2.0, 3.0)
        (9.0, 3.0)
    """
    name = getattr(f, "__name__", repr(f))
    _check_argnums(argnums, name)
    if not isinstance(has_aux, bool):
        raise TypeError(f"{name}: has_aux must be True or False, got {has_aux!r}")

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        wanted = _positions(argnums, len(args), name)
        chosen = set(wanted)
        inputs = [_fresh_leaves(arg, name, i) if i in chosen else _passed(arg, name, i) for i, arg in enumerate(args)]
        with enable_grad():  # the gradient is asked for, so record the graph even inside no_grad()
            result = f(*inputs, **kwargs)
        out, aux = split_aux(result, name) if has_aux else (result, None)
        out = scalar_output(out, name)
        grads = gradients_of(out, [inputs[i] for i in wanted])
        if argnums is None:
            gradient = grads[0] if len(grads) == 1 else tuple(grads)
        else:
            gradient = grads[0] if _is_index(argnums) else tuple(grads)  # numpy's ints too
        return ((out.data, as_floats(aux)) if has_aux else out.data), gradient

    return wrapper


def grad(f: Callable[..., Any], argnums: ArgNums = None, has_aux: bool = False) -> Callable[..., Any]:
    """Turn `f` into a function returning the gradient of f at its arguments, as floats.

    Same arguments and result shape as `value_and_grad`, without the value; with
    `has_aux`, the result is `(gradient, aux)`.

    Example:
        >>> grad(lambda x: x ** 3)(2.0)
        12.0
        >>> grad(lambda x, y: x * y, argnums=(1,))(2.0, 3.0)
        (2.0,)
    """
    with_value = value_and_grad(f, argnums, has_aux)

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        value, gradient = with_value(*args, **kwargs)
        return (gradient, value[1]) if has_aux else gradient

    return wrapper


def _check_argnums(argnums: ArgNums, name: str) -> None:
    if argnums is None or _is_index(argnums):
        return
    if isinstance(argnums, (tuple, list)) and all(_is_index(i) for i in argnums):
        return
    raise TypeError(f"{name}: argnums must be an int or a tuple of ints, got {argnums!r}")


def _is_index(x: object) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _positions(argnums: ArgNums, n: int, name: str) -> list[int]:
    """The differentiated argument positions, in argnums' order (negative ones count from the end)."""
    if argnums is None:
        return list(range(n))
    asked = [argnums] if _is_index(argnums) else list(argnums)
    positions = []
    for i in asked:
        if not -n <= i < n:
            raise ValueError(f"{name}: argnums {i} is out of range for {n} argument{'s' * (n != 1)}")
        position = int(i) % n
        if position in positions:
            raise ValueError(f"{name}: argnums names argument {position} twice ({argnums!r})")
        positions.append(position)
    return positions


def split_aux(result: object, name: str) -> tuple[Any, Any]:
    """(value, aux) from the result of a function with `has_aux`."""
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        shown = f"{type(result).__name__} ({result!r:.80})"
        raise TypeError(f"{name}: with has_aux=True, the function must return (value, aux), got {shown}")
    return result[0], result[1]


def as_floats(aux: Any) -> Any:
    """aux with every Value read as its float, in every container and nested: lists, tuples (a namedtuple
    keeps its type), dicts, sets and their subclasses (a copy of the same type)."""
    if isinstance(aux, Value):
        return aux.data
    if isinstance(aux, tuple):
        items = [as_floats(x) for x in aux]
        return aux._make(items) if hasattr(aux, "_make") else type(aux)(items)  # _make: a namedtuple
    if isinstance(aux, (list, dict)):
        out = copy.copy(aux)  # a defaultdict or an OrderedDict stays one
        for key in range(len(aux)) if isinstance(aux, list) else aux:
            out[key] = as_floats(aux[key])
        return out
    if isinstance(aux, (set, frozenset)):
        return type(aux)(as_floats(x) for x in aux)
    return aux


def scalar_output(out: object, name: str) -> Value:
    """f's result as a Value: a number is a function that does not depend on its inputs."""
    if isinstance(out, numbers.Real) and not isinstance(out, bool):  # numpy's floats too
        return Value(out)
    if not isinstance(out, Value):
        raise TypeError(f"{name} must return a Value, got {type(out).__name__} ({out!r})")
    return out


def _fresh_leaves(arg: Argument, name: str, position: int) -> Value | list[Value]:
    if isinstance(arg, (list, tuple)):
        return [fresh_leaf(x, name, position) for x in arg]
    return fresh_leaf(arg, name, position)


def _passed(arg: Any, name: str, position: int) -> Any:
    """An argument that is not differentiated: numbers become Values (so f may call their methods),
    anything else is passed as it is."""
    if _is_number(arg) or (isinstance(arg, (list, tuple)) and all(_is_number(x) for x in arg)):
        return _fresh_leaves(arg, name, position)
    return arg


def _is_number(x: object) -> bool:
    return isinstance(x, Value) or (isinstance(x, numbers.Real) and not isinstance(x, bool))


def fresh_leaf(x: object, name: str, position: int) -> Value:
    """A new leaf holding the number (or the Value's data) `x`, argument `position` of `name`."""
    if isinstance(x, Value):
        return Value(x.data, x.label)
    try:
        return Value(x)
    except (TypeError, ValueError) as error:
        add_context(error, f"{name}: argument {position}")
        raise


def gradients_of(out: Value, leaves: list) -> list[Gradient]:
    """d out / d leaf for each leaf (or list of leaves), by one backward pass; every `.grad` is put back."""
    order = topological_order(out)
    saved = [node.grad for node in order]
    try:
        backward(out)
        return [[x.grad for x in leaf] if isinstance(leaf, list) else leaf.grad for leaf in leaves]
    finally:
        for node, old in zip(order, saved):
            node.grad = old
