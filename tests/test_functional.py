"""grad, value_and_grad, no_grad."""

import collections
import math

import pytest

import autodiff
from autodiff import Value, grad, no_grad, value_and_grad


def test_grad_of_one_argument_is_a_float():
    assert grad(lambda x: x**3)(2.0) == 12.0
    assert isinstance(grad(lambda x: x * 2)(1), float)


def test_value_and_grad_of_several_arguments_gives_a_tuple():
    value, (gx, gy) = value_and_grad(lambda x, y: x * y + y)(2.0, 3.0)
    assert (value, gx, gy) == (9.0, 3.0, 3.0)


def test_a_list_argument_gets_a_list_gradient():
    def norm2(xs):
        return autodiff.dot(xs, xs)

    assert grad(norm2)([1.0, 2.0, 3.0]) == [2.0, 4.0, 6.0]


def test_the_function_may_be_written_for_plain_floats_too():
    def f(x):
        return autodiff.log(x) + autodiff.sin(x) * x

    assert isinstance(f(2.0), float)
    assert grad(f)(2.0) == pytest.approx(0.5 + math.cos(2) * 2 + math.sin(2), rel=1e-15)


def test_grad_never_touches_the_grad_of_captured_values():
    w = Value(3.0)
    w.grad = 7.0
    h = w * 2  # an intermediate built outside, also captured
    f = grad(lambda x: w * x + h * x)
    assert f(2.0) == 9.0
    assert w.grad == 7.0 and h.grad == 0.0


def test_an_unused_argument_has_zero_gradient_and_a_constant_function_is_allowed():
    assert grad(lambda x, y: x * 2)(1.0, 5.0) == (2.0, 0.0)
    assert value_and_grad(lambda x: 4.0)(1.0) == (4.0, 0.0)


def test_a_constant_function_may_return_a_numpy_float_of_any_width():
    np = pytest.importorskip("numpy")
    assert value_and_grad(lambda x: np.float32(4.0))(1.0) == (4.0, 0.0)
    assert autodiff.jvp(lambda x: np.float32(0.5), [1.0], [1.0]) == (0.5, 0.0)


def test_keyword_arguments_are_passed_to_f_and_not_differentiated():
    def scaled(x, y, scale=1.0):
        return scale * x * y

    assert grad(scaled)(2.0, 3.0, scale=10.0) == (30.0, 20.0)
    assert value_and_grad(scaled, argnums=1, has_aux=False)(2.0, 3.0, scale=0.5) == (3.0, 1.0)
    assert grad(lambda x, label="": x * x if label == "sq" else x)(3.0, label="sq") == 6.0


def test_a_function_returning_something_else_is_a_clear_error():
    def broken(x):
        return "oops"

    with pytest.raises(TypeError, match="broken must return a Value, got str"):
        grad(broken)(1.0)


def test_a_bad_argument_is_named():
    with pytest.raises(TypeError, match=r"argument 1: Value: data must be an int or float, got str"):
        grad(lambda x, y: x * y)(1.0, "2")


def test_no_grad_records_no_graph_and_restores_recording_afterwards():
    x = Value(2.0)
    with no_grad():
        assert not autodiff.is_grad_enabled()
        y = x * x + 1
    assert (y.data, y.op, y.parents) == (5.0, "", ())
    assert autodiff.is_grad_enabled()
    assert (x * x).parents == (x, x)


def test_no_grad_restores_recording_after_an_error():
    with pytest.raises(ValueError):
        with no_grad():
            Value(-1.0).log()
    assert autodiff.is_grad_enabled()


def test_no_grad_works_as_a_decorator():
    @no_grad()
    def step(x):
        return x * 3

    assert step(Value(1.0)).parents == ()


def test_grad_records_the_graph_even_inside_no_grad():
    with no_grad():
        assert grad(lambda x: x**3)(2.0) == 12.0
        assert not autodiff.is_grad_enabled()


def test_gradcheck_works_inside_no_grad():
    with no_grad():
        result = autodiff.gradcheck(lambda x, y: x * y.exp(), [2.0, 0.5])
    assert result.ok and result.analytic == (math.exp(0.5), 2.0 * math.exp(0.5))


def test_enable_grad_records_inside_no_grad_and_restores_afterwards():
    x = Value(2.0)
    with no_grad():
        with autodiff.enable_grad():
            assert (x * x).parents == (x, x)
        assert (x * x).parents == ()
    assert autodiff.is_grad_enabled()


def test_a_no_grad_decorated_function_can_call_itself():
    @no_grad()
    def depth(n: int) -> int:
        assert not autodiff.is_grad_enabled()
        return 0 if n == 0 else 1 + depth(n - 1)

    assert depth(3) == 3 and autodiff.is_grad_enabled()


# --- argnums and has_aux, as in JAX -----------------------------------------------------
def f_xy(x, y):
    return x * y + y.sin()


def test_argnums_int_gives_that_arguments_gradient_alone():
    assert grad(f_xy, argnums=0)(2.0, 3.0) == 3.0
    assert grad(f_xy, argnums=1)(2.0, 3.0) == 2.0 + math.cos(3.0)
    assert grad(f_xy, argnums=-1)(2.0, 3.0) == 2.0 + math.cos(3.0)
    assert value_and_grad(f_xy, argnums=1)(2.0, 3.0) == (6.0 + math.sin(3.0), 2.0 + math.cos(3.0))


def test_argnums_tuple_gives_a_tuple_in_its_order():
    assert grad(f_xy, argnums=(1, 0))(2.0, 3.0) == (2.0 + math.cos(3.0), 3.0)
    assert grad(f_xy, argnums=(0,))(2.0, 3.0) == (3.0,)
    assert grad(lambda x: x * x, argnums=(0,))(3.0) == (6.0,)


def test_the_default_differentiates_every_argument_as_before():
    # JAX's default is argnums=0; ours keeps the documented behaviour: a tuple for several arguments.
    assert grad(f_xy)(2.0, 3.0) == (3.0, 2.0 + math.cos(3.0))
    assert grad(lambda x: x * x)(3.0) == 6.0


def test_arguments_not_differentiated_are_values_or_passed_as_they_are():
    seen = {}

    def loss(w, xs, name):
        seen["xs"], seen["name"] = xs, name
        return autodiff.sum([w * x.sin() for x in xs])

    assert grad(loss, argnums=0)(2.0, [0.5, 1.5], "run 1") == math.sin(0.5) + math.sin(1.5)
    assert all(isinstance(x, Value) for x in seen["xs"]) and seen["name"] == "run 1"


def test_a_list_argument_in_argnums_gets_a_list_gradient():
    assert grad(lambda scale, xs: scale * autodiff.dot(xs, xs), argnums=1)(3.0, [1.0, 2.0]) == [6.0, 12.0]


def test_has_aux_returns_the_aux_with_values_read_as_floats():
    def loss(x, y):
        prediction = x * y
        return (prediction - 1.0) ** 2, {"prediction": prediction, "inputs": [x, y], "note": "ok"}

    (value, aux), gradient = value_and_grad(loss, has_aux=True)(2.0, 3.0)
    assert value == 25.0 and gradient == (30.0, 20.0)
    assert aux == {"prediction": 6.0, "inputs": [2.0, 3.0], "note": "ok"}
    assert grad(loss, argnums=1, has_aux=True)(2.0, 3.0) == (20.0, aux)


def test_a_numpy_integer_argnums_is_an_int_giving_that_arguments_gradient_alone():
    np = pytest.importorskip("numpy")
    for argnums in (np.int64(1), np.int32(1), np.intp(-1)):
        assert grad(f_xy, argnums=argnums)(2.0, 3.0) == 2.0 + math.cos(3.0)
        assert value_and_grad(f_xy, argnums=argnums)(2.0, 3.0) == (6.0 + math.sin(3.0), 2.0 + math.cos(3.0))
    assert grad(f_xy, argnums=(np.int64(1),))(2.0, 3.0) == (2.0 + math.cos(3.0),)


Point = collections.namedtuple("Point", "x y")


def test_has_aux_reads_values_as_floats_in_every_container_keeping_its_type():
    def loss(x, y):
        p = x * y
        aux = {
            "point": Point(p, [x, (y, {"deep": p})]),
            "ordered": collections.OrderedDict(a=x),
            "counts": collections.defaultdict(list, {"b": [y]}),
            "tuple": (x, Point(y, "label")),
            "set": {p},
        }
        return p, aux

    (_, aux), _ = value_and_grad(loss, has_aux=True)(2.0, 3.0)
    assert aux == {
        "point": Point(6.0, [2.0, (3.0, {"deep": 6.0})]),
        "ordered": {"a": 2.0},
        "counts": {"b": [3.0]},
        "tuple": (2.0, Point(3.0, "label")),
        "set": {6.0},
    }
    assert type(aux["point"]) is Point and type(aux["tuple"][1]) is Point
    assert type(aux["ordered"]) is collections.OrderedDict and type(aux["counts"]) is collections.defaultdict

    def no_values(value):
        return not isinstance(value, Value) and all(map(no_values, _children(value)))

    assert no_values(aux)


def _children(value):
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, (list, tuple, set)):
        return list(value)
    return []


def test_has_aux_needs_a_pair():
    message = r"<lambda>: with has_aux=True, the function must return \(value, aux\), got Value"
    with pytest.raises(TypeError, match=message):
        grad(lambda x: x * 2.0, has_aux=True)(1.0)


@pytest.mark.parametrize(
    "argnums, error, message",
    [
        (2, ValueError, r"f_xy: argnums 2 is out of range for 2 arguments"),
        ((0, -2), ValueError, r"f_xy: argnums names argument 0 twice"),
        (True, TypeError, r"f_xy: argnums must be an int or a tuple of ints, got True"),
        ("0", TypeError, r"f_xy: argnums must be an int or a tuple of ints, got '0'"),
        ((0, 1.0), TypeError, r"argnums must be an int or a tuple of ints"),
    ],
)
def test_bad_argnums_are_named(argnums, error, message):
    with pytest.raises(error, match=message):
        grad(f_xy, argnums=argnums)(2.0, 3.0)


def test_has_aux_must_be_a_bool():
    with pytest.raises(TypeError, match=r"has_aux must be True or False, got 1"):
        grad(f_xy, has_aux=1)
