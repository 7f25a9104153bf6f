"""Second derivatives equal PyTorch's (float64): every primitive at its ordinary points and at its edges.

Each case of tests/higher_order_cases.py is recorded as our graph, then that graph is replayed
op by op in PyTorch, so both engines differentiate the same program. Our gradient comes from
backward(create_graph=True) and our Hessian from a backward pass through each gradient; PyTorch's
from torch.autograd.grad with create_graph=True. At kinks, ties and jumps the two agree by
convention (autodiff/ops.py follows PyTorch's). Skipped when torch is not installed.
"""

import math

import pytest
from higher_order_cases import CASES

import autodiff
from autodiff import Value, ops

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")
F = pytest.importorskip("torch.nn.functional")


def _stack(xs):
    return torch.stack(list(xs))


def _clamp(x, lo, hi):
    return torch.clamp(x, lo, hi)


# Each primitive's PyTorch twin, applied to the tensors of its parents (constants are tensors without a gradient).
TWINS = {
    **{op: getattr(torch, op.name) for op in ops.NAMED if op.arity == 1 and hasattr(torch, op.name)},  # exp, ...
    ops.ADD: lambda a, b: a + b,
    ops.SUB: lambda a, b: a - b,
    ops.MUL: lambda a, b: a * b,
    ops.DIV: lambda a, b: a / b,
    ops.NEG: lambda a: -a,
    ops.POW_CONST: lambda x, c: torch.pow(x, c.item()),  # a number exponent, as x ** c is in PyTorch
    ops.POW: lambda a, b: torch.pow(a, b),
    ops.SOFTPLUS: F.softplus, ops.ATAN2: torch.atan2, ops.REMAINDER: torch.remainder,
    ops.LEAKY_RELU: lambda x, slope: F.leaky_relu(x, slope.item()),
    ops.ABS: torch.abs, ops.MAX: torch.maximum, ops.MIN: torch.minimum, ops.CLAMP: _clamp,
    ops.SUM: lambda *xs: _stack(xs).sum(),
    ops.LOGSUMEXP: lambda *xs: torch.logsumexp(_stack(xs), 0),
    ops.DOT: lambda *wx: torch.dot(_stack(wx[: len(wx) // 2]), _stack(wx[len(wx) // 2 :])),
}  # fmt: skip


def replayed_in_torch(f, point):
    """PyTorch's gradient and Hessian of f at point, replaying the graph f records on Values."""
    leaves = [Value(x) for x in point]
    order = autodiff.topological_order(f(*leaves))
    inputs = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in point]
    tensors = dict(zip(leaves, inputs))
    for node in order:
        if node not in tensors:
            if node.primitive is None:  # a constant
                tensors[node] = torch.tensor(node.data, dtype=torch.float64)
            else:
                tensors[node] = TWINS[node.primitive](*[tensors[p] for p in node.parents])
    out = tensors[order[-1]]
    gradient = torch.autograd.grad(out, inputs, create_graph=True, allow_unused=True)
    rows = []
    for g in gradient:
        if g is None or not g.requires_grad:  # a constant gradient: its row is 0
            rows.append([0.0] * len(inputs))
            continue
        row = torch.autograd.grad(g, inputs, retain_graph=True, allow_unused=True)
        rows.append([0.0 if d is None else d.item() for d in row])
    return [0.0 if g is None else g.item() for g in gradient], rows


def ours(f, point):
    xs = [Value(x) for x in point]
    f(*xs).backward(create_graph=True)
    gradient = [x.grad for x in xs]
    rows = []
    for g in gradient:
        for x in xs:
            x.grad = 0.0
        g.backward()
        rows.append([x.grad for x in xs])
    return [g.data for g in gradient], rows


def assert_close(a, b):
    assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12), (a, b)


# Where PyTorch's second derivatives of a ** b are not the math's, by its choice of d/da = 0 wherever b == 0
# and d/db = 0 wherever a == 0 (which are right in themselves): the derivatives of those zeros are 0 or nan
# in PyTorch, where ours match central differences (test_higher_order_properties.py) or the closed form.
HESSIAN_NOT_COMPARED = {
    ("value power", (2.0, 0.0)): "d2/da db = a ** (b - 1) = 0.5 at b = 0; PyTorch: 0",
    ("value power", (0.0, 2.0)): "d2/da2 = b (b - 1) a ** (b - 2) = 2 at a = 0; PyTorch: nan",
    ("value power", (0.0, 3.5)): "PyTorch: nan",
    ("zero power", (1.5,)): "0 ** b is 0 for every b > 0, so its derivatives are 0; PyTorch: nan",
    ("zero power", (2.0,)): "as above",
}

POINTS = [(name, point) for name, (_, smooth, special) in CASES.items() for point in smooth + special]


@pytest.mark.parametrize("case", POINTS, ids=[f"{name} at {', '.join(map(repr, p))}" for name, p in POINTS])
def test_gradients_and_hessians_equal_pytorchs(case):
    name, point = case
    f = CASES[name][0]
    for g in (f, lambda *xs: f(*xs).sin()):
        gradient, rows = ours(g, point)
        their_gradient, their_rows = replayed_in_torch(g, point)
        for d, their_d in zip(gradient, their_gradient):
            assert_close(d, their_d)
        if (name, point) in HESSIAN_NOT_COMPARED:
            continue
        for row, their_row in zip(rows, their_rows):
            for h, their_h in zip(row, their_row):
                assert_close(h, their_h)
