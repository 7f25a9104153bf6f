"""Why a gradient is what it is: a node's grad as the sum of one term per edge out of it.

Backward gives each node grad = sum over the edges to its consumers c of
c.grad * d(c)/d(node): the total derivative, summed over every path to the root
(the backprop article in the references). `explain` lists those terms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import specialize
from ..backward import topological_order
from .format import as_float, describe, is_int, number

if TYPE_CHECKING:
    from ..value import Value
    from .modules import NeuronCall

__all__ = ["Term", "Explanation", "explain", "local_partials", "neuron_partials"]


def local_partials(node: Value) -> tuple[float, ...]:
    """d(node)/d(parent) for each parent, in operand order, from the op's rule (0.0 for a constant
    parent, which gets no gradient); nan where the derivative is undefined."""
    if not node.parents:
        return ()
    try:
        partials = specialize.local_partials(node)
    except (ArithmeticError, ValueError):
        return (math.nan,) * len(node.parents)
    return tuple(float(p) for p in partials)


def neuron_partials(call: NeuronCall) -> tuple[float, ...]:
    """d(out)/d(x_i) of a neuron call, through its activation, "+" and dot nodes (the chain rule)."""
    factor = 1.0
    upper = call.out
    for lower in reversed(call.inner[:-1]):  # activation -> "+" -> dot
        partials = local_partials(upper)
        factor *= sum(d for d, p in zip(partials, upper.parents) if p is lower)
        upper = lower
    n = len(call.inputs)
    return tuple(factor * d for d in local_partials(upper)[n:])


@dataclass(frozen=True)
class Term:
    """One edge's share of a node's grad: the consumer's grad times the consumer's local derivative."""

    consumer: Value
    position: int  # which operand of the consumer the node is (0-based)
    upstream: float  # consumer.grad
    partial: float  # d(consumer)/d(operand `position`)

    @property
    def amount(self) -> float:
        return 0.0 if self.upstream == 0.0 else self.upstream * self.partial


@dataclass(frozen=True)
class Explanation:
    """A node's grad broken into one term per edge out of it; printing it shows the sum."""

    node: Value
    root: Value
    terms: tuple[Term, ...]
    digits: int = 6

    @property
    def total(self) -> float:
        """The sum of the terms: what backward() sets the grad of a non-leaf node to."""
        return math.fsum(t.amount for t in self.terms) if self.terms else 1.0

    @property
    def matches(self) -> bool:
        """Whether node.grad equals the sum of the terms (leaf grads also accumulate over backward calls)."""
        grad = as_float(self.node.grad)
        return math.isclose(grad, self.total, rel_tol=1e-9, abs_tol=1e-12)

    def __str__(self) -> str:
        def n(x: float) -> str:
            return number(x, self.digits)

        name, root = describe(self.node, width=30), describe(self.root, width=30)
        grad = as_float(self.node.grad)
        if not self.terms:
            return f"{name} is the root: its grad is {n(grad)}, the seed of backward()"
        edges = "1 edge" if len(self.terms) == 1 else f"{len(self.terms)} edges"
        lines = [f"grad of {name} = {n(grad)} = d({root})/d({name}), the sum over the {edges} out of it:"]
        rows = [("edge into", "upstream grad", "", "local derivative", "", "term")]
        for t in self.terms:
            consumer = describe(t.consumer)
            if len(t.consumer.parents) > 1:
                consumer += f"  (operand {t.position + 1})"
            rows.append((consumer, n(t.upstream), "×", n(t.partial), "=", n(t.amount)))
        rows.append(("sum", "", "", "", "=", n(self.total)))
        widths = [max(len(r[i]) for r in rows) for i in range(6)]
        for r in rows:
            cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:])]
            lines.append(("  " + "  ".join(cells)).rstrip())
        if not self.matches:
            lines.append(
                f"note: {name}.grad is {grad!r}, not the sum {self.total!r}: a leaf's grad accumulates over "
                f"backward() calls (zero it between passes), or backward() ran from another root"
            )
        return "\n".join(lines)

    __repr__ = __str__


def explain(node: Value, root: Value, digits: int = 6) -> Explanation:
    """Break `node.grad` (d root / d node, after `root.backward()`) into one term per edge out of `node`.

    Each term is the consumer's grad times the consumer's local derivative with
    respect to `node`; a node used twice by one op (x * x) has two terms. Their sum is
    node.grad: the total derivative, summed over every path to the root. The terms
    come in the order backward() adds them.

    Args:
        node: the node whose gradient to explain.
        root: the output that `backward()` was called on.
        digits: significant digits in the printed numbers.

    >>> from autodiff import Value
    >>> x1, x2 = Value(2.0, "x1"), Value(5.0, "x2")
    >>> f = x1.log() + x1 * x2 - x2.sin()
    >>> f.backward()
    >>> print(explain(x1, f))
    grad of x1 = 5.5 = d(log(x1) + x1 * x2 - sin(x2))/d(x1), the sum over the 2 edges out of it:
      edge into             upstream grad     local derivative     term
      log(x1)                           1  ×               0.5  =   0.5
      x1 * x2  (operand 1)              1  ×                 5  =     5
      sum                                                       =   5.5
    """
    from ..value import Value

    for arg, name in ((node, "node"), (root, "root")):
        if not isinstance(arg, Value):
            raise TypeError(f"explain: {name} must be a Value, got {type(arg).__name__} ({arg!r})")
    if not is_int(digits) or not 1 <= digits <= 17:
        raise ValueError(f"explain: digits must be an int from 1 to 17, got {digits!r}")
    digits = int(digits)
    order = topological_order(root)
    if node not in set(order):
        raise ValueError(f"explain: {describe(node)!r} is not in the graph of root {describe(root)!r}")
    if as_float(root.grad) == 0.0:
        raise ValueError("explain: root.grad is 0.0, so no gradients were computed: call root.backward() first")
    terms = []
    for consumer in reversed(order):  # the order backward() adds the terms in
        if node not in consumer.parents:
            continue
        partials = local_partials(consumer)
        for position, parent in enumerate(consumer.parents):
            if parent is node:
                terms.append(Term(consumer, position, as_float(consumer.grad), partials[position]))
    return Explanation(node, root, tuple(terms), digits)
