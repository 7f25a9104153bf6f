"""Bad input gets a clear error that names the op and shows the value, never a silent nan or inf."""

import math
import re

import pytest

import autodiff
from autodiff import Value


@pytest.mark.parametrize("data", ["1.0", None, True, False, 1 + 2j, [1.0], Value(1.0)])
def test_value_refuses_data_that_is_not_an_int_or_float(data):
    with pytest.raises(TypeError, match=type(data).__name__):
        Value(data)


@pytest.mark.parametrize("data", [math.nan, math.inf, -math.inf, 10**400, -(10**4000)])
def test_value_refuses_non_finite_data(data):
    with pytest.raises(ValueError, match="finite"):
        Value(data)


def test_value_stores_ints_as_floats():
    v = Value(3)
    assert type(v.data) is float and v.data == 3.0


def test_value_refuses_a_label_that_is_not_a_string():
    with pytest.raises(TypeError, match="label"):
        Value(1.0, label=3)


@pytest.mark.parametrize(
    "compute, error, message",
    [
        (lambda: Value(-2.0).log(), ValueError, r"log: input must be > 0, got -2\.0"),
        (lambda: Value(0.0).log(), ValueError, r"log: input must be > 0, got 0\.0"),
        (lambda: Value(-1.0).sqrt(), ValueError, r"sqrt: input must be >= 0, got -1\.0"),
        (lambda: Value(1.0) / 0, ZeroDivisionError, r"/: division by zero"),
        (lambda: Value(1.0) / Value(0.0), ZeroDivisionError, r"/: division by zero"),
        (lambda: 1 / Value(0.0), ZeroDivisionError, r"/: division by zero"),
        (lambda: Value(0.0) ** -1, ZeroDivisionError, r"\*\*: 0\.0 cannot be raised to a negative power"),
        (lambda: Value(-8.0) ** (1 / 3), ValueError, r"\*\*: a negative base needs an integer exponent, got -8\.0"),
        (lambda: Value(-2.0) ** Value(2.0), ValueError, r"\*\*: the base must be >= 0 .* got base -2\.0"),
        (lambda: Value(0.0) ** Value(-1.0), ZeroDivisionError, r"\*\*: 0\.0 cannot be raised to a negative power"),
        (lambda: Value(2.0).asin(), ValueError, r"asin: input must be in \[-1, 1\], got 2\.0"),
        (lambda: Value(-1.5).acos(), ValueError, r"acos: input must be in \[-1, 1\], got -1\.5"),
        (lambda: Value(-1.5).asin(), ValueError, r"asin: input must be in \[-1, 1\], got -1\.5"),
        (lambda: Value(1.5).acos(), ValueError, r"acos: input must be in \[-1, 1\], got 1\.5"),
        (lambda: Value(-1.0).log1p(), ValueError, r"log1p: input must be > -1, got -1\.0"),
        (lambda: Value(0.0).log2(), ValueError, r"log2: input must be > 0, got 0\.0"),
        (lambda: Value(-3.0).log10(), ValueError, r"log10: input must be > 0, got -3\.0"),
        (lambda: Value(0.0).log10(), ValueError, r"log10: input must be > 0, got 0\.0"),
        (lambda: Value(-0.5).log2(), ValueError, r"log2: input must be > 0, got -0\.5"),
        (lambda: Value(1000.0).sinh(), OverflowError, r"sinh: result overflows a float, got 1000\.0"),
        (lambda: Value(-1000.0).cosh(), OverflowError, r"cosh: result overflows a float, got -1000\.0"),
        (lambda: Value(800.0).expm1(), OverflowError, r"expm1: result overflows a float, got 800\.0"),
        (lambda: Value(1.0) % 0, ZeroDivisionError, r"%: division by zero, got 1\.0 % 0\.0"),
        (lambda: 2.5 % Value(0.0), ZeroDivisionError, r"%: division by zero, got 2\.5 % 0\.0"),
        (lambda: autodiff.remainder(1, 0), ZeroDivisionError, r"%: division by zero"),
        (lambda: autodiff.asin(1.5), ValueError, r"asin: input must be in \[-1, 1\], got 1\.5"),
        (lambda: Value(1.0).clamp(), TypeError, r"clamp: give a lower bound lo, an upper bound hi, or both"),
        (lambda: Value(1.0).atan2("x"), TypeError, r"atan2: expected a Value or a number, got str"),
        (lambda: Value(1.0).clamp(0.0, "1"), TypeError, r"clamp: expected a Value or a number, got str"),
        (lambda: Value(1000.0).exp(), OverflowError, r"exp: result overflows a float, got 1000\.0"),
        (lambda: Value(10.0) ** 400, OverflowError, r"\*\*: result overflows"),
        (lambda: Value(1e308) * 10, OverflowError, r"\*: result is not a finite float"),
        (lambda: Value(1e308) + Value(1e308), OverflowError, r"\+: result is not a finite float"),
        (lambda: autodiff.dot([1e300, 1e300], [1e300, 1.0]), OverflowError, r"dot: result is not a finite float"),
        (lambda: autodiff.log(-1), ValueError, r"log: input must be > 0, got -1\.0"),
        (lambda: autodiff.exp(800), OverflowError, r"exp: result overflows"),
        (lambda: autodiff.dot([1.0], [1.0, 2.0]), ValueError, r"dot: .* same length, got 1 and 2"),
    ],
)
def test_domain_and_range_errors_name_the_op_and_show_the_value(compute, error, message):
    with pytest.raises(error, match=message):
        compute()


@pytest.mark.parametrize(
    "compute, shown",
    [
        (lambda: Value(1.0) * math.nan, r"\*: operands must be finite numbers, got nan"),
        (lambda: math.inf + Value(1.0), r"\+: operands must be finite numbers, got inf"),
        (lambda: Value(1.0) - 10**400, r"-: operands must be finite numbers, got an int too large for a float"),
        (lambda: autodiff.dot([1.0], [math.nan]), r"dot: operands must be finite numbers, got nan"),
    ],
)
def test_a_non_finite_number_operand_is_named_with_its_op(compute, shown):
    with pytest.raises(ValueError, match=shown):
        compute()


def test_a_non_finite_numpy_operand_is_shown_as_itself():
    np = pytest.importorskip("numpy")
    with pytest.raises(ValueError, match=r"\*: operands must be finite numbers, got (np\.float32\()?nan"):
        Value(1.0) * np.float32("nan")


@pytest.mark.parametrize("other", ["2", None, [1.0], True, 1j])
def test_ops_with_a_non_number_raise_type_error_naming_the_type(other):
    with pytest.raises(TypeError, match=type(other).__name__):
        Value(1.0) + other
    with pytest.raises(TypeError):
        other * Value(1.0)


def test_n_ary_ops_and_functions_name_the_bad_operand():
    with pytest.raises(TypeError, match=r"sum: expected a Value or a number, got str"):
        autodiff.sum([Value(1.0), "x"])
    with pytest.raises(TypeError, match=r"dot: expected a Value or a number, got NoneType"):
        autodiff.dot([None], [1.0])
    with pytest.raises(TypeError, match=r"exp: expected a Value or a number, got str"):
        autodiff.exp("1")
    with pytest.raises(TypeError, match=r"sum: expected a list of Values or numbers, got int \(5\)"):
        autodiff.sum(5)
    with pytest.raises(TypeError, match=r"dot: expected a list of Values or numbers, got Value"):
        autodiff.dot(Value(1.0), [1.0])


def test_an_infinite_derivative_is_an_error_not_an_inf():
    x = Value(0.0)
    y = x.sqrt()
    with pytest.raises(ZeroDivisionError, match=r"sqrt: the derivative is not finite or undefined at inputs \(0\.0\)"):
        y.backward()


def test_a_gradient_that_overflows_is_an_error():
    a, b, c = Value(1e200), Value(1e-300, label="b"), Value(1e200)
    out = (a * b) * c  # every value is finite (1e100), but d(out)/db = a * c = 1e400 is not
    with pytest.raises(OverflowError, match=r"gradient at leaf 'b' .* is not finite \(inf\)"):
        out.backward()


def test_a_zero_gradient_skips_an_undefined_local_derivative():
    x = Value(0.0)
    y = x.sqrt() * 0.0  # sqrt is never differentiated, because nothing flows into it
    y.backward()
    assert x.grad == 0.0


@pytest.mark.parametrize("method", ["max", "min"])
@pytest.mark.parametrize("other", ["1", None, True, [1.0]])
def test_max_and_min_with_a_non_number_raise_type_error_naming_the_type(method, other):
    with pytest.raises(TypeError, match=f"{method}: expected a Value or a number, got {type(other).__name__}"):
        getattr(Value(1.0), method)(other)


@pytest.mark.parametrize("flag", [True, False, 0, 1])
def test_a_switch_may_be_a_bool_or_0_or_1(flag):
    from autodiff.errors import check_switch

    check_switch("fit", "shuffle", flag)


def test_a_numpy_bool_is_a_switch_too():
    np = pytest.importorskip("numpy")
    from autodiff.errors import check_switch

    check_switch("fit", "shuffle", np.True_)
    check_switch("fit", "shuffle", np.bool_(False))


@pytest.mark.parametrize("flag", ["no", "", 2, -1, 1.0, None, [1], (True,)])
def test_anything_else_is_not_a_switch_and_the_error_names_it(flag):
    from autodiff.errors import check_switch

    with pytest.raises(TypeError, match=rf"^fit: shuffle must be True or False, got {re.escape(repr(flag))}$"):
        check_switch("fit", "shuffle", flag)
