"""The notebook's 1-D story: a 1-1-1-1 sigmoid chain, then a 1-3-2-1 network, on the toy step data.

    python -m demos.toy_step            # a few seconds; writes out/toy_step.png
    python -m demos.toy_step --quick    # fewer epochs

Reproduces the opening of the forward/backprop notebook: its toy dataset of 1000
points on [-5, 5] labelled by sign; the smallest network one can imagine, one
sigmoid neuron per layer (parameters w1, b1, w2, b2, w3, b3); then a network with
layers of 3 and 2 sigmoid neurons, each layer computing a = sigmoid(W a_prev + b).
Both are drawn output against input, before and after training with the engine.
"""

from __future__ import annotations

import math
import random

import autodiff
import nn
from demos.common import Checks, figure, int_between, one_line_errors, output_folder, parser, positive_float, save_png


def chain(p: tuple, x: float) -> object:
    """The notebook's 1-1-1-1 network, written out: three sigmoid nodes in a row.

    p = (w1, b1, w2, b2, w3, b3), floats or Values: `autodiff.sigmoid` takes both.
    """
    w1, b1, w2, b2, w3, b3 = p
    a1 = autodiff.sigmoid(w1 * x + b1)  # h1 node: operates on the input
    a2 = autodiff.sigmoid(w2 * a1 + b2)  # h2 node: operates on a1
    return autodiff.sigmoid(w3 * a2 + b3)  # output node: operates on a2


def sigmoid(z):
    """The logistic function written with numpy, independently of the engine."""
    import numpy as np

    return 1 / (1 + np.exp(-z))


@one_line_errors
def main(argv: list[str] | None = None) -> dict:
    """Run the demo; return its key numbers."""
    args_parser = parser(__doc__)
    args_parser.add_argument("--epochs", type=int_between(1, 1000), help="training epochs (default: 30, --quick: 5)")
    args_parser.add_argument("--lr", type=positive_float, default=0.1, help="Adam's learning rate (default: 0.1)")
    args = args_parser.parse_args(argv)
    epochs = args.epochs or (5 if args.quick else 30)
    out = output_folder(args.out)
    rng = random.Random(args.seed)
    checks = Checks()
    results: dict = {}

    # --- 1. The data --------------------------------------------------------------
    # 1000 evenly spaced x on [-5, 5], labelled -1 left of 0 and +1 right of it. Our
    # networks end in a sigmoid, whose output lies in (0, 1) and never reaches -1, so
    # they learn the targets t = (label + 1) / 2, 0 or 1, with the squared-error cost.
    X, labels = nn.data.toy_step()
    targets = [(label + 1) / 2 for label in labels]
    xs = [x for (x,) in X]
    print("1. the toy data: the first five (x, label):", [(round(x, 5), label) for x, label in zip(xs[:5], labels)])

    # --- 2. The 1-1-1-1 sigmoid chain ----------------------------------------------------
    # nn.MLP(1, [1, 1, 1]) is the notebook's chain: each layer one neuron with one
    # weight and one bias. Check: the engine's output equals the chain written out by
    # hand (above), on every one of the 1000 points.
    small = nn.MLP(1, [1, 1, 1], activation="sigmoid", output_activation="sigmoid", seed=rng)
    p = tuple(param.data for param in small.parameters())  # w1, b1, w2, b2, w3, b3
    print("\n2. the 1-1-1-1 chain: (w1, b1, w2, b2, w3, b3) =", tuple(round(v, 4) for v in p))
    y_hat = small(X[0]).data
    print(f"  for input {xs[0]} with target {targets[0]}, the chain computes {y_hat:.6f}, "
          f"a cost (y_hat - t)^2 of {(y_hat - targets[0]) ** 2:.6f}")  # fmt: skip
    with autodiff.no_grad():
        engine = [small(x).data for x in X]
    checks.small(
        "max |engine - chain by hand| over the 1000 points",
        max(abs(e - chain(p, x)) for e, x in zip(engine, xs)),
        1e-12,
    )

    # The notebook then checks its gradients by central differences (its "gradient
    # checking"): the engine's gradient g of the mean cost over the whole dataset,
    # as a function of the six parameters, against D_i = (C(p_i + eps) - C(p_i - eps)) / 2 eps,
    # with the notebook's relative error |D - g| / (|D| + |g|) over the whole vector.
    def mean_cost(*q):
        return autodiff.sum([(chain(q, x) - t) ** 2 for x, t in zip(xs, targets)]) / len(xs)

    result = autodiff.gradcheck(mean_cost, list(p))
    print(result)
    g, numeric = result.analytic, result.numeric
    relative_error = math.dist(g, numeric) / (math.hypot(*g) + math.hypot(*numeric))
    checks.small("gradient check of the chain's mean cost: |D - g| / (|D| + |g|)", relative_error, 1e-7)
    results["chain_gradient_relative_error"] = relative_error

    # --- 3. The 1-3-2-1 network ------------------------------------------------------------
    # Layers of 3 and 2 neurons. A layer's neurons read the same inputs, so their
    # weights form a matrix W (row k: the weights into neuron k) and the layer computes
    # a = sigmoid(W a_prev + b). The notebook then feeds the whole dataset at once, with
    # no loop over examples: A = sigmoid(W A_prev + b), one column per example. Check:
    # that matrix version (numpy) gives the engine's outputs, point by point.
    import numpy as np

    big = nn.MLP(1, [3, 2, 1], activation="sigmoid", output_activation="sigmoid", seed=rng)
    A = np.array(X).T  # 1 x 1000: the inputs, one column per example
    for layer in big.layers:
        W = np.array([[w.data for w in neuron.w] for neuron in layer.neurons])
        b = np.array([[neuron.b.data] for neuron in layer.neurons])
        A = sigmoid(W @ A + b)
    with autodiff.no_grad():
        engine = np.array([big(x).data for x in X])
    print(f"\n3. the 1-3-2-1 network: {big.num_parameters()} parameters; W sizes 3x1, 2x3, 1x2")
    checks.small(
        "max |engine - vectorised numpy forward pass| over the 1000 points", float(np.max(np.abs(engine - A[0]))), 1e-12
    )

    # --- 4. Training -------------------------------------------------------------------------
    # Both networks learn the step by minibatch gradient descent (Adam), on the mean
    # squared error; a point is classified 1 when the output is above 1/2.
    def classify(out: float) -> int:
        return 1 if out > 0.5 else 0

    print(f"\n4. training both networks for {epochs} epochs")
    curves = {}
    for name, model in (("1-1-1-1 chain", small), ("1-3-2-1 network", big)):
        with autodiff.no_grad():
            before = [model(x).data for x in X]
        optimizer = nn.optim.Adam(model.parameters(), lr=args.lr)
        history = nn.train.fit(model, X, targets, loss="mse", optimizer=optimizer, epochs=epochs, batch_size=32,
                               seed=rng, classify=classify)  # fmt: skip
        with autodiff.no_grad():
            after = [model(x).data for x in X]
        accuracy = nn.train.accuracy(model, X, [int(t) for t in targets], classify=classify)
        print(f"  {name}: {history}; accuracy {accuracy:.3f}")
        curves[name] = before, after
        results[f"accuracy {name}"] = accuracy

    # --- 5. The picture ----------------------------------------------------------------------
    # Outputs against inputs: before training, a random smooth curve; after, a step.
    fig, axes = figure(5.6, 2, 2, sharex=True, sharey=True)
    for row, (name, (before, after)) in zip(axes, curves.items()):
        for ax, outputs, when in zip(row, (before, after), ("before training", f"after {epochs} epochs")):
            ax.scatter(xs, targets, s=4, color="tab:blue", label="target: (label + 1) / 2")
            ax.plot(xs, outputs, color="tab:orange", lw=2.5, label="network output")
            ax.set_title(f"{name}, {when}", fontsize=10)
        row[0].set_ylabel("output (no unit)")
    for ax in axes[1]:
        ax.set_xlabel("input x (no unit)")
    fig.suptitle("After training, both networks output the step")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2, markerscale=3)
    path = out / "toy_step.png"
    save_png(fig, path)
    print(f"\n5. wrote {path}")
    results["files"] = [path]

    checks.finish()
    return results


if __name__ == "__main__":
    main()
