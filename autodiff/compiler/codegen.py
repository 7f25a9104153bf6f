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

from ..namespace import FUNCTIONS, MissingMathFunction
from ..ops import Op, OpDefinitionError
from ..specialize import checked_partials
from ..symbolic import SourceMath, Sym, SymTuple, source
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
        assigned = _backward_lines(program, body)
        input_grads = "".join(f"g{k}, " if k in assigned else "0.0, " for k in program.inputs)
        param_grads = "".join(f"g{k}, " if k in assigned else "0.0, " for k in program.params)
        returned = dict.fromkeys(k for k in (*program.inputs, *program.params) if k in assigned)
        checked += [f"g{k}" for k in returned]
        body.append(f"return s{program.output}, ({aux}), ({input_grads}), ({param_grads}), {_total(checked)}")

    used = sorted(name for name in FUNCTIONS if f"m_{name}(" in "\n".join(body))
    preamble = [f"m_{name} = m.{name}" for name in used]
    return "\n".join(
        ["def make(m):", *(f"    {line}" for line in preamble), "    def run(x, p, c):"]
        + [f"        {line}" for line in body]
        + ["    return run", ""]
    )


def _forward_source(op: Op, k: int, parents: tuple[int, ...]) -> str:
    """Slot k's value: the op's forward formula, or a call of its rule where it is not a formula."""
    try:
        return source(op.forward(SourceMath, *(Sym(f"s{j}") for j in parents)))
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


def _backward_lines(program: Program, body: list[str]) -> set[int]:
    """Append the reverse pass to `body`, in the eager engine's order; return the slots with a gradient."""
    differentiable = set(k for k in (*program.inputs, *program.params) if k is not None)
    for k, (op, parents) in enumerate(zip(program.ops, program.parents)):
        if op is not None and any(j in differentiable for j in parents):
            differentiable.add(k)
    out = program.output
    assigned = {out}
    body.append(f"g{out} = 1.0")
    for k in range(len(program.ops) - 1, -1, -1):
        op, parents = program.ops[k], program.parents[k]
        if op is None or k not in assigned or k not in differentiable:
            continue
        for j, partial in zip(parents, _partials(op, k, parents, body)):
            if j not in differentiable or (type(partial) is float and partial == 0.0):
                continue
            if type(partial) is float and partial in (1.0, -1.0):
                term = f"g{k}" if partial == 1.0 else f"-g{k}"
            else:
                term = f"g{k} * {source(partial)}"
            body.append(f"g{j} = g{j} + {term}" if j in assigned else f"g{j} = {term}")
            assigned.add(j)
    return assigned
