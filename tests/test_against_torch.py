"""Values and gradients equal PyTorch's (float64) to 1e-12, on random DAGs and at kinks.

Skipped when torch is not installed; `.ci/run` installs it where a CPU wheel is at hand.
"""

import math

import pytest
from hypothesis import given

from autodiff import Value
from autodiff.testing import Expression, expressions

torch = pytest.importorskip("torch")
F = pytest.importorskip("torch.nn.functional")

TORCH_OPS = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "neg": lambda a: -a,
    "abs": lambda a: a.abs(),
    "**2": lambda a: a**2,
    "**3": lambda a: a**3,
    "**-1": lambda a: a**-1,
    "**0.5": lambda a: a**0.5,
    "**": lambda a, b: a**b,
    "2**": lambda a: 2**a,
    "exp": lambda a: a.exp(),
    "log": lambda a: a.log(),
    "sqrt": lambda a: a.sqrt(),
    "sin": lambda a: a.sin(),
    "cos": lambda a: a.cos(),
    "tanh": lambda a: a.tanh(),
    "sigmoid": lambda a: a.sigmoid(),
    "softplus": lambda a: F.softplus(a),
    "relu": lambda a: a.relu(),
    "leaky_relu": lambda a: F.leaky_relu(a, 0.1),
    "max": lambda a, b: torch.maximum(a, b),
    "min": lambda a, b: torch.minimum(a, b),
    "tan": lambda a: a.tan(),
    "asin": lambda a: a.asin(),
    "acos": lambda a: a.acos(),
    "atan": lambda a: a.atan(),
    "atan2": lambda a, b: torch.atan2(a, b),
    "sinh": lambda a: a.sinh(),
    "cosh": lambda a: a.cosh(),
    "log1p": lambda a: a.log1p(),
    "expm1": lambda a: a.expm1(),
    "log2": lambda a: a.log2(),
    "log10": lambda a: a.log10(),
    "floor": lambda a: a.floor(),
    "ceil": lambda a: a.ceil(),
    "%": lambda a, b: torch.remainder(a, b),
    "clamp": lambda x, lo, hi: torch.clamp(x, lo, hi),
    "sum": lambda *xs: torch.stack(xs).sum(),
    "logsumexp": lambda *xs: torch.logsumexp(torch.stack(xs), 0),
    "dot": lambda w1, w2, x1, x2: torch.dot(torch.stack([w1, w2]), torch.stack([x1, x2])),
}


def torch_value_and_grad(expr: Expression, point):
    xs = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in point]
    slots = list(xs)
    for op, operands in expr.steps:
        slots.append(TORCH_OPS[op](*(slots[i] for i in operands)))
    out = slots[-1]
    out.backward()
    return out.item(), [0.0 if x.grad is None else x.grad.item() for x in xs]


def assert_close(ours, theirs):
    assert math.isclose(ours, theirs, rel_tol=1e-12, abs_tol=1e-12), (ours, theirs)


@given(expressions(max_inputs=3, max_ops=15))
def test_random_dags_match_pytorch_to_1e_12(expr):
    xs = [Value(x) for x in expr.point]
    out = expr(*xs)
    out.backward()
    value, grads = torch_value_and_grad(expr, expr.point)
    assert_close(out.data, value)
    for x, g in zip(xs, grads):
        assert_close(x.grad, g)


@pytest.mark.parametrize("op", ["abs", "relu", "leaky_relu", "max", "min"])
def test_subgradients_at_kinks_match_pytorch(op):
    arity = 2 if op in ("max", "min") else 1
    expr = Expression(arity, ((op, tuple(range(arity))),), (0.0,) * arity)
    xs = [Value(0.0) for _ in range(arity)]
    expr(*xs).backward()
    _, grads = torch_value_and_grad(expr, expr.point)
    assert [x.grad for x in xs] == grads


def test_second_derivatives_match_pytorch():
    x = Value(0.7)
    (x.tanh() * x.sin()).backward(create_graph=True)
    first = x.grad
    x.grad = 0.0
    first.backward()
    t = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(t.tanh() * t.sin(), t, create_graph=True)
    (h,) = torch.autograd.grad(g, t)
    assert_close(first.data, g.item())
    assert_close(x.grad, h.item())
