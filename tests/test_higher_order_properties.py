"""The gradient-building path tested as hard as the float path.

`backward(create_graph=True)` evaluates every op's partials on Values (`ValueMath`) instead of
floats. For every primitive, at ordinary points and at its edges (tests/higher_order_cases.py):
its gradient as a Value equals the float path's gradient, and differentiating that gradient again
gives the Hessian, which matches central differences of the float gradient where the function is
smooth, and `autodiff.hessian` (forward over reverse) everywhere. Also: errors raised under
create_graph are the float path's, constants keep gradient 0, and the gradient graph has no
nodes where a local derivative is 0 or 1.
"""

import math

import pytest
from higher_order_cases import CASES

import autodiff
from autodiff import Value

EPS = 1e-5


def float_gradient(f, point):
    """The gradient of f at point by the float path, one float per input."""
    xs = [Value(x) for x in point]
    f(*xs).backward()
    return [x.grad for x in xs]


def gradient_and_hessian(f, point):
    """f's gradient by backward(create_graph=True), and its Hessian by a backward pass through each gradient."""
    xs = [Value(x) for x in point]
    f(*xs).backward(create_graph=True)
    gradient = [x.grad for x in xs]
    assert all(isinstance(g, Value) for g in gradient)
    rows = []
    for g in gradient:
        for x in xs:
            x.grad = 0.0
        g.backward()
        rows.append([x.grad for x in xs])
    return [g.data for g in gradient], rows


def numeric_hessian(f, point):
    """Central differences of the float gradient: row i, column j is d/dx_j of d f / d x_i."""
    columns = []
    for j in range(len(point)):
        up, down = list(point), list(point)
        h = EPS * max(1.0, abs(point[j]))
        up[j] += h
        down[j] -= h
        g_up, g_down = float_gradient(f, up), float_gradient(f, down)
        columns.append([(u - d) / (2 * h) for u, d in zip(g_up, g_down)])
    return [[column[i] for column in columns] for i in range(len(point))]


def in_sin(f):
    """sin(f(...)): the gradient reaching f's op is then a Value, cos(f(...)), not the float seed."""
    return lambda *xs: f(*xs).sin()


def check(f, point, smooth):
    gradient, rows = gradient_and_hessian(f, point)
    for g, expected in zip(gradient, float_gradient(f, point)):
        assert math.isclose(g, expected, rel_tol=1e-13, abs_tol=1e-300), (g, expected)
    by_forward_mode = autodiff.hessian(f)(*point)
    for row, their_row in zip(rows, by_forward_mode):
        assert row == pytest.approx(their_row, rel=1e-12, abs=1e-15)
    if smooth:
        for row, numeric_row in zip(rows, numeric_hessian(f, point)):
            assert row == pytest.approx(numeric_row, rel=1e-6, abs=1e-8)


SMOOTH = [(name, point) for name, (_, points, _) in CASES.items() for point in points]
SPECIAL = [(name, point) for name, (_, _, points) in CASES.items() for point in points]


def case_id(case):
    name, point = case
    return f"{name} at {', '.join(map(repr, point))}"


@pytest.mark.parametrize("case", SMOOTH, ids=map(case_id, SMOOTH))
def test_every_op_has_second_derivatives_matching_differences_of_its_gradient(case):
    name, point = case
    f = CASES[name][0]
    check(f, point, smooth=True)
    check(in_sin(f), point, smooth=True)


@pytest.mark.parametrize("case", SPECIAL, ids=map(case_id, SPECIAL))
def test_at_kinks_ties_and_edges_create_graph_gives_the_float_paths_gradient(case):
    name, point = case
    f = CASES[name][0]
    check(f, point, smooth=False)
    check(in_sin(f), point, smooth=False)


def test_every_primitive_has_a_second_derivative_case():
    used = set()
    for f, smooth_points, special_points in CASES.values():
        for point in smooth_points + special_points:
            out = f(*map(Value, point))
            used |= {node.primitive for node in autodiff.topological_order(out) if node.primitive}
    assert used == set(autodiff.ops.OPS.values())


# --- the edges, with their closed forms ---------------------------------------------------------
# x ** c where x ** c and its second derivative are defined: a negative base needs an integer exponent,
# and c (c - 1) x ** (c - 2) at x = 0 needs c >= 2 (or c in {0, 1}, where it is 0).
POWERS = [
    (c, x)
    for c in (0.0, 1.0, -1.0, 2.0, 3.0, -2.0, 0.5, 1.5, 2.5)
    for x in (-1.5, -0.5, 0.0, 0.5, 2.0)
    if (x >= 0.0 or c.is_integer()) and (x != 0.0 or c >= 2.0 or c in (0.0, 1.0))
]


@pytest.mark.parametrize("c, x", POWERS)
def test_the_power_rule_under_create_graph_at_exponents_0_plus_minus_1_and_2(c, x):
    v = Value(x)
    (v**c).backward(create_graph=True)
    first = v.grad
    v.grad = 0.0
    first.backward()
    assert first.data == (c * x ** (c - 1.0) if c != 0.0 else 0.0)
    assert v.grad == pytest.approx(c * (c - 1.0) * x ** (c - 2.0) if c not in (0.0, 1.0) else 0.0, rel=1e-15)


def test_a_base_in_minus_one_to_zero_with_a_fractional_exponent_is_the_named_error():
    for base in (-0.5, -1e-300, -0.999):
        with pytest.raises(ValueError, match=r"\*\*: a negative base needs an integer exponent, got -"):
            Value(base) ** 0.5
        with pytest.raises(ValueError, match=r"\*\*: the base must be >= 0 when the exponent is a Value"):
            Value(base) ** Value(2.0)  # d/db a**b = a**b log(a) needs a > 0, even where a**b exists


def test_zero_to_a_value_power_below_one_differentiates_twice_as_in_the_float_path():
    # The constant base's partial, b * 0.0 ** (b - 1), is infinite for b < 1: no path evaluates it.
    b = Value(0.5)
    (0.0**b).backward()
    assert b.grad == 0.0
    b.grad = 0.0
    (0.0**b).backward(create_graph=True)
    assert b.grad.data == 0.0
    assert autodiff.hessian(lambda v: 0.0**v)(0.5) == [[0.0]]
    from autodiff.graph.explain import local_partials  # the drawings' and the step-through page's partials

    assert local_partials(0.0 ** Value(0.5)) == (0.0, 0.0)


def test_zero_to_a_positive_fractional_power_is_zero():
    assert (Value(0.0) ** 0.5).data == 0.0
    assert (Value(-0.0) ** 2.5).data == 0.0
    assert (Value(0.0) ** Value(0.5)).data == 0.0


@pytest.mark.parametrize("slope", [2.0, 1.0, 0.3, -0.5, 0.0])
def test_leaky_relu_passes_its_slope_under_create_graph(slope):
    x = Value(-1.5)
    y = x.leaky_relu(slope)
    y.backward(create_graph=True)
    assert x.grad.data == slope
    z = Value(0.0)  # at the kink the derivative is the slope too
    z.leaky_relu(slope).backward(create_graph=True)
    assert z.grad.data == slope


@pytest.mark.parametrize("method", ["max", "min"])
def test_max_and_min_route_the_gradient_to_the_chosen_input_under_create_graph(method):
    small, large = Value(1.0), Value(2.0)
    getattr(small, method)(large).backward(create_graph=True)
    assert (small.grad.data, large.grad.data) == ((0.0, 1.0) if method == "max" else (1.0, 0.0))
    a, b = Value(3.0), Value(3.0)
    getattr(a, method)(b).backward(create_graph=True)
    assert (a.grad.data, b.grad.data) == (0.5, 0.5)


def test_logsumexp_gradients_under_create_graph_are_the_softmax_even_at_huge_inputs():
    for point, expected in [((1e16, 1e16), (0.5, 0.5)), ((0.0, 800.0), (0.0, 1.0)), ((-800.0, 0.0), (0.0, 1.0))]:
        xs = [Value(x) for x in point]
        autodiff.logsumexp(xs).backward(create_graph=True)
        assert tuple(x.grad.data for x in xs) == expected
    xs = [Value(1.0), Value(2.0)]
    autodiff.logsumexp(xs).backward(create_graph=True)
    p = 1.0 / (1.0 + math.exp(-1.0))  # the softmax of (1, 2): (1 - p, p)
    assert [x.grad.data for x in xs] == pytest.approx([1.0 - p, p], rel=1e-15)
    first = xs[0].grad
    for x in xs:
        x.grad = 0.0
    first.backward()  # d/dx_j of softmax_0: s_0 (delta_0j - s_j)
    assert [x.grad for x in xs] == pytest.approx([p * (1.0 - p), -p * (1.0 - p)], rel=1e-14)


# --- errors: the float path's, under create_graph too -------------------------------------------
ERRORS = [
    ("sqrt", lambda x: x.sqrt(), 0.0, ZeroDivisionError),
    ("asin", lambda x: x.asin(), 1.0, ZeroDivisionError),
    ("asin", lambda x: x.asin(), -1.0, ZeroDivisionError),
    ("acos", lambda x: x.acos(), 1.0, ZeroDivisionError),
    ("acos", lambda x: x.acos(), -1.0, ZeroDivisionError),
    ("**", lambda x: x**0.5, 0.0, ZeroDivisionError),
    ("**", lambda x: (x * 3.0) ** 0.25, 0.0, ZeroDivisionError),
    ("atan2", lambda x: x.atan2(x * 2.0), 0.0, ZeroDivisionError),
    ("log", lambda x: x.log(), 5e-324, OverflowError),
]


@pytest.mark.parametrize("op, f, x, error", ERRORS, ids=[f"{e[0]} at {e[2]!r}" for e in ERRORS])
def test_an_undefined_derivative_is_the_same_error_under_create_graph(op, f, x, error):
    v = Value(x)
    v.grad = 5.0
    with pytest.raises(error) as in_float_path:
        f(v).backward()
    with pytest.raises(error) as in_graph_path:
        f(v).backward(create_graph=True)
    assert v.grad == 5.0  # a failed pass changes no leaf
    context = f"{op}: the derivative is not finite or undefined at inputs ({x!r}"
    assert str(in_graph_path.value).startswith(context)
    if error is ZeroDivisionError:  # the float path names the same place (its overflows are found after the pass)
        assert str(in_float_path.value).startswith(context)


def test_an_undefined_derivative_in_a_later_pass_of_the_gradient_is_named():
    x = Value(0.0)
    (x**1.5).backward(create_graph=True)  # 1.5 x^0.5 = 0 here, but its derivative is infinite
    assert x.grad.data == 0.0
    with pytest.raises(ZeroDivisionError, match=r"^\*\*: the derivative is not finite or undefined at inputs"):
        x.grad.backward()


# --- constants and piecewise-constant inputs get no gradient --------------------------------------
def test_constants_keep_gradient_zero_under_create_graph():
    x = Value(1.5)
    square, leaky, scaled = x**2, x.leaky_relu(0.2), x * 3.0
    y = square + leaky + scaled
    y.backward(create_graph=True)
    for node in (square, leaky, scaled):
        constant = node.parents[1]
        assert constant.is_constant and constant.grad == 0.0 and type(constant.grad) is float
    assert x.grad.data == 2 * 1.5 + 1.0 + 3.0


def test_a_constants_share_is_never_computed_so_it_cannot_overflow():
    # x's gradient is 1e200 * 1e-200 = 1; the constant 1e-200's would be 1e200 * x = 1e400.
    x = Value(1e200)
    y = (x * 1e-200) * 1e200
    y.backward(create_graph=True)
    assert x.grad.data == 1.0
    x.grad = 0.0
    y.backward()
    assert x.grad == 1.0


@pytest.mark.parametrize(
    "f, x",
    [
        (lambda v: v.floor(), 1.5), (lambda v: v.ceil(), -0.5), (lambda v: 3.5 % v * 0.0 + v.floor(), 2.0),
        (lambda v: 0.0**v, 2.0), (lambda v: v.relu(), -1.0), (lambda v: v.clamp(2.0, 3.0), 1.0),
        (lambda v: v.max(3.0), 1.0), (lambda v: abs(v) * 0.0, -1.0),
    ],
)  # fmt: skip
def test_non_differentiable_inputs_get_a_zero_gradient_under_create_graph(f, x):
    v = Value(x)
    f(v).backward(create_graph=True)
    first = v.grad
    assert isinstance(first, Value) and first.data == 0.0
    v.grad = 0.0
    first.backward()
    assert v.grad == 0.0


# --- the gradient graph: no nodes for a local derivative of 0 or 1 ------------------------------------
def test_a_local_derivative_of_one_adds_no_node_to_the_gradient_graph():
    x = Value(2.0)
    y = x * x
    ((y + 1.0) - 3.0).backward(create_graph=True)  # + and - pass y's gradient 1.0 on as it is
    assert y.grad.data == 1.0 and y.grad.parents == ()
    assert x.grad.data == 4.0 and len(autodiff.topological_order(x.grad)) <= 5  # 1*x + 1*x: x, 1, *, *, +


def test_a_local_derivative_of_one_passes_a_value_gradient_on_as_it_is():
    x = Value(0.5)
    s = x.sin()
    t = s + 2.0
    (t * t).backward(create_graph=True)
    assert s.grad is t.grad  # d(t)/d(s) = 1: s gets t's gradient node itself
