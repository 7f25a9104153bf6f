"""fit, evaluate, accuracy: training results, history, callbacks, progress, divergence and errors."""

import io
import math
import re
import subprocess
import sys

import pytest

import nn
from nn.losses import binary_cross_entropy
from nn.train import NonFiniteLossError, accuracy, evaluate, fit


def train_moons(seed=0):
    X, y = nn.data.make_moons(200, noise=0.1, seed=0)
    model = nn.MLP(2, [16, 16, 1], seed=seed)
    optimizer = nn.optim.Adam(model.parameters(), lr=0.05)
    history = fit(model, X, y, loss="binary_cross_entropy", optimizer=optimizer, epochs=30, batch_size=20, seed=seed)
    return model, history, X, y


@pytest.mark.slow
def test_an_mlp_learns_the_moons_to_at_least_97_percent_on_training_and_fresh_data():
    model, history, X, y = train_moons()
    assert accuracy(model, X, y, loss="binary_cross_entropy") >= 0.97
    X_new, y_new = nn.data.make_moons(1000, noise=0.1, seed=1)
    assert accuracy(model, X_new, y_new, loss="binary_cross_entropy") >= 0.97
    assert history.loss[-1] < 0.1 * history.loss[0]


def test_an_mlp_learns_iris_to_at_least_95_percent():
    X, y = nn.data.load_iris()
    model = nn.MLP(4, [8, 3], seed=0)
    optimizer = nn.optim.Adam(model.parameters(), lr=0.05)
    history = fit(model, X, y, loss="cross_entropy", optimizer=optimizer, epochs=50, batch_size=16, seed=0)
    assert evaluate(model, X, y, loss="cross_entropy")["accuracy"] >= 0.95
    assert history.accuracy[-1] >= 0.95


def test_the_notebooks_step_is_learned_with_the_hinge_loss():
    X, y = nn.data.toy_step()
    model = nn.MLP(1, [4, 1], activation="tanh", seed=0)
    opt = nn.optim.Adam(model.parameters(), lr=0.05)
    fit(model, X, y, loss="hinge", optimizer=opt, epochs=3, batch_size=50, seed=0)
    assert accuracy(model, X, y, loss="hinge") >= 0.99


@pytest.mark.slow
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_a_deep_stack_of_eight_hidden_layers_trains(activation):
    X, y = nn.data.make_moons(100, noise=0.1, seed=0)
    model = nn.MLP(2, [8] * 8 + [1], activation=activation, seed=0)
    optimizer = nn.optim.Adam(model.parameters(), lr=0.01)
    fit(model, X, y, loss="binary_cross_entropy", optimizer=optimizer, epochs=40, batch_size=10, seed=0)
    assert accuracy(model, X, y, loss="binary_cross_entropy") >= 0.95


def test_an_epochs_loss_and_accuracy_are_the_means_over_its_examples():
    # With lr = 0 nothing moves, so every epoch sees the model as evaluate() does.
    X, y = nn.data.make_moons(30, seed=2)
    model = nn.MLP(2, [4, 1], seed=3)
    frozen = nn.optim.SGD(model.parameters(), lr=0.0)
    history = fit(model, X, y, loss=binary_cross_entropy, optimizer=frozen, epochs=2, batch_size=7)
    expected = evaluate(model, X, y, loss=binary_cross_entropy)
    assert history.loss == pytest.approx([expected["loss"]] * 2, rel=1e-14)
    assert history.accuracy == [expected["accuracy"]] * 2
    assert history.epochs == 2 and len(history.seconds) == 2 and not history.stopped_early


def test_validation_data_is_evaluated_after_each_epoch():
    X, y = nn.data.make_moons(40, seed=0)
    X_val, y_val = nn.data.make_moons(20, seed=1)
    model = nn.MLP(2, [4, 1], seed=0)
    history = fit(
        model, X, y, loss="binary_cross_entropy", optimizer=nn.optim.Adam(model.parameters(), lr=0.05),
        epochs=3, validation_data=(X_val, y_val), seed=0,
    )  # fmt: skip
    assert len(history.val_loss) == len(history.val_accuracy) == 3
    final = evaluate(model, X_val, y_val, loss="binary_cross_entropy")
    assert (history.val_loss[-1], history.val_accuracy[-1]) == (final["loss"], final["accuracy"])
    assert "val_loss" in repr(history)


def test_the_same_seed_trains_the_same_model_and_another_seed_shuffles_differently():
    def run(shuffle_seed):
        X, y = nn.data.make_moons(40, seed=0)
        model = nn.MLP(2, [4, 1], seed=1)
        opt = nn.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        history = fit(model, X, y, loss=binary_cross_entropy, optimizer=opt, epochs=3, batch_size=8, seed=shuffle_seed)
        return history.loss, model.state_dict()

    assert run(5) == run(5)
    assert run(5) != run(6)


def test_callbacks_see_each_epoch_and_can_stop_training():
    seen = []

    def stop_after_two(epoch, logs):
        seen.append((epoch, sorted(logs)))
        return epoch == 1

    X, y = nn.data.make_moons(20, seed=0)
    model = nn.MLP(2, [3, 1], seed=0)
    history = fit(
        model, X, y, loss="binary_cross_entropy", optimizer=nn.optim.SGD(model.parameters(), lr=0.1),
        epochs=10, callbacks=[stop_after_two],
    )  # fmt: skip
    assert seen == [(0, ["accuracy", "loss"]), (1, ["accuracy", "loss"])]
    assert history.epochs == 2 and history.stopped_early


def test_a_callback_may_change_the_learning_rate():
    X, y = nn.data.make_moons(20, seed=0)
    model = nn.MLP(2, [3, 1], seed=0)
    opt = nn.optim.SGD(model.parameters(), lr=0.1)

    def freeze(epoch, logs):
        opt.lr = 0.0

    fit(model, X, y, loss="binary_cross_entropy", optimizer=opt, epochs=1, callbacks=[freeze])
    after_one = model.state_dict()
    fit(model, X, y, loss="binary_cross_entropy", optimizer=opt, epochs=2)
    assert model.state_dict() == after_one


def test_mse_training_records_no_accuracy_unless_given_a_classify_function():
    X, y = nn.data.toy_step(50)
    targets = [(t + 1) // 2 for t in y]
    model = nn.MLP(1, [3, 1], activation="tanh", output_activation="sigmoid", seed=0)
    opt = nn.optim.Adam(model.parameters(), lr=0.05)
    assert fit(model, X, targets, loss="mse", optimizer=opt, epochs=2).accuracy == []
    history = fit(model, X, targets, loss="mse", optimizer=opt, epochs=2, classify=lambda p: int(p > 0.5))
    assert len(history.accuracy) == 2
    with pytest.raises(ValueError, match=r"accuracy: the loss 'mse' has no decision rule; pass classify="):
        accuracy(model, X, targets, loss="mse")
    by_threshold = accuracy(model, X, targets, classify=lambda p: int(p > 0.5))
    assert by_threshold == evaluate(model, X, targets, loss="mse", classify=lambda p: int(p > 0.5))["accuracy"]
    assert by_threshold >= 0.5


def test_a_diverging_run_stops_with_an_error_naming_the_epoch_and_step_and_keeps_the_last_finite_parameters():
    X, y = nn.data.make_moons(20, noise=0.0, shuffle=False)
    model = nn.MLP(2, [4, 1], seed=0)
    states = [model.state_dict()]
    with pytest.raises(NonFiniteLossError, match=r"fit: the loss is not finite at epoch \d+, step 1 of 1") as info:
        fit(
            model, X, [10.0 * t for t in y], loss="mse", optimizer=nn.optim.SGD(model.parameters(), lr=1e6),
            epochs=100, batch_size=20, callbacks=[lambda epoch, logs: states.append(model.state_dict())],
        )  # fmt: skip
    failed_epoch = int(re.search(r"epoch (\d+)", str(info.value)).group(1))
    assert failed_epoch == len(states) >= 2  # the epochs before it went through, one step each
    assert model.state_dict() == states[-1]
    assert all(math.isfinite(v) for v in model.state_dict().values())
    assert isinstance(info.value.__cause__, ArithmeticError)
    assert info.value.history.epochs == failed_epoch - 1  # the finished epochs are kept


def test_evaluate_builds_no_graph_and_leaves_gradients_alone():
    X, y = nn.data.make_moons(10, seed=0)
    model = nn.MLP(2, [3, 1], seed=0)
    for p in model.parameters():
        p.grad = 0.25
    result = evaluate(model, X, y, loss="binary_cross_entropy")
    assert set(result) == {"loss", "accuracy"} and 0.0 <= result["accuracy"] <= 1.0
    assert all(p.grad == 0.25 for p in model.parameters())
    assert model(X[0]).parents  # outside evaluate, graphs are recorded again


def test_the_progress_bar_shows_loss_and_accuracy_on_a_terminal_and_stays_quiet_otherwise(monkeypatch, capsys):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    X, y = nn.data.make_moons(10, seed=0)
    model = nn.MLP(2, [3, 1], seed=0)
    opt = nn.optim.SGD(model.parameters(), lr=0.1)
    fit(model, X, y, loss="binary_cross_entropy", optimizer=opt, epochs=2)  # stderr is captured: not a terminal
    assert capsys.readouterr().err == ""
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    fit(model, X, y, loss="binary_cross_entropy", optimizer=opt, epochs=2, progress=False)
    assert terminal.getvalue() == ""
    fit(model, X, y, loss="binary_cross_entropy", optimizer=opt, epochs=2)
    shown = terminal.getvalue()
    assert "2/2" in shown and "loss=" in shown and "accuracy=" in shown


def test_bad_arguments_to_fit_are_clear_errors():
    X, y = nn.data.make_moons(10, seed=0)
    model = nn.MLP(2, [3, 1], seed=0)
    opt = nn.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"unknown loss 'bce'; the names are 'mse', 'binary_cross_entropy'"):
        fit(model, X, y, loss="bce", optimizer=opt)
    with pytest.raises(ValueError, match=r"fit: X has 10 examples but y has 9 targets"):
        fit(model, X, y[:-1], loss="mse", optimizer=opt)
    with pytest.raises(ValueError, match=r"fit: X\[3\] has 3 features; the model takes 2"):
        fit(model, X[:3] + [[1, 2, 3]] + X[4:], y, loss="mse", optimizer=opt)
    with pytest.raises(ValueError, match=r"fit: batch_size must be an int >= 1, got 0"):
        fit(model, X, y, loss="mse", optimizer=opt, batch_size=0)
    with pytest.raises(TypeError, match=r"fit: optimizer must be an nn.optim optimizer, got list"):
        fit(model, X, y, loss="mse", optimizer=model.parameters())
    with pytest.raises(TypeError, match=r"fit: callbacks\[0\] must be a function"):
        fit(model, X, y, loss="mse", optimizer=opt, callbacks=["print"])
    with pytest.raises(ValueError, match=r"fit: y\[\d+\]: hinge: label must be -1 or 1, got 0"):
        fit(model, X, y, loss="hinge", optimizer=opt, batch_size=10)
    with pytest.raises(TypeError, match=r"fit: validation_data must be a pair"):
        fit(model, X, y, loss="mse", optimizer=opt, validation_data=X)


def test_a_single_callback_not_in_a_list_is_a_clear_error():
    X, y = nn.data.make_moons(10, seed=0)
    model = nn.MLP(2, [3, 1], seed=0)
    opt = nn.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TypeError, match=r"fit: callbacks must be a list of functions \(epoch, logs\), got .*print"):
        fit(model, X, y, loss="mse", optimizer=opt, callbacks=print)


def test_an_optimizer_made_for_another_model_is_refused_and_one_for_some_parameters_is_not():
    X, y = nn.data.make_moons(10, seed=0)
    model, other = nn.MLP(2, [3, 1], seed=0), nn.MLP(2, [3, 1], seed=1)
    with pytest.raises(ValueError, match=r"fit: the optimizer updates none of the model's 13 parameters"):
        fit(model, X, y, loss="mse", optimizer=nn.optim.SGD(other.parameters(), lr=0.1), epochs=1)
    last_layer = model.layers[-1].parameters()  # fine-tuning: the first layer stays as it is
    first_layer = [p.data for p in model.layers[0].parameters()]
    fit(model, X, y, loss="mse", optimizer=nn.optim.SGD(last_layer, lr=0.1), epochs=1, seed=0)
    assert [p.data for p in model.layers[0].parameters()] == first_layer


def test_a_count_of_the_wrong_type_is_a_type_error():
    X, y = nn.data.make_moons(10, seed=0)
    model = nn.MLP(2, [3, 1], seed=0)
    opt = nn.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TypeError, match=r"fit: batch_size must be an int >= 1, got float \(1.5\)"):
        fit(model, X, y, loss="mse", optimizer=opt, batch_size=1.5)
    with pytest.raises(TypeError, match=r"fit: epochs must be an int >= 0, got float \(2.0\)"):
        fit(model, X, y, loss="mse", optimizer=opt, epochs=2.0)


def test_a_feature_that_is_not_finite_is_named_by_its_example_before_the_first_step():
    X, y = nn.data.make_moons(10, seed=0)
    model = nn.MLP(2, [3, 1], seed=0)
    before = model.state_dict()
    opt = nn.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"^fit: X\[7\]\[1\] is nan; features must be finite numbers$"):
        fit(model, X[:7] + [[0.5, math.nan]] + X[8:], y, loss="binary_cross_entropy", optimizer=opt, epochs=1)
    with pytest.raises(ValueError, match=r"^evaluate: X\[9\]\[0\] is inf; features must be finite numbers$"):
        evaluate(model, X[:9] + [[math.inf, 0.5]], y, loss="binary_cross_entropy")
    assert model.state_dict() == before


def test_evaluate_names_the_target_the_loss_refuses():
    X, y = nn.data.make_moons(10, seed=0)
    model = nn.MLP(2, [3, 1], seed=0)
    with pytest.raises(ValueError, match=r"^evaluate: y\[4\]: binary_cross_entropy: target must be 0 or 1, got 7$"):
        evaluate(model, X, y[:4] + [7] + y[5:], loss="binary_cross_entropy")


def test_accuracy_refuses_labels_that_the_loss_rule_can_never_predict():
    X, y = nn.data.make_moons(10, seed=0)  # 0/1 labels
    model = nn.MLP(2, [3, 1], seed=0)
    with pytest.raises(ValueError, match=r"^accuracy: y\[\d+\]: hinge: label must be -1 or 1, got 0$"):
        accuracy(model, X, y, loss="hinge")
    with pytest.raises(ValueError, match=r"^accuracy: y\[2\]: cross_entropy: target must be a class index in \[0, 2\)"):
        accuracy(nn.MLP(2, [2], seed=0), X, y[:2] + [2] + y[3:], loss="cross_entropy")
    assert accuracy(model, X, [2 * t - 1 for t in y], loss="hinge") == accuracy(
        model, X, y, classify=lambda s: int(s > 0)
    )


def test_train_step_refuses_a_batch_whose_examples_and_targets_differ_in_number_or_are_empty():
    X, y = nn.data.make_moons(10, seed=0)
    model = nn.MLP(2, [3, 1], seed=0)
    opt = nn.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"^train_step: X has 10 examples but y has 3 targets$"):
        nn.train.train_step(model, binary_cross_entropy, opt, X, y[:3])
    with pytest.raises(ValueError, match=r"^train_step: X and y are empty$"):
        nn.train.train_step(model, binary_cross_entropy, opt, [], [])


def test_importing_nn_does_not_import_tqdm_and_importing_autodiff_does_not_import_nn():
    code = "import sys, nn; assert 'tqdm' not in sys.modules; import autodiff"
    subprocess.run([sys.executable, "-c", code], check=True)
    code = "import sys, autodiff; assert 'nn' not in sys.modules and 'numpy' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_numpy_integers_work_for_counts_and_seeds():
    np = pytest.importorskip("numpy")
    X, y = nn.data.make_moons(np.int64(40), noise=0.1, seed=np.int64(1))
    results = []
    for count in (int, np.int64):
        model = nn.MLP(2, [3, 1], seed=count(0))
        optimizer = nn.optim.SGD(model.parameters(), lr=0.1)
        fit(model, X, y, loss="binary_cross_entropy", optimizer=optimizer, epochs=count(2), batch_size=count(8),
            seed=count(3), progress=False)  # fmt: skip
        results.append([p.data for p in model.parameters()])
    assert len(X) == 40 and results[0] == results[1]


def three_classes(n):
    X, _ = nn.data.make_moons(n, noise=0.1, seed=0)
    return X, [i % 3 for i in range(n)]


BAD_LAST_TARGETS = [
    ("binary_cross_entropy", lambda n: (nn.data.make_moons(n, noise=0.1, seed=0)[0], [i % 2 for i in range(n)]), 1,
     2, ValueError, r"fit: y\[39\]: binary_cross_entropy: target must be 0 or 1, got 2"),
    ("hinge", lambda n: (nn.data.make_moons(n, noise=0.1, seed=0)[0], [1 - 2 * (i % 2) for i in range(n)]), 1,
     0, ValueError, r"fit: y\[39\]: hinge: label must be -1 or 1, got 0"),
    ("cross_entropy", three_classes, 3,
     3, ValueError, r"fit: y\[39\]: cross_entropy: target must be a class index in \[0, 3\), got 3"),
    ("cross_entropy", three_classes, 3,  # equal to 1, but not a class index: not taken for the 1 seen before
     1.0, TypeError, r"fit: y\[39\]: cross_entropy: target must be a class index \(an int\), got float"),
]  # fmt: skip


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize(
    "loss, data, nout, bad, error, message", BAD_LAST_TARGETS, ids=["bce 2", "hinge 0", "class 3", "class 1.0"]
)
def test_a_bad_target_in_the_last_batch_is_refused_before_the_first_step(
    loss, data, nout, bad, error, message, compiled
):
    X, y = data(40)
    y[-1] = bad
    model = nn.MLP(2, [4, nout], seed=0)
    before = model.state_dict()
    optimizer = nn.optim.SGD(model.parameters(), lr=0.5)
    with pytest.raises(error, match=message):
        fit(model, X, y, loss=loss, optimizer=optimizer, batch_size=8, shuffle=False, progress=False, compiled=compiled)
    assert model.state_dict() == before and optimizer.steps == 0


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_a_bad_validation_target_is_refused_before_the_first_step(compiled):
    X, y = nn.data.make_moons(20, noise=0.1, seed=0)
    model = nn.MLP(2, [4, 1], seed=0)
    before = model.state_dict()
    with pytest.raises(ValueError, match=r"fit: validation_data y\[1\]: binary_cross_entropy: target must be 0 or 1"):
        fit(model, X, y, loss="binary_cross_entropy", optimizer=nn.optim.SGD(model.parameters(), lr=0.5),
            validation_data=(X[:2], [0, -1]), progress=False, compiled=compiled)  # fmt: skip
    assert model.state_dict() == before


def test_a_target_is_checked_with_the_first_prediction_but_only_its_own_loss_must_be_finite():
    model = nn.Neuron(2, activation="linear")
    model.load_state_dict({"w.0": 1.0, "w.1": 0.0, "b": 0.0})  # the prediction is x[0]
    X = [[1.5e154, 0.0]] + [[0.5 * i, 0.0] for i in range(1, 10)]
    y = [x[0] for x in X]  # every loss is 0; X[0]'s prediction against y[1] would square to about 2e308
    history = fit(model, X, y, loss="mse", optimizer=nn.optim.SGD(model.parameters(), lr=0.1), epochs=1,
                  batch_size=10, progress=False)  # fmt: skip
    assert history.loss == [0.0] and model.state_dict() == {"w.0": 1.0, "w.1": 0.0, "b": 0.0}


@pytest.mark.parametrize("flag", ["shuffle", "progress", "compiled"])
def test_a_switch_of_fit_that_is_not_true_or_false_is_refused(flag):
    X, y = nn.data.make_moons(10, seed=0)
    model = nn.MLP(2, [3, 1], seed=0)
    opt = nn.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TypeError, match=rf"fit: {flag} must be True or False, got 'no'"):
        fit(model, X, y, loss="mse", optimizer=opt, epochs=1, **{flag: "no"})
    fit(model, X, y, loss="mse", optimizer=opt, epochs=1, **{flag: 0})  # 0 and 1 are fine


@pytest.mark.parametrize("answer", [1, 0, "stop", 1.0, [True]])
def test_a_callback_that_returns_neither_none_nor_a_bool_is_refused_naming_it_and_the_value(answer):
    X, y = nn.data.make_moons(20, seed=0)
    model = nn.MLP(2, [3, 1], seed=0)

    def stop_now(epoch, logs):
        return answer

    shown = re.escape(repr(answer))
    with pytest.raises(TypeError, match=rf"^fit: callbacks\[1\] \(stop_now\) returned {shown} at epoch=0;"):
        fit(
            model, X, y, loss="binary_cross_entropy", optimizer=nn.optim.SGD(model.parameters(), lr=0.1),
            epochs=3, callbacks=[lambda epoch, logs: None, stop_now], progress=False,
        )  # fmt: skip


def test_a_callback_returning_numpys_true_stops_training_and_numpys_false_goes_on():
    np = pytest.importorskip("numpy")
    X, y = nn.data.make_moons(20, seed=0)
    for answer, epochs in [(np.True_, 1), (np.False_, 3), (False, 3), (None, 3)]:
        model = nn.MLP(2, [3, 1], seed=0)
        history = fit(
            model, X, y, loss="binary_cross_entropy", optimizer=nn.optim.SGD(model.parameters(), lr=0.1),
            epochs=3, callbacks=[lambda epoch, logs, answer=answer: answer], progress=False,
        )  # fmt: skip
        assert history.epochs == epochs and history.stopped_early == (epochs == 1)


def test_the_history_says_1_epoch_and_2_epochs():
    X, y = nn.data.make_moons(20, seed=0)
    for epochs, shown in [(1, "History(1 epoch, loss "), (2, "History(2 epochs, loss ")]:
        model = nn.MLP(2, [3, 1], seed=0)
        optimizer = nn.optim.SGD(model.parameters(), lr=0.1)
        history = fit(model, X, y, loss="binary_cross_entropy", optimizer=optimizer, epochs=epochs, progress=False)
        assert repr(history).startswith(shown)
    assert repr(nn.train.History()) == "History(0 epochs)"
