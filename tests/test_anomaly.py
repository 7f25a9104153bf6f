"""Anomaly mode: nodes record where the user's code created them, and backward's errors name that place."""

import inspect
import re
import threading

import pytest

import autodiff
from autodiff import Value, detect_anomaly, grad_mode
from autodiff.anomaly import creation_site


def here() -> int:
    """The line of the caller."""
    return inspect.currentframe().f_back.f_lineno


def site_pattern(op: str, line: int, function: str) -> str:
    return rf"`{re.escape(op)}` created at \S*test_anomaly\.py:{line} in {function}"


def test_a_node_made_in_the_block_knows_its_file_line_and_function():
    x = Value(2.0)
    with detect_anomaly():
        y = x.log() * 3.0
        line = here() - 1
    site = creation_site(y)
    assert site.filename == __file__ and site.lineno == line and site.name == inspect.currentframe().f_code.co_name
    assert creation_site(y.parents[0]).lineno == line  # the log node too
    assert isinstance(y, Value) and y.data == pytest.approx(3.0 * 0.6931471805599453)


def test_the_site_is_the_users_line_not_the_engines():
    with detect_anomaly():
        total = autodiff.sum([Value(1.0), Value(2.0)]).clamp(0.0, 5.0)
        line = here() - 1
    assert creation_site(total).lineno == line and creation_site(total.parents[0]).lineno == line


def test_nodes_made_outside_the_block_are_plain_values():
    with detect_anomaly():
        pass
    y = Value(2.0) * 3.0
    assert type(y) is Value and creation_site(y) is None
    assert grad_mode.overridden == 0  # so creating a node does not even reach the recording hook


def test_an_infinite_derivative_names_the_op_and_where_it_was_created():
    x = Value(5e-324)  # the smallest float: 1/x overflows
    with detect_anomaly():
        loss = x.log() * 2.0
        line = here() - 1
        with pytest.raises(OverflowError) as raised:
            loss.backward()
    message = str(raised.value)
    assert re.fullmatch(
        site_pattern("log", line, "test_an_infinite_derivative_names_the_op_and_where_it_was_created")
        + r": the derivative is not finite at inputs \(5e-324\): d/d\(input 1\) = inf",
        message,
    ), message
    assert x.grad == 0.0  # a failed pass changes no leaf


def test_an_undefined_derivative_keeps_its_type_and_names_the_place():
    def loss(x):
        return x.asin() + x

    line = inspect.getsourcelines(loss)[1] + 1
    x = Value(1.0)
    with detect_anomaly():
        out = loss(x)
        with pytest.raises(ZeroDivisionError, match=site_pattern("asin", line, "loss") + r": the derivative is not"):
            out.backward()


def test_a_share_that_overflows_names_the_op_that_passed_it_back():
    a, b, c = Value(1e200), Value(1e-300, label="b"), Value(1e200)
    with detect_anomaly():
        out = (a * b) * c  # every value is finite, but d out / db = a * c = 1e400 is not
        line = here() - 1
        with pytest.raises(OverflowError) as raised:
            out.backward()
    assert re.search(
        site_pattern("*", line, "test_a_share_that_overflows_names_the_op_that_passed_it_back")
        + re.escape(": its share (its gradient 1e+200 times the local derivative 1e+200) made the gradient of its")
        + r" input 2 not finite \(inf\)",
        str(raised.value),
    ), str(raised.value)


def test_without_the_block_the_same_errors_name_the_op_only():
    x = Value(1.0)
    with pytest.raises(ZeroDivisionError, match=r"^asin: the derivative is not finite or undefined at inputs \(1\.0\)"):
        x.asin().backward()
    tiny = Value(5e-324)
    with pytest.raises(OverflowError, match=r"^backward: the gradient at leaf \(data=5e-324\) is not finite \(inf\)$"):
        tiny.log().backward()


def test_nodes_made_in_the_block_are_named_even_when_backward_runs_outside_it():
    with detect_anomaly():
        y = Value(0.0).sqrt()
        line = here() - 1
    with pytest.raises(ZeroDivisionError, match=site_pattern("sqrt", line, "test_nodes_made_in_the_block_.*")):
        y.backward()


def test_create_graph_and_jvp_errors_name_the_place_too():
    with detect_anomaly():
        y = Value(0.0).sqrt() + 1.0
        line = here() - 1
        with pytest.raises(ZeroDivisionError, match=site_pattern("sqrt", line, "test_create_graph_and_jvp_.*")):
            y.backward(create_graph=True)
        with pytest.raises(ZeroDivisionError, match=r"`sqrt` created at \S*test_anomaly\.py:\d+ in <lambda>"):
            autodiff.jvp(lambda x: x.sqrt(), (0.0,), (1.0,))


def test_a_pass_that_succeeds_gives_the_same_gradients_in_the_block():
    def f(x1, x2):
        return x1.log() + x1 * x2 - x2.sin() + (x1 % 0.7).clamp(0.1, 0.5) * x2.atan()

    plain = [Value(2.0), Value(5.0)]
    f(*plain).backward()
    checked = [Value(2.0), Value(5.0)]
    with detect_anomaly():
        f(*checked).backward()
    assert [x.grad for x in checked] == [x.grad for x in plain]


def test_the_block_is_per_thread_nests_and_restores_after_an_error():
    made_elsewhere = []
    with detect_anomaly():
        assert autodiff.is_anomaly_enabled()
        worker = threading.Thread(target=lambda: made_elsewhere.append(Value(1.0) * 2.0))
        worker.start()
        worker.join()
        with detect_anomaly():
            pass
        assert autodiff.is_anomaly_enabled()
    assert type(made_elsewhere[0]) is Value and not autodiff.is_anomaly_enabled()
    with pytest.raises(ValueError):
        with detect_anomaly():
            Value(-1.0).log()
    assert not autodiff.is_anomaly_enabled() and grad_mode.overridden == 0


def test_detect_anomaly_works_as_a_decorator_and_inside_no_grad_records_nothing():
    @detect_anomaly()
    def make(x):
        assert autodiff.is_anomaly_enabled()
        return x * 2.0

    assert creation_site(make(Value(1.0))) is not None and not autodiff.is_anomaly_enabled()
    with detect_anomaly(), autodiff.no_grad():
        y = Value(1.0) * 2.0
    assert type(y) is Value and y.parents == ()
