"""The math namespace contract: every namespace has every function, and they agree."""

import ast

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from autodiff import Value
from autodiff.compiler.numpy_math import NumpyMath
from autodiff.higher_order import ValueMath
from autodiff.namespace import ELEMENTARY, FUNCTIONS, HELPERS, MathNamespace, MissingMathFunction, op_named
from autodiff.numerics import FloatMath
from autodiff.ops import OPS
from autodiff.symbolic import SourceMath, Sym, source, unwrapped

NAMESPACES = [FloatMath, ValueMath, NumpyMath, SourceMath]

real = st.floats(-5.0, 5.0)
positive = st.floats(0.05, 5.0)
exponent = st.floats(-3.0, 3.0)
unit = st.floats(-1.0, 1.0)
nonzero = st.floats(-5.0, 5.0).filter(lambda x: abs(x) >= 0.05)
# Each function's arguments, drawn inside its domain; None stands for a fixed argument given below.
DOMAINS = {
    "exp": [real], "log": [positive], "sqrt": [positive], "sin": [real], "cos": [real], "tanh": [real],
    "sigmoid": [real], "softplus": [real], "div": [real, positive], "pow": [positive, exponent],
    "pow_variable_exponent": [positive, exponent], "power_rule": [positive, exponent], "step": [real, real, None],
    "sign": [real], "max": [real, real], "min": [real, real], "sum": [real, real, real], "dot": [real] * 4,
    "logsumexp": [real, real, real], "softmax": [real, real, real], "constant": [real],
    "tan": [real], "asin": [unit], "acos": [unit], "atan": [real], "atan2": [real, real], "sinh": [real],
    "cosh": [real], "log1p": [st.floats(-0.95, 5.0)], "expm1": [real], "log2": [positive], "log10": [positive],
    "log_or_zero": [st.just(0.0) | positive], "floor": [real], "ceil": [real], "remainder": [real, nonzero],
    "floor_divide": [real, nonzero], "hypot": [real, real],
}  # fmt: skip


def test_the_contract_lists_every_function_with_a_domain_here():
    assert set(FUNCTIONS) == set(DOMAINS)
    assert all(getattr(MathNamespace, name).__doc__ for name in HELPERS)
    assert all(op_named(name).doc for name in ELEMENTARY)  # the op table documents its own functions


@pytest.mark.parametrize("namespace", NAMESPACES, ids=lambda n: n.__name__)
def test_every_namespace_implements_every_function(namespace):
    missing = [name for name in FUNCTIONS if not callable(getattr(namespace, name, None))]
    assert not missing


@pytest.mark.parametrize("namespace", NAMESPACES, ids=lambda n: n.__name__)
def test_a_missing_function_is_an_attribute_error_listing_the_functions(namespace):
    with pytest.raises(MissingMathFunction, match=r"no function 'arcsinh'.*m\.exp, m\.log"):
        namespace.arcsinh(1.0)


def _call(namespace, name, args):
    """The function on each namespace's own kind of number, read back as floats."""
    if name in ("sum", "logsumexp", "softmax"):
        args = [tuple(args)]
    elif name == "dot":
        args = [tuple(args[:2]), tuple(args[2:])]
    elif name == "step":
        args = [*args, 0.5]
    if namespace is FloatMath:
        return getattr(FloatMath, name)(*args)
    if namespace is ValueMath:
        lifted = [tuple(map(Value, a)) if isinstance(a, tuple) else Value(a) for a in args[:2]] + args[2:]
        out = getattr(ValueMath, name)(*lifted)
        read = lambda v: v.data if isinstance(v, Value) else v
        return tuple(map(read, out)) if isinstance(out, tuple) else read(out)
    if namespace is NumpyMath:
        arrays = [tuple(np.array([x]) for x in a) if isinstance(a, tuple) else np.array([a]) for a in args[:2]]
        out = getattr(NumpyMath, name)(*arrays, *args[2:])
        return tuple(float(np.asarray(o)[0]) for o in out) if isinstance(out, tuple) else float(np.asarray(out)[0])
    names = iter(f"v{i}" for i in range(10))
    symbols, bound = [], {}
    for a in args[:2]:
        if isinstance(a, tuple):
            group = tuple(Sym(next(names)) for _ in a)
            bound.update({s.src: x for s, x in zip(group, a)})
            symbols.append(group)
        else:
            symbols.append(Sym(next(names)))
            bound[symbols[-1].src] = a
    text = source(getattr(SourceMath, name)(*symbols, *args[2:]))
    functions = {f"m_{f}": getattr(FloatMath, f) for f in FUNCTIONS}
    return eval(text, functions, bound)  # our own generated source, never user text


@pytest.mark.parametrize("name", sorted(DOMAINS))
@given(data=st.data())
def test_the_namespaces_agree_numerically(name, data):
    args = [data.draw(strategy) for strategy in DOMAINS[name] if strategy is not None]
    if name in ("pow", "pow_variable_exponent"):  # keep a**b inside the float range
        args[1] = max(min(args[1], 3.0), -3.0)
    expected = _call(FloatMath, name, args)
    for namespace in (ValueMath, NumpyMath, SourceMath):
        got = _call(namespace, name, args)
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-300), namespace.__name__


def test_the_softmax_is_exact_at_huge_inputs_in_every_namespace():
    for namespace in NAMESPACES:
        assert _call(namespace, "softmax", [1e16, 1e16, 1e16]) == pytest.approx((1 / 3,) * 3)


def test_a_rule_source_that_starts_with_a_parenthesis_is_wrapped_whole():
    # codegen writes `s3 = s1 * s0` for `(s1 * s0)`: sound only if the parentheses enclose the whole text.
    checked = 0
    for op in OPS.values():
        n = op.arity or 3
        xs = [Sym(f"s{i}") for i in range(n)]
        try:
            texts = [source(op.forward(SourceMath, *xs))]
            partials = op.partials(SourceMath, Sym("out"), *xs)
            texts += [partials.src] if hasattr(partials, "src") else [source(p) for p in partials]
        except (TypeError, ArithmeticError, ValueError):  # a rule that branches: called, not written
            continue
        for text in texts:
            if text.startswith("("):
                checked += 1
                assert ast.dump(ast.parse(unwrapped(text), mode="eval")) == ast.dump(ast.parse(text, mode="eval"))
    assert unwrapped("m_exp(s1)") == "m_exp(s1)" and checked > 20
