"""What only the PyTorch comparisons used to check, without PyTorch: signed zeros through floor, ceil, % and
atan2 (against numpy's IEEE 754 functions), and second derivatives at kinks and edges (against one-sided
differences at 100 digits).

At a kink the engine follows PyTorch's conventions (autodiff/ops.py): relu'(0) = 0, abs'(0) = 0, max and min
split a tie evenly, clamp gives x the gradient at its bounds. Each of these is the derivative from one side
or the mean of both sides, so a derivative at a kink must equal the left one, the right one or their mean
(checked for each input's first and second derivative); through a composition (sin of the case) the chain
rule must carry the case's own derivatives, whatever convention gave them.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from higher_order_cases import CASES
from oracle_helpers import engine_derivatives, recording

import autodiff
from autodiff import Value
from autodiff.precise import CONTEXT

ZEROS_AND_NEAR = [-0.0, 0.0, -0.5, -1e-300, -0.999, 0.5, -1.0, 2.5, -2.5]
ROUNDINGS = {"floor": (np.floor, autodiff.floor), "ceil": (np.ceil, autodiff.ceil)}


def same_float(a: float, b: float) -> bool:
    """Equal, and with the same sign when zero (0.0 == -0.0 in Python)."""
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


@pytest.mark.parametrize("x", ZEROS_AND_NEAR)
@pytest.mark.parametrize("name", sorted(ROUNDINGS))
def test_floor_and_ceil_keep_the_sign_of_a_zero_as_ieee_754_on_values_and_numbers(name, x):
    reference, function = ROUNDINGS[name]
    expected = float(reference(x))
    assert same_float(getattr(Value(x), name)().data, expected)
    assert same_float(function(x), expected)


@pytest.mark.parametrize("name, x", [("floor", -0.0), ("ceil", -0.0), ("ceil", -0.5), ("ceil", -1e-300)])
def test_a_negative_zero_from_floor_or_ceil_turns_atan2_to_minus_pi(name, x):
    def angle(v):
        return getattr(v, name)().atan2(-1.0)

    assert same_float(angle(Value(x)).data, -math.pi)
    assert same_float(autodiff.atan2(ROUNDINGS[name][1](x), -1.0), float(np.arctan2(ROUNDINGS[name][0](x), -1.0)))
    assert same_float(autodiff.jvp(angle, [x], [1.0])[0], -math.pi)


@pytest.mark.parametrize("name, x", [("floor", -0.0), ("ceil", -0.0), ("ceil", -0.5)])
def test_compiled_and_eager_agree_on_the_sign_of_a_zero_through_atan2(name, x):
    def angle(v):
        return getattr(v, name)().atan2(-1.0)

    compiled = autodiff.compile(angle, [x])
    eager = angle(Value(x)).data
    assert same_float(compiled([x]), eager) and same_float(eager, -math.pi)


REMAINDERS = [(-0.0, 1.0), (0.0, -1.0), (-1.0, 1.0), (1.0, -1.0), (-3.0, 1.5), (3.0, -1.5), (-0.5, 1.0), (0.5, -1.0),
              (-0.0, -1.0), (0.0, 1.0)]  # fmt: skip


@pytest.mark.parametrize("a, b", REMAINDERS)
def test_remainder_has_the_sign_of_the_divisor_and_of_a_zero_as_numpy(a, b):
    expected = float(np.remainder(a, b))
    assert same_float((Value(a) % Value(b)).data, expected)
    assert same_float(autodiff.remainder(a, b), expected)


SIGNED = [-0.0, 0.0, -1.0, 1.0]


@pytest.mark.parametrize("y", SIGNED)
@pytest.mark.parametrize("x", SIGNED)
def test_atan2_of_signed_zeros_is_ieee_754s(y, x):
    expected = float(np.arctan2(y, x))
    assert same_float(Value(y).atan2(Value(x)).data, expected)
    assert same_float(autodiff.atan2(y, x), expected)


# --- second derivatives at kinks and edges -------------------------------------------------------
SPECIAL = [(name, point) for name, (_, _, points) in CASES.items() for point in points]
STEP = CONTEXT.mpf("1e-40")  # at 100 digits: truncation ~1e-40 (1e-20 for x**2.5 at 0), rounding ~1e-20


def one_sided(replay, point, i):
    """d/dx_i and d2/dx_i2 from the right and from the left (None for a side where f is not defined)."""
    sides = {}
    with CONTEXT.workdps(100):
        for side in (1, -1):
            h = side * STEP * max(1, abs(point[i]))
            try:
                f = [replay.value_at([x + k * h if j == i else x for j, x in enumerate(point)]) for k in range(3)]
            except (ArithmeticError, ValueError):
                continue
            sides[side] = ((f[1] - f[0]) / h, (f[2] - 2 * f[1] + f[0]) / h**2)
    return sides


def one_of(engine, candidates):
    return any(abs(engine - c) <= 1e-12 * (1 + abs(c)) for c in candidates)


# clamp(x, lo, hi) with lo == hi == x gives x the whole gradient (torch.clamp's bounds are inclusive): a
# derivative along the line x = lo = hi, not along x alone, so it is not compared with one-sided differences.
NOT_ONE_SIDED = {("clamp", (0.5, 0.5, 0.5))}


@pytest.mark.parametrize("case", SPECIAL, ids=[f"{name} at {', '.join(map(repr, p))}" for name, p in SPECIAL])
def test_at_kinks_and_edges_derivatives_are_a_one_sided_one_or_their_mean(case):
    name, point = case
    if case in NOT_ONE_SIDED:
        pytest.skip("a convention along a line of ties, not along one input")
    _, gradient, hessian = engine_derivatives(CASES[name][0], point)
    replay = recording(CASES[name][0], point)
    for i in range(len(point)):
        sides = one_sided(replay, point, i)
        assert sides, f"{name}: not defined on either side of {point} along input {i}"
        firsts = [d for d, _ in sides.values()]
        seconds = [d2 for _, d2 in sides.values()]
        assert one_of(gradient[i], firsts + [sum(firsts) / len(firsts)]), (name, point, i, gradient[i], firsts)
        assert one_of(hessian[i][i], seconds + [sum(seconds) / len(seconds)]), (name, i, hessian[i][i], seconds)


@pytest.mark.parametrize("case", SPECIAL, ids=[f"{name} at {', '.join(map(repr, p))}" for name, p in SPECIAL])
def test_at_kinks_and_edges_the_chain_rule_carries_the_convention_through_sin(case):
    # sin(f): gradient cos(f) f', Hessian cos(f) f'' - sin(f) f' f'^T, with f's own (checked above) derivatives
    name, point = case
    f = CASES[name][0]
    value, gradient, hessian = engine_derivatives(f, point)
    _, sin_gradient, sin_hessian = engine_derivatives(lambda *xs: f(*xs).sin(), point)
    c, s = CONTEXT.cos(value), CONTEXT.sin(value)
    for i, g in enumerate(sin_gradient):
        assert one_of(g, [c * gradient[i]]), (name, i, g)
        for j, h in enumerate(sin_hessian[i]):
            expected = c * hessian[i][j] - s * CONTEXT.mpf(gradient[i]) * gradient[j]
            assert abs(h - expected) <= 1e-12 * (1 + abs(c * hessian[i][j]) + abs(s * gradient[i] * gradient[j]))


# A -0.0 made by an op reaches floor and ceil as it would from a user: the sign of their zero result follows it.
ROUTES = {
    "negated zero": lambda: -Value(0.0),
    "zero times -1": lambda: Value(0.0) * -1.0,
    "minus zero times 1": lambda: Value(-0.0) * 1.0,
    "ceil of -0.5": lambda: Value(-0.5).ceil(),
}


@pytest.mark.parametrize("route", sorted(ROUTES))
@pytest.mark.parametrize("name", sorted(ROUNDINGS))
def test_a_negative_zero_made_by_an_op_keeps_its_sign_through_floor_and_ceil(name, route):
    zero = ROUTES[route]()
    assert same_float(zero.data, -0.0)
    assert same_float(getattr(zero, name)().data, float(ROUNDINGS[name][0](-0.0)))
