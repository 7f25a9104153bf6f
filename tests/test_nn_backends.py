"""The step backends of fit, used alone: eager, compiled and Dask steps agree on one task."""

import random

import pytest

import nn
from nn.backends import CompiledSteps, EagerSteps, Task
from nn.losses import binary_cross_entropy


def moons_task(X=None, y=None, seed=1):
    if X is None:
        X, y = nn.data.make_moons(24, noise=0.1, seed=0)
    model = nn.MLP(2, [4, 1], seed=seed)
    optimizer = nn.optim.SGD(model.parameters(), lr=0.5)
    classify = lambda logit: 1 if logit > 0 else 0  # noqa: E731
    return Task(model, binary_cross_entropy, optimizer, classify, None, X, y, (X[:8], y[:8]))


def one_step(backend):
    (Xb, yb), *_ = backend.batches(10, True, random.Random(3))
    result = backend.step(Xb, yb)
    return result, backend.correct(result, yb), [p.data for p in backend.task.model.parameters()]


def test_the_compiled_backend_takes_the_eager_backends_step_and_evaluation():
    pytest.importorskip("numpy")
    eager, compiled = EagerSteps(moons_task()), CompiledSteps(moons_task())
    (eager_result, eager_correct, eager_params), (result, correct, params) = one_step(eager), one_step(compiled)
    assert result.loss == pytest.approx(eager_result.loss, abs=1e-12)
    assert result.outputs == pytest.approx(eager_result.outputs, abs=1e-12)
    assert correct == eager_correct and 0 < correct < 10
    untrained = [p.data for p in moons_task().model.parameters()]
    assert params == pytest.approx(eager_params, abs=1e-12) and params != untrained
    X_val, y_val = eager.task.validation_data
    ours, theirs = compiled.evaluate(X_val, y_val), eager.evaluate(X_val, y_val)
    assert ours["loss"] == pytest.approx(theirs["loss"], abs=1e-12) and ours["accuracy"] == theirs["accuracy"]


def test_whole_dataset_batches_keep_the_order_of_the_data():
    task = moons_task()
    [(Xb, yb)] = list(EagerSteps(task).batches(None, True, random.Random(0)))
    assert Xb == task.X and yb == task.y


def test_a_backend_checks_every_target_when_it_is_made_before_any_step():
    X, y = nn.data.make_moons(24, noise=0.1, seed=0)
    task = moons_task(X, y[:-1] + [2])
    before = [p.data for p in task.model.parameters()]
    with pytest.raises(ValueError, match=r"fit: y\[23\]"):
        EagerSteps(task)
    assert [p.data for p in task.model.parameters()] == before


def test_the_dask_backend_takes_the_compiled_backends_step():
    pytest.importorskip("numpy")
    da = pytest.importorskip("dask.array")
    import dask

    from nn.dask_train import DaskSteps

    task = moons_task()
    X, y = DaskSteps.checked_data("fit", task.model, task.X, task.y)
    X_val, y_val = DaskSteps.checked_validation(task.model, *task.validation_data)
    assert isinstance(X, da.Array) and isinstance(X_val, da.Array)
    dask_task = Task(task.model, task.loss, task.optimizer, task.classify, None, X, y, (X_val, y_val))
    with dask.config.set(scheduler="synchronous"):
        result, correct, params = one_step(DaskSteps(dask_task))
    compiled_result, compiled_correct, compiled_params = one_step(CompiledSteps(moons_task()))
    assert result.loss == pytest.approx(compiled_result.loss, abs=1e-12) and result.outputs == []
    assert correct == compiled_correct
    assert params == pytest.approx(compiled_params, abs=1e-12)


def test_a_step_gives_the_outputs_as_floats_before_the_update_one_list_per_example():
    X, y = nn.data.load_iris()
    X, y = X[:4], y[:4]
    model = nn.MLP(4, [5, 3], seed=0)
    before = [[out.data for out in model(x)] for x in X]
    result = EagerSteps(Task(model, nn.losses.cross_entropy, nn.optim.SGD(model.parameters(), lr=0.5), None, None,
                             X, y, None)).step(X, y)  # fmt: skip
    assert result.outputs == before and all(type(z) is float for row in result.outputs for z in row)
    assert [[out.data for out in model(x)] for x in X] != before  # the step updated the model
