"""Compiled functions over Dask arrays: the numpy path's numbers, on real worker processes, faults survived."""

import os
import pickle
import random
import signal
import subprocess
import sys
import threading
import time

import pytest

np = pytest.importorskip("numpy")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
cloudpickle = pytest.importorskip("cloudpickle")
import dask  # noqa: E402

import autodiff  # noqa: E402
from autodiff import Value  # noqa: E402
from autodiff.compiler.dask_npy import from_npy  # noqa: E402
from autodiff.ops import DOT, Op  # noqa: E402


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
    """Dask computes on the cluster during the test."""
    with dask.config.set(scheduler=client):
        yield client


def network(seed=0):
    """A 2-6-1 tanh network's squared error plus an L2 term (a parameter-only node), with its output as aux."""
    rng = random.Random(seed)
    W = [[Value(rng.gauss(0, 1)) for _ in range(2)] for _ in range(6)]
    b = [Value(rng.gauss(0, 0.1)) for _ in range(6)]
    v, c = [Value(rng.gauss(0, 1)) for _ in range(6)], Value(0.2)
    params = [p for row in W for p in row] + b + v + [c]

    def loss(x1, x2, t):
        hidden = [(autodiff.dot(w, [x1, x2]) + bias).tanh() for w, bias in zip(W, b)]
        out = autodiff.dot(v, hidden) + c
        return (out - t) ** 2 + 1e-3 * autodiff.dot(params, params), out

    return autodiff.compile(loss, [0.0, 0.0, 0.0], params=params, has_aux=True), params


def rows(n, seed=0):
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.normal(size=(n, 2)), rng.normal(size=n)])


def assert_close(ours, expected):
    """Equal to the numpy path up to the order of a sum's terms: 1e-12 of the largest entry."""
    ours, expected = np.asarray(ours), np.asarray(expected)
    assert ours.shape == expected.shape
    assert np.abs(ours - expected).max() <= 1e-12 * max(1.0, np.abs(expected).max())


# --- the same numbers as numpy ---------------------------------------------------------
def test_gradients_on_the_cluster_equal_the_numpy_path(on_cluster):
    f, _ = network()
    X = rows(5000)
    D = da.from_array(X, chunks=(700, 3))  # uneven: the last chunk has 100 rows
    (values, outputs), inputs, grads = f.batch_value_and_grad(D)
    (np_values, np_outputs), np_inputs, np_grads = f.batch_value_and_grad(X)

    assert type(grads) is np.ndarray
    assert_close(grads, np_grads)
    for lazy, expected in ((values, np_values), (outputs, np_outputs), (inputs, np_inputs)):
        assert isinstance(lazy, da.Array) and lazy.chunks[0] == D.chunks[0]
        assert_close(lazy.compute(), expected)


def test_forward_values_and_per_example_gradients_are_dask_arrays_with_the_row_chunks(on_cluster):
    f, params = network(1)
    X = rows(3000, seed=1)
    D = da.from_array(X, chunks=(1000, 3))
    values, outputs = f.batch(D)
    assert values.chunks == ((1000,) * 3,) and outputs.chunks == ((1000,) * 3,)
    expected_values, expected_outputs = f.batch(X)
    assert_close(values.compute(), expected_values)
    assert_close(outputs.compute(), expected_outputs)

    _, _, per_example = f.batch_value_and_grad(D, per_example=True, accumulate_grads=True)
    _, _, expected = f.batch_value_and_grad(X, per_example=True)
    assert isinstance(per_example, da.Array) and per_example.chunks == ((1000,) * 3, (len(params),))
    assert_close(per_example.compute(), expected)
    assert_close([p.grad for p in params], expected.sum(axis=0))  # accumulated: the sum, added once


def test_accumulate_grads_adds_the_summed_gradients(on_cluster):
    f, params = network(2)
    X = rows(1200, seed=2)
    for p in params:
        p.grad = 1.0
    _, _, grads = f.batch_value_and_grad(da.from_array(X, chunks=(500, 3)), accumulate_grads=True)
    assert_close([p.grad - 1.0 for p in params], f.batch_value_and_grad(X)[2])
    assert_close(grads, f.batch_value_and_grad(X)[2])


def test_the_tasks_ran_on_both_worker_processes(on_cluster):
    f, _ = network()
    D = da.from_array(rows(4000), chunks=(250, 3))
    with distributed.get_task_stream(on_cluster) as stream:
        f.batch_value_and_grad(D)
    chunk_tasks = [task for task in stream.data if "autodiff-grad" in str(task["key"])]
    assert len(chunk_tasks) == 16  # one task per chunk
    assert {task["worker"] for task in chunk_tasks} == set(on_cluster.scheduler_info()["workers"])
    assert os.getpid() not in on_cluster.run(os.getpid).values()  # other processes than this one


def test_parameters_are_read_at_call_time_and_travel_with_the_tasks(on_cluster):
    f, params = network(3)
    X = rows(2000, seed=3)
    D = da.from_array(X, chunks=(500, 3))
    (values_before, _), _, grads = f.batch_value_and_grad(D)
    expected_before = f.batch(X)[0]
    for p, g in zip(params, grads):  # an optimizer step between two calls
        p.data -= 0.01 * g
    _, _, grads_after = f.batch_value_and_grad(D)
    assert_close(grads_after, f.batch_value_and_grad(X)[2])  # not the stale parameters
    assert np.abs(grads_after - grads).max() > 1e-6
    # the lazy values of the first call keep the parameters of that call, even computed now
    assert_close(values_before.compute(), expected_before)


def test_the_threaded_scheduler_gives_the_same_numbers_with_threads_sharing_a_function():
    f, _ = network(4)
    X = rows(6000, seed=4)
    D = da.from_array(X, chunks=(300, 3))
    with dask.config.set(scheduler="threads", num_workers=4):
        (values, _), inputs, grads = f.batch_value_and_grad(D)
        values, inputs = values.compute(), inputs.compute()
    (expected_values, _), expected_inputs, expected_grads = f.batch_value_and_grad(X)
    assert_close(grads, expected_grads)
    assert_close(values, expected_values)
    assert_close(inputs, expected_inputs)


# --- faults ----------------------------------------------------------------------------
@pytest.mark.slow
def test_a_worker_killed_mid_computation_is_survived_with_the_same_gradients():
    f, _ = network(5)
    X = rows(16 * 200, seed=5)

    def slowly(block):  # a chunk read from a slow disk: time to kill a worker in the middle
        time.sleep(0.2)
        return block

    D = da.from_array(X, chunks=(200, 3)).map_blocks(slowly, dtype=float)
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
        distributed.get_task_stream(client) as stream,
    ):
        client.wait_for_workers(2)
        victim, pid = sorted(client.run(os.getpid).items())[0]
        result = {}

        def compute():
            with dask.config.set(scheduler=client):
                result["grads"] = f.batch_value_and_grad(D)[2]

        thread = threading.Thread(target=compute)
        thread.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait until the victim has finished some chunks, then kill it
            done = [t for t in client.get_task_stream() if t["worker"] == victim and "autodiff-grad" in str(t["key"])]
            if len(done) >= 2:
                break
            time.sleep(0.05)
        assert "grads" not in result, "the computation ended before the kill"
        os.kill(pid, signal.SIGKILL)
        thread.join(timeout=120)
        assert "grads" in result

    assert_close(result["grads"], f.batch_value_and_grad(X)[2])
    finished = [str(t["key"]) for t in stream.data if "autodiff-grad" in str(t["key"])]
    assert len(finished) > 16  # the victim's finished chunks were lost with it, and ran again
    assert len(set(finished)) == 16


# --- bad input -------------------------------------------------------------------------
def test_bad_arrays_are_refused_before_any_task_runs():
    f, _ = network()
    with pytest.raises(ValueError, match=r"compiled loss: the batch must have shape \(examples, 3\), got \(10, 2\)"):
        f.batch(da.zeros((10, 2), chunks=5))
    with pytest.raises(ValueError, match=r"split along its columns \(chunks \(2, 1\)\).*X.rechunk\(\{1: -1\}\)"):
        f.batch_value_and_grad(da.zeros((10, 3), chunks=(5, 2)))
    with pytest.raises(TypeError, match="must hold ints or floats, got an array of bool"):
        f.batch_value_and_grad(da.zeros((10, 3), dtype=bool, chunks=5))
    with pytest.raises(TypeError, match="must hold ints or floats, got an array of <U3"):
        f.batch(da.from_array(np.full((4, 3), "1.5")))
    with pytest.raises(TypeError, match="must hold ints or floats, got an array of object"):
        f.batch(da.from_array(np.full((4, 3), 1.0, dtype=object), chunks=2))
    D = da.from_array(rows(20), chunks=(5, 3))
    with pytest.raises(ValueError, match=r"unknown sizes; call X.compute_chunk_sizes\(\)"):
        f.batch(D[D[:, 0] > 0])
    with pytest.raises(TypeError, match="must be a dask.array.Array .* got Delayed"):
        f.batch(dask.delayed(rows(3)))


def test_a_non_finite_row_is_named_by_its_index_in_the_whole_array(on_cluster):
    f, _ = network()
    X = rows(3000)
    X[2345, 1] = np.nan
    with pytest.raises(ValueError, match=r"compiled loss: example 2345 is not finite: \[.*, nan, .*\]"):
        f.batch_value_and_grad(da.from_array(X, chunks=(1000, 3)))
    with pytest.raises(ValueError, match=r"example 2345 is not finite"):
        f.batch(da.from_array(X, chunks=(1000, 3)))[0].compute()


def test_an_error_of_the_eager_engine_names_the_row_of_the_whole_array(on_cluster):
    f = autodiff.compile(lambda x: x.log(), [1.0])
    X = np.ones((3000, 1))
    X[2345, 0] = -2.0
    with pytest.raises(ValueError, match=r"^compiled <lambda>, example 2345: log: input must be > 0") as error:
        f.batch_value_and_grad(da.from_array(X, chunks=(1000, 1)))
    assert not hasattr(error.value, "__notes__")  # the message says it all


@pytest.mark.parametrize("per_example", [False, True])
def test_a_dask_error_names_the_same_row_as_the_numpy_path(per_example):
    w = Value(0.5)
    f = autodiff.compile(lambda x, y: (w * x * y).log(), [1.0, 1.0])
    X = np.ones((1000, 2))
    X[512, 0] = -1.0
    message = r"^compiled <lambda>, example 512: log: input must be > 0, got -0\.5"
    with pytest.raises(ValueError, match=message):
        f.batch_value_and_grad(X, per_example=per_example)
    with pytest.raises(ValueError, match=message):  # numpy's message, not "example 12" of the chunk from 500
        f.batch_value_and_grad(da.from_array(X, chunks=(100, 2)), per_example=per_example)[0].compute()
    with pytest.raises(ValueError, match=message):
        f.batch(da.from_array(X, chunks=(100, 2))).compute()


# --- pickling and shipping -------------------------------------------------------------
def test_a_compiled_function_pickles_small_with_pickle_and_cloudpickle():
    f, params = network()
    X = rows(20_000)
    expected = f.batch_value_and_grad(X)  # leaves generated code and MBs of numpy buffers behind
    for dumps in (pickle.dumps, cloudpickle.dumps):
        data = dumps(f)
        assert len(data) < 50_000
        copy = pickle.loads(data)
        assert copy.name == f.name and copy.n_inputs == 3 and copy.has_aux
        assert [p.data for p in copy.params] == [p.data for p in params]
        assert any(op is DOT for op in copy.program.ops)  # the same op objects: dense layers stay fused
        (values, outputs), inputs, grads = copy.batch_value_and_grad(X)
        assert_close(values, expected[0][0])
        assert_close(outputs, expected[0][1])
        assert_close(grads, expected[2])


def test_a_function_with_a_user_op_made_of_lambdas_pickles_with_cloudpickle_only():
    cube = Op("cube", lambda m, x: x * x * x, lambda m, out, x: (3.0 * x * x,))
    f = autodiff.compile(lambda x: cube(x) + 1.0, [2.0])
    with pytest.raises((pickle.PicklingError, AttributeError), match="lambda"):
        pickle.dumps(f)
    copy = cloudpickle.loads(cloudpickle.dumps(f))
    assert copy.value_and_grad([2.0])[:2] == (9.0, [12.0])


def test_import_autodiff_and_nn_never_imports_dask():
    code = (
        "import sys, autodiff, autodiff.compiler, nn, nn.train, nn.compiled; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed', 'zarr')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --- a dataset on disk -----------------------------------------------------------------
def test_a_npy_file_is_read_by_the_tasks_not_shipped_in_the_graph(on_cluster, tmp_path):
    f, _ = network(6)
    X = rows(50_000, seed=6)  # 1.2 MB
    np.save(tmp_path / "X.npy", X)
    D = from_npy(tmp_path / "X.npy", rows_per_chunk=8000)
    assert D.chunks == ((8000,) * 6 + (2000,), (3,))
    assert len(cloudpickle.dumps(dict(D.__dask_graph__()))) < 20_000  # the path, not the data
    (values, _), _, grads = f.batch_value_and_grad(D)
    (expected_values, _), _, expected_grads = f.batch_value_and_grad(X)
    assert_close(grads, expected_grads)
    assert_close(values.compute(), expected_values)


def test_from_npy_refuses_bad_files_and_sizes(tmp_path):
    with pytest.raises(FileNotFoundError):
        from_npy(tmp_path / "missing.npy")
    np.save(tmp_path / "objects.npy", np.array([[1, "a"]], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="object"):
        from_npy(tmp_path / "objects.npy")
    (tmp_path / "text.npy").write_text("not an array")
    with pytest.raises(ValueError):
        from_npy(tmp_path / "text.npy")
    np.save(tmp_path / "X.npy", np.zeros((4, 3)))
    with pytest.raises(ValueError, match="rows_per_chunk must be an int >= 1, got 0"):
        from_npy(tmp_path / "X.npy", rows_per_chunk=0)
    assert from_npy(tmp_path / "X.npy", rows_per_chunk=np.int64(3)).chunks == ((3, 1), (3,))  # numpy's ints work


def test_from_npy_names_the_file_it_refuses_and_never_blocks_on_a_fifo(tmp_path):
    (tmp_path / "text.npy").write_text("not an array")
    with pytest.raises(ValueError, match=r"'.*text\.npy' is not a \.npy file .* starts with b'not an'"):
        from_npy(tmp_path / "text.npy")
    np.savez(tmp_path / "archive.npz", a=np.ones(2))
    with pytest.raises(ValueError, match="is not a .npy file"):  # numpy would open an NpzFile, without a shape
        from_npy(tmp_path / "archive.npz")
    np.save(tmp_path / "X.npy", np.zeros((40, 3)))
    whole = (tmp_path / "X.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(whole[: len(whole) - 50])
    with pytest.raises(ValueError, match=r"cut\.npy' is cut short: its header says float64 \(40, 3\), 960 bytes"):
        from_npy(tmp_path / "cut.npy")
    np.save(tmp_path / "one.npy", np.float64(3.0))
    with pytest.raises(ValueError, match="holds a single number"):
        from_npy(tmp_path / "one.npy")
    with pytest.raises(IsADirectoryError, match="is a directory"):
        from_npy(tmp_path)
    os.mkfifo(tmp_path / "pipe.npy")  # opening it for reading would wait for a writer forever
    with pytest.raises(ValueError, match="not a regular file"):
        from_npy(tmp_path / "pipe.npy")
    (tmp_path / "zeros.npy").symlink_to("/dev/zero")
    with pytest.raises(ValueError, match="not a regular file"):
        from_npy(tmp_path / "zeros.npy")


def test_from_npy_takes_more_rows_per_chunk_than_the_file_has(tmp_path):
    np.save(tmp_path / "X.npy", np.arange(12.0).reshape(4, 3))
    D = from_npy(tmp_path / "X.npy", rows_per_chunk=10**30)  # one chunk, not an overflow inside Dask
    assert D.chunks == ((4,), (3,))
    assert D.compute().tolist() == np.arange(12.0).reshape(4, 3).tolist()


SHRINKING = """
import os, sys, threading, time
import numpy as np
from autodiff.compiler.dask_npy import NpyRows

path = sys.argv[1]
np.save(path, np.arange(2_000_000, dtype=float).reshape(-1, 4))  # 16 MB
whole = os.path.getsize(path)
rows = NpyRows(path)
stop = False

def shrink():  # cut the file to a third, then grow it back (zeros after the cut), again and again
    while not stop:
        os.truncate(path, whole // 3)
        time.sleep(0.0005)
        os.truncate(path, whole)
        time.sleep(0.0005)

thread = threading.Thread(target=shrink)
thread.start()
try:
    for _ in range(200):
        try:
            block = rows[300_000:500_000]  # read whole, or while the rows past the cut were zeros
            assert block.shape == (200_000, 4) and block[0, 0] in (1_200_000.0, 0.0)
        except ValueError as error:
            assert str(error).startswith(f"from_npy: {path!r} ") or str(error).startswith(path), error
finally:
    stop = True
    thread.join()
print("survived")
"""


def test_a_npy_file_cut_while_its_rows_are_read_is_an_error_naming_it_not_a_dead_process(tmp_path):
    # A memory map dies with SIGBUS (exit -7) when its file shrinks under it; file reads come up short.
    done = subprocess.run(
        [sys.executable, "-c", SHRINKING, str(tmp_path / "X.npy")], capture_output=True, text=True, timeout=120
    )
    assert (done.returncode, done.stdout.strip()) == (0, "survived"), done.stderr[-2000:]


@pytest.mark.parametrize("order", ["C", "F"])
def test_npy_rows_read_any_slice_of_rows_in_either_memory_order(tmp_path, order):
    from autodiff.compiler.dask_npy import NpyRows

    A = np.asarray(np.random.default_rng(1).normal(size=(10, 2, 3)), order=order)
    np.save(tmp_path / "A.npy", A)
    rows = pickle.loads(pickle.dumps(NpyRows(tmp_path / "A.npy")))  # as a worker gets it
    for key in [slice(None), slice(2, 5), (slice(2, 5), 1), slice(None, None, 3), slice(None, None, -2), 4, -1]:
        assert np.array_equal(rows[key], A[key]) and rows[key].shape == A[key].shape
    assert rows[4:2].shape == (0, 2, 3)
    assert np.array_equal(from_npy(tmp_path / "A.npy", rows_per_chunk=3).compute(), A)
