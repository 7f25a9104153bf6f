"""gradcheck: agrees on correct derivatives, and is shown to fail on wrong ones."""

import math
from pathlib import Path

import pytest

from autodiff import Value, gradcheck
from autodiff.ops import Op


def f(x1, x2):
    return x1.log() + x1 * x2 - x2.sin()


def test_gradcheck_passes_on_the_lecture_notes_example():
    result = gradcheck(f, [2.0, 5.0])
    assert result.ok and bool(result)
    assert result.analytic == (5.5, pytest.approx(2 - math.cos(5), rel=1e-15))
    assert result.numeric == pytest.approx((5.5, 2 - math.cos(5)), rel=1e-8)
    assert result.max_rel_error < 1e-8
    assert result.max_rel_error == max(result.rel_errors)


def test_gradcheck_fails_on_a_wrong_derivative():
    def half_derivative(x):
        return x * x.detach()  # value x^2, but backward sees only one factor: derivative x instead of 2x

    result = gradcheck(half_derivative, [3.0])
    assert not result.ok
    assert result.analytic == (3.0,)
    assert result.numeric[0] == pytest.approx(6.0, rel=1e-8)
    assert result.rel_errors[0] == pytest.approx(3 / 9, rel=1e-6)


def test_gradcheck_catches_an_op_with_a_wrong_rule():
    # sin with the derivative of cos: a plausible slip in a derivative table.
    wrong_sin = Op("sin", lambda m, x: m.sin(x), lambda m, out, x: (-m.sin(x),))

    def uses_wrong_sin(x):
        return wrong_sin(x)

    assert not gradcheck(uses_wrong_sin, [0.4]).ok
    assert gradcheck(lambda x: x.sin(), [0.4]).ok


def test_gradcheck_repr_names_the_function_and_prints_both_columns():
    text = repr(gradcheck(f, [2.0, 5.0]))
    assert text.startswith("gradcheck(f): ok")
    assert "analytic" in text and "numeric" in text and "5.5" in text
    bad = repr(gradcheck(lambda x: x * x.detach(), [3.0]))
    assert "FAILED" in bad and "mismatch" in bad


def test_gradcheck_reports_a_failure_to_evaluate_near_the_point():
    with pytest.raises(ValueError, match=r"gradcheck: <lambda> failed at input 0"):
        gradcheck(lambda x: x.log(), [1e-7], eps=1e-6)


def test_gradcheck_leaves_captured_gradients_alone():
    w = Value(2.0)
    gradcheck(lambda x: w * x, [1.0])
    assert w.grad == 0.0


def test_the_readme_gradcheck_example_prints_what_the_readme_shows():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    example = readme.split(">>> autodiff.gradcheck(", 1)[1].split("```", 1)[0]
    call, shown = example.split("\n", 1)
    assert call == "lambda x1, x2: x1.log() + x1 * x2 - x2.sin(), [2.0, 5.0])"
    assert repr(gradcheck(lambda x1, x2: x1.log() + x1 * x2 - x2.sin(), [2.0, 5.0])) == shown.rstrip("\n")
