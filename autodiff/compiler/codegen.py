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

from .trace import Program

__all__ = ["Sym", "SourceMath", "generate"]

INLINE_LIMIT = 64  # longer sums and dots become a call, to keep expressions shallow


class Sym:
    """A symbolic value: the source text of an expression."""

    __slots__ = ("src",)

    def __init__(self, src: str) -> None:
        self.src = src

    def __add__(self, other: Any) -> Sym:
        return Sym(f"({self.src} + {source(other)})")

    def __radd__(self, other: Any) -> Sym:
        return Sym(f"({source(other)} + {self.src})")

    def __sub__(self, other: Any) -> Sym:
        return Sym(f"({self.src} - {source(other)})")

    def __rsub__(self, other: Any) -> Sym:
        return Sym(f"({source(other)} - {self.src})")

    def __mul__(self, other: Any) -> Sym:
        return Sym(f"({self.src} * {source(other)})")

    def __rmul__(self, other: Any) -> Sym:
        return Sym(f"({source(other)} * {self.src})")

    def __truediv__(self, other: Any) -> Sym:
        return Sym(f"({self.src} / {source(other)})")

    def __rtruediv__(self, other: Any) -> Sym:
        return Sym(f"({source(other)} / {self.src})")

    def __pow__(self, other: Any) -> Sym:
        return Sym(f"({self.src} ** {source(other)})")

    def __rpow__(self, other: Any) -> Sym:
        return Sym(f"({source(other)} ** {self.src})")

    def __neg__(self) -> Sym:
        return Sym(f"(-{self.src})")

    def __abs__(self) -> Sym:
        return Sym(f"abs({self.src})")


def source(x: Any) -> str:
    """Source text of a symbol, a float literal from a rule, or a tuple of them."""
    if isinstance(x, Sym):
        return x.src
    if isinstance(x, tuple):
        return "(" + "".join(f"{source(item)}, " for item in x) + ")"
    if type(x) is float or type(x) is int:
        return repr(float(x))
    raise TypeError(f"codegen: cannot write {type(x).__name__} into source")


def _call(name: str):
    def function(*args: Any) -> Sym:
        return Sym(f"m_{name}({', '.join(source(a) for a in args)})")

    function.__name__ = name
    return staticmethod(function)


class SourceMath:
    """The math namespace on symbols: each function call becomes source text."""

    exp = _call("exp")
    log = _call("log")
    sqrt = _call("sqrt")
    tanh = _call("tanh")
    sigmoid = _call("sigmoid")
    softplus = _call("softplus")
    logsumexp = _call("logsumexp")
    sin = _call("sin")
    cos = _call("cos")
    div = _call("div")
    pow = _call("pow")
    pow_variable_exponent = _call("pow_variable_exponent")
    power_rule = _call("power_rule")
    step = _call("step")
    sign = _call("sign")
    max = _call("max")
    min = _call("min")

    @staticmethod
    def sum(xs: tuple) -> Sym:
        if len(xs) > INLINE_LIMIT:
            return Sym(f"m_sum({source(tuple(xs))})")
        return Sym("(" + " + ".join(source(x) for x in xs) + ")")

    @staticmethod
    def dot(ws: tuple, xs: tuple) -> Sym:
        if len(ws) > INLINE_LIMIT:
            return Sym(f"m_dot({source(tuple(ws))}, {source(tuple(xs))})")
        return Sym("(" + " + ".join(f"{source(w)} * {source(x)}" for w, x in zip(ws, xs)) + ")")

    @staticmethod
    def constant(c: Sym) -> Sym:
        return c


FUNCTIONS = [name for name in vars(SourceMath) if not name.startswith("_") and name != "constant"]


def generate(program: Program, with_grad: bool) -> str:
    """Source of `make(m)`, which returns `run(x, p, c)`.

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
            value = op.forward(SourceMath, *(Sym(f"s{j}") for j in parents))
            lines.append(f"s{k} = {source(value)}")
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
        partials = op.partials(SourceMath, Sym(f"s{k}"), *(Sym(f"s{j}") for j in parents))
        for j, partial in zip(parents, partials):
            if j not in differentiable or (type(partial) is float and partial == 0.0):
                continue
            if type(partial) is float and partial in (1.0, -1.0):
                term = f"g{k}" if partial == 1.0 else f"-g{k}"
            else:
                term = f"g{k} * {source(partial)}"
            body.append(f"g{j} = g{j} + {term}" if j in assigned else f"g{j} = {term}")
            assigned.add(j)
    return assigned
