"""Straight-line Python source from a Program, derived from the op rules themselves.

Each op's `forward` and `partials` (autodiff/ops.py) are evaluated once on
symbols instead of numbers (`SourceMath`), which turns them into expressions over
slot names: `MUL.partials` on symbols gives `(s4, s3)`, `TANH.partials` gives
`(1.0 - s7 * s7)`. There is no second copy of the math. The source mentions only
slot names (s3 values, g3 gradients), the math namespace's function names and the
numeric literals of the rules; the user's constants are read from a list.

The same source runs on floats (with `FloatMath`) and on numpy arrays holding a
batch of examples (with `NumpyMath`).
"""

from __future__ import annotations

from typing import Any

from ..backward import ONE, ZERO, chain_rule
from ..namespace import FUNCTIONS, MissingMathFunction
from ..ops import Op, OpDefinitionError
from ..specialize import checked_partials
from ..symbolic import SourceMath, Sym, SymTuple, source, unwrapped
from .trace import Program

__all__ = ["Sym", "SourceMath", "generate"]  # Sym and SourceMath live in autodiff.symbolic


def generate(program: Program, with_grad: bool) -> str:
    """Source of `make(m)`, which returns `run(x, p, c)`; it reads the program's ops as `ops`.

    `run` returns (output, aux values, total), or with `with_grad` (output, aux values,
    input gradients, parameter gradients, total), each gradient 0.0 where there is
    no path. `total` is the sum of every value computed (and of the gradients
    returned): it is finite only if each of them is, so one `isfinite(total)` tells
    the caller that no intermediate overflowed and came back finite (1 / inf is 0.0,
    tanh(inf) is 1.0). A sum of finite numbers can also overflow: a false alarm,
    which costs the caller a replay in the eager engine.
    """
    lines = []
    for k, (op, parents) in enumerate(zip(program.ops, program.parents)):
        if op is not None:
            lines.append(f"s{k} = {_forward_source(op, k, parents)}")
    loads = [f"s{k} = x[{i}]" for i, k in enumerate(program.inputs) if k is not None]
    loads += [f"s{k} = p[{j}]" for j, k in enumerate(program.params) if k is not None]
    loads += [f"s{k} = c[{j}]" for j, (k, _) in enumerate(program.constants)]
    body = loads + lines
    aux = "".join(f"s{k}, " for k in program.aux)
    computed = [k for k, op in enumerate(program.ops) if op is not None]
    checked = [f"s{k}" for k in dict.fromkeys([*computed, program.output, *program.aux])]
    if not with_grad:
        body.append(f"return s{program.output}, ({aux}), {_total(checked)}")
    else:
        grads = _backward_lines(program, body)
        input_grads = "".join(f"{grads.get(k, '0.0')}, " for k in program.inputs)
        param_grads = "".join(f"{grads.get(k, '0.0')}, " for k in program.params)
        checked += dict.fromkeys(grads[k] for k in (*program.inputs, *program.params) if k in grads)
        body.append(f"return s{program.output}, ({aux}), ({input_grads}), ({param_grads}), {_total(checked)}")

    text = "\n".join(body)
    used = sorted(name for name in FUNCTIONS if f"m_{name}(" in text)
    preamble = [f"m_{name} = m.{name}" for name in used]
    return "\n".join(
        ["def make(m):", *(f"    {line}" for line in preamble), "    def run(x, p, c):"]
        + [f"        {line}" for line in body]
        + ["    return run", ""]
    )


def _forward_source(op: Op, k: int, parents: tuple[int, ...]) -> str:
    """Slot k's value: the op's forward formula, or a call of its rule where it is not a formula."""
    try:
        return unwrapped(source(op.forward(SourceMath, *(Sym(f"s{j}") for j in parents))))
    except MissingMathFunction:
        raise
    except (TypeError, ArithmeticError, ValueError):  # the rule branches on its inputs, say
        return f"ops[{k}].forward(m, {''.join(f's{j}, ' for j in parents)})"


def _partials(op: Op, k: int, parents: tuple[int, ...], body: list[str]) -> list[Any]:
    """Slot k's partials as symbols (or 0.0, 1.0, -1.0); a tuple-valued call is bound to t{k} first."""
    try:
        partials = op.partials(SourceMath, Sym(f"s{k}"), *(Sym(f"s{j}") for j in parents))
        if isinstance(partials, SymTuple):  # one call gives every partial (softmax): bind it once
            body.append(f"t{k} = {partials.src}")
        else:
            return list(checked_partials(op, partials, len(parents)))
    except (MissingMathFunction, OpDefinitionError):
        raise
    except (TypeError, ArithmeticError, ValueError):  # not a formula: call the rule
        body.append(f"t{k} = ops[{k}].partials(m, s{k}, {''.join(f's{j}, ' for j in parents)})")
    return [Sym(f"t{k}[{i}]") for i in range(len(parents))]


def _total(names: list[str]) -> str:
    return "m_sum((" + "".join(f"{name}, " for name in names) + "))"


def _backward_lines(program: Program, body: list[str]) -> dict[int, str]:
    """Append the reverse pass to `body`: the engine's own loop, `chain_rule`, run on the program's slots, each
    `+=` it makes written as a line of source (`g3 = g3 + (g5 * s2)`). Return the name of each slot's
    gradient, for the slots that have one."""
    differentiable = set(k for k in (*program.inputs, *program.params) if k is not None)
    for k, (op, parents) in enumerate(zip(program.ops, program.parents)):
        if op is not None and any(j in differentiable for j in parents):
            differentiable.add(k)
    slots = [_Slot(k, k not in differentiable, body) for k in range(len(program.ops))]
    for slot, parents in zip(slots, program.parents):
        slot.parents = tuple(slots[j] for j in parents)
    out = program.output
    slots[out].grad = Sym("1.0")  # written as g{out} = 1.0
    interior = [slot for slot, op in zip(slots, program.ops) if op is not None]

    def partials(slot: _Slot) -> list[Any]:
        k = slot.k
        return [_factor(p) for p in _partials(program.ops[k], k, program.parents[k], body)]

    chain_rule(interior, partials)
    return {slot.k: slot.grad.src for slot in slots if slot.grad is not ZERO}


class _Slot:
    """A slot of the program in the reverse pass run on symbols: its grad is ZERO until a path reaches it,
    then the name g{k}; each value the loop sets is written as `g{k} = ...`. A gradient that is another
    slot's gradient unchanged (the path through a sum, `partial` 1) is that slot's name, with no line:
    the loop has finished that slot, so its name holds its final gradient."""

    __slots__ = ("k", "parents", "is_constant", "_grad", "_body")

    def __init__(self, k: int, is_constant: bool, body: list[str]) -> None:
        self.k, self.is_constant, self._body = k, is_constant, body  # a slot no input reaches: no gradient
        self.parents: tuple[_Slot, ...] = ()
        self._grad: Any = ZERO

    @property
    def grad(self) -> Any:
        return self._grad

    @grad.setter
    def grad(self, value: Any) -> None:
        name = f"g{self.k}"
        if value is ZERO or (isinstance(value, Sym) and value.src == name):  # nothing added (a zero partial)
            return
        if isinstance(value, Sym) and value.src.isidentifier():  # another slot's final gradient: no copy
            self._grad = value
            return
        self._body.append(f"{name} = {unwrapped(source(value))}")
        self._grad = Sym(name)


def _factor(partial: Any) -> Any:
    """A partial as the loop multiplies it: 0 and 1 as the identities, so that no `* 0.0` or `* 1.0` is written."""
    if type(partial) is float and partial in (0.0, 1.0):
        return ZERO if partial == 0.0 else ONE
    return partial
