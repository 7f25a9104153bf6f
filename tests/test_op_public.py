"""`autodiff.Op`: a user's op is made like a built-in one and works everywhere a built-in does."""

import json
import math
import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autodiff
from autodiff import Op, Value, gradcheck, ops
from autodiff.ops import OpDefinitionError
from autodiff.testing import assert_gradients_match, expressions

# softsign(x) = x / (1 + |x|), with d/dx = 1 / (1 + |x|)^2 and d2/dx2 = -2 sign(x) / (1 + |x|)^3.
SOFTSIGN = Op("softsign", lambda m, x: x / (1.0 + abs(x)), lambda m, out, x: (1.0 / (1.0 + abs(x)) ** 2,))
# A rule with a branch on its input: not one formula, so it runs through the generic path.
HUBER = Op(
    "huber",
    lambda m, x: 0.5 * x * x if abs(x) <= 1.0 else abs(x) - 0.5,
    lambda m, out, x: (x if abs(x) <= 1.0 else m.sign(x),),
)
# Two inputs: a*b + sin(a), with partials (b + cos a, a).
MULSIN = Op("mulsin", lambda m, a, b: a * b + m.sin(a), lambda m, out, a, b: (b + m.cos(a), a))

anywhere = st.floats(-4.0, 4.0).filter(lambda x: abs(x) > 1e-3)


def softsign_derivative(x):
    return 1.0 / (1.0 + abs(x)) ** 2


def test_built_in_ops_are_op_instances_and_nodes_name_them():
    x, y = Value(2.0), Value(3.0)
    assert isinstance(ops.MUL, Op) and isinstance(autodiff.Op, type)
    assert (x * y).primitive is ops.MUL and (x * y).op == "*"
    assert x.primitive is None and (x * 2).parents[1].primitive is None


def test_calling_an_op_gives_a_value_with_a_value_operand_and_a_float_with_numbers():
    y = SOFTSIGN(Value(3.0))
    assert isinstance(y, Value) and y.op == "softsign" and y.data == 0.75
    assert SOFTSIGN(3.0) == 0.75 and type(SOFTSIGN(3)) is float
    z = MULSIN(Value(0.5), 2)  # a number among Values becomes a constant
    assert z.parents[1].is_constant and z.data == 0.5 * 2 + math.sin(0.5)


@given(anywhere)
def test_a_user_op_differentiates_like_its_closed_form(x):
    v = Value(x)
    SOFTSIGN(v).backward()
    assert v.grad == pytest.approx(softsign_derivative(x), rel=1e-14)
    assert_gradients_match(lambda a: SOFTSIGN(a * 1.5) * a, [x])


@given(anywhere, anywhere)
def test_a_two_input_user_op_matches_numeric_derivatives(a, b):
    assert_gradients_match(lambda p, q: MULSIN(p, q) * MULSIN(q, p), [a, b])


@given(st.floats(-3.0, 3.0).filter(lambda x: abs(abs(x) - 1.0) > 1e-3))
def test_a_user_op_whose_rules_branch_works_through_the_generic_path(x):
    v = Value(x)
    HUBER(v).backward()
    assert v.grad == (x if abs(x) <= 1.0 else math.copysign(1.0, x))
    assert_gradients_match(lambda a: HUBER(a) * a, [x])


@pytest.mark.parametrize("x", [-2.5, -0.3, 0.7, 3.0])
def test_second_derivatives_of_a_user_op_through_create_graph(x):
    v = Value(x)
    SOFTSIGN(v).backward(create_graph=True)
    first = v.grad
    assert first.data == pytest.approx(softsign_derivative(x), rel=1e-14)
    v.grad = 0.0
    first.backward()
    assert v.grad == pytest.approx(-2.0 * math.copysign(1.0, x) / (1.0 + abs(x)) ** 3, rel=1e-12)


def test_a_user_op_compiles_to_floats_and_to_numpy_batches_equal_to_eager():
    w = Value(0.7)

    def f(a, b):
        return MULSIN(SOFTSIGN(a * w), b) + HUBER(b)

    compiled = autodiff.compile(f, [0.1, 0.2], params=[w])
    X = np.array([[0.3, -0.4], [1.5, 2.0], [-2.0, 0.9]])
    values, input_grads, param_grads = compiled.batch_value_and_grad(X, per_example=True)
    for i, (a, b) in enumerate(X.tolist()):
        xs = [Value(a), Value(b)]
        w.grad = 0.0
        out = f(*xs)
        out.backward()
        value, floats_inputs, floats_params = compiled.value_and_grad([a, b])
        assert value == pytest.approx(out.data, rel=1e-12) and values[i] == pytest.approx(out.data, rel=1e-12)
        for got in (floats_inputs, input_grads[i]):
            assert list(got) == pytest.approx([x.grad for x in xs], rel=1e-12)
        for got in (floats_params, param_grads[i]):
            assert list(got) == pytest.approx([w.grad], rel=1e-12)


def test_a_user_op_is_drawn_explained_and_checked_by_name():
    x = Value(2.0, label="x")
    y = SOFTSIGN(x) * x
    y.backward()
    assert "n1_op [label=softsign " in autodiff.draw_dot(y).source
    explanation = x.explain_grad(y)
    assert explanation.matches and len(explanation.terms) == 2
    assert gradcheck(lambda a: SOFTSIGN(a) * a, [2.0]).ok


@given(expressions(max_inputs=2, max_ops=6, ops=["+", "*", "sin", SOFTSIGN, MULSIN]))
def test_user_ops_join_the_random_expressions_of_autodiff_testing(expr):
    assert_gradients_match(expr, expr.point)


def test_expressions_refuse_an_op_with_any_number_of_inputs():
    with pytest.raises(ValueError, match="fixed number"):
        expressions(ops=["+", ops.SUM])


# --- bad definitions get errors that name the op ------------------------------------------------
@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: Op("", lambda m, x: x, lambda m, out, x: (1.0,)), ValueError, "name must not be empty"),
        (lambda: Op(3, lambda m, x: x, lambda m, out, x: (1.0,)), TypeError, "name must be a str, got int"),
        (lambda: Op("f", 2.0, lambda m, out, x: (1.0,)), TypeError, "'f': forward must be callable, got float"),
        (lambda: Op("f", lambda m, x: x, None), TypeError, "'f': partials must be callable, got NoneType"),
        (lambda: Op("f", lambda m, x: x, lambda m, out, a, b: (1.0, 1.0)), ValueError, "forward takes 1 inputs"),
        (lambda: Op("f", lambda m: 1.0, lambda m, out: ()), ValueError, "at least one input"),
    ],
)
def test_a_malformed_op_is_refused_at_definition(make, error, message):
    with pytest.raises(error, match=message):
        make()


@pytest.mark.parametrize(
    "partials",
    [lambda m, out, x: (1.0, 2.0), lambda m, out, x: 1.0, lambda m, out, x: (), lambda m, out, x: "ab"],
)
def test_partials_with_the_wrong_number_of_terms_fail_at_the_first_backward(partials):
    bad = Op("bad", lambda m, x: 2.0 * x, partials)
    y = bad(Value(1.0))  # the forward is fine
    with pytest.raises(OpDefinitionError, match="bad: partials"):
        y.backward()


def test_a_rule_calling_a_missing_math_function_names_the_op_and_lists_what_exists():
    typo = Op("typo", lambda m, x: m.tanhh(x), lambda m, out, x: (1.0 - out * out,))
    with pytest.raises(AttributeError, match=r"typo: forward: .*no function 'tanhh'.*m\.tanh, m\.sigmoid"):
        typo(Value(1.0))
    late = Op("late", lambda m, x: m.tanh(x), lambda m, out, x: (m.sech2(x),))
    y = late(Value(1.0))
    with pytest.raises(AttributeError, match="late: partials: .*'sech2'"):
        y.backward()


def test_a_forward_that_returns_no_number_is_an_error_naming_the_op():
    pair = Op("pair", lambda m, x: (x, x), lambda m, out, x: (1.0,))
    with pytest.raises(TypeError, match=r"pair: forward must return a number, got tuple"):
        pair(Value(1.0))
    with pytest.raises(TypeError, match=r"pair: forward must return a number"):
        pair(1.0)
    imaginary = Op("root", lambda m, x: x**0.5, lambda m, out, x: (0.5 / out,))
    with pytest.raises(TypeError, match=r"root: forward must return a number, got complex"):
        imaginary(Value(-4.0))


def test_a_user_op_with_a_non_number_operand_names_the_op_and_the_operand():
    with pytest.raises(TypeError, match=r"mulsin: expected a Value or a number, got str \('b'\)"):
        MULSIN(Value(1.0), "b")
    with pytest.raises(TypeError, match=r"softsign: takes 1 operand, got 2"):
        SOFTSIGN(Value(1.0), 2.0)
    with pytest.raises(ValueError, match=r"softsign: operands must be finite numbers, got nan"):
        SOFTSIGN(math.nan)


def test_an_op_overflow_is_named_like_a_built_in_one():
    big = Op("cube", lambda m, x: x * x * x, lambda m, out, x: (3.0 * x * x,))
    with pytest.raises(OverflowError, match=r"cube: result is not a finite float \(inf\), inputs 1e\+200"):
        big(Value(1e200))


def test_a_rule_with_a_non_finite_literal_is_a_named_error_not_a_name_error():
    # The generated code once read the literal nan or inf as a Python name (a NameError).
    nan_forward = Op("nan_forward", lambda m, x: x * math.nan, lambda m, out, x: (math.nan,))
    with pytest.raises(OverflowError, match=r"nan_forward: result is not a finite float \(nan\), inputs 1.0"):
        nan_forward(Value(1.0))
    inf_partial = Op("inf_partial", lambda m, x: 2.0 * x, lambda m, out, x: (-math.inf,))
    x = Value(1.0)
    y = inf_partial(x)
    assert y.data == 2.0
    with pytest.raises(OverflowError, match=r"gradient at leaf \(data=1.0\) is not finite \(-inf\)"):
        y.backward()
    assert x.grad == 0.0
    with pytest.raises(OverflowError, match=r"jvp: the tangent at 'inf_partial' node \(data=2.0\) is not finite"):
        autodiff.jvp(inf_partial, (1.0,), (1.0,))


def test_an_error_inside_a_users_forward_names_the_op_and_its_inputs():
    # Python's own "float division by zero" said nothing of where it came from.
    inverse = Op("inverse", lambda m, x: 1.0 / x, lambda m, out, x: (-out * out,))
    for operand in (Value(0.0), 0.0):
        with pytest.raises(ZeroDivisionError, match=r"^inverse: forward failed at inputs \(0.0\): float division"):
            inverse(operand)
    square = Op("square", lambda m, x: x**2.0, lambda m, out, x: (2.0 * x,))
    with pytest.raises(OverflowError, match=r"^square: forward failed at inputs \(1e\+200\): Numerical result"):
        square(Value(1e200))
    with pytest.raises(ValueError, match=r"^log_branch: forward failed at inputs \(-1.0\): log: input must be > 0"):
        Op("log_branch", lambda m, x: m.log(x) if x < 5.0 else x, lambda m, out, x: (1.0,))(Value(-1.0))
    with pytest.raises(ZeroDivisionError, match=r"^/: division by zero, got 1.0 / 0.0$"):  # a built-in: as before
        Value(1.0) / 0.0


def test_ops_have_a_repr_and_built_in_ones_unpickle_as_themselves():
    assert repr(SOFTSIGN) == "Op('softsign')" and repr(ops.DOT) == "Op('dot')"
    for op in ops.OPS.values():
        assert pickle.loads(pickle.dumps(op)) is op


# --- errors from a user's code keep their type ------------------------------------------------
def _json_error() -> json.JSONDecodeError:
    return json.JSONDecodeError("Expecting value", "doc", 0)  # three required constructor arguments


def test_a_users_exception_with_constructor_arguments_survives_backward_unchanged():
    def partials(m, out, x):
        raise _json_error()

    failing = Op("failing", lambda m, x: 2.0 * x, partials)
    y = failing(Value(1.0))
    with pytest.raises(json.JSONDecodeError) as raised:
        y.backward()
    assert raised.value.pos == 0 and raised.value.doc == "doc"
    assert any("failing" in note for note in getattr(raised.value, "__notes__", []))


class _CodedError(ValueError):
    def __init__(self, code: int, text: str) -> None:
        super().__init__(code, text)  # two arguments, the second a str, like float ** float's OverflowError


def test_a_users_error_with_a_code_and_a_text_keeps_both_and_gets_a_note():
    def partials(m, out, x):
        raise _CodedError(7, "bad input")

    coded = Op("coded", lambda m, x: 2.0 * x, partials)
    with pytest.raises(_CodedError) as raised:
        coded(Value(1.0)).backward()
    assert raised.value.args == (7, "bad input")
    assert any("coded" in note for note in raised.value.__notes__)


def test_an_overflow_in_a_users_forward_is_one_line_naming_the_op():
    squared = Op("squared", lambda m, x: x**2.0, lambda m, out, x: (2.0 * x,))
    with pytest.raises(OverflowError, match=r"^squared: forward failed at inputs \(1e\+200\): Numerical result out"):
        squared(1e200)


def test_a_users_exception_survives_gradcheck_and_compiled_replays_unchanged():
    def f(x):
        if x.data > 1.5:
            raise _json_error()
        return x * x

    with pytest.raises(json.JSONDecodeError) as raised:
        gradcheck(f, [1.5])  # the step above the point raises
    assert raised.value.doc == "doc"

    def partials(m, out, x):
        if isinstance(x, Value) or (isinstance(x, float) and x > 1.0):
            raise _json_error()
        raise ValueError("not here")  # on symbols and numpy arrays: the compiled run fails, the eager replay decides

    picky = Op("picky", lambda m, x: 2.0 * x, partials)
    compiled = autodiff.compile(lambda x: picky(x), [0.5])
    with pytest.raises(json.JSONDecodeError):
        compiled.batch_value_and_grad([[2.0]])


def test_the_docs_show_the_backward_step_generated_for_mul():
    from pathlib import Path

    from autodiff.specialize import make_backward

    page = (Path(__file__).resolve().parent.parent / "docs" / "how-it-works.md").read_text(encoding="utf-8")
    shown = page.split("<!-- excerpt: the code generated for MUL's backward step -->\n```python\n", 1)[1]
    assert shown.split("```", 1)[0].strip() == make_backward(ops.MUL).source.strip()
