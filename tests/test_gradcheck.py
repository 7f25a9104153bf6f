"""gradcheck: agrees on correct derivatives, and is shown to fail on wrong ones."""

import math

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


def test_a_pass_with_a_large_relative_error_shows_the_absolute_error_and_what_is_allowed():
    # relu'(0) = 0 by the engine's rule, while central differences straddle the kink: 1e-6 * h / (2 h) = 5e-7.
    # The relative error is 1, yet the check passes: |0 - 5e-7| is far below atol. The report must say why.
    result = gradcheck(lambda x: x.relu() * 1e-6, [0.0])
    assert result.ok
    assert result.max_rel_error == pytest.approx(1.0)
    assert result.abs_errors == (pytest.approx(5e-7, rel=1e-6),)
    assert result.allowed == (pytest.approx(1e-5 + 1e-3 * 5e-7, rel=1e-9),)
    headline, columns, row = repr(result).splitlines()
    assert headline == (
        "gradcheck(<lambda>): ok, |analytic - numeric| <= atol + rtol*|numeric| everywhere (atol=1e-05, rtol=0.001); "
        "max relative error 1"
    )
    assert columns.split() == ["input", "at", "analytic", "numeric", "|a", "-", "n|", "allowed", "rel.", "error"]
    assert row.split() == ["0", "0", "0", "5e-07", "5e-07", "1e-05", "1"]


def test_a_failure_names_the_inputs_that_break_the_rule_and_shows_by_how_much():
    result = gradcheck(lambda x, y, z: x * x.detach() + y * y + z * z.detach(), [3.0, 2.0, 1.0])
    assert not result.ok
    headline, _, *rows = repr(result).splitlines()
    assert headline.startswith(
        "gradcheck(<lambda>): FAILED at inputs 0, 2, |analytic - numeric| > atol + rtol*|numeric|"
    )
    assert [row.endswith("<- mismatch") for row in rows] == [True, False, True]
    assert rows[0].split()[4:6] == ["3", "0.00601"]  # |3 - 6| against 1e-5 + 1e-3 * 6


def test_gradcheck_reports_a_failure_to_evaluate_near_the_point():
    with pytest.raises(ValueError, match=r"gradcheck: <lambda> failed at input 0"):
        gradcheck(lambda x: x.log(), [1e-7], eps=1e-6)


def test_gradcheck_leaves_captured_gradients_alone():
    w = Value(2.0)
    gradcheck(lambda x: w * x, [1.0])
    assert w.grad == 0.0


# --- precision="high": 50-digit differences of the recorded graph (docs/oracles.md) -----------------
def test_high_precision_holds_the_lecture_example_to_1e_12_and_says_how():
    result = gradcheck(f, [2.0, 5.0], precision="high")
    assert result.ok and result.precision == "high" and (result.atol, result.rtol) == (1e-290, 1e-12)
    assert result.numeric == (5.5, pytest.approx(2 - math.cos(5), rel=1e-15))
    assert result.sizes == (5.5, pytest.approx(2 + abs(math.cos(5)), rel=1e-15))  # |1/x1| + |x2|, |x1| + |cos x2|
    headline, *_, footer = repr(result).splitlines()
    assert "rtol*(|numeric| + size) + drift" in headline and footer.startswith("  numeric: 50 significant digits")


def test_high_precision_fails_a_wrong_rule_that_the_default_lets_through():
    # cos's derivative off by 1e-9: far inside the default's rtol of 1e-3, far outside 1e-12
    nearly = Op("cos", lambda m, x: m.cos(x), lambda m, out, x: (-m.sin(x) * (1.0 + 1e-9),))
    assert gradcheck(lambda x: nearly(x), [0.7]).ok
    assert not gradcheck(lambda x: nearly(x), [0.7], precision="high").ok


def test_high_precision_refuses_a_function_that_detaches_a_value():
    with pytest.raises(ValueError, match=r"reads a Value as a plain number \(detach\(\)\).*use the default precision"):
        gradcheck(lambda x: x * x.detach(), [3.0], precision="high")


def test_an_unknown_precision_is_named():
    with pytest.raises(ValueError, match="precision must be 'float' or 'high', got 'double'"):
        gradcheck(f, [2.0, 5.0], precision="double")


def test_a_missing_mpmath_is_a_one_line_error_naming_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "mpmath", None)  # import mpmath now raises ImportError
    for module in ("autodiff.precise", "autodiff.high_precision"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    with pytest.raises(ImportError, match=r"^autodiff's 50-digit oracle \(precision='high'\) needs mpmath: pip install "
                       r"'autodiff\[oracles\]'$"):  # fmt: skip
        gradcheck(f, [2.0, 5.0], precision="high")


def test_a_missing_sympy_is_a_one_line_error_naming_the_extra(monkeypatch):
    import importlib
    import sys

    monkeypatch.setitem(sys.modules, "sympy", None)
    monkeypatch.delitem(sys.modules, "autodiff.sympy_math", raising=False)
    with pytest.raises(ImportError, match=r"^autodiff.to_sympy needs sympy: pip install 'autodiff\[oracles\]'$"):
        importlib.import_module("autodiff.sympy_math")
