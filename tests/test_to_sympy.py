"""to_sympy writes a graph as a SymPy formula of its leaves; the namespaces look their functions up by name."""

import pytest
import sympy

import autodiff
from autodiff import Value, to_sympy
from autodiff.namespace import MissingMathFunction
from autodiff.precise import MpmathMath, mpf
from autodiff.sympy_math import SympyMath, diff_off_kinks


def test_the_lecture_example_and_its_gradients_are_the_formulas_of_the_notes():
    x1, x2 = Value(2.0, "x1"), Value(5.0, "x2")
    f = x1.log() + x1 * x2 - x2.sin()
    s1, s2 = sympy.symbols("x1 x2", real=True)
    assert to_sympy(f) == sympy.log(s1) + s1 * s2 - sympy.sin(s2)
    f.backward(create_graph=True)
    assert to_sympy(x1.grad) == 1 / s1 + s2 and to_sympy(x2.grad) == s1 - sympy.cos(s2)


def test_unlabelled_leaves_are_numbered_in_the_order_given_and_labels_that_clash_get_suffixes():
    a, b, c = Value(1.0), Value(2.0), Value(3.0, "x0")
    expression = to_sympy(a * 2.5 + b * 0.1 + c, leaves=[b, a])
    x0, x1, x0_2 = sympy.symbols("x0 x1 x0_2", real=True)
    assert expression.free_symbols == {x0, x1, x0_2}
    assert expression.coeff(x1) == sympy.Rational(5, 2)  # a is x1: the second leaf given; 2.5 is exact
    assert expression.coeff(x0) == sympy.Float(0.1)  # the float 0.1, exactly
    assert to_sympy(Value(1.0, "y") ** 3 * 0.0 + 2.0) == 2 and to_sympy(4.0) == 4


def test_a_non_value_is_refused_by_name():
    with pytest.raises(TypeError, match="to_sympy: expected a Value, got str"):
        to_sympy("x")


def test_piecewise_ops_are_written_as_sympys_and_differentiated_off_their_kinks():
    x = Value(0.3, "x")
    expression = to_sympy(x.relu() + abs(x) + x.floor() + (x % 0.25) + x.clamp(0.0, 1.0))
    s = sympy.Symbol("x", real=True)
    derivative = diff_off_kinks(expression, s)
    assert derivative.subs(s, sympy.Rational(3, 10)) == 4  # relu, abs, %, clamp: 1 each; floor: 0
    assert derivative.subs(s, -sympy.Rational(3, 10)) == 0  # relu 0, abs -1, % 1, clamp 0


def test_both_oracle_namespaces_find_the_elementary_functions_by_name_and_refuse_the_unknown():
    assert MpmathMath.log2(mpf(8)) == 3 and MpmathMath.atan2(mpf(1), mpf(1)) == MpmathMath.atan(mpf(1))
    assert SympyMath.ceil(sympy.Rational(1, 2)) == 1 and SympyMath.expm1(sympy.Integer(0)) == 0
    for namespace in (MpmathMath, SympyMath):
        with pytest.raises(MissingMathFunction, match="no function 'nope'"):
            namespace.nope  # noqa: B018
    with pytest.raises(ValueError, match=r"log: no real finite value at \(-1.0\)"):
        MpmathMath.log(mpf(-1))


def test_import_autodiff_loads_neither_sympy_nor_mpmath():
    import subprocess
    import sys

    code = "import sys, autodiff; print('sympy' in sys.modules, 'mpmath' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.split() == ["False", "False"]
    assert callable(autodiff.to_sympy)
