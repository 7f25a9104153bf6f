"""The main job: an MLP learns two moons with the engine; its decision boundary, its training, one neuron's graph.

    python -m demos.moons                                              # ~6 s; writes four files to out/
    python -m demos.moons --compiled --samples 12500 --test-size 0.2   # trains on 10,000 points in 5-15 s
    python -m demos.moons --quick                                      # a small, fast run

A 2-16-16-1 ReLU network learns to tell two interleaving half circles apart
(make_moons), by minibatch gradient descent on the binary cross-entropy, with every
gradient from the engine's backward pass (or, with --compiled, from the same
per-example loss traced once by `autodiff.compile` and run on each minibatch as one
numpy call). It writes to --out:

    moons_boundary.png   the decision boundary over the training and test points
    moons_training.png   loss and accuracy per epoch, on the training and test sets
    moons_neuron.svg     one hidden neuron's computation, with the gradient of one
                         example's loss at every node and edge
    moons_neuron.html    a page that steps through backward() from that neuron's
                         output, node by node (open it in a browser)
"""

from __future__ import annotations

import argparse
import random
import sys
import time

import autodiff
import nn
from autodiff import Value
from demos.common import (
    CLASS_COLORS,
    REGION_COLORS,
    Checks,
    add_renderer_option,
    figure,
    grid,
    int_between,
    model_logits,
    number_between,
    one_line_errors,
    output_folder,
    parser,
    plain_numbers,
    positive_float,
    save_png,
)


def layer_sizes(text: str) -> list[int]:
    """An argparse type: hidden layer sizes, comma-separated ("16,16")."""
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be sizes separated by commas, like 16,16; got {text!r}") from None
    if not 1 <= len(sizes) <= 4 or not all(1 <= size <= 64 for size in sizes):
        raise argparse.ArgumentTypeError(f"must be 1 to 4 sizes, each from 1 to 64, got {text!r}")
    return sizes


def fraction(text: str) -> float:
    """An argparse type: a number strictly between 0 and 1."""
    try:
        x = float(text)
    except ValueError:
        x = float("nan")
    if not 0 < x < 1:
        raise argparse.ArgumentTypeError(f"must be a fraction between 0 and 1, got {text!r}")
    return x


def build_parser() -> argparse.ArgumentParser:
    """The command line of this demo."""
    p = parser(__doc__)
    p.add_argument("--samples", type=int_between(4, 20_000), help="points of make_moons (default: 400, --quick: 100)")
    p.add_argument("--noise", type=number_between(0, 1), default=0.15, help="the moons' noise, a std (default: 0.15)")
    p.add_argument("--test-size", type=fraction, default=0.25, help="fraction kept aside for testing (default: 0.25)")
    p.add_argument("--hidden", type=layer_sizes, default=[16, 16], help="hidden layer sizes (default: 16,16)")
    p.add_argument("--epochs", type=int_between(1, 1000), help="training epochs (default: 50, --quick: 5)")
    p.add_argument("--batch-size", type=int_between(1, 20_000), default=32, help="examples per step (default: 32)")
    p.add_argument("--lr", type=positive_float, default=0.01, help="Adam's learning rate (default: 0.01)")
    p.add_argument("--compiled", action="store_true",
                   help="train through autodiff.compile: fit(..., compiled=True), fast on many points")  # fmt: skip
    add_renderer_option(p)
    return p


@one_line_errors
def main(argv: list[str] | None = None) -> dict:
    """Run the demo; return its key numbers."""
    args = build_parser().parse_args(argv)
    n = args.samples or (100 if args.quick else 400)
    epochs = args.epochs or (5 if args.quick else 50)
    out = output_folder(args.out)
    rng = random.Random(args.seed)
    checks = Checks()
    results: dict = {}

    import numpy as np

    # --- 1. Two moons ------------------------------------------------------------------------------------
    # Label 0: the upper moon; label 1: the lower one, shifted to interleave with it.
    # Gaussian noise blurs them; a fraction of the points (--test-size, a quarter by
    # default) is kept aside to test on.
    X, y = nn.data.make_moons(n, noise=args.noise, seed=rng)
    try:
        X_train, X_test, y_train, y_test = nn.data.train_test_split(X, y, test_size=args.test_size, seed=rng)
    except ValueError as error:  # a test size that leaves one of the sets empty
        build_parser().error(f"argument --test-size: {error}")
    print(f"1. {n} points of make_moons (noise {args.noise}): {len(X_train)} to train on, {len(X_test)} to test on")

    # --- 2. The network --------------------------------------------------------------------------------
    # ReLU hidden layers and one linear output, a logit: the network says "label 1"
    # where the logit is positive. Its loss on an example is the binary cross-entropy
    # of sigmoid(logit) against the label (nn.losses.binary_cross_entropy).
    model = nn.MLP(2, [*args.hidden, 1], activation="relu", seed=rng)
    print(f"\n2. {model!r}")

    # --- 3. Training -----------------------------------------------------------------------------------
    # nn.train.fit takes minibatch steps with Adam: forward, backward, update. With
    # --compiled, the per-example loss is traced once and every minibatch runs as one
    # numpy call: the same steps (to rounding), many times faster on big data.
    optimizer = nn.optim.Adam(model.parameters(), lr=args.lr)
    how = "compiled (autodiff.compile, numpy)" if args.compiled else "eager (one graph per example)"
    print(f"\n3. training for {epochs} epochs, batches of {args.batch_size}, {how}")
    started = time.perf_counter()
    history = nn.train.fit(model, X_train, y_train, loss="binary_cross_entropy", optimizer=optimizer, epochs=epochs,
                           batch_size=args.batch_size, seed=rng, validation_data=(X_test, y_test),
                           compiled=args.compiled)  # fmt: skip
    seconds = time.perf_counter() - started
    train_accuracy = nn.train.accuracy(model, X_train, y_train, loss="binary_cross_entropy")
    test_accuracy = nn.train.accuracy(model, X_test, y_test, loss="binary_cross_entropy")
    print(f"  {history}")
    print(f"  trained on {len(X_train)} points in {seconds:.1f} s")
    print(f"  train accuracy {train_accuracy:.3f}, test accuracy {test_accuracy:.3f}")
    results.update(train_accuracy=train_accuracy, test_accuracy=test_accuracy, train_seconds=seconds)
    if args.compiled:
        # The compiled run measured the test loss itself, with numpy; the eager engine
        # measures it again from the trained parameters.
        eager = nn.train.evaluate(model, X_test, y_test, loss="binary_cross_entropy")
        checks.close("test loss: compiled evaluation in fit vs the eager engine", history.val_loss[-1], eager["loss"],
                     1e-12, relative=True)  # fmt: skip

    # --- 4. The decision boundary --------------------------------------------------------------------------
    # The logit on a grid over the plane, computed by the model compiled once
    # (autodiff.compile): one numpy call for 10,000 points. Check: its verdict on the
    # test points gives the test accuracy the eager engine measured.
    logits = model_logits(model)
    test_by_numpy = float(np.mean((logits.batch(X_test) > 0) == np.array(y_test)))
    checks.close("test accuracy: compiled numpy logits vs the eager engine", test_by_numpy, test_accuracy, 1e-12)
    xx, yy, points = grid(X, steps=100)
    zz = logits.batch(points).reshape(xx.shape)
    boundary = out / "moons_boundary.png"
    save_png(boundary_figure(xx, yy, zz, (X_train, y_train), (X_test, y_test), test_accuracy), boundary)
    training = out / "moons_training.png"
    save_png(training_figure(history), training)
    print(f"\n4. wrote {boundary} and {training}")
    results["files"] = [boundary, training]

    # --- 5. One neuron, up close ---------------------------------------------------------------------------
    with autodiff.no_grad():
        hardest = max(
            range(len(X_test)), key=lambda i: nn.losses.binary_cross_entropy(model(X_test[i]), y_test[i]).data
        )
    neuron = draw_one_neuron(model, X_test[hardest], y_test[hardest], out, checks, args.renderer)
    results["neuron"] = neuron["neuron"]
    results["files"] += neuron["files"]

    checks.finish()
    return results


def boundary_figure(xx, yy, zz, train: tuple, test: tuple, test_accuracy: float):
    """The plane coloured by the class the network gives each point, its boundary, and the points with their labels."""
    import numpy as np
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    fig, ax = figure(4.8)
    ax.contourf(xx, yy, zz > 0, levels=[-0.5, 0.5, 1.5], colors=REGION_COLORS)
    ax.contour(xx, yy, zz, levels=[0.0], colors="dimgray", linewidths=1.5)
    for (data, labels), marker, size, edge in ((train, "o", 16, "white"), (test, "^", 30, "black")):
        data, labels = np.array(data), np.array(labels)
        ax.scatter(data[:, 0], data[:, 1], c=np.array(CLASS_COLORS)[labels], marker=marker, s=size, edgecolors=edge,
                   linewidths=0.5)  # fmt: skip
    ax.set(xlabel="x0, the first input (no unit)", ylabel="x1, the second input (no unit)")  # as the graph names them
    ax.set_title("The network separates the two moons")
    ax.grid(False)  # the regions' colours are the background
    key = [
        Line2D([], [], ls="", marker="o", color=CLASS_COLORS[0], label="label 0: upper moon"),
        Line2D([], [], ls="", marker="o", color=CLASS_COLORS[1], label="label 1: lower moon"),
        Line2D([], [], ls="", marker="o", color="gray", markeredgecolor="white", label="training point"),
        Line2D([], [], ls="", marker="^", color="gray", markeredgecolor="black",
               label=f"test point ({test_accuracy:.0%} right)"),
        Patch(color=REGION_COLORS[0], label="predicted 0"),
        Patch(color=REGION_COLORS[1], label="predicted 1"),
        Line2D([], [], color="dimgray", lw=1.5, label="boundary: logit = 0"),
    ]  # fmt: skip
    fig.legend(handles=key, loc="outside lower center", ncols=3)
    return fig


def training_figure(history: nn.train.History):
    """Loss (log scale) and accuracy per epoch, on the training and the test points."""
    fig, (left, right) = figure(3.6, 1, 2)
    epochs_axis = range(1, history.epochs + 1)
    panels = (
        (left, history.loss, history.val_loss, "binary cross-entropy (nats)"),
        (right, history.accuracy, history.val_accuracy, "accuracy (fraction right)"),
    )
    for ax, train, test, label in panels:
        ax.plot(epochs_axis, train, label="training (during the epoch)")
        ax.plot(epochs_axis, test, label="test (after the epoch)")
        ax.set(xlabel="epoch", ylabel=label)
    left.set_yscale("log")
    plain_numbers(left.yaxis)
    fig.suptitle("Loss falls and accuracy rises, on test points too")
    handles, labels = left.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2)
    return fig


def draw_one_neuron(model: nn.MLP, x: list[float], target: int, out, checks: Checks, renderer: str = "auto") -> dict:
    """Section 5: one example's loss, backward, and the graph of one first-layer neuron with its gradients."""

    # The test point with the largest loss goes through the network with the eager
    # engine, its inputs labelled x0 and x1; backward() fills every node's grad with
    # d(loss)/d(node). We draw the active first-layer neuron whose output moves the loss
    # most: its dot(w, x) + b and relu, with each node's grad and, on each edge, that
    # edge's term of the chain rule.
    def layer_outputs(layer: nn.Layer, a: list) -> list[Value]:
        outputs = layer(a)
        return outputs if isinstance(outputs, list) else [outputs]  # a one-neuron layer gives a Value

    hidden = layer_outputs(model.layers[0], [Value(x[0], "x0"), Value(x[1], "x1")])
    a = hidden
    for layer in model.layers[1:]:
        a = layer_outputs(layer, a)
        if layer is model.layers[1]:
            name_weighted_sums(a, "layers.1")
    loss = nn.losses.binary_cross_entropy(a[0], target)
    loss.label = "loss"
    for i, h in enumerate(hidden):
        h.label = f"h{i}"  # names for the picture and the explanation
    model.zero_grad()
    loss.backward()
    k = max(range(len(hidden)), key=lambda i: (hidden[i].data > 0, abs(hidden[i].grad)))
    neuron = model.layers[0].neurons[k]
    print(f"\n5. the hardest test point ({x[0]:.3f}, {x[1]:.3f}), label {target}: loss {loss.data:.4g}; "
          f"hidden neuron {k} of layer 0 outputs {hidden[k].data:.4g}")  # fmt: skip

    # Its output feeds every neuron of the next layer, so its grad is a sum of one term
    # per edge out of it (the total derivative, as the backprop article insists); the
    # edges into neurons whose relu is off carry nothing back:
    print(hidden[k].explain_grad(loss))

    # Check: the engine's gradients of this neuron's parameters against the slope
    # measured by nudging each one and rerunning the whole network.
    def loss_at() -> float:
        with autodiff.no_grad():
            return nn.losses.binary_cross_entropy(model(x), target).data

    h = 1e-6
    for name, p in [("w[0]", neuron.w[0]), ("w[1]", neuron.w[1]), ("b", neuron.b)]:
        p.data += h
        up = loss_at()
        p.data -= 2 * h
        down = loss_at()
        p.data += h
        checks.close(f"d(loss)/d({name}) of neuron {k}: engine vs nudge slope", p.grad, (up - down) / (2 * h), 1e-8)

    # The drawing shows this neuron only, but x0 and x1 feed every neuron of the layer, and h feeds the
    # next layer: part of their gradients comes through nodes not drawn, and each says how much.
    weighted_sum = hidden[k].parents[0].parents[0]  # relu(w·x + b): relu -> "+" -> dot
    weighted_sum.label = "w·x"
    formula = f"h{k} = relu(w.0·x0 + w.1·x1 + b)"
    path = out / "moons_neuron.svg"
    try:
        # Top to bottom: the records stack their fields, so the picture is narrow enough to be read at full size.
        autodiff.save_svg(
            hidden[k],
            path,
            renderer=renderer,
            rankdir="TB",
            module=model,
            show_contributions=True,
            title=f"{formula}, neuron {k} of layer 0: grads d(loss)/d(node)",
        )
    except autodiff.graph.RendererUnavailable as error:
        print(f"  skipped {path.name} and moons_neuron.html: {missing_renderer(error, renderer)}")
        return {"neuron": k, "files": []}
    print(f"  wrote {path}")

    # The same neuron's backward pass, step by step, in a page to open in a browser:
    # backward() from its output h (so each gradient there is d(h)/d(node)) visits
    # relu, "+" and dot, and the edge into dot from w[i] carries the term 1 × x[i].
    # Check: the page's last step gives d(h)/d(w[i]) = relu'(z) · x[i], exactly x[i] for an active relu.
    page = out / "moons_neuron.html"
    autodiff.save_html(hidden[k], page, renderer=renderer, module=model, title=formula)
    record = autodiff.graph.replay.record_backward(hidden[k])
    slope = 1.0 if hidden[k].data > 0 else 0.0
    for i in range(2):
        checks.close(f"the page's d(h{k})/d(w[{i}]) vs relu' · x[{i}]", record.grads[neuron.w[i]], slope * x[i], 0.0)
    print(f"  wrote {page}: backward() from h{k}, step by step")
    return {"neuron": k, "files": [path, page]}


def missing_renderer(error: Exception, renderer: str, version: tuple[int, int] = sys.version_info[:2]) -> str:
    """What to install when no Graphviz can render the neuron's graph, in one line: on Python 3.10 the embedded
    renderer cannot be installed, so the system Graphviz is the only way."""
    if version >= (3, 11):
        return str(error)
    then = ", and leave out --renderer wasm" if renderer == "wasm" else ""
    return (
        "no Graphviz renderer: on Python 3.10, install the system Graphviz "
        f"(Debian/Ubuntu: sudo apt-get install graphviz){then}, then rerun (the embedded renderer needs Python >= 3.11)"
    )


def name_weighted_sums(outputs: list[Value], layer: str) -> None:
    """Label each neuron's dot(w, x) node "<layer>.neurons.<j> w·x", found below its activation and "+" nodes."""
    for j, node in enumerate(outputs):
        while node.op != "dot":
            node = node.parents[0]
        node.label = f"{layer}.neurons.{j} w·x"


if __name__ == "__main__":
    main()
