"""Edges of the engine that only a changed line would reveal: the largest float is finite, how an op's
number of inputs is found, which inputs get no gradient by definition, what a Value does at ties and
zeros, how constants are shared, and which reads of a Value's data a tracer is told about.

Each test here guards against a small change to the engine (a `<=` made `<`, a constant changed, a
condition negated) that the rest of the suite would not notice: the mutation testing described in the
Development page of the docs (docs/development.md) measures that.
"""

import collections
import copy
import math
import os
import pickle
import re

import pytest

import autodiff
from autodiff import Op, Value, ops
from autodiff.numerics import MAX_FLOAT
from autodiff.ops import OpDefinitionError


# --- the largest float is finite ----------------------------------------------------------------------
@pytest.mark.parametrize("big", [MAX_FLOAT, -MAX_FLOAT])
def test_a_gradient_of_exactly_the_largest_float_is_finite(big):
    x = Value(1.0)
    (x * big).backward()
    assert x.grad == big
    x.grad = big / 2.0
    (x * (big / 2.0)).backward()  # accumulated: big/2 + big/2
    assert x.grad == big
    y = Value(3.0)
    (y * 2.0).backward(gradient=big / 2.0)
    assert y.grad == big
    z = Value(1.0)
    (z * big).backward(create_graph=True)
    assert z.grad.data == big
    assert autodiff.jvp(lambda v: v * big, (1.0,), (1.0,)) == (big, big)
    assert autodiff.jvp(lambda v: v * 1.0, (1.0,), (big,)) == (1.0, big)
    with autodiff.detect_anomaly():
        w = Value(1.0)
        (w * big).backward()
    assert w.grad == big


@pytest.mark.parametrize("big", [MAX_FLOAT, -MAX_FLOAT])
def test_data_of_exactly_the_largest_float_is_finite(big):
    assert Value(big).data == big
    assert Value(int(big)).data == big
    assert (Value(1.0) * big).data == big
    assert (Value(big) * 1.0).data == big
    assert (Value(big) + Value(0.0)).data == big
    assert (Value(1.0) * int(big)).data == big
    assert autodiff.ops.ADD(big, 0.0) == big
    assert autodiff.sum([Value(big), 0.0]).data == big
    assert Value(1.0).clamp(big, big).data == big


def _twice(m, x):
    return 2.0 * x


def _twice_partials(m, out, x):
    return (2.0,)


def test_a_users_op_of_module_level_functions_survives_pickling():
    twice = Op("twice", _twice, _twice_partials)
    restored = pickle.loads(pickle.dumps(twice))
    assert restored is not twice
    assert (restored.name, restored.forward, restored.partials) == ("twice", _twice, _twice_partials)
    x = Value(3.0)
    y = restored(x)
    y.backward()
    assert (y.data, x.grad) == (6.0, 2.0)


def test_an_ops_number_of_inputs_comes_from_whichever_rule_fixes_it():
    by_partials = Op("f", lambda m, *xs: xs[0] * xs[1], lambda m, out, a, b: (b, a))
    by_forward = Op("g", lambda m, a, b: a * b, lambda m, out, *xs: (xs[1], xs[0]))
    assert by_partials.arity == 2 and by_forward.arity == 2
    for op in (by_partials, by_forward):
        with pytest.raises(TypeError, match=r"takes 2 operands, got 3"):
            op(Value(1.0), 2.0, 3.0)
    assert Op("h", lambda m, *xs: m.sum(xs), lambda m, out, *xs: (1.0,) * len(xs)).arity is None


@pytest.mark.parametrize("create_graph", [False, True])
def test_a_value_given_as_a_slope_or_a_constant_exponent_gets_no_gradient(create_graph):
    # leaky_relu's slope and x ** c's exponent are parameters: their partial is 0 by definition.
    x, slope, exponent = Value(-2.0), Value(0.3), Value(3.0)
    y = ops.LEAKY_RELU(x, slope) + ops.POW_CONST(x, exponent)
    y.backward(create_graph=create_graph)
    assert float(x.grad.data if create_graph else x.grad) == 0.3 + 3.0 * 4.0
    for parameter in (slope, exponent):
        assert (parameter.grad.data if create_graph else parameter.grad) == 0.0


def test_the_remainders_quotient_is_the_floor_for_every_divisor():
    a, b = Value(2.5), Value(1.0)
    (a % b).backward()
    assert (a.grad, b.grad) == (1.0, -2.0)  # d(a % b)/db = -(a // b)
    a, b = Value(-2.5), Value(0.5)
    (a % b).backward()
    assert (a.grad, b.grad) == (1.0, 5.0)


def test_a_rule_that_divides_by_zero_with_floor_divide_gets_the_named_error():
    quotient = Op("quotient", lambda m, a, b: m.floor_divide(a, b), lambda m, out, a, b: (0.0, 0.0))
    assert quotient(7.0, 2.0) == 3.0
    with pytest.raises(
        ZeroDivisionError,
        match=r"^quotient: forward failed at inputs \(7\.0, 0\.0\): //: division by zero, got 7\.0 // 0\.0$",
    ):
        quotient(7.0, 0.0)


def test_comparisons_of_equal_values_are_strict_where_they_should_be():
    a, b = Value(1.5), Value(1.5)
    assert not a < b and a <= b and not a > b and a >= b
    assert not a < 1.5 and a <= 1.5 and not a > 1.5 and a >= 1.5


def test_truth_float_format_and_plus_read_a_value_as_a_float_would():
    assert bool(Value(1.0)) and bool(Value(-0.5)) and not bool(Value(0.0)) and not bool(Value(-0.0))
    x = Value(1.25, label="x")
    assert f"{x}" == repr(x) == "Value(data=1.25, grad=0.0, label='x')" and f"{x:.1f}" == "1.2"
    assert +x is x
    assert x.is_constant is False and (x * 2.0).parents[1].is_constant is True
    detached = x.detach()
    assert (detached.data, detached.label, detached.parents) == (1.25, "x", ())


def test_every_read_of_a_values_data_is_reported_to_a_watching_tracer():
    from autodiff.grad_mode import watching_data_reads

    a, b = Value(1.0), Value(2.0)
    reads = []
    with watching_data_reads(reads.append):
        _ = (a < b, a <= b, a > b, a >= b, bool(a), float(a), f"{a:.1f}", a.detach())
    assert reads == [
        "a comparison (<)", "a comparison (<=)", "a comparison (>)", "a comparison (>=)",
        "a truth test (if / and / or / bool())", "float()", "format() (an f-string)", "detach()",
    ]  # fmt: skip
    _ = a < b  # outside the block: nobody is told
    assert len(reads) == 8
    with autodiff.no_grad():  # a block without a tracer: reads are fine, and nobody is told
        assert a < b
    reads.clear()
    with watching_data_reads(reads.append):
        with autodiff.enable_grad():
            pass
        assert reads == []
        with autodiff.no_grad():  # values computed here would be baked into a traced program
            pass
        assert reads == ["no_grad()"]
        assert (a * b).parents == (a, b)  # a tracer records the graph


def test_no_grad_and_enable_grad_work_as_decorators():
    @autodiff.no_grad()
    def off(x, factor=1.0):
        return x * factor, autodiff.is_grad_enabled()

    @autodiff.enable_grad()
    def on(x):
        return x * 2.0, autodiff.is_grad_enabled()

    y, enabled = off(Value(1.0), factor=2.0)
    assert (y.data, y.parents, enabled) == (2.0, (), False)
    with autodiff.no_grad():
        y, enabled = on(Value(1.0))
    assert y.parents and enabled and autodiff.is_grad_enabled()


def test_constants_are_shared_per_number_and_zeros_keep_their_sign():
    x, y = Value(1.0), Value(2.0)
    assert (x * 2.5).parents[1] is (y * 2.5).parents[1] is (y + 2.5).parents[1]
    plus, minus = (x * 0.0).parents[1], (x * -0.0).parents[1]
    assert math.copysign(1.0, plus.data) == 1.0 and math.copysign(1.0, minus.data) == -1.0
    c = (x * 3.5).parents[1]
    assert pickle.loads(pickle.dumps(c)) is c
    fresh = copy.copy(c)
    assert fresh is not c and fresh.data == 3.5 and fresh.is_constant


def test_a_constant_ignores_a_new_gradient_and_refuses_any_other_change():
    c = (Value(1.0) * 4.5).parents[1]
    c.grad = 7.0  # what a pass, or a loop zeroing every node's grad, writes
    assert c.grad == 0.0
    with pytest.raises(
        AttributeError, match=r"a constant cannot be changed \(it is shared by every op that uses 4\.5\)"
    ):
        c.data = 1.0


def test_the_cache_of_shared_constants_stays_bounded(monkeypatch):
    from autodiff import value

    monkeypatch.setattr(value, "_MAX_CONSTANTS", 8)  # the bound made small, to keep the test fast
    value.shared_constants.clear()
    x, largest = Value(1.0), 0
    for i in range(20):
        x * (1.0 + i / 8192.0)  # 20 numbers: the cache fills up, starts over, fills up again
        largest = max(largest, len(value.shared_constants))
    assert largest == 8


def test_seeds_of_exactly_the_largest_float_are_finite_as_ints_too():
    for seed in (int(MAX_FLOAT), -int(MAX_FLOAT)):
        x = Value(1.0)
        (x * 1.0).backward(seed)
        assert x.grad == float(seed)


@pytest.mark.parametrize("big", [MAX_FLOAT, -MAX_FLOAT])
def test_an_overflowing_pass_names_the_first_node_whose_gradient_is_not_finite(big):
    x = Value(1e-10, "x")
    scaled = x * 2.0  # its gradient is exactly the largest float, still finite: x's is not
    with pytest.raises(OverflowError, match=r"^backward: the gradient at leaf 'x' \(data=1e-10\) is not finite"):
        (scaled * big).backward()


def test_of_several_nodes_whose_gradient_is_not_finite_the_one_nearest_the_output_is_named():
    x = Value(1e-300, "x")
    h = x * 2.0
    h.label = "h"
    out = (h * 1e300) * 1e10  # d out / dh = 1e310: h's gradient overflows first, then x's
    with pytest.raises(OverflowError, match=r"^backward: the gradient at '\*' node 'h' \(data=2e-300\) is not"):
        out.backward()


def test_inside_no_grad_a_pass_is_not_checked_step_by_step_as_in_anomaly_mode():
    a, b, c = Value(1e200), Value(1e-300, label="b"), Value(1e200)
    out = (a * b) * c
    with autodiff.no_grad(), pytest.raises(OverflowError, match=r"^backward: the gradient at leaf 'b'"):
        out.backward()


# --- the generated code of each op (autodiff/specialize.py) ------------------------------------
def test_an_op_with_any_number_of_inputs_generates_code_for_a_bounded_number_of_arities(monkeypatch):
    from autodiff import specialize

    generated = {"apply": [], "backward": [], "tangent": []}
    for role in generated:
        original = getattr(specialize, f"_{role}_for")

        def spy(op, n, role=role, original=original):
            generated[role].append(n)
            return original(op, n)

        monkeypatch.setattr(specialize, f"_{role}_for", spy)
    kept, largest = 4, 8  # the limits made small, to keep the test fast
    monkeypatch.setattr(specialize, "MAX_ARITIES_PER_OP", kept)
    monkeypatch.setattr(specialize, "MAX_GENERATED_ARITY", largest)
    total = Op("total", lambda m, *xs: m.sum(xs), lambda m, out, *xs: (1.0,) * len(xs))
    arities = [*range(1, kept + 3), largest, largest + 1]
    for _ in range(2):  # the second time, only the arities beyond the first `kept` are generated again
        for n in arities:
            xs = [Value(1.0) for _ in range(n)]
            out = total(*xs)
            out.backward()
            assert out.data == n and xs[-1].grad == 1.0
            assert autodiff.jvp(lambda *vs: total(*vs), [1.0] * n, [1.0] * n) == (n, n)
    for role, made in generated.items():
        counts = collections.Counter(made)
        assert all(counts[n] == 1 for n in range(1, kept + 1)), role  # generated once, then kept
        assert all(counts[n] > 1 for n in (kept + 1, kept + 2, largest)), role  # generated at each use
        assert counts[largest + 1] == 0, role  # more inputs than `largest`: the generic code


def test_a_zero_partial_before_others_skips_only_its_own_input():
    second = Op("second", lambda m, a, b: b * b, lambda m, out, a, b: (0.0, 2.0 * b))
    a, b = Value(1.0), Value(3.0)
    second(a, b).backward()
    assert (a.grad, b.grad) == (0.0, 6.0)
    assert autodiff.jvp(lambda x, y: second(x, y), (1.0, 3.0), (1.0, 1.0)) == (9.0, 6.0)


def test_a_two_input_op_whose_rule_branches_sums_both_tangents():
    def partials(m, out, a, b):  # a branch: the generic code, on floats
        return (b, a) if a > 0 else (-b, -a)

    signed = Op("signed", lambda m, a, b: a * b if a > 0 else -a * b, partials)
    assert autodiff.jvp(lambda x, y: signed(x, y), (2.0, 3.0), (1.0, 1.0)) == (6.0, 5.0)
    assert autodiff.jvp(lambda x, y: signed(x, y), (-2.0, 3.0), (1.0, 1.0)) == (6.0, -1.0)


# --- forward mode, Jacobians and anomaly mode -------------------------------------------------
@pytest.mark.parametrize(
    "primals, tangents, error, message",
    [
        ("2.0", (1.0,), TypeError, r"jvp: primals must be a tuple or list .* got str"),
        ((2.0,), (True,), TypeError, r"jvp: tangent 0 must be a number, got bool"),
        ((2.0,), (10**400,), ValueError, r"jvp: tangent 0 must be finite"),
    ],
)
def test_jvp_names_a_string_a_bool_and_a_huge_int_among_its_inputs(primals, tangents, error, message):
    with pytest.raises(error, match=message):
        autodiff.jvp(lambda x: x * x, primals, tangents)


def test_the_graph_of_several_outputs_lists_each_shared_node_once_after_its_parents():
    from autodiff.forward_mode import graph_order

    x, y = Value(1.0), Value(2.0)
    shared = x * y
    outputs = [shared + 1.0, shared.sin(), x.exp()]
    order = graph_order(outputs)
    assert len(order) == len(set(order)) and set(outputs) <= set(order)
    for k, node in enumerate(order):
        assert all(order.index(parent) < k for parent in node.parents)


def test_a_square_jacobian_is_built_in_reverse_mode(monkeypatch):
    from autodiff import jacobians

    sweeps = []
    monkeypatch.setattr(jacobians, "push_forward", lambda *args: sweeps.append(args) or {})
    assert autodiff.jacobian(lambda x, y: [x * y, x + y])(2.0, 3.0) == [[3.0, 2.0], [1.0, 1.0]]
    assert sweeps == []  # as many outputs as inputs: one backward pass per output, no forward sweep


def test_detect_anomaly_as_a_decorator_passes_keyword_arguments_on():
    @autodiff.detect_anomaly()
    def scaled(x, factor=1.0):
        return x * factor

    y = scaled(Value(2.0), factor=3.0)
    assert y.data == 6.0 and y.site[2] == "scaled"


def test_anomaly_mode_is_off_inside_no_grad_and_its_nodes_start_with_zero_gradient():
    with autodiff.no_grad():
        assert not autodiff.is_anomaly_enabled()
    with autodiff.detect_anomaly():
        y = Value(2.0) * 3.0
    assert (y.grad, y.label, y.data) == (0.0, "", 6.0)


def test_anomaly_mode_shows_a_file_inside_the_current_folder_relative_to_it(monkeypatch, tmp_path):
    from autodiff.anomaly import created_at

    with autodiff.detect_anomaly():
        y = Value(2.0) * 3.0
    line = y.site[1]
    monkeypatch.chdir(os.path.dirname(__file__))
    assert created_at(y) == f"created at {os.path.basename(__file__)}:{line} in {y.site[2]}"
    monkeypatch.chdir(tmp_path)  # the test file is now outside the current folder: shown as recorded
    assert created_at(y) == f"created at {__file__}:{line} in {y.site[2]}"


@pytest.mark.parametrize("big", [MAX_FLOAT, -MAX_FLOAT])
def test_anomaly_mode_tells_an_infinite_local_derivative_from_an_overflowing_share(big):
    x = Value(1e-10)
    with autodiff.detect_anomaly():
        y = (x * big) * 2.0  # d y / dx = 2 * big: the local derivative big itself is finite
        with pytest.raises(OverflowError) as raised:
            y.backward()
    assert f"its share (its gradient 2.0 times the local derivative {big!r}) made the gradient" in str(raised.value)


def test_anomaly_modes_place_of_creation_is_empty_for_other_nodes_and_survives_windows_drives(monkeypatch):
    from autodiff.anomaly import created_at

    assert created_at(Value(2.0) * 3.0) == ""
    with autodiff.detect_anomaly():
        y = Value(2.0) * 3.0

    def other_drive(path, start=None):
        raise ValueError("path is on mount 'D:', start on mount 'C:'")  # what ntpath.relpath raises

    monkeypatch.setattr(os.path, "relpath", other_drive)
    assert created_at(y) == f"created at {__file__}:{y.site[1]} in {y.site[2]}"


@pytest.mark.parametrize("n, more", [(4, ""), (5, ", ...")])
def test_errors_show_the_first_four_inputs_of_an_op(n, more):
    # sqrt(x_0) + x_1 + ... + x_(n-1): the derivative in x_0 is infinite at 0
    root_sum = Op(
        "root_sum",
        lambda m, *xs: m.sqrt(xs[0]) + m.sum(xs[1:]),
        lambda m, out, *xs: (0.5 / m.sqrt(xs[0]),) + (1.0,) * (len(xs) - 1),
    )
    y = root_sum(*[Value(float(i)) for i in range(n)])
    shown = re.escape(f"0.0, 1.0, 2.0, 3.0{more}")
    with pytest.raises(ZeroDivisionError, match=rf"^root_sum: the derivative .* at inputs \({shown}\)"):
        y.backward()
    huge = [1e308, 1e308, *[float(i) for i in range(n - 2)]]
    shown = re.escape(f"1e+308, 1e+308, 0.0, 1.0{more}")
    with pytest.raises(OverflowError, match=rf"^sum: result is not a finite float \(inf\), inputs {shown}$"):
        autodiff.sum([Value(x) for x in huge])


# --- the user's frame, math namespaces and error context -----------------------------------------
def test_the_users_frame_is_the_innermost_outside_the_engine():
    from autodiff import frames

    here = frames.user_site()
    assert here[0] == __file__ and here[2] == "test_the_users_frame_is_the_innermost_outside_the_engine"
    frame = frames.user_frame()
    assert (frame.filename, frame.name) == (here[0], here[2]) and frame.lineno == here[1] + 2
    assert frames.is_engine_file(autodiff.ops.__file__) and frames.is_engine_file("<autodiff: * apply>")
    assert not frames.is_engine_file(__file__)


def test_a_special_name_missing_from_a_math_namespace_is_a_plain_attribute_error():
    from autodiff.numerics import FloatMath

    with pytest.raises(AttributeError) as raised:
        FloatMath.__array_priority__  # noqa: B018 - probing a special name, as numpy and copy do
    assert type(raised.value) is AttributeError


@pytest.mark.parametrize("args", [("bad input", 42), (42,), ()])
def test_a_built_in_error_with_other_arguments_than_one_message_keeps_them_and_gets_a_note(args):
    def partials(m, out, x):
        raise ValueError(*args)

    y = Op("picky", lambda m, x: 2.0 * x, partials)(Value(1.0))
    with pytest.raises(ValueError) as raised:
        y.backward()
    assert raised.value.args == args
    assert raised.value.__notes__ == ["(in picky: the derivative is not finite or undefined at inputs (1.0))"]


# --- rules as formulas (autodiff/symbolic.py) ------------------------------------------------------
@pytest.mark.parametrize("key", sorted(ops.OPS))
def test_every_built_in_op_runs_as_generated_code_not_the_generic_path(key):
    from autodiff import specialize

    op = ops.OPS[key]
    n = op.arity or 4  # sum, logsumexp and dot with four inputs (dot: two weights, two inputs)
    for make in (specialize._apply_for, specialize._backward_for, specialize._tangent_for):
        assert hasattr(make(op, n), "source"), make.__name__  # the generic code has no source


def test_a_rule_may_raise_a_number_to_a_symbols_power_and_take_plus():
    from autodiff.specialize import make_apply, make_backward

    exp2 = Op("exp2", lambda m, x: 2.0**x, lambda m, out, x: (+out * math.log(2.0),))
    x = Value(3.0)
    y = exp2(x)
    y.backward()
    assert (y.data, x.grad) == (8.0, 8.0 * math.log(2.0))
    assert hasattr(make_apply(exp2), "source") and hasattr(make_backward(exp2), "source")  # both are formulas


def test_a_rule_with_numpy_numbers_runs_through_the_generic_code():
    np = pytest.importorskip("numpy")
    scaled = Op("scaled", lambda m, x: 2.0 * x, lambda m, out, x: (np.float32(2.0),))  # not a formula's literal
    x = Value(1.5)
    scaled(x).backward()
    assert x.grad == 2.0


def test_a_symbol_shows_its_source():
    from autodiff.symbolic import Sym

    assert repr(Sym("d0") * 2.0) == "Sym('(d0 * 2.0)')"


@pytest.mark.parametrize("function", ["sum", "dot"])
def test_sums_and_dots_are_inline_up_to_the_limit_and_one_call_beyond(function):
    from autodiff.numerics import FloatMath
    from autodiff.symbolic import INLINE_LIMIT, SourceMath, Sym, source

    for n in (INLINE_LIMIT, INLINE_LIMIT + 1):
        names = [f"v{i}" for i in range(n)]
        symbols = tuple(Sym(name) for name in names)
        numbers = {name: float(i) for i, name in enumerate(names)}
        if function == "sum":
            text, expected = source(SourceMath.sum(symbols)), sum(range(n))
        else:
            text, expected = source(SourceMath.dot(symbols, symbols)), sum(i * i for i in range(n))
        assert text.startswith(f"m_{function}(") == (n > INLINE_LIMIT)
        assert eval(text, {"m_sum": FloatMath.sum, "m_dot": FloatMath.dot}, numbers) == expected  # our own source


def test_a_forward_that_returns_an_int_or_a_numpy_number_gives_a_float():
    np = pytest.importorskip("numpy")
    one = Op("one", lambda m, x: 1, lambda m, out, x: (0.0,))
    assert one(2.0) == 1.0 and type(one(2.0)) is float
    assert type(one(Value(2.0)).data) is float
    half = Op("half", lambda m, x: np.float32(0.5), lambda m, out, x: (0.0,))
    assert half(3.0) == 0.5 and type(half(3.0)) is float and type(half(Value(3.0)).data) is float
    assert Value(np.float64(2.5)).data == 2.5 and type(Value(np.float64(2.5)).data) is float


def test_an_op_whose_rule_branches_makes_nodes_as_a_generated_one_does():
    # A branch on the input: not one formula, so its nodes are made by the generic code.
    bent = Op("bent", lambda m, x: x * x if x > 0 else -x, lambda m, out, x: (2.0 * x if x > 0 else -1.0,))
    y = bent(Value(3.0))
    assert (y.data, y.grad, y.label, y.op) == (9.0, 0.0, "", "bent")
    with autodiff.no_grad():
        assert bent(Value(3.0)).parents == ()
    with autodiff.detect_anomaly():
        located = bent(Value(3.0))
    assert located.site[0] == __file__


def test_a_value_shows_as_text_where_no_picture_is_wanted():
    x = Value(1.5, label="x")
    assert x._repr_mimebundle_(include=["text/plain"]) == {"text/plain": repr(x)}


def test_a_missing_function_is_named_at_the_first_use_even_where_the_rule_would_fail_on_the_input():
    typo = Op("typo", lambda m, x: m.log(x) * m.tanhh(x), lambda m, out, x: (1.0,))
    with pytest.raises(AttributeError, match=r"^typo: forward: .*no function 'tanhh'"):
        typo(Value(-1.0))  # on floats, log(-1) would fail first


def test_a_branching_rule_calling_a_missing_function_names_the_op_and_the_rule():
    # A branch: not a formula, so the generic code evaluates the rules on floats and meets the missing name.
    typo = Op("typo", lambda m, x: m.tanhh(x) if x > 0 else x, lambda m, out, x: (1.0,))
    with pytest.raises(AttributeError, match=r"^typo: forward: .*no function 'tanhh'"):
        typo(Value(1.0))
    late = Op("late", lambda m, x: 2.0 * x, lambda m, out, x: (m.sech2(x),) if x > 0 else (1.0,))
    with pytest.raises(AttributeError, match=r"^late: partials: .*no function 'sech2'"):
        late(Value(1.0)).backward()
    with pytest.raises(AttributeError, match=r"^late: partials: .*no function 'sech2'"):
        autodiff.jvp(lambda x: late(x), (1.0,), (1.0,))


@pytest.mark.parametrize(
    "partials, message",
    [
        (lambda m, out, a, b: "ab", r"partials must return a tuple with one derivative per input, got str \('ab'\)"),
        (lambda m, out, a, b: 1.0, r"partials must return a tuple with one derivative per input, got float"),
        (lambda m, out, a, b: a * b, r"partials must return a tuple .* \(for one input, a 1-tuple: `\(d,\)`\)"),
        (lambda m, out, a, b: (a,), r"partials returned 1 terms for 2 inputs"),
    ],
)
def test_partials_that_are_not_one_term_per_input_are_named_at_the_first_backward(partials, message):
    bad = Op("bad", lambda m, a, b: a * b, partials)
    y = bad(Value(1.0), Value(2.0))
    with pytest.raises(OpDefinitionError, match=r"^bad: " + message):
        y.backward()


def test_an_operand_of_another_type_gets_its_turn_through_the_operator_protocol():
    class Meters:
        def __radd__(self, other):
            return ("Meters.__radd__", other.data)

        __rmul__ = __radd__

    assert Value(1.5) + Meters() == ("Meters.__radd__", 1.5)
    assert Value(2.5) * Meters() == ("Meters.__radd__", 2.5)
    with pytest.raises(TypeError, match=r"unsupported operand type\(s\) for \+: 'Value' and 'bool'"):
        Value(1.0) + True


def test_as_value_keeps_a_value_and_makes_a_leaf_of_a_number():
    from autodiff.value import as_value

    x = Value(1.0)
    assert as_value(x) is x
    y = as_value(3)
    assert type(y) is Value and (y.data, y.parents) == (3.0, ())


def test_an_int_too_large_for_a_float_is_named_as_such():
    with pytest.raises(ValueError, match=r"^Value: data must be a finite number, got an int too large for a float$"):
        Value(10**400)


def test_an_op_whose_rule_branches_names_an_operand_that_is_not_a_number():
    larger = Op("larger", lambda m, a, b: a if a > b else b, lambda m, out, a, b: (1.0, 0.0) if a > b else (0.0, 1.0))
    assert larger(Value(1.0), 2.0).data == 2.0
    with pytest.raises(TypeError, match=r"^larger: expected a Value or a number, got str \('x'\)$"):
        larger(Value(1.0), "x")


def test_a_value_slope_of_leaky_relu_is_refused_rather_than_given_no_gradient():
    # The slope is a constant of the op: a Value slope used to be accepted and silently get gradient 0.
    slope = Value(0.1)
    for call in (lambda: Value(-1.0).leaky_relu(slope), lambda: autodiff.leaky_relu(Value(-1.0), slope)):
        with pytest.raises(TypeError, match=r"leaky_relu: slope must be a number, got Value\(data=0.1"):
            call()
    x = Value(-2.0)
    y = x.leaky_relu(0.25)
    y.backward()
    assert (y.data, x.grad) == (-0.5, 0.25) and autodiff.leaky_relu(-2.0, 0.25) == -0.5


# --- the local derivatives input by input (the drawings', explain's and the step-through page's) ------------
def test_local_partials_are_floats_by_the_ops_rule_and_zero_for_a_constant():
    from autodiff.specialize import local_partials

    x, y = Value(2.0), Value(5.0)
    product = x * y
    assert local_partials(product) == (5.0, 2.0)
    assert all(type(d) is float for d in local_partials(product))
    assert local_partials(x * 3.0) == (3.0, 0.0)  # the constant 3 is not differentiated
    weighted = autodiff.dot([x, y, 4.0], [y, 7.0, x])  # n-ary, parents w0 w1 w2 x0 x1 x2: d/dw_i = x_i, d/dx_i = w_i
    assert local_partials(weighted) == (5.0, 7.0, 0.0, 2.0, 0.0, 4.0)
    on_values = local_partials(product, on_values=True)
    assert all(isinstance(d, Value) for d in on_values) and [d.data for d in on_values] == [5.0, 2.0]


def test_local_partials_of_a_branching_rule_go_through_the_generic_code_alike():
    from autodiff.specialize import local_partials

    # A branch on the input: not one formula. d/da = b, d/db = a (a product), written with a branch.
    product = Op("branchy", lambda m, a, b: a * b, lambda m, out, a, b: (b, a) if a > -1e300 else (b, a))
    x = Value(3.0)
    node = product(x, 4.0)
    assert local_partials(node) == (4.0, 0.0)
    assert all(type(d) is float for d in local_partials(node))
    on_values = local_partials(product(x, Value(4.0)), on_values=True)
    assert all(isinstance(d, Value) for d in on_values) and [d.data for d in on_values] == [4.0, 3.0]
    late = Op("late", lambda m, x: 2.0 * x, lambda m, out, x: (m.sech2(x),) if x > 0 else (1.0,))
    with pytest.raises(AttributeError, match=r"^late: partials: .*no function 'sech2'"):
        local_partials(late(Value(1.0)))
    with pytest.raises(AttributeError, match=r"^late: partials: .*no function 'sech2'"):
        local_partials(late(Value(1.0)), on_values=True)  # on Values, as create_graph evaluates it
