"""The lecture notes' gradient patterns, drawn and explained edge by edge, and forward mode against reverse mode.

    python -m demos.gradient_flow            # a few seconds; writes four SVG graphs and a PNG to out/
    python -m demos.gradient_flow --quick    # timings up to n = 40 only

The lecture notes on computation graphs read three patterns off the backward pass:
+ distributes the upstream gradient to its inputs unchanged, * switches (each input
gets the upstream gradient times the other input), and max routes it to the input
that was selected, the other gets nothing. They work the example
f(x1, x2) = ln(x1) + x1 x2 - sin(x2) at (2, 5), where x2 reaches f by two paths
whose gradients add up. Each is drawn here as an SVG, every edge labelled with its
term of the chain rule (upstream grad x local derivative), and explained in text.

The notes end with forward mode: one forward pass per input, each carrying the
derivative along, so getting all n input derivatives costs n passes; reverse mode
gets them all from one forward and one backward pass. This demo writes forward mode
with a small dual-number class, times both as n grows, and plots it.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence

import autodiff
from autodiff import Value
from demos.common import (
    Checks,
    add_renderer_option,
    figure,
    int_between,
    one_line_errors,
    output_folder,
    parser,
    plain_numbers,
    save_png,
)


class Dual:
    """A number x and its derivative x_dot along one input: forward mode's value, x + x_dot e with e^2 = 0."""

    __slots__ = ("x", "x_dot")

    def __init__(self, x: float, x_dot: float = 0.0) -> None:
        self.x = x
        self.x_dot = x_dot

    def __add__(self, other: Dual | float) -> Dual:
        other = _dual(other)
        return Dual(self.x + other.x, self.x_dot + other.x_dot)

    __radd__ = __add__

    def __sub__(self, other: Dual | float) -> Dual:
        other = _dual(other)
        return Dual(self.x - other.x, self.x_dot - other.x_dot)

    def __rsub__(self, other: float) -> Dual:
        return _dual(other) - self

    def __mul__(self, other: Dual | float) -> Dual:
        other = _dual(other)
        return Dual(self.x * other.x, self.x_dot * other.x + self.x * other.x_dot)  # the product rule

    __rmul__ = __mul__

    def log(self) -> Dual:
        return Dual(math.log(self.x), self.x_dot / self.x)

    def sin(self) -> Dual:
        return Dual(math.sin(self.x), self.x_dot * math.cos(self.x))


def _dual(x: Dual | float) -> Dual:
    return x if isinstance(x, Dual) else Dual(float(x))


def f_chain(xs: Sequence) -> object:
    """The lecture's f, chained over n inputs: sum over i of ln(x_i) + x_i x_(i+1) - sin(x_(i+1)); for n = 2 it is f.

    One body for Values and Duals: both have +, -, *, log() and sin().
    """
    total = 0.0
    for a, b in zip(xs, xs[1:]):
        total = total + (a.log() + a * b - b.sin())
    return total


def forward_mode(f: Callable, point: Sequence[float]) -> list[float]:
    """All n derivatives of f at point by forward mode: n passes, pass i seeding x_dot = 1 on input i only."""
    return [f([Dual(x, 1.0 if j == i else 0.0) for j, x in enumerate(point)]).x_dot for i in range(len(point))]


def reverse_mode(f: Callable, point: Sequence[float]) -> list[float]:
    """All n derivatives of f at point by reverse mode: one forward pass building the graph, one backward pass."""
    xs = [Value(x) for x in point]
    f(xs).backward()
    return [x.grad for x in xs]


def best_time(run: Callable[[], object], repeats: int) -> float:
    """The fastest of `repeats` runs, in seconds (the least disturbed by the rest of the machine)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


LECTURE_TITLE = "f(x1, x2) = ln(x1) + x1·x2 − sin(x2) at (2, 5): x1's two terms add up to its grad"
"""The title of the lecture example's graph."""


def save_graph(root: Value, path, skipped: list, renderer: str = "auto", title: str | None = None) -> list:
    """Write root's graph as SVG with each edge's chain-rule term; report and skip when no renderer is installed."""
    try:
        autodiff.save_svg(root, path, renderer=renderer, show_contributions=True, title=title)
    except autodiff.graph.RendererUnavailable as error:
        if not skipped:
            print(f"  (no SVG: {error})")
        skipped.append(path)
        return []
    print(f"  wrote {path}")
    return [path]


@one_line_errors
def main(argv: list[str] | None = None) -> dict:
    """Run the demo; return its key numbers."""
    args_parser = parser(__doc__)
    args_parser.add_argument(
        "--max-n", type=int_between(2, 500), help="largest number of inputs timed (default: 200, --quick: 40)"
    )
    args_parser.add_argument(
        "--repeats", type=int_between(1, 100), default=3, help="timed runs per n, best kept (default: 3)"
    )
    add_renderer_option(args_parser)
    args = args_parser.parse_args(argv)
    max_n = args.max_n or (40 if args.quick else 200)
    out = output_folder(args.out)
    checks = Checks()
    files: list = []
    skipped: list = []
    results: dict = {}

    # --- 1. Three patterns --------------------------------------------------------------------------
    # Each op sits between two inputs x, y and an upstream gradient: f = 3 * (x op y), so
    # d f / d(x op y) = 3. The local derivatives decide what each input receives.
    print("1. three patterns of the backward pass, each under an upstream gradient of 3")
    patterns = {
        "add": ("+ distributes", "(x + y)", 2.0, -1.0, lambda x, y: x + y, lambda x, y: (3.0, 3.0)),
        "mul": ("* switches", "(x * y)", 2.0, -1.0, lambda x, y: x * y, lambda x, y: (3.0 * y, 3.0 * x)),
        "max": ("max routes", "max(x, y)", 5.0, 1.0, lambda x, y: x.max(y),
                lambda x, y: (3.0, 0.0) if x > y else (0.0, 3.0)),  # the lecture's max(5, 1) = 5
    }  # fmt: skip
    for name, (title, formula, x0, y0, op, rule) in patterns.items():
        x, y = Value(x0, "x"), Value(y0, "y")
        f = 3 * op(x, y)
        f.label = "f"
        f.backward()
        print(f"\n  {title}: f = 3 * {formula} at x = {x0:g}, y = {y0:g}")
        print(x.explain_grad(f))
        print(y.explain_grad(f))
        expected = rule(x0, y0)
        numeric = autodiff.gradcheck(lambda a, b, op=op: 3 * op(a, b), [x0, y0]).numeric
        for v, by_rule, by_nudge in zip((x, y), expected, numeric):
            checks.close(f"{title}: d f / d {v.label}, engine vs the rule", v.grad, by_rule, 0.0)
            checks.close(f"{title}: d f / d {v.label}, engine vs central differences", v.grad, by_nudge, 1e-8)
        title = f"f = 3 · {formula} at x = {x0:g}, y = {y0:g}: {title}"
        files += save_graph(f, out / f"gradient_flow_{name}.svg", skipped, args.renderer, title)

    # --- 2. The lecture's example ---------------------------------------------------------------------
    # f(x1, x2) = ln(x1) + x1 x2 - sin(x2) at (2, 5). x1 reaches f through ln and
    # through *: its gradient is 1/x1 + x2 = 5.5. x2 reaches f through * (which
    # switches in x1 = 2) and through sin (-cos 5): the two paths add up to 2 - cos 5.
    x1, x2 = Value(2.0, "x1"), Value(5.0, "x2")
    f = x1.log() + x1 * x2 - x2.sin()
    f.label = "f"
    f.backward()
    print(f"\n2. the lecture's f(x1, x2) = ln(x1) + x1 x2 - sin(x2) at (2, 5) = {f.data:.6f}")
    print(x1.explain_grad(f))
    print(x2.explain_grad(f))
    duals = forward_mode(f_chain, [2.0, 5.0])  # a third route: forward mode (section 3), f_chain on 2 inputs is f
    for v, closed_form, dual in zip((x1, x2), (1 / 2 + 5, 2 - math.cos(5)), duals):
        checks.close(f"d f / d {v.label}: engine vs the closed form", v.grad, closed_form, 1e-15)
        checks.close(f"d f / d {v.label}: engine vs forward mode (dual numbers)", v.grad, dual, 1e-15)
    results["lecture_gradients"] = (x1.grad, x2.grad)
    files += save_graph(f, out / "gradient_flow_f.svg", skipped, args.renderer, LECTURE_TITLE)

    # --- 3. Forward mode against reverse mode ------------------------------------------------------------
    # f_chain has n inputs and one output. Forward mode gets one derivative per pass,
    # so n passes of ~6n ops: its cost grows like n^2. Reverse mode builds the graph
    # once and walks it back once: ~6n ops, whatever n. Check: both give the same n
    # derivatives, for every n timed.
    rng = random.Random(args.seed)
    ns = sorted({n for n in (2, 5, 10, 20, 40, 60, 80, 100, 130, 160, 200) if n <= max_n} | {max_n})
    print(f"\n3. all n derivatives of f_chain (n inputs, one output), best of {args.repeats} runs")
    print(f"  {'n':>4} {'forward mode':>14} {'reverse mode':>14} {'ratio':>7}")
    timings = {"n": [], "forward": [], "reverse": []}
    worst = 0.0
    from tqdm import tqdm

    for n in tqdm(ns, desc="timing", disable=None, leave=False):
        point = [rng.uniform(0.5, 3.0) for _ in range(n)]
        by_forward, by_reverse = forward_mode(f_chain, point), reverse_mode(f_chain, point)
        worst = max(worst, max(abs(a - b) / max(abs(a), abs(b), 1e-300) for a, b in zip(by_forward, by_reverse)))
        forward_seconds = best_time(lambda point=point: forward_mode(f_chain, point), args.repeats)
        reverse_seconds = best_time(lambda point=point: reverse_mode(f_chain, point), args.repeats)
        for key, value in (("n", n), ("forward", forward_seconds), ("reverse", reverse_seconds)):
            timings[key].append(value)
        print(f"  {n:>4} {forward_seconds * 1e3:>11.2f} ms {reverse_seconds * 1e3:>11.2f} ms "
              f"{forward_seconds / reverse_seconds:>6.1f}x")  # fmt: skip
    checks.small(f"forward vs reverse mode, every derivative for n = 2..{max_n}: max relative difference", worst, 1e-12)
    results.update(timings=timings, max_relative_difference=worst)

    # How the cost grows: the slope of log(time) against log(n) over the larger n.
    def growth(seconds: list[float]) -> float:
        pairs = [(math.log(n), math.log(t)) for n, t in zip(timings["n"], seconds) if n >= 20]
        mean_u, mean_v = (sum(c) / len(pairs) for c in zip(*pairs))
        return sum((u - mean_u) * (v - mean_v) for u, v in pairs) / sum((u - mean_u) ** 2 for u, _ in pairs)

    if max_n > 20:  # a slope needs two n >= 20
        forward_growth, reverse_growth = growth(timings["forward"]), growth(timings["reverse"])
        print(f"  time grows like n^{forward_growth:.2f} by forward mode and n^{reverse_growth:.2f} by reverse mode "
              "(n >= 20)")  # fmt: skip
        results["growth"] = forward_growth, reverse_growth
    else:
        print(f"  (how the time grows is fitted over n >= 20: it needs --max-n above 20, not {max_n})")
        results["growth"] = None

    fig, ax = figure(4.0)
    ax.plot(timings["n"], [t * 1e3 for t in timings["forward"]], "o-", label="forward mode: n passes (dual numbers)")
    ax.plot(timings["n"], [t * 1e3 for t in timings["reverse"]], "s-", label="reverse mode: 1 forward + 1 backward")
    ax.set(xlabel="n, the number of inputs (log scale)", ylabel="time for all n derivatives (ms, log scale)",
           xscale="log", yscale="log")  # fmt: skip
    plain_numbers(ax.xaxis, ax.yaxis, subs=(1.0,))  # decades only: these axes span several
    ax.set_title("Forward mode needs n passes: its cost grows far faster")
    ax.legend(loc="upper left")
    path = out / "gradient_flow_modes.png"
    save_png(fig, path)
    print(f"  wrote {path}")
    files.append(path)

    checks.finish()
    results.update(files=files, skipped=skipped)
    return results


if __name__ == "__main__":
    main()
