"""The backprop article's iris classifier: a ReLU hidden layer, softmax and cross-entropy, trained with the engine.

    python -m demos.iris            # a few seconds; writes out/iris.png
    python -m demos.iris --quick    # fewer epochs

The backprop derivation article derives the gradients of a network with one ReLU
hidden layer and a softmax output under the cross-entropy cost, and ends by training
such a network to tell three species of iris apart from their sepal and petal
lengths and widths. Its key results, for one example x with one-hot label y, logits
z_L = W_L a_(L-1) + b_L and a_L = softmax(z_L):

    dC/dz_L     = a_L - y                                   (softmax with cross-entropy)
    dC/dW_L     = (a_L - y) a_(L-1)^T                       (an outer product)
    dC/dW_(L-1) = [W_L^T (a_L - y) * relu'(z_(L-1))] x^T    (the total derivative: every path, summed)

This demo checks the engine's gradients against those formulas, then trains the
classifier and draws its confusion matrix on flowers it has not seen.
"""

from __future__ import annotations

import random

import autodiff
import nn
from autodiff.graph.figures import FIGURE_WIDTH
from demos.common import Checks, int_between, one_line_errors, output_folder, parser, positive_float, pyplot, save_png


def standardize(X_train: list, X_test: list) -> tuple[list, list]:
    """Scale each feature to mean 0 and standard deviation 1, with the training set's statistics."""
    columns = list(zip(*X_train))
    means = [sum(c) / len(c) for c in columns]
    stds = [(sum((v - m) ** 2 for v in c) / len(c)) ** 0.5 for c, m in zip(columns, means)]

    def scale(X: list) -> list:
        return [[(v - m) / s for v, m, s in zip(x, means, stds)] for x in X]

    return scale(X_train), scale(X_test)


def article_gradients(model: nn.MLP, X: list, y: list) -> tuple:
    """dC/dW and dC/db of both layers by the article's formulas, in numpy, for the mean cross-entropy over (X, y)."""
    import numpy as np

    hidden, output = model.layers
    W1 = np.array([[w.data for w in n.w] for n in hidden.neurons])
    b1 = np.array([n.b.data for n in hidden.neurons])
    W2 = np.array([[w.data for w in n.w] for n in output.neurons])
    b2 = np.array([n.b.data for n in output.neurons])
    x = np.array(X).T  # one column per example
    z1 = W1 @ x + b1[:, None]
    a1 = np.maximum(z1, 0.0)
    z2 = W2 @ a1 + b2[:, None]
    a2 = np.exp(z2 - z2.max(axis=0)) / np.exp(z2 - z2.max(axis=0)).sum(axis=0)  # softmax, column by column
    one_hot = np.eye(3)[y].T
    n = len(X)
    dz2 = (a2 - one_hot) / n  # dC/dz_L = a_L - y, for the mean over the batch
    dz1 = (W2.T @ dz2) * (z1 > 0)  # W_L^T (a_L - y) * relu'(z_(L-1))
    return dz1 @ x.T, dz1.sum(axis=1), dz2 @ a1.T, dz2.sum(axis=1)  # the products sum the examples' outer products


def iris_figure(history: nn.train.History, confusion):
    """Loss and accuracy per epoch (top), and the test flowers' confusion matrix (bottom)."""
    import numpy as np

    fig, axes = pyplot().subplot_mosaic([["loss", "accuracy"], ["matrix", "matrix"]], figsize=(FIGURE_WIDTH, 7.0),
                                        height_ratios=[1, 1.35])  # fmt: skip
    epochs_axis = range(1, history.epochs + 1)
    panels = {
        "loss": (history.loss, history.val_loss, "cross-entropy (nats)"),
        "accuracy": (history.accuracy, history.val_accuracy, "accuracy (fraction right)"),
    }
    for name, (train, test, label) in panels.items():
        axes[name].plot(epochs_axis, train, label="training")
        axes[name].plot(epochs_axis, test, label="test")
        axes[name].set(xlabel="epoch", ylabel=label)
    axes["loss"].legend()
    matrix = axes["matrix"]
    shown = matrix.imshow(confusion, cmap="Blues")
    for (i, j), count in np.ndenumerate(confusion):
        matrix.text(j, i, str(count), ha="center", va="center", fontsize=12,
                    color="white" if count > confusion.max() / 2 else "black")  # fmt: skip
    matrix.set_xticks(range(3), nn.data.IRIS_CLASSES)
    matrix.set_yticks(range(3), nn.data.IRIS_CLASSES)
    matrix.set(xlabel="predicted species", ylabel="true species")
    matrix.grid(False)
    fig.colorbar(shown, ax=matrix, label="test flowers (count)")
    matrix.set_title("Test flowers on the diagonal are predicted right")
    fig.suptitle("The network learns the three species")
    return fig


@one_line_errors
def main(argv: list[str] | None = None) -> dict:
    """Run the demo; return its key numbers."""
    args_parser = parser(__doc__)
    args_parser.add_argument(
        "--hidden", type=int_between(1, 64), default=8, help="ReLU units in the hidden layer (default: 8)"
    )
    args_parser.add_argument("--epochs", type=int_between(1, 1000), help="training epochs (default: 60, --quick: 8)")
    args_parser.add_argument("--lr", type=positive_float, default=0.02, help="Adam's learning rate (default: 0.02)")
    args = args_parser.parse_args(argv)
    epochs = args.epochs or (8 if args.quick else 60)
    out = output_folder(args.out)
    rng = random.Random(args.seed)
    checks = Checks()
    results: dict = {}

    import numpy as np

    # --- 1. The flowers ------------------------------------------------------------------------------------
    # Fisher's 150 irises, 50 of each species, 4 measurements in cm. 30% are kept aside
    # to test on; the features are standardised with the training set's means and
    # standard deviations, so that no measurement dominates by its scale.
    X, y = nn.data.load_iris()
    X_train, X_test, y_train, y_test = nn.data.train_test_split(X, y, test_size=0.3, seed=rng)
    X_train, X_test = standardize(X_train, X_test)
    counts = [y_train.count(k) for k in range(3)]
    print(f"1. {len(X_train)} flowers to train on {dict(zip(nn.data.IRIS_CLASSES, counts))}, {len(X_test)} to test on")

    # --- 2. The network ---------------------------------------------------------------------------------
    # 4 inputs, a hidden layer of ReLU units, and 3 linear outputs: the logits of the
    # three species. softmax turns logits into probabilities; the cost of an example is
    # -log of the probability of its species (nn.losses.cross_entropy computes it as
    # logsumexp(z) - z[k], which stays finite for any logits).
    model = nn.MLP(4, [args.hidden, 3], activation="relu", seed=rng)
    logits = model(X_train[0])
    probabilities = [p.data for p in nn.losses.softmax(logits)]
    print(f"\n2. {model!r}")
    print(f"  untrained, it gives the first flower (a {nn.data.IRIS_CLASSES[y_train[0]]}) the probabilities "
          f"{[round(p, 3) for p in probabilities]}")  # fmt: skip

    # --- 3. The article's gradients -----------------------------------------------------------------------
    # The engine applies the chain rule one scalar op at a time; the article writes the
    # same gradients as a few matrix products. Check: on the mean cost over the whole
    # training set, both give the same numbers, for every weight and bias of both layers.
    cost = nn.losses.cross_entropy([model(x) for x in X_train], y_train)
    model.zero_grad()
    cost.backward()
    hidden, output = model.layers
    engine = (
        np.array([[w.grad for w in n.w] for n in hidden.neurons]),
        np.array([n.b.grad for n in hidden.neurons]),
        np.array([[w.grad for w in n.w] for n in output.neurons]),
        np.array([n.b.grad for n in output.neurons]),
    )
    print(f"\n3. the mean cross-entropy before training is {cost.data:.4f} (log 3 = {np.log(3):.4f} for a blind guess)")
    names = ("dC/dW_(L-1)", "dC/db_(L-1)", "dC/dW_L", "dC/db_L")
    differences = []
    for name, ours, theirs in zip(names, engine, article_gradients(model, X_train, y_train)):
        differences.append(float(np.max(np.abs(ours - theirs))))
        largest = np.max(np.abs(theirs))
        print(f"  {name:<12} max |engine - article| {differences[-1]:.1e}   (largest |gradient| {largest:.3g})")
    checks.small(
        "engine vs the article's formulas: max |difference| over every weight and bias", max(differences), 1e-14
    )
    results["article_max_difference"] = max(differences)

    # --- 4. Training ---------------------------------------------------------------------------------------
    # Minibatches of 16 flowers, Adam; accuracy counts the flowers whose largest logit
    # is their species. The test flowers are only evaluated, never trained on.
    print(f"\n4. training for {epochs} epochs")
    optimizer = nn.optim.Adam(model.parameters(), lr=args.lr)
    history = nn.train.fit(model, X_train, y_train, loss="cross_entropy", optimizer=optimizer, epochs=epochs,
                           batch_size=16, seed=rng, validation_data=(X_test, y_test))  # fmt: skip
    print(f"  {history}")
    train_accuracy = nn.train.accuracy(model, X_train, y_train, loss="cross_entropy")
    test_accuracy = nn.train.accuracy(model, X_test, y_test, loss="cross_entropy")
    print(f"  train accuracy {train_accuracy:.3f}, test accuracy {test_accuracy:.3f}")
    results.update(train_accuracy=train_accuracy, test_accuracy=test_accuracy)

    # --- 5. The confusion matrix ------------------------------------------------------------------------------
    # Row: the true species; column: the species with the highest softmax probability.
    # Check: the fraction on the diagonal is the test accuracy nn.train.accuracy measured
    # (which reads the largest logit instead).
    confusion = np.zeros((3, 3), dtype=int)
    with autodiff.no_grad():
        for x, k in zip(X_test, y_test):
            probabilities = [p.data for p in nn.losses.softmax(model(x))]
            confusion[k, int(np.argmax(probabilities))] += 1
    print("\n5. confusion matrix on the test flowers (rows: true species, columns: predicted)")
    for name, row in zip(nn.data.IRIS_CLASSES, confusion):
        print(f"  {name:>10}: {row.tolist()}")
    checks.close("test accuracy from the confusion matrix vs nn.train.accuracy",
                 confusion.trace() / confusion.sum(), test_accuracy, 1e-12)  # fmt: skip
    results["confusion"] = confusion.tolist()

    fig = iris_figure(history, confusion)
    path = out / "iris.png"
    save_png(fig, path)
    print(f"  wrote {path}")
    results["files"] = [path]

    checks.finish()
    return results


if __name__ == "__main__":
    main()
