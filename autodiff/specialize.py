"""Fast float code for each op, generated once from its rules.

The eager engine could evaluate every op by calling its rules with `FloatMath`:
`forward(m, *inputs)` for a new node, `partials(m, out, *inputs)` in the backward
pass. That generic call (a tuple of inputs, a tuple of partials, a zip) costs more
than the arithmetic. So the first time an op is used, its rules are evaluated once
on symbols (`autodiff.symbolic`), which turns them into formulas, and each formula
is compiled into a small Python function. For `*` the backward function is

    def backward(node, grad):
        x0, x1 = node.parents
        d0 = x0.data
        d1 = x1.data
        x0.grad += grad * d1
        x1.grad += grad * d0

Forward mode (`autodiff.jvp`) gets a third function per op from the same partials,
`tangent(node, tangents)` = sum_i partial_i * tangents[i], which evaluates only the
partials of inputs whose tangent is not 0.

The formulas are the rules themselves: nothing is written twice. A rule that cannot
be a formula (it branches on its inputs, say) runs through the generic call instead,
with the same results. Ops with any number of inputs (sum, dot) get one function per
number of inputs they are used with.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from . import grad_mode
from .namespace import MissingMathFunction
from .numerics import MAX_FLOAT, FloatMath
from .ops import Op, OpDefinitionError
from .symbolic import SourceMath, Sym, SymTuple, source
from .value import Constant, Value, checked_result, constant_of, lift, new_node, record, shared_constants

__all__ = ["make_apply", "make_backward", "make_tangent"]

MAX_GENERATED_ARITY = 256  # ops with more inputs than this use the generic code
MAX_ARITIES_PER_OP = 64  # generated functions kept per n-ary op


# --- forward: a new node ---------------------------------------------------------------
def make_apply(op: Op) -> Callable[..., Any]:
    """op's forward as one function of its operands (Values or numbers): the new node, or
    NotImplemented when an operand is neither (for Python's operator protocol)."""
    if op.arity is not None:
        return _apply_for(op, op.arity)
    by_arity: dict[int, Callable[..., Any]] = {}
    generic = _generic_apply(op)

    def apply(*operands: Any) -> Any:
        n = len(operands)
        forward = by_arity.get(n)
        if forward is None:
            forward = _apply_for(op, n) if n <= MAX_GENERATED_ARITY else generic
            if len(by_arity) < MAX_ARITIES_PER_OP:
                by_arity[n] = forward
        return forward(*operands)

    return apply


def _apply_for(op: Op, n: int) -> Callable[..., Any]:
    formula = _formula(op, "forward", n)
    if formula is None:
        return _generic_apply(op)
    xs = [f"x{i}" for i in range(n)]
    lines = [f"def apply({', '.join(xs)}):"]
    for x in xs:  # a float becomes its shared constant; anything else goes through lift()
        lines += [
            f"    if type({x}) is not Value:",
            f"        if type({x}) is float and -MAX_FLOAT <= {x} <= MAX_FLOAT:",
            f"            c = constants.get({x})",
            f"            {x} = c if c is not None else constant_of({x})",
            "        else:",
            f"            {x} = lift({x}, op)",
            f"            if {x} is NotImplemented:",
            f"                return {x}",
        ]
    lines += [f"    d{i} = x{i}.data" for i in range(n) if _uses(formula, f"d{i}")]
    parents = f"({''.join(f'{x}, ' for x in xs)})"
    # float ** float is the one float operation that can give a complex number (a negative base).
    check = "type(data) is float and " if "**" in formula else ""
    lines += [
        f"    data = {formula}",
        f"    if {check}-MAX_FLOAT <= data <= MAX_FLOAT:",
        "        out = new(Value)",
        "        out.data = data",
        "        out.grad = 0.0",
        '        out.label = ""',
        "        if grad_mode.overridden:",
        f"            return record(out, {parents}, op)",
        f"        out.parents = {parents}",
        "        out._op = op",
        "        return out",
        f"    return checked_node(op, data, {parents})",
    ]
    return _compile(lines, op, f"apply{n}")


def _generic_apply(op: Op) -> Callable[..., Any]:
    def apply(*operands: Any) -> Any:
        values = []
        for x in operands:
            x = lift(x, op)
            if x is NotImplemented:
                return x
            values.append(x)
        try:
            data = op.forward(FloatMath, *[v.data for v in values])
        except MissingMathFunction as error:
            raise _missing(op, "forward", error) from error
        return new_node(checked_result(op, data, values), tuple(values), op)

    return apply


def checked_node(op: Op, data: Any, parents: tuple[Value, ...]) -> Value:
    """The slow path of a generated forward: a non-finite or non-float result."""
    return new_node(checked_result(op, data, parents), parents, op)


# --- backward: add grad * d(out)/d(input) to each input's grad ---------------------------
def make_backward(op: Op) -> Callable[[Value, float], None]:
    """op's backward step on floats: node.parents[i].grad += grad * partial_i, for a node made by op."""
    if op.arity is not None:
        return _backward_for(op, op.arity)
    by_arity: dict[int, Callable[[Value, float], None]] = {}
    generic = _generic_backward(op)

    def backward(node: Value, grad: float) -> None:
        n = len(node.parents)
        step = by_arity.get(n)
        if step is None:
            step = _backward_for(op, n) if n <= MAX_GENERATED_ARITY else generic
            if len(by_arity) < MAX_ARITIES_PER_OP:
                by_arity[n] = step
        step(node, grad)

    return backward


def _backward_for(op: Op, n: int) -> Callable[[Value, float], None]:
    partials = _formula(op, "partials", n)
    if partials is None:
        return _generic_backward(op)
    xs = [f"x{i}" for i in range(n)]
    lines = ["def backward(node, grad):", f"    {''.join(f'{x}, ' for x in xs)}= node.parents"]
    used = " ".join([*partials, getattr(partials, "src", "")])
    lines += [f"    d{i} = x{i}.data" for i in range(n) if _uses(used, f"d{i}")]
    if _uses(used, "out"):
        lines.append("    out = node.data")
    if isinstance(partials, _Bound):
        lines.append(f"    partials = {partials.src}")
    for x, partial in zip(xs, partials):
        if partial in ("0.0", "-0.0"):  # no gradient flows there (a constant exponent, say)
            continue
        lines.append(f"    if type({x}) is not Constant:")  # constants get no gradient
        if partial == "1.0":
            lines.append(f"        {x}.grad += grad")
        elif partial == "-1.0":
            lines.append(f"        {x}.grad -= grad")
        else:
            lines.append(f"        {x}.grad += grad * {partial}")
    return _compile(lines, op, f"backward{n}")


def _generic_backward(op: Op) -> Callable[[Value, float], None]:
    def backward(node: Value, grad: float) -> None:
        parents = node.parents
        try:
            partials = op.partials(FloatMath, node.data, *[p.data for p in parents])
        except MissingMathFunction as error:
            raise _missing(op, "partials", error) from error
        for parent, partial in zip(parents, checked_partials(op, partials, len(parents))):
            if type(parent) is not Constant:
                parent.grad += grad * partial

    return backward


# --- forward mode: the tangent of a node from its parents' tangents -------------------------
def make_tangent(op: Op) -> Callable[[Value, list], float]:
    """op's forward-mode step on floats: sum_i partial_i * tangents[i] for a node made by op, where
    tangents[i] is the tangent of node.parents[i]. Only the partials of inputs whose tangent is not 0
    are evaluated (0 ** y, with a constant 0, has no d/d(base) to compute)."""
    if op.arity is not None:
        return _tangent_for(op, op.arity)
    by_arity: dict[int, Callable[[Value, list], float]] = {}
    generic = _generic_tangent(op)

    def tangent(node: Value, tangents: list) -> float:
        n = len(node.parents)
        step = by_arity.get(n)
        if step is None:
            step = _tangent_for(op, n) if n <= MAX_GENERATED_ARITY else generic
            if len(by_arity) < MAX_ARITIES_PER_OP:
                by_arity[n] = step
        return step(node, tangents)

    return tangent


def _tangent_for(op: Op, n: int) -> Callable[[Value, list], float]:
    partials = _formula(op, "partials", n)
    if partials is None:
        return _generic_tangent(op)
    xs, ts = [f"x{i}" for i in range(n)], [f"t{i}" for i in range(n)]
    lines = ["def tangent(node, tangents):", f"    {''.join(f'{t}, ' for t in ts)}= tangents"]
    used = " ".join([*partials, getattr(partials, "src", "")])
    if any(_uses(used, f"d{i}") for i in range(n)):
        lines.append(f"    {''.join(f'{x}, ' for x in xs)}= node.parents")
    lines += [f"    d{i} = x{i}.data" for i in range(n) if _uses(used, f"d{i}")]
    if _uses(used, "out"):
        lines.append("    out = node.data")
    if isinstance(partials, _Bound):
        lines.append(f"    partials = {partials.src}")
    lines.append("    total = 0.0")
    for t, partial in zip(ts, partials):
        if partial in ("0.0", "-0.0"):
            continue
        lines.append(f"    if {t}:")
        if partial == "1.0":
            lines.append(f"        total += {t}")
        elif partial == "-1.0":
            lines.append(f"        total -= {t}")
        else:
            lines.append(f"        total += {t} * {partial}")
    lines.append("    return total")
    return _compile(lines, op, f"tangent{n}")


def _generic_tangent(op: Op) -> Callable[[Value, list], float]:
    def tangent(node: Value, tangents: list) -> float:
        parents = node.parents
        try:
            partials = op.partials(FloatMath, node.data, *[p.data for p in parents])
        except MissingMathFunction as error:
            raise _missing(op, "partials", error) from error
        total = 0.0
        for t, partial in zip(tangents, checked_partials(op, partials, len(parents))):
            if t:
                total += t * partial
        return total

    return tangent


def checked_partials(op: Op, partials: Any, n: int) -> Sequence[Any]:
    """The partials a rule returned, if there is one per input; otherwise an error naming the op."""
    if isinstance(partials, (str, bytes)) or not hasattr(partials, "__len__"):
        raise OpDefinitionError(
            f"{op.name}: partials must return a tuple with one derivative per input, got "
            f"{type(partials).__name__} ({partials!r})"
        )
    if len(partials) != n:
        raise OpDefinitionError(f"{op.name}: partials returned {len(partials)} terms for {n} inputs")
    return partials


# --- formulas: a rule evaluated on symbols ---------------------------------------------
class _Bound(list):
    """Partials that a rule returned as one tuple-valued call (softmax): bound to `partials`, then indexed."""

    def __init__(self, call: SymTuple) -> None:
        super().__init__(f"partials[{i}]" for i in range(len(call)))
        self.src = call.src


def _formula(op: Op, role: str, n: int) -> Any:
    """The rule `role` of `op` on n symbolic inputs: the forward's source, or a list of the partials' sources.
    None when the rule is not a formula (it branches on its inputs, or calls what symbols cannot be)."""
    inputs = [Sym(f"d{i}") for i in range(n)]
    try:
        if role == "forward":
            out = op.forward(SourceMath, *inputs)
            return source(out) if isinstance(out, (Sym, float, int)) else None  # others: the generic check
        result = op.partials(SourceMath, Sym("out"), *inputs)
        if isinstance(result, SymTuple):
            return _Bound(checked_partials(op, result, n))
        if isinstance(result, Sym):
            raise OpDefinitionError(
                f"{op.name}: partials must return a tuple with one derivative per input (for one input, "
                f"a 1-tuple: `(d,)`), got a single expression"
            )
        return [source(partial) for partial in checked_partials(op, result, n)]
    except MissingMathFunction as error:
        raise _missing(op, role, error) from error
    except OpDefinitionError:
        raise
    except (TypeError, ArithmeticError, ValueError):  # NotSymbolic, or an operator symbols lack (//, %)
        return None


def _missing(op: Op, role: str, error: MissingMathFunction) -> AttributeError:
    return AttributeError(f"{op.name}: {role}: {error}")


def _uses(text: str, name: str) -> bool:
    return re.search(rf"\b{name}\b", text) is not None


def _compile(lines: list[str], op: Op, what: str) -> Callable[..., Any]:
    namespace = {
        "Value": Value, "Constant": Constant, "op": op, "lift": lift, "new": object.__new__,
        "grad_mode": grad_mode, "record": record, "MAX_FLOAT": MAX_FLOAT, "checked_node": checked_node, "m": FloatMath,
        "constants": shared_constants, "constant_of": constant_of,
    }  # fmt: skip
    text = "\n".join(lines)
    preamble = "".join(f"m_{name} = m.{name}\n" for name in sorted(set(re.findall(r"\bm_(\w+)\(", text))))
    exec(compile(preamble + text, f"<autodiff: {op.name} {what}>", "exec"), namespace)
    function = namespace[lines[0].split()[1].split("(")[0]]
    function.source = text  # to read what was generated
    return function
