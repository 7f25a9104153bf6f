"""The notebook's "nudge" simulation: how nudging w3, then w1, moves z, a and the cost of a sigmoid chain.

    python -m demos.nudge            # a second or two; writes out/nudge.png
    python -m demos.nudge --quick    # the same, with fewer nudges drawn

Reproduces the backprop section of the forward/backprop notebook. Its 1-1-1-1
sigmoid chain computes, for one example (x, y),

    z1 = w1 x + b1,  a1 = sigmoid(z1),  z2 = w2 a1 + b2,  a2 = sigmoid(z2),
    z3 = w3 a2 + b3, a3 = sigmoid(z3),  C0 = (a3 - y)^2.

The notebook nudges w3 (then w1) by large amounts and plots how z, a and the cost
follow; the slope of each curve at the current weight is a derivative. Here each
slope is measured three ways: by small nudges (central differences), by the
engine's backward pass, and by the notebook's chain-rule product.
"""

from __future__ import annotations

import random

import autodiff
from autodiff import Value
from demos.common import Checks, figure, int_between, one_line_errors, output_folder, parser, save_png

NAMES = ("w1", "b1", "w2", "b2", "w3", "b3")


def forward(p: dict, x: float, y: float) -> dict:
    """Every intermediate of the chain for one example; p maps NAMES to floats or Values."""
    z1 = p["w1"] * x + p["b1"]
    a1 = autodiff.sigmoid(z1)
    z2 = p["w2"] * a1 + p["b2"]
    a2 = autodiff.sigmoid(z2)
    z3 = p["w3"] * a2 + p["b3"]
    a3 = autodiff.sigmoid(z3)
    return {"z1": z1, "a1": a1, "z2": z2, "a2": a2, "z3": z3, "a3": a3, "C0": (a3 - y) ** 2}


def engine_slope(p: dict, x: float, y: float, weight: str, quantity: str) -> float:
    """d(quantity)/d(weight) by one backward pass of the engine, on fresh Values."""
    values = {name: Value(v, name) for name, v in p.items()}
    forward(values, x, y)[quantity].backward()
    return values[weight].grad


def nudge_slope(p: dict, x: float, y: float, weight: str, quantity: str, h: float = 1e-6) -> float:
    """d(quantity)/d(weight) measured: nudge the weight by +-h, rerun the whole chain, divide the change by 2h."""
    up = forward({**p, weight: p[weight] + h}, x, y)[quantity]
    down = forward({**p, weight: p[weight] - h}, x, y)[quantity]
    return (up - down) / (2 * h)


def chain_rule_slopes(p: dict, x: float, y: float) -> dict:
    """The notebook's derivation: each slope as a product of local derivatives, read off the forward values."""
    f = forward(p, x, y)
    s1, s2, s3 = (f[a] * (1 - f[a]) for a in ("a1", "a2", "a3"))  # sigmoid'(z) = a (1 - a)
    dC_da3 = 2 * (f["a3"] - y)
    da3_dw1 = x * s1 * p["w2"] * s2 * p["w3"] * s3  # dz1/dw1 da1/dz1 dz2/da1 da2/dz2 dz3/da2 da3/dz3
    return {
        ("w3", "z3"): f["a2"],  # dz3/dw3 = a2: how strongly the previous neuron fires
        ("w3", "a3"): f["a2"] * s3,
        ("w3", "C0"): f["a2"] * s3 * dC_da3,
        ("w1", "z1"): x,
        ("w1", "a3"): da3_dw1,
        ("w1", "C0"): da3_dw1 * dC_da3,
    }


def nudge_figure(p: dict, f: dict, nudges: list, curves: dict, slopes: dict, panels: dict):
    """One panel per (weight, quantity): the quantity after each nudge, and the tangent with the engine's slope."""
    from matplotlib.lines import Line2D

    colors = {"z3": "tab:orange", "z1": "tab:orange", "a3": "tab:green", "C0": "tab:red"}
    names = {"z1": "z1, a weighted sum", "z3": "z3, a weighted sum", "a3": "a3, the output", "C0": "C0, the cost"}
    fig, axes = figure(8.0, 3, 2, sharex="col")
    for column, (weight, quantities) in enumerate(panels.items()):
        ws = [p[weight] + d for d in nudges]
        for ax, quantity in zip(axes[:, column], quantities):
            ax.plot(ws, curves[weight, quantity], color=colors[quantity], lw=4, alpha=0.45)
            here, slope = f[quantity], slopes[weight, quantity]["engine"]
            # The tangent across the middle half of the nudges, drawn over the curve.
            tangent = [p[weight] - 2.5, p[weight] + 2.5]
            ax.plot(tangent, [here + slope * (t - p[weight]) for t in tangent], "--", color="black", lw=1.6, zorder=3)
            ax.plot([p[weight]], [here], "o", color="black", ms=6, zorder=4)
            ax.set_ylabel(names[quantity])
            ax.set_title(f"d{quantity}/d{weight} = {slope:.3g}", fontsize=10, loc="right")
        axes[-1, column].set_xlabel(f"{weight} after a nudge")
    fig.suptitle("The engine's gradient is the slope of the dashed tangent")
    key = [
        Line2D([], [], color="gray", lw=4, alpha=0.45, label="the quantity after a nudge"),
        Line2D([], [], ls="--", color="black", lw=1.6, label="tangent: slope = engine's gradient"),
        Line2D([], [], ls="", marker="o", color="black", label="the current weight"),
    ]
    fig.legend(handles=key, loc="outside lower center", ncols=2)
    return fig


@one_line_errors
def main(argv: list[str] | None = None) -> dict:
    """Run the demo; return its key numbers."""
    args_parser = parser(__doc__)
    args_parser.add_argument(
        "--nudges", type=int_between(2, 1001), help="nudges drawn per curve (default: 51, --quick: 21)"
    )
    args = args_parser.parse_args(argv)
    n_nudges = args.nudges or (21 if args.quick else 51)
    out = output_folder(args.out)
    rng = random.Random(args.seed)
    checks = Checks()

    # --- 1. One example through the chain --------------------------------------------------
    # As in the notebook: the first point of the toy data, x = -5 with label y = -1;
    # weights and biases drawn from N(0, 1), except w3 = 1 ("exaggerating for
    # plotting purposes").
    x, y = -5.0, -1.0
    p = {name: rng.gauss(0.0, 1.0) for name in NAMES}
    p["w3"] = 1.0
    f = forward(p, x, y)
    print("1. the chain at", ", ".join(f"{k} = {v:.4f}" for k, v in p.items()))
    print("  forward pass:", ", ".join(f"{k} = {v:.4f}" for k, v in f.items()))

    # --- 2. Large nudges, as the notebook plots them ------------------------------------------
    # Add each of n evenly spaced nudges in [-5, 5] to w3, rerun the chain, and record
    # z3, a3 and C0; then the same for w1, recording z1, a3 and C0.
    panels = {"w3": ("z3", "a3", "C0"), "w1": ("z1", "a3", "C0")}
    nudges = [-5 + 10 * i / (n_nudges - 1) for i in range(n_nudges)]
    curves = {
        (weight, quantity): [forward({**p, weight: p[weight] + d}, x, y)[quantity] for d in nudges]
        for weight, quantities in panels.items()
        for quantity in quantities
    }
    print(f"\n2. nudged w3 and w1 by {n_nudges} amounts in [-5, 5] and reran the chain each time")

    # --- 3. The slopes, three ways ------------------------------------------------------------------
    # The slope of each curve at the current weight is a derivative. Measuring it by
    # nudging means rerunning the chain twice per weight; the engine's backward pass
    # gets d(quantity)/d(every weight) from one run; the notebook's chain rule writes it
    # as a product of local derivatives. Checks: all three agree.
    print("\n3. slopes at the current weights")
    print(f"  {'derivative':<10} {'nudge slope':>22} {'engine gradient':>22} {'chain rule':>22}")
    chain_rule = chain_rule_slopes(p, x, y)
    slopes = {}
    for (weight, quantity), by_hand in chain_rule.items():
        measured = nudge_slope(p, x, y, weight, quantity)
        engine = engine_slope(p, x, y, weight, quantity)
        slopes[weight, quantity] = {"nudge": measured, "engine": engine, "chain rule": by_hand}
        print(f"  d{quantity}/d{weight:<6} {measured:>22.15g} {engine:>22.15g} {by_hand:>22.15g}")
    for (weight, quantity), s in slopes.items():
        checks.close(f"d{quantity}/d{weight}: engine vs nudge slope", s["engine"], s["nudge"], 1e-8)
        checks.close(f"d{quantity}/d{weight}: engine vs chain rule", s["engine"], s["chain rule"], 1e-12, relative=True)

    # --- 4. The picture -------------------------------------------------------------------------------
    # Each curve with the current weight marked, and through it the tangent whose slope
    # is the engine's gradient: it touches the curve, as a derivative should.
    path = out / "nudge.png"
    save_png(nudge_figure(p, f, nudges, curves, slopes, panels), path)
    print(f"\n4. wrote {path}")

    checks.finish()
    return {"slopes": slopes, "files": [path]}


if __name__ == "__main__":
    main()
