"""The notebook's goal: an animation of how a network's hidden representation of make_circles evolves in training.

    python -m demos.hidden_representations            # ~2 s; writes out/hidden_representations.gif
    python -m demos.hidden_representations --quick    # fewer points, epochs and frames

The forward/backprop notebook opens with this animation and ends by training its
2-3-3-1 network on two concentric circles (make_circles, factor 0.3, noise 0.1). No
straight line separates the circles in the input plane; but the output neuron only
draws a plane, w . h + b = 0, through the last hidden layer's activations h. So
training must move the points, as the hidden layer sees them, until a plane
separates the classes. Each frame shows that 3-D hidden representation with the
output neuron's plane (left) beside the decision boundary it makes in the input
plane (right).
"""

from __future__ import annotations

import random

import autodiff
import nn
from autodiff.graph.figures import DPI, FIGURE_WIDTH
from demos.common import (
    CLASS_COLORS,
    REGION_COLORS,
    Checks,
    grid,
    int_between,
    model_logits,
    one_line_errors,
    output_folder,
    parser,
    positive_float,
    pyplot,
)


def frame_epochs(epochs: int, frames: int) -> list[int]:
    """About `frames` evenly spaced epochs from 0 (before training) to `epochs`: 0, 5, 10, ..., 40 for 9 of 40."""
    chosen = {round(epochs * i / (frames - 1)) for i in range(frames)} if frames > 1 else {epochs}
    return sorted(chosen | {0, epochs})


def gif_frame(fig, dpi: int):
    """The figure as it is drawn now, as a frame of a GIF: a palette of 64 colours, enough for a plot."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    # The frames are laid out by hand: no layout engine, not even the one the style's rcParams would bring
    # back while saving (matplotlib restores a figure's "no engine" as the rcParams' default).
    with pyplot().rc_context({"figure.constrained_layout.use": False}):
        fig.savefig(buffer, format="png", dpi=dpi)
    with Image.open(buffer) as image:
        return image.convert("RGB").quantize(64, dither=Image.Dither.NONE)


def hidden_and_logit(model: nn.MLP):
    """The model compiled to give, for a batch of points, its logits and its last hidden layer's activations."""

    def forward(x1, x2):
        h = [x1, x2]
        for layer in model.layers[:-1]:
            h = layer(h)
        return model.layers[-1](h), h

    return autodiff.compile(forward, [0.0, 0.0], params=model.parameters(), has_aux=True)


def animation(X, y, xx, yy, snapshots: list[dict]):
    """The figure of the animation and draw(i), which draws snapshot i into it."""
    import numpy as np
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    # A layout fixed by hand (no layout engine), so that the frames do not shift.
    fig = pyplot().figure(figsize=(FIGURE_WIDTH, 4.1), layout="none")
    # Drawn in the order given (walls, then plane, then points), not sorted by depth: the walls stay behind.
    space = fig.add_axes((-0.01, 0.2, 0.5, 0.66), projection="3d", computed_zorder=False)
    plane = fig.add_axes((0.65, 0.3, 0.33, 0.52))
    colors = np.array(CLASS_COLORS)[np.array(y)]
    Xa = np.array(X)
    key = [
        Line2D([], [], ls="", marker="o", color=CLASS_COLORS[0], label="label 0: outer circle"),
        Line2D([], [], ls="", marker="o", color=CLASS_COLORS[1], label="label 1: inner circle"),
        Patch(color=REGION_COLORS[0], label="predicted 0"),
        Patch(color=REGION_COLORS[1], label="predicted 1"),
        Line2D([], [], color="dimgray", lw=1, label="the output's plane, boundary"),
    ]
    fig.legend(handles=key, loc="lower center", ncols=3)
    fig.suptitle("Training moves the points until a plane separates them", y=0.98)
    u = np.linspace(-1, 1, 25)

    def draw(i: int) -> None:
        s = snapshots[i]
        space.cla()
        plane.cla()
        w, b = s["w"], s["b"]
        for wall in _walls(u):  # the cube's back walls, shaded by the side of the plane w . h + b = 0
            side = np.tensordot(w, np.array(wall), axes=1) + b > 0
            shade = np.array(REGION_COLORS)[side.astype(int)]
            space.plot_surface(*wall, facecolors=shade, shade=False, linewidth=0, antialiased=False, zorder=0)
        k = int(np.argmax(np.abs(w)))  # the plane: solve w . h + b = 0 for the coordinate with the largest weight
        others = [j for j in range(3) if j != k]
        grid_u, grid_v = np.meshgrid(np.linspace(-1, 1, 9), np.linspace(-1, 1, 9))
        solved = (-b - w[others[0]] * grid_u - w[others[1]] * grid_v) / w[k]
        coords = [None] * 3
        coords[others[0]], coords[others[1]], coords[k] = grid_u, grid_v, np.where(np.abs(solved) <= 1, solved, np.nan)
        space.plot_wireframe(*coords, color="dimgray", linewidth=0.6, zorder=1)
        h = s["hidden"]
        space.scatter(h[:, 0], h[:, 1], h[:, 2], c=colors, s=6, depthshade=False, zorder=2)
        space.set(xlim=(-1, 1), ylim=(-1, 1), zlim=(-1, 1))
        ticks = [-1, 0, 1]  # tanh units: every activation is in (-1, 1)
        space.set(xticks=ticks, yticks=ticks, zticks=ticks)
        space.tick_params(labelsize=10, pad=0)
        for axis, name in zip((space.xaxis, space.yaxis, space.zaxis), ("h1", "h2", "h3")):
            axis.pane.fill = False
            axis.set_label_text(name, fontsize=10)
            axis.labelpad = -3
        space.set_title(f"hidden layer, epoch {s['epoch']}", fontsize=10)
        space.view_init(elev=18, azim=-60)
        plane.contourf(xx, yy, s["grid"] > 0, levels=[-0.5, 0.5, 1.5], colors=REGION_COLORS)
        plane.contour(xx, yy, s["grid"], levels=[0.0], colors="dimgray", linewidths=1.2)
        plane.scatter(Xa[:, 0], Xa[:, 1], c=colors, s=6)
        plane.set_aspect("equal")
        plane.grid(False)
        plane.set(xlabel="x1 (no unit)", ylabel="x2 (no unit)")
        plane.set_title(f"input plane, epoch {s['epoch']}\n{s['accuracy']:.0%} of the points right", fontsize=10)

    return fig, draw


def _walls(u):
    """The three walls of the cube [-1, 1]^3 that the default view shows behind the points: (h1, h2, h3) grids."""
    import numpy as np

    a, c = np.meshgrid(u, u)
    low, high = np.full_like(a, -1.0), np.full_like(a, 1.0)
    return [(low, a, c), (a, high, c), (a, c, low)]


@one_line_errors
def main(argv: list[str] | None = None) -> dict:
    """Run the demo; return its key numbers."""
    args_parser = parser(__doc__)
    args_parser.add_argument(
        "--samples", type=int_between(2, 2000), help="points of make_circles (default: 300, --quick: 100)"
    )
    args_parser.add_argument("--epochs", type=int_between(1, 1000), help="training epochs (default: 40, --quick: 6)")
    args_parser.add_argument(
        "--frames", type=int_between(1, 100), help="frames of the animation, about (default: 9, --quick: 4)"
    )
    args_parser.add_argument("--lr", type=positive_float, default=0.01, help="Adam's learning rate (default: 0.01)")
    args_parser.add_argument(
        "--dpi", type=int_between(20, 600), default=DPI, help=f"resolution of the GIF, 20 to 600 (default: {DPI})"
    )
    args = args_parser.parse_args(argv)
    n = args.samples or (100 if args.quick else 300)
    epochs = args.epochs or (6 if args.quick else 40)
    n_frames = args.frames or (4 if args.quick else 9)
    out = output_folder(args.out)
    rng = random.Random(args.seed)
    checks = Checks()

    import numpy as np

    # --- 1. The circles and the network ------------------------------------------------------------
    # Label 0: the outer circle; label 1: the inner one. The network is the notebook's
    # 2-3-3-1, with tanh hidden units (they train faster than the notebook's sigmoids)
    # and one logit out, trained on the binary cross-entropy.
    X, y = nn.data.make_circles(n, noise=0.1, factor=0.3, seed=rng)
    model = nn.MLP(2, [3, 3, 1], activation="tanh", seed=rng)
    print(f"1. {n} points of make_circles; {model!r}")

    # --- 2. Snapshots during training --------------------------------------------------------------
    # The hidden representation of every point, and the logits on a grid over the input
    # plane, are computed by a compiled copy of the network (one numpy call for all
    # points): it reads the parameters' current values, so it follows training. A
    # callback takes a snapshot after each chosen epoch.
    snapshot_fn = hidden_and_logit(model)
    boundary_fn = model_logits(model)
    xx, yy, points = grid(X, steps=60)
    wanted = frame_epochs(epochs, n_frames)
    snapshots = []

    def snapshot(epoch: int, logs: dict) -> None:
        if epoch in wanted:
            (logits, hidden), _, _ = snapshot_fn.batch_value_and_grad(X)
            output = model.layers[-1].neurons[0]
            snapshots.append({
                "epoch": epoch, "hidden": hidden, "logits": logits, "grid": boundary_fn.batch(points).reshape(xx.shape),
                "w": np.array([w.data for w in output.w]), "b": output.b.data,
                "accuracy": float(np.mean((logits > 0) == np.array(y))),
            })  # fmt: skip

    snapshot(0, {})
    optimizer = nn.optim.Adam(model.parameters(), lr=args.lr)
    after_epoch = lambda epoch, logs: snapshot(epoch + 1, logs)  # fit counts epochs from 0
    history = nn.train.fit(model, X, y, loss="binary_cross_entropy", optimizer=optimizer, epochs=epochs,
                           batch_size=20, seed=rng, callbacks=[after_epoch])  # fmt: skip
    accuracy = nn.train.accuracy(model, X, y, loss="binary_cross_entropy")
    print(f"\n2. {history}; {len(snapshots)} snapshots at epochs {[s['epoch'] for s in snapshots]}")

    # --- 3. Checks: the picture is the network --------------------------------------------------------
    # The compiled copy's hidden activations equal the eager engine's, point by point;
    # and classifying each point by the side of the drawn plane, w . h + b > 0, gives the
    # accuracy nn.train.accuracy measures on the model itself.
    last = snapshots[-1]
    with autodiff.no_grad():
        eager = np.array([[v.data for v in model.layers[1](model.layers[0](x))] for x in X])
    checks.small(
        "max |compiled - eager hidden activation| over every point",
        float(np.max(np.abs(eager - last["hidden"]))),
        1e-12,
    )
    by_plane = float(np.mean((last["hidden"] @ last["w"] + last["b"] > 0) == np.array(y)))
    checks.close("accuracy by the side of the drawn plane vs nn.train.accuracy", by_plane, accuracy, 1e-12)

    # --- 4. The animation ---------------------------------------------------------------------------------
    # Each frame: the hidden representation with the output neuron's plane, the walls of the cube shaded by
    # the class the plane gives each side (left); the decision boundary in the input plane (right).
    from tqdm import tqdm

    fig, draw = animation(X, y, xx, yy, snapshots)
    frames = []
    for i in tqdm(range(len(snapshots)), desc="drawing frames", disable=None, leave=False):
        draw(i)
        frames.append(gif_frame(fig, args.dpi))
    pyplot().close(fig)
    gif = out / "hidden_representations.gif"
    # A frame each 0.7 s, the last held for 3 s before the animation starts again.
    durations = [700] * (len(frames) - 1) + [3000]
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=durations, loop=0, optimize=True)
    print(f"\n4. wrote {gif} ({len(snapshots)} frames)")

    checks.finish()
    return {"accuracy": accuracy, "accuracy_by_plane": by_plane, "frames": len(snapshots), "files": [gif]}


if __name__ == "__main__":
    main()
