"""fit(compiled=True): the same training, step for step, through autodiff.compile's numpy backend."""

import math
import re

import pytest

import nn
from nn.train import NonFiniteLossError, fit


def train_both(make_model, X, y, loss, optimizer, **options):
    """Train two copies of a model, eagerly and compiled; return both parameter lists and histories."""
    results = []
    for compiled in (False, True):
        model = make_model()
        history = fit(model, X, y, loss=loss, optimizer=optimizer(model), progress=False, compiled=compiled, **options)
        results.append(([p.data for p in model.parameters()], history))
    return results


def assert_same_training(eager, compiled, tol=1e-9):
    (eager_params, eager_history), (compiled_params, compiled_history) = eager, compiled
    assert max(abs(a - b) for a, b in zip(eager_params, compiled_params)) <= tol
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        ours, theirs = getattr(eager_history, key), getattr(compiled_history, key)
        assert len(ours) == len(theirs) and all(abs(a - b) <= tol for a, b in zip(ours, theirs)), key


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "leaky_relu"])
def test_binary_cross_entropy_training_equals_eager_training_step_for_step(activation):
    X, y = nn.data.make_moons(120, noise=0.1, seed=0)
    eager, compiled = train_both(
        lambda: nn.MLP(2, [8, 8, 1], activation=activation, seed=1), X, y, "binary_cross_entropy",
        lambda m: nn.optim.Adam(m.parameters(), lr=0.02), epochs=4, batch_size=16, seed=2,
        validation_data=(X[:30], y[:30]),
    )  # fmt: skip
    assert_same_training(eager, compiled)


def test_cross_entropy_on_iris_equals_eager_training():
    X, y = nn.data.load_iris()
    eager, compiled = train_both(
        lambda: nn.MLP(4, [8, 3], seed=0), X, y, "cross_entropy",
        lambda m: nn.optim.SGD(m.parameters(), lr=0.05, momentum=0.9), epochs=3, batch_size=25, seed=4,
    )  # fmt: skip
    assert_same_training(eager, compiled)
    assert eager[1].accuracy[-1] > 0.6


def test_hinge_and_multi_output_mse_equal_eager_training():
    X, y = nn.data.make_moons(60, noise=0.1, seed=5)
    labels = [2 * t - 1 for t in y]
    eager, compiled = train_both(
        lambda: nn.MLP(2, [6, 1], seed=3), X, labels, "hinge",
        lambda m: nn.optim.SGD(m.parameters(), lr=0.1), epochs=3, batch_size=20, seed=6,
    )  # fmt: skip
    assert_same_training(eager, compiled)
    targets = [[x1 + x2, x1 * x2] for x1, x2 in X]
    eager, compiled = train_both(
        lambda: nn.MLP(2, [6, 2], seed=3), X, targets, "mse",
        lambda m: nn.optim.Adam(m.parameters(), lr=0.01), epochs=3, batch_size=20, seed=6,
    )  # fmt: skip
    assert_same_training(eager, compiled)


def test_compiled_training_reaches_97_percent_on_moons():
    X, y = nn.data.make_moons(200, noise=0.1, seed=0)
    model = nn.MLP(2, [16, 16, 1], seed=1)
    fit(model, X, y, loss="binary_cross_entropy", optimizer=nn.optim.Adam(model.parameters(), lr=0.02),
        epochs=40, batch_size=32, seed=0, progress=False, compiled=True)  # fmt: skip
    assert nn.train.accuracy(model, X, y, loss="binary_cross_entropy") >= 0.97


def test_bad_targets_are_refused_before_training_as_in_eager_mode():
    X, y = nn.data.make_moons(20, noise=0.1, seed=0)
    model = nn.MLP(2, [4, 1], seed=0)
    before = model.state_dict()
    with pytest.raises(ValueError, match="hinge: label must be -1 or 1, got 0"):
        fit(model, X, y, loss="hinge", optimizer=nn.optim.SGD(model.parameters(), lr=0.1), compiled=True)
    assert model.state_dict() == before


@pytest.mark.parametrize(
    "first_target, error, message",
    [
        (5, ValueError, r"cross_entropy: target must be a class index in \[0, 3\), got 5"),
        (1.0, TypeError, r"cross_entropy: target must be a class index \(an int\), got float"),
    ],
)
def test_a_bad_first_cross_entropy_target_gets_the_losss_own_error(first_target, error, message):
    X, _ = nn.data.make_moons(20, noise=0.1, seed=0)
    y = [first_target] + [0, 1, 2] * 6 + [0]
    model = nn.MLP(2, [3], seed=0)
    with pytest.raises(error, match=message):
        fit(model, X, y, loss="cross_entropy", optimizer=nn.optim.SGD(model.parameters(), lr=0.1), compiled=True)


def test_a_loss_that_branches_on_data_cannot_be_compiled_and_says_so():
    def branchy(pred, target):
        return pred * pred if pred > target else pred

    X, y = nn.data.make_moons(10, noise=0.1, seed=0)
    model = nn.MLP(2, [3, 1], seed=0)
    with pytest.raises(ValueError, match=r"cannot be traced .* compiled=False"):
        fit(model, X, y, loss=branchy, optimizer=nn.optim.SGD(model.parameters(), lr=0.1), compiled=True)


def test_a_diverging_compiled_run_stops_with_the_epoch_and_step_and_keeps_finite_parameters():
    X, y = nn.data.make_moons(20, noise=0.0, shuffle=False)
    model = nn.MLP(2, [4, 1], seed=0)
    states = [model.state_dict()]
    with pytest.raises(NonFiniteLossError, match=r"epoch \d+, step 1 of 1") as info:
        fit(
            model, X, [10.0 * t for t in y], loss="mse", optimizer=nn.optim.SGD(model.parameters(), lr=1e6),
            epochs=100, batch_size=20, progress=False, compiled=True,
            callbacks=[lambda epoch, logs: states.append(model.state_dict())],
        )  # fmt: skip
    assert re.search(r"compiled 'mse' loss of MLP, example \d+: ", str(info.value))  # not a method's name
    failed_epoch = int(re.search(r"epoch (\d+)", str(info.value)).group(1))
    assert failed_epoch == len(states) >= 2
    assert model.state_dict() == states[-1]
    assert all(math.isfinite(v) for v in model.state_dict().values())


@pytest.mark.parametrize("where", ["input", "target"])
@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_an_example_that_overflows_where_the_loss_is_traced_is_the_same_non_finite_loss_error_both_ways(
    compiled, where
):
    X, y = nn.data.make_moons(20, noise=0.1, seed=0)
    y = [float(t) for t in y]
    if where == "input":
        X[0] = [1e306, -1e306]  # the squared error of its prediction overflows
    else:
        y[0] = 1e200  # (prediction - 1e200) ** 2 overflows
    model = nn.MLP(2, [4, 1], seed=0)
    before = model.state_dict()
    with pytest.raises(NonFiniteLossError, match=r"fit: the loss is not finite at X\[0\]") as info:
        fit(model, X, y, loss="mse", optimizer=nn.optim.SGD(model.parameters(), lr=0.1), batch_size=5,
            progress=False, compiled=compiled)  # fmt: skip
    assert "before the first step" in str(info.value) and "OverflowError: **: result overflows" in str(info.value)
    assert isinstance(info.value.__cause__, OverflowError)
    assert info.value.history.epochs == 0
    assert model.state_dict() == before
