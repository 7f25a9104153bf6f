"""Values and gradients equal PyTorch's (float64) to 1e-12, on random DAGs and at kinks.

Skipped when torch is not installed; `.ci/run` installs it where a CPU wheel is at hand.
"""

import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import autodiff
from autodiff import Value
from autodiff.testing import OPS, Expression, expressions

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")
F = pytest.importorskip("torch.nn.functional")

# Each op of autodiff.testing.OPS as PyTorch writes it: the operators and the ops PyTorch names otherwise here,
# every other function of the op table by its own name (torch.exp, torch.expm1, ...: a new op needs no line).
TORCH_OPS = {
    **{name: getattr(torch, name) for name in autodiff.functions.UNARY if hasattr(torch, name)},
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
    "softplus": lambda a: F.softplus(a),
    "leaky_relu": lambda a: F.leaky_relu(a, 0.1),
    "max": lambda a, b: torch.maximum(a, b),
    "min": lambda a, b: torch.minimum(a, b),
    "atan2": lambda a, b: torch.atan2(a, b),
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


# --- forward mode, Jacobians and Hessians -------------------------------------------------
def torch_program(expr: Expression, every_result: bool = False):
    """The expression as a function of scalar tensors (the last result, or every result as a tuple)."""

    def run(*xs):
        slots = list(xs)
        for op, operands in expr.steps:
            slots.append(TORCH_OPS[op](*(slots[i] for i in operands)))
        return tuple(slots[expr.n_inputs :]) if every_result else slots[-1]

    return run


def tensors(xs):
    return tuple(torch.tensor(x, dtype=torch.float64) for x in xs)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")  # inside torch.func
@given(expressions(max_inputs=3, max_ops=12), st.data())
def test_jvp_matches_torch_func_jvp(expr, data):
    direction = [data.draw(st.floats(-2.0, 2.0), label=f"t{i}") for i in range(expr.n_inputs)]
    value, tangent = autodiff.jvp(expr, expr.point, direction)
    their_value, their_tangent = torch.func.jvp(torch_program(expr), tensors(expr.point), tensors(direction))
    assert_close(value, their_value.item())
    assert math.isclose(tangent, their_tangent.item(), rel_tol=1e-12, abs_tol=1e-11), (tangent, their_tangent)


@given(expressions(max_inputs=3, max_ops=10))
def test_jacobians_of_every_result_match_torch(expr):
    from autodiff.forward_mode import call
    from autodiff.jacobians import jacobian_of

    theirs = torch.autograd.functional.jacobian(torch_program(expr, every_result=True), tensors(expr.point))
    leaves = [Value(x) for x in expr.point]
    outputs, _ = call(lambda *xs: every_result(expr, *xs), leaves, "f")
    for mode in ("forward", "reverse"):
        ours = jacobian_of(outputs, leaves, mode=mode)
        for row, their_row in zip(ours, theirs):
            for d, their_d in zip(row, their_row):
                assert math.isclose(d, their_d.item(), rel_tol=1e-12, abs_tol=1e-11), (mode, d, their_d)


def every_result(expr: Expression, *xs):
    slots = list(xs)
    for op, operands in expr.steps:
        slots.append(OPS[op][1](*(slots[i] for i in operands)))
    return slots[expr.n_inputs :]


def test_the_public_jacobian_matches_torch():
    def polar(r, theta):
        return [r * theta.cos(), r * theta.sin(), r.atan2(theta)]

    def torch_polar(r, theta):
        return (r * theta.cos(), r * theta.sin(), torch.atan2(r, theta))

    theirs = torch.autograd.functional.jacobian(torch_polar, tensors((2.0, 0.6)))
    for row, their_row in zip(autodiff.jacobian(polar)(2.0, 0.6), theirs):
        for d, their_d in zip(row, their_row):
            assert_close(d, their_d.item())


@given(expressions(max_inputs=3, max_ops=8))
def test_hessians_match_torch(expr):
    ours = autodiff.hessian(expr)(*expr.point)
    theirs = torch.autograd.functional.hessian(torch_program(expr), tensors(expr.point))
    for row, their_row in zip(ours, theirs):
        for h, their_h in zip(row, their_row):
            assert math.isclose(h, their_h.item(), rel_tol=1e-10, abs_tol=1e-10), (h, their_h)


# --- each new primitive at random points of its domain ----------------------------------------
real = st.floats(-5.0, 5.0)
unit = st.floats(-0.999, 0.999)
positive = st.floats(1e-3, 1e3)
PRIMITIVES = {
    "tan": ([st.floats(-1.5, 1.5)], lambda a: a.tan(), lambda a: a.tan()),
    "asin": ([unit], lambda a: a.asin(), lambda a: a.asin()),
    "acos": ([unit], lambda a: a.acos(), lambda a: a.acos()),
    "atan": ([st.floats(-100.0, 100.0)], lambda a: a.atan(), lambda a: a.atan()),
    "atan2": ([real, real], lambda y, x: y.atan2(x), torch.atan2),
    "sinh": ([st.floats(-50.0, 50.0)], lambda a: a.sinh(), lambda a: a.sinh()),
    "cosh": ([st.floats(-50.0, 50.0)], lambda a: a.cosh(), lambda a: a.cosh()),
    "log1p": ([st.floats(-0.999, 100.0)], lambda a: a.log1p(), lambda a: a.log1p()),
    "expm1": ([st.floats(-50.0, 50.0)], lambda a: a.expm1(), lambda a: a.expm1()),
    "log2": ([positive], lambda a: a.log2(), lambda a: a.log2()),
    "log10": ([positive], lambda a: a.log10(), lambda a: a.log10()),
    "floor": ([real], lambda a: a.floor(), lambda a: a.floor()),
    "ceil": ([real], lambda a: a.ceil(), lambda a: a.ceil()),
    "%": ([st.floats(-50.0, 50.0), st.floats(-5.0, 5.0).filter(lambda b: abs(b) > 1e-3)], lambda a, b: a % b,
          torch.remainder),
    "clamp": ([real, real, real], lambda x, lo, hi: x.clamp(lo, hi), torch.clamp),
    "clamp lo": ([real, real], lambda x, lo: x.clamp(lo), lambda x, lo: torch.clamp(x, min=lo)),
    "clamp hi": ([real, real], lambda x, hi: x.clamp(hi=hi), lambda x, hi: torch.clamp(x, max=hi)),
    "x ** y at x = 0": ([st.floats(0.0, 0.0), st.floats(1.0, 5.0)], lambda a, b: a**b, lambda a, b: a**b),
    "0 ** y": ([st.floats(0.01, 5.0)], lambda b: 0.0**b, lambda b: 0.0**b),
}  # fmt: skip


@pytest.mark.parametrize("name", PRIMITIVES)
@given(data=st.data())
def test_each_new_primitive_matches_pytorch_in_value_and_derivative(name, data):
    strategies, ours, theirs = PRIMITIVES[name]
    xs = [data.draw(s, label=f"x{i}") for i, s in enumerate(strategies)]
    if name.startswith("clamp") and len(xs) == 3:  # ties of x with a bound: both conventions are torch's
        xs[0] = data.draw(st.sampled_from([xs[0], xs[1], xs[2]]), label="x")
    if name == "atan2":  # the derivative is undefined at the origin (an error here, nan in torch)
        assume(math.hypot(*xs) > 1e-100)
    leaves = [Value(x) for x in xs]
    out = ours(*leaves)
    out.backward()
    ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    their_out = theirs(*ts)
    their_out.backward()
    assert_close(out.data, their_out.item())
    for leaf, t in zip(leaves, ts):
        assert_close(leaf.grad, 0.0 if t.grad is None else t.grad.item())


@pytest.mark.parametrize("x", [-0.0, -0.5, 0.0, 0.5, -1e-300])
def test_floor_and_ceil_keep_the_sign_of_a_zero_result_as_pytorch(x):
    # float(math.ceil(-0.5)) is 0.0, so atan2 downstream gave pi where PyTorch gives -pi.
    for name in ("floor", "ceil"):
        theirs = getattr(torch.tensor(x, dtype=torch.float64), name)()
        for ours in (getattr(Value(x), name)().data, getattr(autodiff, name)(x)):
            assert math.copysign(1.0, ours) == math.copysign(1.0, theirs.item()) and ours == theirs.item()
        angle = torch.atan2(theirs, torch.tensor(-1.0, dtype=torch.float64)).item()
        assert getattr(Value(x), name)().atan2(-1.0).data == angle
