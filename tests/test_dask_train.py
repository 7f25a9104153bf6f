"""fit, evaluate and accuracy on Dask arrays: the steps of compiled training on lists, run on worker processes."""

import pytest

np = pytest.importorskip("numpy")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
import dask  # noqa: E402

import nn  # noqa: E402
from autodiff.compiler.dask_npy import from_npy  # noqa: E402
from nn.train import accuracy, evaluate, fit  # noqa: E402


@pytest.fixture(scope="module")
def client():
    """A real cluster: 2 worker processes of 1 thread each (not the default scheduler of other tests)."""
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        client.wait_for_workers(2)
        yield client


@pytest.fixture
def on_cluster(client):
    with dask.config.set(scheduler=client):
        yield client


def train(X, y, loss, make_model, make_optimizer, **options):
    model = make_model()
    history = fit(model, X, y, loss=loss, optimizer=make_optimizer(model), progress=False, compiled=True, **options)
    return [p.data for p in model.parameters()], history


def assert_same_training(ours, expected, tol=1e-12):
    (params, history), (expected_params, expected_history) = ours, expected
    assert max(abs(a - b) for a, b in zip(params, expected_params)) <= tol
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        a, b = getattr(history, key), getattr(expected_history, key)
        assert len(a) == len(b) and all(abs(x - z) <= tol for x, z in zip(a, b)), key


def moons(n, seed=0):
    X, y = nn.data.make_moons(n, noise=0.1, seed=seed)
    return X, y, da.from_array(np.array(X), chunks=(n // 5 + 1, 2)), da.from_array(np.array(y), chunks=n // 5 + 1)


def test_full_batch_training_on_the_cluster_equals_compiled_training_on_lists(on_cluster):
    X, y, Xd, yd = moons(600)
    X_val, y_val, Xd_val, yd_val = moons(200, seed=1)
    options = dict(epochs=4, batch_size=None, validation_data=None)
    model, adam = (lambda: nn.MLP(2, [8, 8, 1], seed=0)), (lambda m: nn.optim.Adam(m.parameters(), lr=0.05))
    expected = train(X, y, "binary_cross_entropy", model, adam, **{**options, "validation_data": (X_val, y_val)})
    ours = train(Xd, yd, "binary_cross_entropy", model, adam, **{**options, "validation_data": (Xd_val, yd_val)})
    assert_same_training(ours, expected)
    assert ours[1].accuracy[-1] > 0.8
    # batch_size=None is one step on the whole dataset: the same as one batch of all, unshuffled
    assert_same_training(train(X, y, "binary_cross_entropy", model, adam, epochs=4, batch_size=600, shuffle=False),
                         train(X, y, "binary_cross_entropy", model, adam, epochs=4, batch_size=None))  # fmt: skip


def test_shuffled_minibatches_are_the_same_steps_as_on_lists(on_cluster):
    X, y, Xd, yd = moons(240, seed=2)
    labels = [2 * t - 1 for t in y]
    model, sgd = (lambda: nn.MLP(2, [6, 1], seed=3)), (lambda m: nn.optim.SGD(m.parameters(), lr=0.1, momentum=0.9))
    expected = train(X, labels, "hinge", model, sgd, epochs=2, batch_size=50, seed=7)
    ours = train(Xd, 2 * yd - 1, "hinge", model, sgd, epochs=2, batch_size=50, seed=7)
    assert_same_training(ours, expected)


def test_cross_entropy_and_vector_mse_targets_equal_training_on_lists(on_cluster):
    X, y = nn.data.load_iris()
    model, sgd = (lambda: nn.MLP(4, [8, 3], seed=0)), (lambda m: nn.optim.SGD(m.parameters(), lr=0.05))
    Xd, yd = da.from_array(np.array(X), chunks=(40, 4)), da.from_array(np.array(y), chunks=40)
    assert_same_training(
        train(Xd, yd, "cross_entropy", model, sgd, epochs=3, batch_size=None),
        train(X, y, "cross_entropy", model, sgd, epochs=3, batch_size=None),
    )
    X, _, Xd, _ = moons(300, seed=4)
    targets = [[x1 + x2, x1 * x2] for x1, x2 in X]
    model = lambda: nn.MLP(2, [6, 2], seed=5)  # noqa: E731
    assert_same_training(
        train(Xd, da.from_array(np.array(targets), chunks=(70, 1)), "mse", model, sgd, epochs=3, batch_size=None),
        train(X, targets, "mse", model, sgd, epochs=3, batch_size=None),
    )


def test_evaluate_and_accuracy_on_dask_arrays_equal_the_eager_ones(on_cluster):
    X, y, Xd, yd = moons(500, seed=6)
    model = nn.MLP(2, [8, 1], seed=6)
    fit(model, X, y, loss="binary_cross_entropy", optimizer=nn.optim.Adam(model.parameters(), lr=0.05),
        epochs=3, batch_size=50, seed=0, progress=False)  # fmt: skip
    expected = evaluate(model, X, y, "binary_cross_entropy")
    ours = evaluate(model, Xd, yd, "binary_cross_entropy")
    assert abs(ours["loss"] - expected["loss"]) <= 1e-12 and ours["accuracy"] == expected["accuracy"]
    assert accuracy(model, Xd, yd, loss="binary_cross_entropy") == accuracy(model, X, y, loss="binary_cross_entropy")
    always_one = accuracy(model, Xd, yd, classify=lambda logit: 1)  # a function of your own runs in the tasks
    assert always_one == sum(y) / len(y)
    assert evaluate(model, Xd, yd, "mse", classify=lambda out: int(out > 0))["accuracy"] == expected["accuracy"]


def test_training_reads_a_npy_file_and_a_zarr_array_from_disk(on_cluster, tmp_path):
    pytest.importorskip("zarr")
    X, y, _, _ = moons(800, seed=8)
    np.save(tmp_path / "X.npy", np.array(X))
    np.save(tmp_path / "y.npy", np.array(y))
    Xd, yd = from_npy(tmp_path / "X.npy", rows_per_chunk=150), from_npy(tmp_path / "y.npy", rows_per_chunk=150)
    model, adam = (lambda: nn.MLP(2, [8, 1], seed=1)), (lambda m: nn.optim.Adam(m.parameters(), lr=0.05))
    ours = train(Xd, yd, "binary_cross_entropy", model, adam, epochs=3, batch_size=None)
    assert_same_training(ours, train(X, y, "binary_cross_entropy", model, adam, epochs=3, batch_size=None))

    da.from_array(np.array(X), chunks=(200, 2)).to_zarr(str(tmp_path / "X.zarr"))
    trained = nn.MLP(2, [8, 1], seed=1)
    trained.load_state_dict(dict(zip([name for name, _ in trained.named_parameters()], ours[0])))
    on_disk = evaluate(trained, da.from_zarr(str(tmp_path / "X.zarr")), yd, "binary_cross_entropy")
    in_memory = evaluate(trained, X, y, "binary_cross_entropy")
    assert abs(on_disk["loss"] - in_memory["loss"]) <= 1e-12 and on_disk["accuracy"] == in_memory["accuracy"]


# --- bad input -------------------------------------------------------------------------
def adam_mlp():
    model = nn.MLP(2, [4, 1], seed=0)
    return model, nn.optim.Adam(model.parameters(), lr=0.01)


def test_dask_input_needs_compiled_training():
    _, _, Xd, yd = moons(50)
    model, optimizer = adam_mlp()
    with pytest.raises(ValueError, match="fit: X or y is a dask array; train on it with compiled=True"):
        fit(model, Xd, yd, loss="binary_cross_entropy", optimizer=optimizer, progress=False)


def test_bad_dask_data_is_refused_with_what_was_wrong(on_cluster):
    model, optimizer = adam_mlp()

    def fit_on(X, y):
        loss = "binary_cross_entropy"
        fit(model, X, y, loss=loss, optimizer=optimizer, batch_size=None, compiled=True, progress=False)

    X, y, Xd, yd = moons(100)
    with pytest.raises(ValueError, match=r"fit: X must have shape \(examples, 2\), got \(100, 3\)"):
        fit_on(da.concatenate([Xd, Xd[:, :1]], axis=1), yd)
    with pytest.raises(ValueError, match=r"fit: X has 100 examples but y has shape \(99,\)"):
        fit_on(Xd, yd[:99])
    with pytest.raises(ValueError, match=r"split along its columns"):
        fit_on(Xd.rechunk((50, 1)), yd)
    with pytest.raises(TypeError, match="fit: y must hold ints or floats, got an array of <U1"):
        fit_on(Xd, da.from_array(np.array(["a"] * 100)))
    with pytest.raises(ValueError, match="binary_cross_entropy"):  # the loss's own check of its labels
        fit_on(Xd, da.from_array(np.array([*y[:99], 2])))
    bad = np.array(X)
    bad[77, 0] = np.inf
    with pytest.raises(ValueError, match=r"step 1 of 1: .* example 77 is not finite: \[inf, .*\]"):  # of the dataset
        fit_on(da.from_array(bad, chunks=(30, 2)), yd)
    with pytest.raises(ValueError, match=r"evaluate: X must have shape \(examples, 2\)"):
        evaluate(model, da.zeros((5, 3)), da.zeros(5), "binary_cross_entropy")


@pytest.mark.parametrize("loss", ["binary_cross_entropy", "mse"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_non_finite_target_is_refused_by_the_loss_naming_its_row(loss, bad):
    model, optimizer = adam_mlp()
    _, y, Xd, _ = moons(100)
    targets = np.array(y, dtype=float)
    targets[[77, 90]] = bad, np.nan
    yd = da.from_array(targets, chunks=30)
    with dask.config.set(scheduler="synchronous"):  # Dask's unique failed on nan, with numpy's "zero-size array"
        with pytest.raises(ValueError, match=rf"fit: y\[77\]: {loss}: target must be .*, got {bad}"):
            fit(model, Xd, yd, loss=loss, optimizer=optimizer, batch_size=None, compiled=True, progress=False)
        with pytest.raises(ValueError, match=rf"{loss}: target must be .*, got {bad}"):
            evaluate(model, Xd, yd, loss)
