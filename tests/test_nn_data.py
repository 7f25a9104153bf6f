"""Datasets and minibatches: scikit-learn's definitions, the notebook's step, iris, batches and splits."""

import inspect
import math
import random
import statistics
from pathlib import Path

import pytest
from sklearn import datasets as sklearn_datasets

from nn.data import (
    IRIS_CLASSES,
    batches,
    load_iris,
    make_circles,
    make_moons,
    toy_step,
    train_test_split,
)


def assert_points_equal(ours, theirs):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert a == pytest.approx(list(b), rel=1e-15, abs=1e-15)


@pytest.mark.parametrize("n", [2, 7, 100, 201])
def test_make_moons_without_noise_or_shuffling_is_scikit_learns(n):
    X, y = make_moons(n, noise=0, shuffle=False)
    X_ref, y_ref = sklearn_datasets.make_moons(n, noise=None, shuffle=False)
    assert_points_equal(X, X_ref)
    assert y == list(y_ref)


@pytest.mark.parametrize("n, factor", [(2, 0.5), (9, 0.3), (100, 0.5), (201, 0.8), (10, 0.0)])
def test_make_circles_without_noise_or_shuffling_is_scikit_learns(n, factor):
    X, y = make_circles(n, noise=0, factor=factor, shuffle=False)
    X_ref, y_ref = sklearn_datasets.make_circles(n, noise=None, factor=factor, shuffle=False)
    assert_points_equal(X, X_ref)
    assert y == list(y_ref)


@pytest.mark.parametrize("make", [make_moons, make_circles])
def test_shuffling_reorders_the_same_points_with_their_labels(make):
    plain = sorted(zip(map(tuple, make(50, noise=0, shuffle=False)[0]), make(50, noise=0, shuffle=False)[1]))
    X, y = make(50, noise=0, seed=3)
    assert sorted(zip(map(tuple, X), y)) == plain
    assert y != sorted(y)


@pytest.mark.parametrize("make", [make_moons, make_circles])
def test_noise_is_gaussian_with_the_given_standard_deviation(make):
    X_clean, y_clean = make(2000, noise=0, seed=5)
    X, y = make(2000, noise=0.2, seed=5)  # same seed: same order, then noise on top
    assert y == y_clean
    offsets = [a - b for p, q in zip(X, X_clean) for a, b in zip(p, q)]
    assert statistics.fmean(offsets) == pytest.approx(0.0, abs=0.01)
    assert statistics.pstdev(offsets) == pytest.approx(0.2, rel=0.03)


@pytest.mark.parametrize("make", [make_moons, make_circles])
def test_a_seed_reproduces_a_dataset_without_touching_the_global_random_state(make):
    random.seed(1)
    expected = random.random()
    random.seed(1)
    assert make(30, seed=8) == make(30, seed=8)
    assert make(30, seed=8) != make(30, seed=9)
    make(30)
    assert random.random() == expected


def test_dataset_arguments_are_checked():
    with pytest.raises(ValueError, match=r"make_moons: n_samples must be an int >= 2, got 1"):
        make_moons(1)
    with pytest.raises(ValueError, match=r"make_circles: noise must be a finite number >= 0 \(or None\), got -0.1"):
        make_circles(noise=-0.1)
    with pytest.raises(ValueError, match=r"make_circles: factor must be a number in \[0, 1\), got 1.5"):
        make_circles(factor=1.5)
    with pytest.raises(TypeError, match=r"make_moons: seed must be an int, a random.Random or None, got float"):
        make_moons(seed=1.5)


def test_an_infinite_noise_is_refused_rather_than_giving_infinite_points():
    with pytest.raises(ValueError, match=r"make_moons: noise must be a finite number >= 0 \(or None\), got inf"):
        make_moons(10, noise=math.inf)
    with pytest.raises(ValueError, match=r"make_circles: noise must be a finite number >= 0 \(or None\), got nan"):
        make_circles(10, noise=math.nan)


def test_a_count_or_a_number_of_the_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match=r"make_moons: n_samples must be an int >= 2, got str \('10'\)"):
        make_moons("10")
    with pytest.raises(TypeError, match=r"batches: batch_size must be an int >= 1, got float \(2.0\)"):
        list(batches([[1.0], [2.0]], [0, 1], 2.0))
    with pytest.raises(TypeError, match=r"toy_step: n_samples must be an int >= 2, got bool \(True\)"):
        toy_step(True)
    with pytest.raises(TypeError, match=r"make_circles: noise must be a finite number >= 0 \(or None\), got str"):
        make_circles(noise="0.1")
    with pytest.raises(TypeError, match=r"make_circles: factor must be a number in \[0, 1\), got str \('a'\)"):
        make_circles(factor="a")


def test_toy_step_is_the_notebooks_1000_points_on_minus_5_to_5_labelled_by_sign():
    X, y = toy_step()
    assert len(X) == len(y) == 1000
    assert X[0] == [-5.0] and X[-1] == [5.0]
    assert X[1][0] == pytest.approx(-4.98998999, abs=1e-8)  # the notebook's second input
    assert all(label == (1 if x > 0 else -1) for (x,), label in zip(X, y))
    assert y.count(1) == y.count(-1) == 500
    assert toy_step(5) == ([[-5.0], [-2.5], [0.0], [2.5], [5.0]], [-1, -1, -1, 1, 1])


def test_load_iris_gives_fishers_150_flowers_in_3_classes_of_50():
    X, y = load_iris()
    assert len(X) == len(y) == 150
    assert all(len(x) == 4 for x in X)
    assert [y.count(k) for k in range(3)] == [50, 50, 50]
    assert X[0] == [5.1, 3.5, 1.4, 0.2] and IRIS_CLASSES[y[0]] == "setosa"
    assert X[-1] == [5.9, 3.0, 5.1, 1.8] and IRIS_CLASSES[y[-1]] == "virginica"
    # Fisher's values for flowers 35 and 38 (the UCI copy has two mistakes there).
    assert X[34] == [4.9, 3.1, 1.5, 0.2] and X[37] == [4.9, 3.6, 1.4, 0.1]


def test_load_iris_matches_scikit_learns_copy():
    iris = sklearn_datasets.load_iris()
    X, y = load_iris()
    assert X == iris.data.tolist()
    assert y == iris.target.tolist()
    assert list(IRIS_CLASSES) == list(iris.target_names)


def test_a_corrupt_iris_file_is_reported_with_its_line():
    from nn.data import _parse_iris

    header = "sepal_length,sepal_width,petal_length,petal_width,species\n"
    with pytest.raises(ValueError, match=r"iris.csv: line 3: a measurement is not a number"):
        _parse_iris(header + "5.1,3.5,1.4,0.2,setosa\n5.1,x,1.4,0.2,setosa\n", "iris.csv")
    with pytest.raises(ValueError, match=r"iris.csv: line 2: unknown species 'rose'"):
        _parse_iris(header + "5.1,3.5,1.4,0.2,rose\n", "iris.csv")
    with pytest.raises(ValueError, match=r"iris.csv: line 2: expected 5 fields, got 4"):
        _parse_iris(header + "5.1,3.5,1.4,0.2\n", "iris.csv")
    with pytest.raises(ValueError, match=r"iris.csv: line 1: expected the header"):
        _parse_iris("a,b\n", "iris.csv")


def test_batches_cover_every_example_once_with_a_smaller_last_batch():
    X = [[float(i)] for i in range(10)]
    y = list(range(10))
    out = list(batches(X, y, 4, seed=0))
    assert [len(xb) for xb, _ in out] == [4, 4, 2]
    assert sorted(t for _, yb in out for t in yb) == y
    assert all(xb == [[float(t)] for t in yb] for xb, yb in out)  # rows stay with their labels
    assert [yb for _, yb in batches(X, y, 4, shuffle=False)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_batches_are_reproducible_by_seed_and_a_shared_generator_gives_new_orders():
    X, y = [[i] for i in range(20)], list(range(20))
    assert [yb for _, yb in batches(X, y, 5, seed=1)] == [yb for _, yb in batches(X, y, 5, seed=1)]
    rng = random.Random(1)
    first = [yb for _, yb in batches(X, y, 5, seed=rng)]
    second = [yb for _, yb in batches(X, y, 5, seed=rng)]
    assert first != second


def test_batches_check_their_arguments():
    with pytest.raises(ValueError, match=r"batches: X has 2 examples but y has 3 labels"):
        list(batches([[1], [2]], [1, 2, 3], 2))
    with pytest.raises(ValueError, match=r"batches: batch_size must be an int >= 1, got 0"):
        list(batches([[1]], [1], 0))


def test_train_test_split_sizes_and_contents_follow_scikit_learn():
    X = [[i, -i] for i in range(10)]
    y = list(range(10))
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, seed=0)
    assert (len(X_train), len(X_test)) == (7, 3)  # ceil(0.25 * 10) for testing
    assert sorted(y_train + y_test) == y
    assert all(x == [t, -t] for x, t in zip(X_train + X_test, y_train + y_test))
    assert train_test_split(X, y, test_size=4, shuffle=False) == (X[:6], X[6:], y[:6], y[6:])


def test_train_test_split_refuses_a_split_with_an_empty_side():
    with pytest.raises(ValueError, match=r"test_size=0 leaves 0 of 3 examples for testing"):
        train_test_split([[1], [2], [3]], [1, 2, 3], test_size=0)
    with pytest.raises(ValueError, match=r"a fractional test_size must be in \(0, 1\), got 1.5"):
        train_test_split([[1], [2], [3]], [1, 2, 3], test_size=1.5)
    with pytest.raises(ValueError, match=r"train_test_split: X and y are empty"):
        train_test_split([], [])


def test_the_docs_name_every_default_that_differs_from_scikit_learns():
    page = (Path(__file__).resolve().parents[1] / "docs" / "nn.md").read_text(encoding="utf-8")
    section = page[page.index("## Data: `nn.data`") :].split("\n\n")[1].replace("\n", " ")
    for ours, theirs in [(make_moons, sklearn_datasets.make_moons), (make_circles, sklearn_datasets.make_circles)]:
        their_defaults = {name: p.default for name, p in inspect.signature(theirs).parameters.items()}
        for name, p in inspect.signature(ours).parameters.items():
            if name in their_defaults and p.default != their_defaults[name]:
                assert f"`{ours.__name__}`" in section and f"{name}={p.default}" in section, (ours.__name__, name)
