"""Grad mode and tracing are per thread: what one thread turns off, the others still record."""

import threading

import pytest

import autodiff
from autodiff import Value


def run_in_thread(target):
    """Run target() in a new thread; return its result, re-raising what it raised."""
    result = {}

    def body():
        try:
            result["value"] = target()
        except BaseException as error:  # handed back to the test
            result["error"] = error

    thread = threading.Thread(target=body)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive()
    if "error" in result:
        raise result["error"]
    return result["value"]


def test_no_grad_in_one_thread_leaves_recording_on_in_another():
    inside, done = threading.Event(), threading.Event()

    def hold_no_grad():
        with autodiff.no_grad():
            inside.set()
            done.wait(timeout=30)
            return autodiff.is_grad_enabled(), (Value(1.0) * 2).parents

    holder = threading.Thread(target=lambda: results.append(hold_no_grad()))
    results = []
    holder.start()
    assert inside.wait(timeout=30)
    try:
        grads = []
        for _ in range(2000):  # while the other thread sits in no_grad()
            x = Value(3.0)
            y = x * x + x
            y.backward()
            grads.append(x.grad)
        assert autodiff.is_grad_enabled()
    finally:
        done.set()
        holder.join(timeout=30)
    assert grads == [7.0] * 2000
    assert results == [(False, ())]  # and the other thread did not record


def test_overlapping_no_grad_blocks_in_two_threads_leave_recording_on():
    # A enters, B enters, A leaves, B leaves: with one global flag, B would restore "off" for everyone.
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def a():
        with autodiff.no_grad():
            a_in.set()
            b_in.wait(timeout=30)
        a_out.set()

    def b():
        a_in.wait(timeout=30)
        with autodiff.no_grad():
            b_in.set()
            a_out.wait(timeout=30)

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert autodiff.is_grad_enabled()
    y = Value(2.0) * 3
    assert y.parents and y.op == "*"
    assert run_in_thread(autodiff.is_grad_enabled)


def test_a_new_thread_records_even_while_the_main_thread_is_in_no_grad():
    with autodiff.no_grad():
        assert not autodiff.is_grad_enabled()

        def elsewhere():
            x = Value(2.0)
            (x**3).backward()
            return autodiff.is_grad_enabled(), x.grad

        assert run_in_thread(elsewhere) == (True, 12.0)
        assert not (Value(1.0) + 1).parents


def test_compiling_in_one_thread_does_not_refuse_comparisons_in_another():
    tracing, compared = threading.Event(), threading.Event()

    def slow_loss(x):
        tracing.set()
        compared.wait(timeout=30)  # the other thread compares Values while this one traces
        return x * x

    compiled_in_thread = []
    thread = threading.Thread(target=lambda: compiled_in_thread.append(autodiff.compile(slow_loss, [1.0])))
    thread.start()
    try:
        assert tracing.wait(timeout=30)
        a, b = Value(1.0), Value(2.0)
        assert a < b and bool(b) and float(a) == 1.0 and f"{a:.1f}" == "1.0"
    finally:
        compared.set()
        thread.join(timeout=30)
    assert compiled_in_thread[0]([3.0]) == 9.0


def test_the_same_no_grad_object_can_be_entered_in_two_threads():
    block = autodiff.no_grad()
    barrier = threading.Barrier(2, timeout=30)

    def use():
        with block:
            barrier.wait()
            off = not autodiff.is_grad_enabled()
        return off and autodiff.is_grad_enabled()

    results = []
    threads = [threading.Thread(target=lambda: results.append(use())) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert results == [True, True]


def test_formatting_a_value_while_tracing_is_refused():
    with pytest.raises(autodiff.compiler.TracingError, match=r"format\(\)"):
        autodiff.compile(lambda x: x * len(f"{x:.2f}"), [12.0])


def test_a_decorated_generator_runs_its_body_in_the_mode_and_the_callers_code_outside_it():
    # The decorator once entered the mode only while the generator object was made, so the body recorded.
    @autodiff.no_grad()
    def steps(x):
        received = yield bool((x * 2).parents)
        yield bool((x * received).parents), autodiff.is_grad_enabled()
        return "done"

    @autodiff.detect_anomaly()
    def watched():
        yield autodiff.is_anomaly_enabled()

    x = Value(1.0)
    walk = steps(x)
    assert next(walk) is False
    assert autodiff.is_grad_enabled() and (x * 2).parents  # between two steps the caller records
    assert walk.send(3.0) == (False, False)
    with pytest.raises(StopIteration) as finished:
        next(walk)
    assert finished.value.value == "done"
    assert list(watched()) == [True] and not autodiff.is_anomaly_enabled()

    @autodiff.no_grad()
    def catching():
        try:
            yield 1
        except KeyError:
            yield autodiff.is_grad_enabled()

    thrown = catching()
    next(thrown)
    assert thrown.throw(KeyError("k")) is False
    thrown.close()
    assert autodiff.grad_mode.overridden == 0


def test_a_decorated_generator_takes_keyword_arguments_and_closing_it_runs_its_cleanup_in_the_mode():
    cleanup = []

    @autodiff.no_grad()
    def scaled(x, *, scale):
        try:
            while True:
                yield (x * scale).data
        finally:
            cleanup.append(autodiff.is_grad_enabled())

    walk = scaled(Value(2.0), scale=3.0)
    assert next(walk) == 6.0
    walk.close()  # closed early, by the caller: the body's finally runs now, inside no_grad
    assert cleanup == [False]
    assert autodiff.is_grad_enabled() and autodiff.grad_mode.overridden == 0
