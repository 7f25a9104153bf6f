"""Every op, through one shared checker: value, reverse-mode gradient, numeric and closed-form derivatives."""

import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import autodiff
from autodiff import Value, gradcheck

anywhere = st.floats(-5.0, 5.0)
positive = st.floats(0.1, 10.0)
away_from_zero = st.floats(-5.0, 5.0).filter(lambda x: abs(x) > 0.01)
small = st.floats(-3.0, 3.0)
inside_unit = st.floats(-0.99, 0.99)
off_integers = st.floats(-5.0, 5.0).filter(lambda x: abs(x - round(x)) > 0.01)


def sech2(x):
    return 1.0 / math.cosh(x) ** 2


# name: (function of Values, strategies for its inputs, forward by math, derivatives by closed form)
CASES = {
    "add": (lambda a, b: a + b, [anywhere, anywhere], lambda a, b: a + b, lambda a, b: (1.0, 1.0)),
    "add a number": (lambda a: 3 + a, [anywhere], lambda a: 3 + a, lambda a: (1.0,)),
    "sub": (lambda a, b: a - b, [anywhere, anywhere], lambda a, b: a - b, lambda a, b: (1.0, -1.0)),
    "rsub": (lambda a: 2 - a, [anywhere], lambda a: 2 - a, lambda a: (-1.0,)),
    "mul": (lambda a, b: a * b, [anywhere, anywhere], lambda a, b: a * b, lambda a, b: (b, a)),
    "rmul": (lambda a: 2.5 * a, [anywhere], lambda a: 2.5 * a, lambda a: (2.5,)),
    "div": (lambda a, b: a / b, [anywhere, away_from_zero], lambda a, b: a / b, lambda a, b: (1 / b, -a / b**2)),
    "rdiv": (lambda a: 3 / a, [away_from_zero], lambda a: 3 / a, lambda a: (-3 / a**2,)),
    "neg": (lambda a: -a, [anywhere], lambda a: -a, lambda a: (-1.0,)),
    "abs": (lambda a: abs(a), [away_from_zero], abs, lambda a: (math.copysign(1.0, a),)),
    "square": (lambda a: a**2, [anywhere], lambda a: a * a, lambda a: (2 * a,)),
    "cube": (lambda a: a**3, [anywhere], lambda a: a**3, lambda a: (3 * a * a,)),
    "reciprocal": (lambda a: a**-1, [away_from_zero], lambda a: 1 / a, lambda a: (-1 / a**2,)),
    "power 1.5": (lambda a: a**1.5, [positive], lambda a: a**1.5, lambda a: (1.5 * math.sqrt(a),)),
    "value power": (
        lambda a, b: a**b,
        [positive, small],
        lambda a, b: a**b,
        lambda a, b: (b * a ** (b - 1), a**b * math.log(a)),
    ),
    "number power": (lambda b: 2**b, [small], lambda b: 2**b, lambda b: (2**b * math.log(2),)),
    "exp": (lambda a: a.exp(), [anywhere], math.exp, lambda a: (math.exp(a),)),
    "log": (lambda a: a.log(), [positive], math.log, lambda a: (1 / a,)),
    "sqrt": (lambda a: a.sqrt(), [positive], math.sqrt, lambda a: (1 / (2 * math.sqrt(a)),)),
    "sin": (lambda a: a.sin(), [anywhere], math.sin, lambda a: (math.cos(a),)),
    "cos": (lambda a: a.cos(), [anywhere], math.cos, lambda a: (-math.sin(a),)),
    "tanh": (lambda a: a.tanh(), [anywhere], math.tanh, lambda a: (sech2(a),)),
    "sigmoid": (
        lambda a: a.sigmoid(),
        [anywhere],
        lambda a: 1 / (1 + math.exp(-a)),
        lambda a: (math.exp(-a) / (1 + math.exp(-a)) ** 2,),
    ),
    "softplus": (
        lambda a: a.softplus(),
        [anywhere],
        lambda a: math.log(1 + math.exp(a)),
        lambda a: (1 / (1 + math.exp(-a)),),
    ),
    "relu": (lambda a: a.relu(), [away_from_zero], lambda a: max(a, 0.0), lambda a: (float(a > 0),)),
    "leaky_relu": (
        lambda a: a.leaky_relu(0.2),
        [away_from_zero],
        lambda a: a if a > 0 else 0.2 * a,
        lambda a: (1.0 if a > 0 else 0.2,),
    ),
    "max": (lambda a, b: a.max(b), [anywhere, anywhere], max, lambda a, b: (float(a > b), float(b > a))),
    "min": (lambda a, b: a.min(b), [anywhere, anywhere], min, lambda a, b: (float(a < b), float(b < a))),
    "sum": (
        lambda a, b, c: autodiff.sum([a, b, c, 1.5]),
        [anywhere] * 3,
        lambda a, b, c: a + b + c + 1.5,
        lambda a, b, c: (1.0, 1.0, 1.0),
    ),
    "logsumexp": (
        lambda a, b, c: autodiff.logsumexp([a, b, c]),
        [anywhere] * 3,
        lambda a, b, c: math.log(math.exp(a) + math.exp(b) + math.exp(c)),
        lambda a, b, c: tuple(math.exp(x) / (math.exp(a) + math.exp(b) + math.exp(c)) for x in (a, b, c)),
    ),
    "tan": (lambda a: a.tan(), [st.floats(-1.4, 1.4)], math.tan, lambda a: (1 / math.cos(a) ** 2,)),
    "asin": (lambda a: a.asin(), [inside_unit], math.asin, lambda a: (1 / math.sqrt(1 - a * a),)),
    "acos": (lambda a: a.acos(), [inside_unit], math.acos, lambda a: (-1 / math.sqrt(1 - a * a),)),
    "atan": (lambda a: a.atan(), [anywhere], math.atan, lambda a: (1 / (1 + a * a),)),
    "atan2": (  # y away from 0: no jump from pi to -pi on the negative x axis
        lambda y, x: y.atan2(x),
        [away_from_zero, anywhere],
        math.atan2,
        lambda y, x: (x / math.hypot(x, y) ** 2, -y / math.hypot(x, y) ** 2),
    ),
    "sinh": (lambda a: a.sinh(), [anywhere], math.sinh, lambda a: (math.cosh(a),)),
    "cosh": (lambda a: a.cosh(), [anywhere], math.cosh, lambda a: (math.sinh(a),)),
    "log1p": (lambda a: a.log1p(), [st.floats(-0.9, 10.0)], math.log1p, lambda a: (1 / (1 + a),)),
    "expm1": (lambda a: a.expm1(), [anywhere], math.expm1, lambda a: (math.exp(a),)),
    "log2": (lambda a: a.log2(), [positive], math.log2, lambda a: (1 / (a * math.log(2)),)),
    "log10": (lambda a: a.log10(), [positive], math.log10, lambda a: (1 / (a * math.log(10)),)),
    "floor": (lambda a: a.floor(), [off_integers], math.floor, lambda a: (0.0,)),
    "ceil": (lambda a: a.ceil(), [off_integers], math.ceil, lambda a: (0.0,)),
    "remainder": (  # b and a drawn in the test, away from the jumps
        lambda a, b: a % b,
        [anywhere, away_from_zero],
        lambda a, b: a - b * round((a - a % b) / b),
        lambda a, b: (1.0, -round((a - a % b) / b)),
    ),
    "rmod": (lambda b: 7.5 % b, [st.floats(0.7, 1.2)], lambda b: 7.5 % b, lambda b: (-math.floor(7.5 / b),)),
    "clamp": (  # the bounds drawn in the test, away from x and from each other
        lambda x, lo, hi: x.clamp(lo, hi),
        [anywhere] * 3,
        lambda x, lo, hi: min(max(x, lo), hi),
        lambda x, lo, hi: (float(lo <= x <= hi), float(x < lo < hi), float(x > hi or hi < lo)),
    ),
    "clamp below": (lambda x: x.clamp(lo=0.5), [anywhere], lambda x: max(x, 0.5), lambda x: (float(x >= 0.5),)),
    "clamp above": (lambda x: x.clamp(hi=0.5), [anywhere], lambda x: min(x, 0.5), lambda x: (float(x <= 0.5),)),
    "dot": (
        lambda w1, w2, x1, x2: autodiff.dot([w1, w2], [x1, x2]),
        [anywhere] * 4,
        lambda w1, w2, x1, x2: w1 * x1 + w2 * x2,
        lambda w1, w2, x1, x2: (x1, x2, w1, w2),
    ),
}


def check_op(fn, xs, forward, derivatives):
    """The op's value and gradient equal the closed forms, and agree with central differences."""
    leaves = [Value(x) for x in xs]
    out = fn(*leaves)
    out.backward()
    assert math.isclose(out.data, forward(*xs), rel_tol=1e-12, abs_tol=1e-12)
    for leaf, expected in zip(leaves, derivatives(*xs)):
        assert math.isclose(leaf.grad, expected, rel_tol=1e-12, abs_tol=1e-12), (leaf.grad, expected)
    result = gradcheck(fn, xs)
    assert result.ok, result


@pytest.mark.parametrize("name", CASES)
@given(data=st.data())
def test_op_value_and_gradient_match_math_and_numeric_derivatives(name, data):
    fn, strategies, forward, derivatives = CASES[name]
    xs = [data.draw(s, label=f"x{i}") for i, s in enumerate(strategies)]
    if name in ("max", "min"):
        xs[1] = xs[0] + data.draw(st.floats(0.01, 3.0) | st.floats(-3.0, -0.01))  # no ties here
    if name == "remainder":  # a = b (k + f) with f in [0.1, 0.9]: a / b away from an integer, where a % b jumps
        xs[0] = xs[1] * (data.draw(st.integers(-4, 4)) + data.draw(st.floats(0.1, 0.9)))
    if name == "clamp":  # x at least 0.01 from either bound, the bounds at least 0.01 apart
        assume(min(abs(xs[0] - xs[1]), abs(xs[0] - xs[2]), abs(xs[1] - xs[2])) > 0.01)
    if name in ("clamp below", "clamp above"):
        assume(abs(xs[0] - 0.5) > 0.01)
    check_op(fn, xs, forward, derivatives)


def test_every_primitive_op_has_a_checked_case():
    made = set()  # the primitives the cases' functions build, run once at points inside every domain
    for fn, domains, *_ in CASES.values():
        out = fn(*(Value(0.3 + 0.1 * i) for i in range(len(domains))))
        made |= {node.primitive for node in autodiff.topological_order(out) if node.primitive is not None}
    assert set(autodiff.ops.OPS.values()) <= made


@pytest.mark.parametrize(
    "fn, x, expected",
    [
        (lambda x: x.relu(), 0.0, 0.0),
        (lambda x: abs(x), 0.0, 0.0),
        (lambda x: x.leaky_relu(0.1), 0.0, 0.1),
    ],
    ids=["relu", "abs", "leaky_relu"],
)
def test_kinks_use_the_documented_subgradient(fn, x, expected):
    v = Value(x)
    fn(v).backward()
    assert v.grad == expected


def test_x_to_the_power_zero_has_zero_gradient_even_at_zero():
    x = Value(0.0)
    y = x**0
    y.backward()
    assert (y.data, x.grad) == (1.0, 0.0)


def test_max_and_min_split_the_gradient_between_tied_inputs():
    for method in ("max", "min"):
        a, b = Value(2.0), Value(2.0)
        getattr(a, method)(b).backward()
        assert (a.grad, b.grad) == (0.5, 0.5)


def test_max_routes_the_whole_gradient_to_the_selected_input():
    a, b = Value(5.0), Value(1.0)
    out = a.max(b) * 3
    out.backward()
    assert (out.data, a.grad, b.grad) == (15.0, 3.0, 0.0)


@pytest.mark.parametrize("x", [1000.0, -1000.0, 710.0, -745.0])
def test_softplus_and_logsumexp_are_stable_for_large_inputs(x):
    v = Value(x)
    out = v.softplus()
    out.backward()
    assert out.data == (x if x > 0 else pytest.approx(0.0, abs=1e-300))
    assert v.grad == (1.0 if x > 0 else pytest.approx(0.0, abs=1e-300))
    a, b = Value(x), Value(x - 1.0)
    out = autodiff.logsumexp([a, b])
    out.backward()
    assert out.data == pytest.approx(x + math.log1p(math.exp(-1.0)), rel=1e-15)
    assert a.grad + b.grad == pytest.approx(1.0, rel=1e-15)


@pytest.mark.parametrize("x", [1000.0, -1000.0, 710.0, -745.0])
def test_tanh_and_sigmoid_reach_exact_limits_without_overflow(x):
    t, s = Value(x), Value(x)
    t.tanh().backward()
    s.sigmoid().backward()
    assert t.tanh().data == math.copysign(1.0, x)
    assert s.sigmoid().data == (1.0 if x > 0 else pytest.approx(0.0, abs=1e-300))
    assert t.grad == 0.0
    assert 0.0 <= s.grad < 1e-300


def test_dot_is_one_node_with_weights_then_inputs_as_parents():
    ws, xs = [Value(1.0), Value(2.0)], [Value(3.0), Value(4.0)]
    out = autodiff.dot(ws, xs)
    assert out.op == "dot"
    assert out.parents == (*ws, *xs)
    assert out.data == 11.0


def test_sum_is_one_node_and_builtin_sum_also_works():
    xs = [Value(float(i)) for i in range(5)]
    assert autodiff.sum(xs).parents == tuple(xs)
    total = sum(xs)
    total.backward()
    assert total.data == 10.0 and all(x.grad == 1.0 for x in xs)


def test_module_functions_accept_values_and_plain_numbers():
    unary = ["exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "softplus", "relu", "leaky_relu", "tan", "asin",
             "acos", "atan", "sinh", "cosh", "log1p", "expm1", "log2", "log10", "floor", "ceil"]  # fmt: skip
    for name in unary:
        fn = getattr(autodiff, name)
        assert isinstance(fn(0.7), float)
        v = fn(Value(0.7))
        assert isinstance(v, Value) and v.op == name and v.data == fn(0.7)
    assert autodiff.log(math.e) == 1.0
    assert autodiff.leaky_relu(-2.0, slope=0.5) == -1.0


def softmax_by_differences(xs):
    """The softmax by fractions: exact reference, e^(x_i - m) / sum_j e^(x_j - m)."""
    from fractions import Fraction

    m = max(xs)
    exps = [math.exp(x - m) for x in xs]
    total = sum(Fraction(e) for e in exps)
    return [float(Fraction(e) / total) for e in exps]


huge = st.floats(-1e300, 1e300)


@given(st.lists(huge, min_size=1, max_size=4), st.lists(st.floats(0.0, 3.0), min_size=1, max_size=4))
def test_logsumexp_gradients_are_the_softmax_even_at_huge_inputs(bases, offsets):
    # Inputs within a few units of each other at magnitudes up to 1e300: the softmax is far from 0 and 1.
    xs = [bases[0] + o for o in offsets] if abs(bases[0]) < 1e15 else [bases[0] * (1 + o * 1e-16) for o in offsets]
    expected = softmax_by_differences(xs)
    leaves = [Value(x) for x in xs]
    autodiff.logsumexp(leaves).backward()
    assert [v.grad for v in leaves] == pytest.approx(expected, rel=1e-14, abs=1e-300)
    second = [Value(x) for x in xs]
    autodiff.logsumexp(second).backward(create_graph=True)
    assert [v.grad.data for v in second] == pytest.approx(expected, rel=1e-14, abs=1e-300)
    compiled = autodiff.compile(lambda *vs: autodiff.logsumexp(vs), xs)
    assert compiled.value_and_grad(xs)[1] == pytest.approx(expected, rel=1e-14, abs=1e-300)
    assert list(compiled.batch_value_and_grad([xs])[1][0]) == pytest.approx(expected, rel=1e-14, abs=1e-300)


def test_logsumexp_of_two_equal_huge_inputs_splits_the_gradient_in_half():
    a, b = Value(1e16), Value(1e16)
    autodiff.logsumexp([a, b]).backward()
    assert (a.grad, b.grad) == (0.5, 0.5)  # from e^(x - out) with a rounded out, they were 1.0 and 1.0


def test_the_cli_gives_the_exact_logsumexp_gradient(capsys):
    from autodiff.cli import main

    assert main(["graph", "logsumexp(x, y)", "--at", "x=1e16", "y=1e16"]) == 0
    out = capsys.readouterr().out
    assert "df/dx = 0.5" in out and "df/dy = 0.5" in out


# --- 0 ** y, and the new primitives' conventions ---------------------------------------------
@pytest.mark.parametrize("y, dx", [(2.5, 0.0), (1.0, 1.0), (3.0, 0.0)])
def test_zero_to_a_positive_power_is_zero_with_zero_gradient_in_the_exponent(y, dx):
    # As PyTorch and autograd: d/dy 0**y = 0**y log(0) is taken as 0 (0**y is 0 for every y > 0).
    base, exponent = Value(0.0), Value(y)
    out = base**exponent
    out.backward()
    assert (out.data, exponent.grad, base.grad) == (0.0, 0.0, dx)  # d/dx = y 0**(y-1)
    exponent = Value(y)
    (0.0**exponent).backward()
    assert exponent.grad == 0.0


def test_zero_to_a_power_below_one_has_an_infinite_base_derivative_which_is_an_error():
    base, exponent = Value(0.0), Value(0.5)
    out = base**exponent
    message = r"\*\*: the derivative is not finite or undefined at inputs \(0\.0, 0\.5\)"
    with pytest.raises(ZeroDivisionError, match=message):
        out.backward()
    assert (0.0 ** Value(0.5)).data == 0.0  # a constant base: only d/dy is needed, and it is 0


def test_the_two_and_three_operand_functions_take_plain_numbers_and_values():
    assert autodiff.atan2(1, -1) == math.atan2(1.0, -1.0) and autodiff.remainder(-7, 3) == 2.0
    assert autodiff.clamp(5, 0, 1) == 1.0 and autodiff.clamp(-5, lo=0) == 0.0 and autodiff.clamp(5, hi=2) == 2.0
    x, lo, hi = Value(0.2), Value(0.5), Value(1.0)
    out = autodiff.clamp(x, lo, hi)
    out.backward()
    assert (out.op, out.data, x.grad, lo.grad, hi.grad) == ("clamp", 0.5, 0.0, 1.0, 0.0)
    assert autodiff.atan2(Value(1.0), 2.0).op == "atan2" and autodiff.remainder(Value(7.0), 2).data == 1.0


@pytest.mark.parametrize(
    "x, lo, hi, expected",
    [
        (0.0, 0.0, 1.0, (1.0, 0.0, 0.0)),  # at a bound, x keeps the gradient (bounds included)
        (1.0, 0.0, 1.0, (1.0, 0.0, 0.0)),
        (0.5, 1.0, 0.0, (0.0, 0.0, 1.0)),  # lo > hi: the result is hi
        (0.5, 1.0, 1.0, (0.0, 0.0, 0.0)),  # lo == hi, x outside: torch passes no gradient at all
    ],
)
def test_clamp_follows_torch_at_its_kinks(x, lo, hi, expected):
    leaves = [Value(x), Value(lo), Value(hi)]
    leaves[0].clamp(leaves[1], leaves[2]).backward()
    assert tuple(v.grad for v in leaves) == expected


def test_remainder_has_the_sign_of_the_divisor_and_the_floor_quotient_as_derivative():
    a, b = Value(1.0), Value(0.1)
    out = a % b
    out.backward()
    assert out.data == 1.0 % 0.1 and (a.grad, b.grad) == (1.0, -9.0)  # 1.0 // 0.1 is 9.0 (floor(1.0 / 0.1) is 10)
    assert (Value(-7.0) % 3).data == 2.0 and (Value(7.0) % -3).data == -2.0


def test_floor_and_ceil_have_zero_derivative_even_at_integers():
    for method in ("floor", "ceil"):
        x = Value(2.0)
        out = getattr(x, method)() + x
        out.backward()
        assert (out.data, x.grad) == (4.0, 1.0)


@pytest.mark.parametrize("x", [40.0, 70.0, 700.0, -70.0])
def test_the_sigmoids_derivative_keeps_its_digits_where_the_sigmoid_rounds_to_one(x):
    # s'(x) = e^-x / (1 + e^-x)^2; written as s(1 - s) it would be 0 wherever s(x) rounds to 1.0 (x > 37).
    exact = math.exp(-abs(x)) / (1.0 + math.exp(-abs(x))) ** 2
    v = Value(x)
    v.sigmoid().backward()
    assert v.grad == pytest.approx(exact, rel=1e-14) and v.grad > 0.0
    w = Value(x)
    w.softplus().backward(create_graph=True)  # softplus' = sigmoid, so softplus'' = s'
    first, w.grad = w.grad, 0.0
    first.backward()
    assert first.data == pytest.approx(1.0 / (1.0 + math.exp(-x)), rel=1e-15)
    assert w.grad == pytest.approx(exact, rel=1e-14) and w.grad > 0.0
