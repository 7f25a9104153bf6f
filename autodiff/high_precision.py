"""Derivatives of a recorded graph at 50 significant digits, by numbers alone: no derivative rule is read.

A function of Values records a graph; `Recording` replays that graph's ops with their
forward rules on 50-digit mpmath numbers (`autodiff.precise.MpmathMath`) and differentiates
it by central differences. Nothing here reads an op's `partials`, so the numbers are an
independent check of them, of the chain rule and of its accumulation.

Two derivatives come out, both at 50 digits:

- `gradient()` / `hessian()`: the derivatives of the function itself at the (float) point,
  by differences of the whole replayed graph: what a perfect engine would return.
- `along_float_path()`: the chain rule taken exactly along the float values the engine
  computed: each op is differentiated numerically at its float inputs, and these local
  derivatives are chained in forward mode (a different algorithm from the engine's reverse
  mode). It also gives the size of the sum the chain rule adds up, sum over paths of the
  products of |local derivatives|, which is what float rounding is relative to.

The engine's float gradient can differ from the true one by rounding in its chain rule
(relative to that size) and because its forward values are rounded: sin of a rounded 1e6 is
off by 1e-10. The difference between the two derivatives above measures the second, so a
check can tell a wrong rule from an ill-conditioned point.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .backward import topological_order
from .grad_mode import watching_data_reads
from .precise import CONTEXT, DIGITS, MpmathMath, mpf
from .value import Value

__all__ = ["Recording", "FloatPath", "record", "BAKING_READS"]

FIRST_STEP = mpf("1e-20")  # relative steps: truncation ~ step**2, rounding ~ 1e-50 / step
SECOND_DIGITS = 100  # second differences are taken at 100 digits, with steps of 1e-30: rounding ~ 1e-100 / step**2
SECOND_STEP = mpf("1e-30")
FLOAT_EPS = mpf(2) ** -52
REPLAY_EPS = mpf(10) ** -DIGITS  # each 50-digit result is rounded to within this, relatively
SECOND_EPS = mpf(10) ** -SECOND_DIGITS
BAKING_READS = ("detach()", "float()", "format()", "no_grad()")  # reads that turn a Value into a constant


def record(fn: Callable[..., Any], point: Sequence[float]) -> Recording:
    """Run fn on fresh leaves at `point`; the graph it returns, and the data reads it made."""
    leaves = [Value(x) for x in point]
    reads: list[str] = []
    with watching_data_reads(reads.append):
        out = fn(*leaves)
    if not isinstance(out, Value):
        out = Value(float(out))
    return Recording(out, leaves, tuple(reads))


@dataclass(frozen=True)
class FloatPath:
    """Derivatives along the engine's float values, at 50 digits (lists indexed by input)."""

    gradient: list[Any]
    size: list[Any]  # sum over paths of the product of |local derivatives|
    hessian: list[list[Any]] | None
    hessian_size: list[list[Any]] | None
    value_error: Any  # first-order bound on the float forward value's rounding error
    replay_error: Any  # the same bound for one 50-digit replay: what limits the differences' resolution


class Recording:
    """A graph recorded at a point, replayed at 50 digits.

    Leaves other than `leaves` (Values the function captured) and constants keep their values.
    """

    def __init__(self, out: Value, leaves: Sequence[Value], reads: tuple[str, ...] = ()) -> None:
        self.out = out
        self.leaves = list(leaves)
        self.reads = reads
        self.order = topological_order(out)
        self.point = [mpf(leaf.data) for leaf in self.leaves]

    def baking_reads(self) -> list[str]:
        """The data reads that made a constant of a Value (detach(), float(), ...), which a replay keeps fixed."""
        return [r for r in self.reads if r.startswith(BAKING_READS)]

    def value_at(self, inputs: Sequence[Any]) -> Any:
        """The output at `inputs` (one number per leaf), every op evaluated on 50-digit numbers."""
        values: dict[Value, Any] = dict(zip(self.leaves, map(mpf, inputs)))
        for node in self.order:
            if node not in values:
                op = node.primitive
                values[node] = mpf(node.data) if op is None else _forward(op, [values[p] for p in node.parents])
        return values[self.out]

    def gradient(self) -> list[Any]:
        """d out / d leaf_i at the point: central differences of the replay with a step of 1e-20 (relative)."""
        return [self._difference(i) for i in range(len(self.leaves))]

    def _difference(self, i: int) -> Any:
        step = FIRST_STEP * max(1, abs(self.point[i]))
        above, below = list(self.point), list(self.point)
        above[i] += step
        below[i] -= step
        return (self.value_at(above) - self.value_at(below)) / (above[i] - below[i])

    def hessian(self) -> list[list[Any]]:
        """Second derivatives at the point, by second differences at 100 digits with a step of 1e-30 (relative)."""
        with CONTEXT.workdps(SECOND_DIGITS):  # our own context: mpmath's global precision is untouched
            return self._second_differences()

    def _second_differences(self) -> list[list[Any]]:
        n = len(self.leaves)
        steps = [SECOND_STEP * max(1, abs(x)) for x in self.point]

        def at(shifts: dict[int, int]) -> Any:
            return self.value_at([x + shifts.get(i, 0) * steps[i] for i, x in enumerate(self.point)])

        center = at({})
        rows = [[mpf(0)] * n for _ in range(n)]
        for i in range(n):
            rows[i][i] = (at({i: 1}) - 2 * center + at({i: -1})) / steps[i] ** 2
            for j in range(i):
                mixed = at({i: 1, j: 1}) - at({i: 1, j: -1}) - at({i: -1, j: 1}) + at({i: -1, j: -1})
                rows[i][j] = rows[j][i] = mixed / (4 * steps[i] * steps[j])
        return rows

    def along_float_path(self, second_order: bool = False) -> FloatPath:
        """The chain rule at 50 digits along the engine's float values, in forward mode (see the module)."""
        n = len(self.leaves)
        zero = [mpf(0)] * n
        zeros = [list(zero) for _ in range(n)]
        index = {leaf: i for i, leaf in enumerate(self.leaves)}
        tangent: dict[Value, list[Any]] = {}
        size: dict[Value, list[Any]] = {}
        curvature: dict[Value, list[list[Any]]] = {}
        curvature_size: dict[Value, list[list[Any]]] = {}
        locals_: dict[Value, tuple[list[Any], list[list[Any]] | None]] = {}
        for node in self.order:
            if node in index:
                unit = [mpf(int(k == index[node])) for k in range(n)]
                tangent[node], size[node] = unit, list(unit)
                curvature[node], curvature_size[node] = zeros, zeros
                continue
            if node.primitive is None:
                tangent[node], size[node], curvature[node], curvature_size[node] = zero, zero, zeros, zeros
                continue
            moving = [not node_is_fixed(p) for p in node.parents]
            first, second = _local_derivatives(node, moving, second_order)
            locals_[node] = (first, second)
            tangent[node], size[node] = _chain_first(node.parents, first, tangent, size, n)
            if second_order:
                curvature[node], curvature_size[node] = _chain_second(
                    node.parents, first, second, tangent, size, curvature, curvature_size, n
                )
        out = self.out
        return FloatPath(
            gradient=tangent[out],
            size=size[out],
            hessian=curvature[out] if second_order else None,
            hessian_size=curvature_size[out] if second_order else None,
            value_error=4 * FLOAT_EPS * self._rounding_sum(locals_),
            replay_error=4 * REPLAY_EPS * self._rounding_sum(locals_),
        )

    def _rounding_sum(self, locals_: dict[Value, tuple[list[Any], Any]]) -> Any:
        """sum_k |d out / d node_k| |node_k| over the ops: times a unit of rounding, how far rounding
        each op's result moves the output (to first order)."""
        adjoint: dict[Value, Any] = {self.out: mpf(1)}
        for node in reversed(self.order):
            if node not in locals_:
                continue
            for parent, partial in zip(node.parents, locals_[node][0]):
                if partial is not None:
                    adjoint[parent] = adjoint.get(parent, 0) + partial * adjoint.get(node, 0)
        return CONTEXT.fsum(abs(adjoint.get(node, 0)) * abs(node.data) for node in locals_)

    def gradient_error(self, path: FloatPath) -> list[Any]:
        """How far the 50-digit rounding of the replays can move each `gradient()` entry: its resolution."""
        return [2 * path.replay_error / (FIRST_STEP * max(1, abs(x))) for x in self.point]

    def hessian_error(self, path: FloatPath) -> list[list[Any]]:
        """The resolution of each `hessian()` entry."""
        steps = [SECOND_STEP * max(1, abs(x)) for x in self.point]
        return [[4 * path.replay_error * SECOND_EPS / REPLAY_EPS / (a * b) for b in steps] for a in steps]


def node_is_fixed(node: Value) -> bool:
    """A constant: its local derivative is never needed (and may not exist: x ** c at c +- h for x < 0)."""
    return node.is_constant


def _forward(op: Any, inputs: list[Any]) -> Any:
    result = op.forward(MpmathMath, *inputs)
    if not isinstance(result, CONTEXT.mpf):
        result = mpf(result)  # a rule may return a Python float (max(x, 0.0) at x < 0); a complex is refused
    return result


def _local_derivatives(node: Value, moving: list[bool], second_order: bool) -> tuple[list[Any], Any]:
    """d node / d input_a (and d2 / d input_a d input_b) at the node's float inputs, by differences of its
    forward rule at 50 digits; None for the inputs that are constants."""
    op = node.primitive
    u = [mpf(p.data) for p in node.parents]

    def at(shifts: dict[int, Any]) -> Any:
        return _forward(op, [x + shifts.get(a, 0) for a, x in enumerate(u)])

    first: list[Any] = []
    for a, x in enumerate(u):
        if not moving[a]:
            first.append(None)
            continue
        h = FIRST_STEP * max(1, abs(x))
        first.append((at({a: h}) - at({a: -h})) / (2 * h))
    if not second_order:
        return first, None
    with CONTEXT.workdps(SECOND_DIGITS):
        return first, _local_second_derivatives(at, u, moving)


def _local_second_derivatives(at: Callable[[dict[int, Any]], Any], u: list[Any], moving: list[bool]) -> list[list[Any]]:
    steps = [SECOND_STEP * max(1, abs(x)) for x in u]
    center = at({})
    second = [[None] * len(u) for _ in u]
    for a in range(len(u)):
        if not moving[a]:
            continue
        h = steps[a]
        second[a][a] = (at({a: h}) - 2 * center + at({a: -h})) / h**2
        for b in range(a):
            if moving[b]:
                k = steps[b]
                mixed = at({a: h, b: k}) - at({a: h, b: -k}) - at({a: -h, b: k}) + at({a: -h, b: -k})
                second[a][b] = second[b][a] = mixed / (4 * h * k)
    return second


def _chain_first(parents, first, tangent, size, n):
    g, s = [mpf(0)] * n, [mpf(0)] * n
    for parent, partial in zip(parents, first):
        if partial is None:
            continue
        tp, sp = tangent[parent], size[parent]
        for k in range(n):
            g[k] += partial * tp[k]
            s[k] += abs(partial) * sp[k]
    return g, s


def _chain_second(parents, first, second, tangent, size, curvature, curvature_size, n):
    """H = sum_a phi_a H_a + sum_ab phi_ab g_a g_b^T, and the same with every term's absolute value."""
    h = [[mpf(0)] * n for _ in range(n)]
    s = [[mpf(0)] * n for _ in range(n)]
    for a, parent in enumerate(parents):
        if first[a] is None:
            continue
        ha, sa = curvature[parent], curvature_size[parent]
        for i in range(n):
            for j in range(n):
                h[i][j] += first[a] * ha[i][j]
                s[i][j] += abs(first[a]) * sa[i][j]
        for b, other in enumerate(parents):
            phi = second[a][b]
            if phi is None:
                continue
            ga, gb, za, zb = tangent[parent], tangent[other], size[parent], size[other]
            for i in range(n):
                for j in range(n):
                    h[i][j] += phi * ga[i] * gb[j]
                    s[i][j] += abs(phi) * za[i] * zb[j]
    return h, s
