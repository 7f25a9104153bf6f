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
with the same results. So does a user's rule that reads a variable outside itself
(`s` in `lambda m, x: x * s`): a formula would freeze the value `s` had at the op's
first use, so the rule is called each time and reads `s` then, as `op(1.0)` does.
Ops with any number of inputs (sum, dot) get one function per number of inputs they
are used with.
"""

from __future__ import annotations

import inspect
import numbers
import re
from collections.abc import Callable, Sequence
from typing import Any

from . import grad_mode
from .higher_order import ValueMath
from .namespace import MissingMathFunction
from .numerics import MAX_FLOAT, FloatMath
from .ops import Op, OpDefinitionError, is_builtin
from .symbolic import SourceMath, Sym, SymTuple, source
from .value import (
    Constant,
    Value,
    checked_result,
    constant_of,
    lift,
    name_user_op,
    new_node,
    record,
    shared_constants,
)

__all__ = ["make_apply", "make_backward", "make_tangent", "make_local_partials", "local_partials"]

# x is a finite float: the bounds as literals, which Python folds into constants (no name to look up)
FINITE = f"{-MAX_FLOAT!r} <= {{}} <= {MAX_FLOAT!r}"
MAX_GENERATED_ARITY = 256  # ops with more inputs than this use the generic code
MAX_ARITIES_PER_OP = 64  # generated functions kept per n-ary op


# --- forward: a new node ---------------------------------------------------------------
def make_apply(op: Op) -> Callable[..., Any]:
    """op's forward as one function of its operands (Values or numbers): the new node, or
    NotImplemented when an operand is neither (for Python's operator protocol)."""
    if op.arity is not None:
        return _apply_for(op, op.arity)
    steps, step_for = _per_arity(op, _apply_for, _generic_apply(op))

    def apply(*operands: Any) -> Any:
        return (steps.get(len(operands)) or step_for(len(operands)))(*operands)

    return apply


def _per_arity(op: Op, make_for: Callable[[Op, int], Callable], generic: Callable) -> tuple[dict, Callable]:
    """For an op with any number of inputs: a cache {n: its step for n inputs} and the function
    that makes, caches and returns the step for n (the generic one past MAX_GENERATED_ARITY)."""
    steps: dict[int, Callable] = {}

    def step_for(n: int) -> Callable:
        step = make_for(op, n) if n <= MAX_GENERATED_ARITY else generic
        if len(steps) < MAX_ARITIES_PER_OP:
            steps[n] = step
        return step

    return steps, step_for


def make_reflected_apply(op: Op) -> Callable[..., Any]:
    """A two-input op's forward taking its operands in reverse order: Python calls `other + self` as
    self.__radd__(other), so this is __radd__ itself."""
    return _apply_for(op, 2, reflected=True)


def _apply_for(op: Op, n: int, reflected: bool = False) -> Callable[..., Any]:
    formula = _formula(op, "forward", n)
    if formula is None:
        generic = _generic_apply(op)
        return (lambda x1, x0: generic(x0, x1)) if reflected else generic
    xs = [f"x{i}" for i in range(n)]
    lines = [f"def apply({', '.join(reversed(xs) if reflected else xs)}):"]
    for x in xs:  # a float becomes its shared constant; anything else goes through lift()
        lines += [
            f"    if type({x}) is not Value:",
            f"        if type({x}) is float and {FINITE.format(x)}:",
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
    if is_builtin(op):  # its errors name it already
        lines.append(f"    data = {formula}")
    else:  # a user's rule may divide by zero, say: the error gets the op's name and inputs
        lines += [
            "    try:",
            f"        data = {formula}",
            "    except (ArithmeticError, ValueError) as error:",
            f"        name_user_op(op, error, {parents})",
            "        raise",
        ]
    lines += [
        f"    if {check}{FINITE.format('data')}:",
        "        out = new(Value)",
        "        out.data = data",
        "        out.grad = 0.0",
        '        out.label = ""',
        "        if grad_mode.overridden:",
        f"            return record(out, {parents}, op)",
        "        out._op = op",
        *_stores(op, n),
        "        return out",
        f"    return checked_node(op, data, {parents})",
    ]
    return _compile(lines, op, f"apply{n}{' reflected' if reflected else ''}")


def _stores(op: Op, n: int) -> list[str]:
    """The lines that keep a new node's parents x0, x1, ... as `Value.parents` reads them."""
    if op.arity in (1, 2):
        return [f"        out._p{i} = x{i}" for i in range(n)]
    return [f"        out._p0 = ({''.join(f'x{i}, ' for i in range(n))})"]


def _reads(op: Op, n: int) -> str:
    """The line that reads a node's parents into x0, x1, ..."""
    if op.arity in (1, 2):
        return f"    {', '.join(f'x{i}' for i in range(n))} = {', '.join(f'node._p{i}' for i in range(n))}"
    return f"    {''.join(f'x{i}, ' for i in range(n))}= node._p0"


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
        except (ArithmeticError, ValueError) as error:
            name_user_op(op, error, tuple(values))
            raise
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
    steps, step_for = _per_arity(op, _backward_for, _generic_backward(op))

    def backward(node: Value, grad: float) -> None:
        n = len(node._p0)  # a node of an op of any arity keeps its parents as one tuple (see Value.parents)
        (steps.get(n) or step_for(n))(node, grad)

    return backward


def _backward_for(op: Op, n: int) -> Callable[[Value, float], None]:
    partials = _formula(op, "partials", n)
    if partials is None:
        return _generic_backward(op)
    xs = [f"x{i}" for i in range(n)]
    lines = ["def backward(node, grad):", *_loads(op, partials, n)]
    for i, (x, partial) in enumerate(zip(xs, partials)):
        if partial in ("0.0", "-0.0"):  # no gradient flows there (a constant exponent, say)
            continue
        lines.append(f"    if type({x}) is not Constant:")  # constants get no gradient
        if not is_builtin(op):  # a user's formula may give a complex number (x ** 0.5 at x < 0): refused
            lines.append(f"        p = real_partial(op, {i}, {partial})")
            partial = "p"
        if partial == "1.0":
            lines.append(f"        {x}.grad += grad")
        elif partial == "-1.0":
            lines.append(f"        {x}.grad -= grad")
        else:
            lines.append(f"        {x}.grad += grad * {partial}")
    return _compile(lines, op, f"backward{n}")


def _generic_backward(op: Op) -> Callable[[Value, float], None]:
    def backward(node: Value, grad: float) -> None:
        for parent, partial in zip(node.parents, _partials_on_floats(op, node)):
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
    steps, step_for = _per_arity(op, _tangent_for, _generic_tangent(op))

    def tangent(node: Value, tangents: list) -> float:
        return (steps.get(len(node.parents)) or step_for(len(node.parents)))(node, tangents)

    return tangent


def _tangent_for(op: Op, n: int) -> Callable[[Value, list], float]:
    partials = _formula(op, "partials", n)
    if partials is None:
        return _generic_tangent(op)
    ts = [f"t{i}" for i in range(n)]
    lines = ["def tangent(node, tangents):", f"    {''.join(f'{t}, ' for t in ts)}= tangents"]
    lines += _loads(op, partials, n, parents=False)
    lines.append("    total = 0.0")
    for i, (t, partial) in enumerate(zip(ts, partials)):
        if partial in ("0.0", "-0.0"):
            continue
        lines.append(f"    if {t}:")
        if not is_builtin(op):
            lines.append(f"        p = real_partial(op, {i}, {partial})")
            partial = "p"
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
        total = 0.0
        for t, partial in zip(tangents, _partials_on_floats(op, node)):
            if t:
                total += t * partial
        return total

    return tangent


# --- the local derivatives of one node, input by input ---------------------------------------
def local_partials(node: Value, on_values: bool = False) -> tuple:
    """The local derivatives d node / d parent_i of a node with parents (see `make_local_partials`),
    by its op's generated code (made on first use)."""
    op = node._op
    step = op._generated.get(on_values)
    if step is None:
        step = op._generated[on_values] = make_local_partials(op, on_values)
    return step(node)


def make_local_partials(op: Op, on_values: bool = False) -> Callable[[Value], tuple]:
    """d node / d parent_i for each parent of a node made by op: floats (FloatMath), or with
    `on_values` Values built from the same ops (ValueMath, for create_graph). A constant parent's
    partial is 0.0 and is not evaluated: 0 ** b, with a constant 0 and 0 < b < 1, has no
    d/d(base), and the other partials are still there."""
    make_for = _on_values_for if on_values else _on_floats_for
    generic = _generic_local_partials(op, on_values)
    if op.arity is not None:
        return make_for(op, op.arity)
    steps, step_for = _per_arity(op, make_for, generic)

    def local_partials(node: Value) -> tuple:
        return (steps.get(len(node.parents)) or step_for(len(node.parents)))(node)

    return local_partials


def _on_floats_for(op: Op, n: int) -> Callable[[Value], tuple]:
    return _local_partials_for(op, n, on_values=False)


def _on_values_for(op: Op, n: int) -> Callable[[Value], tuple]:
    return _local_partials_for(op, n, on_values=True)


def _local_partials_for(op: Op, n: int, on_values: bool) -> Callable[[Value], tuple]:
    partials = _formula(op, "partials", n)
    if partials is None:
        return _generic_local_partials(op, on_values)
    lines = ["def local_partials(node):", *_loads(op, partials, n, on_values)]
    check = not on_values and not is_builtin(op)
    terms = [
        partial if partial in ("0.0", "-0.0")
        else f"0.0 if type(x{i}) is Constant else {f'real_partial(op, {i}, {partial})' if check else partial}"
        for i, partial in enumerate(partials)
    ]  # fmt: skip
    lines.append(f"    return ({''.join(f'{term}, ' for term in terms)})")
    what = f"local partials{n}{' on Values' if on_values else ''}"
    return _compile(lines, op, what, ValueMath if on_values else FloatMath)


def _generic_local_partials(op: Op, on_values: bool) -> Callable[[Value], tuple]:
    def local_partials(node: Value) -> tuple:
        partials = _partials_on_values(op, node) if on_values else _partials_on_floats(op, node)
        return tuple(0.0 if type(p) is Constant else d for p, d in zip(node.parents, partials))

    return local_partials


def _partials_on_floats(op: Op, node: Value) -> Sequence[float]:
    """op's partials at a node, evaluated on floats by its rule as written (the generic path)."""
    try:
        partials = op.partials(FloatMath, node.data, *[p.data for p in node.parents])
    except MissingMathFunction as error:
        raise _missing(op, "partials", error) from error
    return [real_partial(op, i, p) for i, p in enumerate(checked_partials(op, partials, len(node.parents)))]


def _partials_on_values(op: Op, node: Value) -> Sequence[Value | float]:
    """The same on Values (ValueMath), for create_graph."""
    try:
        partials = op.partials(ValueMath, node, *node.parents)
    except MissingMathFunction as error:
        raise _missing(op, "partials", error) from error
    return checked_partials(op, partials, len(node.parents))


def _loads(op: Op, partials: Any, n: int, on_values: bool = False, parents: bool = True) -> list[str]:
    """The lines that read what the partials' formulas use: the parents (x0, x1, ...; always with
    `parents`), their data (d0, d1, ...), the node's own data (out), and a tuple-valued call bound
    once (partials). On Values, d0, d1, ... and out are the nodes themselves."""
    used = " ".join([*partials, getattr(partials, "src", "")])
    read = [i for i in range(n) if _uses(used, f"d{i}")]
    lines = []
    if read or parents:
        lines.append(_reads(op, n))
    lines += [f"    d{i} = x{i}{'' if on_values else '.data'}" for i in read]
    if _uses(used, "out"):
        lines.append(f"    out = node{'' if on_values else '.data'}")
    if isinstance(partials, _Bound):
        lines.append(f"    partials = {partials.src}")
    return lines


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


def real_partial(op: Op, position: int, partial: Any) -> float:
    """A user's partial on floats as a float; a complex number, a string or None is an error naming the op."""
    if type(partial) is float:
        return partial
    if isinstance(partial, bool) or not isinstance(partial, numbers.Real):  # complex, str, None, numpy's bool
        raise OpDefinitionError(
            f"{op.name}: partials must be real numbers, got {type(partial).__name__} ({partial!r}) "
            f"for input {position + 1}"
        )
    return float(partial)


# --- formulas: a rule evaluated on symbols ---------------------------------------------
class _Bound(list):
    """Partials that a rule returned as one tuple-valued call (softmax): bound to `partials`, then indexed."""

    def __init__(self, call: SymTuple) -> None:
        super().__init__(f"partials[{i}]" for i in range(len(call)))
        self.src = call.src


def _formula(op: Op, role: str, n: int) -> Any:
    """The rule `role` of `op` on n symbolic inputs: the forward's source, or a list of the partials' sources.
    None when the rule is not a formula (it branches on its inputs, or calls what symbols cannot be)."""
    if not is_builtin(op) and reads_variables(op.forward if role == "forward" else op.partials):
        return None  # called each time, so that it reads its variables then
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


def reads_variables(rule: Callable[..., Any]) -> bool:
    """Whether a rule reads a variable outside itself (a global or an enclosing function's), whose value a
    formula would freeze. Modules, functions and classes it reads (math, a helper) are not variables."""
    if getattr(rule, "__code__", None) is None:
        return True  # a callable object: what it reads is unknown
    try:
        outside = inspect.getclosurevars(rule)
    except (TypeError, ValueError):
        return True
    read = {**outside.nonlocals, **outside.globals}
    return any(not (inspect.ismodule(x) or inspect.isroutine(x) or inspect.isclass(x)) for x in read.values())


def _missing(op: Op, role: str, error: MissingMathFunction) -> AttributeError:
    return AttributeError(f"{op.name}: {role}: {error}")


def _uses(text: str, name: str) -> bool:
    return re.search(rf"\b{name}\b", text) is not None


def _compile(lines: list[str], op: Op, what: str, m: Any = FloatMath) -> Callable[..., Any]:
    """Compile generated lines; `m` is the math namespace their m_<name>(...) calls go to."""
    namespace = {
        "Value": Value, "Constant": Constant, "op": op, "lift": lift, "new": object.__new__,
        "grad_mode": grad_mode, "record": record, "MAX_FLOAT": MAX_FLOAT, "checked_node": checked_node, "m": m,
        "name_user_op": name_user_op, "real_partial": real_partial,
        "constants": shared_constants, "constant_of": constant_of,
    }  # fmt: skip
    text = "\n".join(lines)
    preamble = "".join(f"m_{name} = m.{name}\n" for name in sorted(set(re.findall(r"\bm_(\w+)\(", text))))
    exec(compile(preamble + text, f"<autodiff: {op.name} {what}>", "exec"), namespace)
    function = namespace[lines[0].split()[1].split("(")[0]]
    function.source = text  # to read what was generated
    return function


def _accelerate(op: Op, role: str) -> Callable[..., Any]:
    """The fast code of one of op's roles, "apply" (and "apply_reflected"), "backward" or "tangent": an op's
    first use asks for it here."""
    roles = {"apply": make_apply, "apply_reflected": make_reflected_apply, "backward": make_backward,
             "tangent": make_tangent}  # fmt: skip
    return roles[role](op)


Op.accelerator = _accelerate
