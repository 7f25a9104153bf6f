"""The engine's gradients equal the closed-form backprop equations BP1-BP4; a batch's gradient is its examples' mean.

    python -m demos.backprop_equations            # a second or two; writes out/backprop_equations.png
    python -m demos.backprop_equations --quick    # a smaller batch

The forward/backprop notebook derives four equations for the gradient of the cost
C = sum over examples of 1/2 ||a^L - y||^2, vectorised over a layer (and, with one
column per example, over a batch):

    BP1  delta^L = (a^L - y) * sigma'(z^L)                    the error of the last layer
    BP2  delta^l = (W^(l+1))^T delta^(l+1) * sigma'(z^l)      moves the error one layer back
    BP3  dC/db^l = delta^l                                    (summed over the batch)
    BP4  dC/dW^l = delta^l (a^(l-1))^T                        (the matrix product sums over the batch)

The engine knows none of this: it applies the chain rule one scalar op at a time.
This demo computes the gradients of the notebook's 2-3-3-1 network on a batch of
make_circles points both ways, and prints the largest differences. Then it answers
the Q&A on batch gradients: one gradient for a batch is the mean
of the per-example gradients.
"""

from __future__ import annotations

import autodiff
import nn
from demos.common import Checks, figure, int_between, one_line_errors, output_folder, parser, save_png

# Each activation and its derivative, written with numpy, independently of the engine.
SIGMA = {
    "sigmoid": (lambda np, z: 1 / (1 + np.exp(-z)), lambda np, z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
    "tanh": (lambda np, z: np.tanh(z), lambda np, z: 1 / np.cosh(z) ** 2),
    "relu": (lambda np, z: np.maximum(z, 0.0), lambda np, z: (z > 0).astype(float)),
}


def matrices(model: nn.MLP) -> tuple[list, list]:
    """Each layer's W (row k: the weights into neuron k, the notebook's layout) and b (a column)."""
    import numpy as np

    Ws = [np.array([[w.data for w in n.w] for n in layer.neurons]) for layer in model.layers]
    bs = [np.array([[n.b.data] for n in layer.neurons]) for layer in model.layers]
    return Ws, bs


def feedforward_batch(Ws: list, bs: list, X, activation: str) -> tuple[list, list]:
    """The notebook's vectorised forward pass: z^l = W^l a^(l-1) + b^l, a^l = sigma(z^l), one column per example."""
    import numpy as np

    sigma = SIGMA[activation][0]
    zs, activations = [], [X.T]
    for W, b in zip(Ws, bs):
        zs.append(W @ activations[-1] + b)
        activations.append(sigma(np, zs[-1]))
    return zs, activations


def backprop_batch(Ws: list, bs: list, X, Y, activation: str) -> tuple[list, list]:
    """dC/dW^l and dC/db^l by BP1-BP4, for C = sum over the batch of 1/2 ||a^L - y||^2."""
    import numpy as np

    sigma_prime = SIGMA[activation][1]
    zs, activations = feedforward_batch(Ws, bs, X, activation)
    delta = (activations[-1] - Y.T) * sigma_prime(np, zs[-1])  # BP1
    dWs, dbs = [None] * len(Ws), [None] * len(Ws)
    for layer in reversed(range(len(Ws))):
        if layer < len(Ws) - 1:
            delta = (Ws[layer + 1].T @ delta) * sigma_prime(np, zs[layer])  # BP2
        dbs[layer] = delta.sum(axis=1, keepdims=True)  # BP3, summed over the examples (columns)
        dWs[layer] = delta @ activations[layer].T  # BP4: the product sums over the examples
    return dWs, dbs


def per_example_backprop(Ws: list, bs: list, X, Y, activation: str):
    """The notebook's batched BP on a stack of examples: each example's own gradient, as one row of P numbers."""
    import numpy as np

    sigma_prime = SIGMA[activation][1]
    zs, activations = feedforward_batch(Ws, bs, X, activation)
    z = [zl.T[:, :, None] for zl in zs]  # (examples, units, 1): one column vector per example
    a = [al.T[:, :, None] for al in activations]
    delta = (a[-1] - Y[:, :, None]) * sigma_prime(np, z[-1])  # BP1, per example
    rows = [None] * len(Ws)
    for layer in reversed(range(len(Ws))):
        if layer < len(Ws) - 1:
            delta = (Ws[layer + 1].T @ delta) * sigma_prime(np, z[layer])  # BP2, per example
        dW = delta @ a[layer].transpose(0, 2, 1)  # BP4, per example: (examples, units, inputs)
        rows[layer] = np.concatenate([dW, delta], axis=2)  # neuron k: its weights' gradients, then its bias's (BP3)
    return np.concatenate([r.reshape(len(X), -1) for r in rows], axis=1)  # parameters() order: neuron-major


def flat(dWs: list, dbs: list):
    """Per-layer gradients as one vector in `parameters()` order: each neuron's weights, then its bias."""
    import numpy as np

    return np.concatenate([np.hstack([dW, db]).ravel() for dW, db in zip(dWs, dbs)])


def equations_figure(closed_form, engine, per_example, one_pass, seed: int):
    """Top: each parameter's gradient by the engine against BP1-BP4, on the diagonal. Bottom: each parameter's
    per-example gradients (dots), their mean (bar) and the gradient of the whole batch's mean cost (cross)."""
    import numpy as np
    from matplotlib.lines import Line2D

    fig, (top, bottom) = figure(7.5, 2, 1, gridspec_kw={"height_ratios": [1, 1.2]})
    lim = 1.1 * float(np.max(np.abs(closed_form)))
    top.plot([-lim, lim], [-lim, lim], color="lightgray", lw=1, label="the diagonal: equal")
    top.scatter(closed_form, engine, s=22, color="tab:purple", zorder=3, label="one parameter")
    top.set(xlabel="dC/dθ by BP1-BP4 (numpy)", ylabel="dC/dθ by the engine")
    top.set_title("The engine's gradients equal those of BP1-BP4")
    top.legend(loc="upper left")
    n, count = per_example.shape
    rng = np.random.default_rng(abs(seed))  # numpy refuses seeds < 0; random.Random(seed) uses |seed| too
    for i in range(count):
        bottom.scatter(i + rng.uniform(-0.25, 0.25, n), per_example[:, i], s=3, color="tab:blue", alpha=0.3)
        bottom.plot([i - 0.35, i + 0.35], [per_example[:, i].mean()] * 2, color="black", lw=2)
    bottom.scatter(range(count), one_pass, marker="x", color="tab:red", s=30, zorder=3)
    bottom.set(xlabel=f"parameter θ: its index 0-{count - 1} in model.parameters()", ylabel="d(½ (a - y)²)/dθ")
    bottom.set_title("The batch's gradient is the mean of the examples' gradients")
    key = [
        Line2D([], [], ls="", marker="o", ms=4, color="tab:blue", alpha=0.5, label="one example's gradient"),
        Line2D([], [], color="black", lw=2, label="their mean"),
        Line2D([], [], ls="", marker="x", color="tab:red", label="the batch's gradient"),
    ]
    bottom.legend(handles=key, loc="upper left")
    return fig


@one_line_errors
def main(argv: list[str] | None = None) -> dict:
    """Run the demo; return its key numbers."""
    args_parser = parser(__doc__)
    args_parser.add_argument(
        "--examples", type=int_between(2, 2000), help="examples in the batch (default: 200, --quick: 40)"
    )
    args_parser.add_argument("--activation", choices=sorted(SIGMA), default="sigmoid",
                             help="activation of every layer (default: sigmoid, as in the notebook)")  # fmt: skip
    args = args_parser.parse_args(argv)
    n = args.examples or (40 if args.quick else 200)
    out = output_folder(args.out)
    checks = Checks()
    results: dict = {}

    import numpy as np

    # --- 1. A network and a batch --------------------------------------------------------------
    # The notebook's make_circles data (factor 0.3, noise 0.1) and its 2-3-3-1 network,
    # with the same activation in every layer, the output's too.
    X_list, y_list = nn.data.make_circles(n, noise=0.1, factor=0.3, seed=args.seed)
    X, Y = np.array(X_list), np.array(y_list, dtype=float)[:, None]
    model = nn.MLP(2, [3, 3, 1], activation=args.activation, output_activation=args.activation, seed=args.seed)
    for p in model.parameters():  # biases away from 0 (nn starts them there), so that BP3 is tested on real numbers
        p.data += 0.1
    print(f"1. a {n}-example batch of make_circles and the 2-3-3-1 {args.activation} network "
          f"({model.num_parameters()} parameters)")  # fmt: skip

    # --- 2. The gradient two ways ---------------------------------------------------------------------
    # The engine: build C = sum over the batch of 1/2 (a^L - y)^2 from scalar Values and
    # call backward(). The closed form: BP1-BP4 above, in numpy, over the whole batch.
    cost = autodiff.sum([0.5 * (model(x) - t) ** 2 for x, t in zip(X_list, y_list)])
    model.zero_grad()
    cost.backward()
    engine = np.array([p.grad for p in model.parameters()])
    dWs, dbs = backprop_batch(*matrices(model), X, Y, args.activation)
    closed_form = flat(dWs, dbs)
    print(f"\n2. the cost is {cost.data:.6f}; its gradient by the engine and by BP1-BP4, layer by layer:")
    start = 0
    for layer, (dW, db) in enumerate(zip(dWs, dbs), start=1):
        size = dW.size + db.size
        ours, theirs = engine[start : start + size].reshape(dW.shape[0], -1), np.hstack([dW, db])
        start += size
        print(f"  layer {layer}: max |dC/dW difference| {np.max(np.abs(ours[:, :-1] - dW)):.1e}, "
              f"max |dC/db difference| {np.max(np.abs(ours[:, -1:] - db)):.1e}, largest |gradient| "
              f"{np.max(np.abs(theirs)):.3g}")  # fmt: skip
    difference = float(np.max(np.abs(engine - closed_form)))
    scale = float(np.max(np.abs(closed_form)))
    checks.small("engine vs BP1-BP4: max |difference| / max |gradient|", difference / scale, 1e-12)
    results["bp_max_difference"] = difference

    # --- 3. The notebook's gradient check --------------------------------------------------------------
    # A third route that knows neither the engine nor the equations: nudge each parameter
    # by +-eps, rerun the numpy forward pass, D_i = (C(+eps) - C(-eps)) / 2 eps, and compare
    # the whole vector with the notebook's relative error |D - g| / (|D| + |g|) (eps = 1e-7,
    # as there; the notebook asks for less than 1e-7).
    params = np.array([p.data for p in model.parameters()])

    def cost_at(vector) -> float:
        for p, v in zip(model.parameters(), vector):
            p.data = float(v)
        _, activations = feedforward_batch(*matrices(model), X, args.activation)
        return 0.5 * float(np.sum((activations[-1] - Y.T) ** 2))

    eps = 1e-7
    numeric = np.array(
        [(cost_at(params + eps * e) - cost_at(params - eps * e)) / (2 * eps) for e in np.eye(len(params))]
    )
    cost_at(params)  # put the parameters back
    relative_error = float(np.linalg.norm(numeric - engine) / (np.linalg.norm(numeric) + np.linalg.norm(engine)))
    print(f"\n3. central differences on all {len(params)} parameters")
    checks.small("gradient check: |D - g| / (|D| + |g|)", relative_error, 1e-7)
    results["gradient_check_relative_error"] = relative_error

    # --- 4. One gradient for a batch -------------------------------------------------------------------
    # The Q&A asks how a batch of examples can give one set of weight updates. Answer:
    # the loss of a batch is the mean of the examples' losses, and the derivative of a
    # mean is the mean of the derivatives. Three routes to the gradient of the mean cost:
    # (a) one backward pass of the engine on the mean cost; (b) one backward pass per
    # example, averaged; (c) the notebook's batched BP, which keeps each example's own
    # delta (arrays of shape examples x units x 1), averaged.
    mean_cost = cost / n
    model.zero_grad()
    mean_cost.backward()
    one_pass = np.array([p.grad for p in model.parameters()])
    per_example = []
    for x, t in zip(X_list, y_list):
        model.zero_grad()
        (0.5 * (model(x) - t) ** 2).backward()
        per_example.append([p.grad for p in model.parameters()])
    per_example = np.array(per_example)
    numpy_rows = per_example_backprop(*matrices(model), X, Y, args.activation)
    print(f"\n4. the gradient of the mean cost over {n} examples")
    top = float(np.max(np.abs(per_example)))  # the differences below are relative to the largest gradient
    results["batch_vs_mean_of_examples"] = checks.small(
        "(a) one backward pass vs (b) the mean of per-example backward passes: max |difference| / max |gradient|",
        float(np.max(np.abs(one_pass - per_example.mean(axis=0)))) / top,
        1e-14,
    )
    checks.small("(a) vs (c) the mean of the notebook's per-example BP: max |difference| / max |gradient|",
                 float(np.max(np.abs(one_pass - numpy_rows.mean(axis=0)))) / top, 1e-14)  # fmt: skip
    checks.small("(b) vs (c), example by example: max |difference| / max |gradient|",
                 float(np.max(np.abs(per_example - numpy_rows))) / top, 1e-14)  # fmt: skip
    spread = float(np.max(per_example.std(axis=0)))
    print(f"  the examples disagree (a per-example gradient's standard deviation reaches {spread:.3g});"
          " the batch follows their mean")  # fmt: skip

    # --- 5. The picture ---------------------------------------------------------------------------------
    # Left: each parameter's gradient by the engine against BP1-BP4: all on the diagonal.
    # Right: each parameter's per-example gradients (dots), their mean (bar) and the
    # batch gradient of (a) (cross): the cross sits on the bar.
    fig = equations_figure(closed_form, engine, per_example, one_pass, args.seed)
    path = out / "backprop_equations.png"
    save_png(fig, path)
    print(f"\n5. wrote {path}")
    results["files"] = [path]

    checks.finish()
    return results


if __name__ == "__main__":
    main()
