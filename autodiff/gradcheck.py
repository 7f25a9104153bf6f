"""Check reverse-mode gradients against central differences.

The numeric derivative of input i is
    (f(..., x_i + h, ...) - f(..., x_i - h, ...)) / (2 h),   with h = eps * max(1, |x_i|),
Input i passes when |a - n| <= atol + rtol * |n| (a the analytic derivative, n the
numeric one). The report also shows the relative error |a - n| / max(|a| + |n|, tiny),
as in the gradient-checking section of the forward/backprop notebook; it alone does not
decide: where both derivatives are tiny, a relative error near 1 can be a pass.

With precision="high" the numeric derivative is taken at 50 significant digits instead, on
the graph f records (autodiff/high_precision.py), and the check is to 1e-12 (docs/oracles.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .errors import add_context
from .functional import value_and_grad
from .value import Number, Value, no_grad

__all__ = ["gradcheck", "GradcheckResult"]

TINY = 1e-300


@dataclass(frozen=True)
class GradcheckResult:
    """What `gradcheck` found; true in a boolean context when the check passed."""

    function: str
    inputs: tuple[float, ...]
    analytic: tuple[float, ...]
    numeric: tuple[float, ...]
    abs_errors: tuple[float, ...]
    allowed: tuple[float, ...]
    rel_errors: tuple[float, ...]
    max_rel_error: float
    ok: bool
    atol: float
    rtol: float
    precision: str = "float"
    sizes: tuple[float, ...] = ()  # precision="high": the size of each chain-rule sum
    drifts: tuple[float, ...] = ()  # precision="high": how far the float forward values move each derivative

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        failed = [i for i, (e, limit) in enumerate(zip(self.abs_errors, self.allowed)) if not e <= limit]
        if failed:
            where = f"input {failed[0]}" if len(failed) == 1 else f"inputs {', '.join(map(str, failed))}"
            verdict = f"FAILED at {where}, |analytic - numeric| > atol + rtol*|numeric|"
        else:
            verdict = "ok, |analytic - numeric| <= atol + rtol*|numeric| everywhere"
        if self.precision == "high":
            verdict = verdict.replace("rtol*|numeric|", "rtol*(|numeric| + size) + drift")
        lines = [
            f"gradcheck({self.function}): {verdict} (atol={self.atol:g}, rtol={self.rtol:g}); "
            f"max relative error {self.max_rel_error:.3g}",
            f"  {'input':>5}  {'at':>12}  {'analytic':>22}  {'numeric':>22}  {'|a - n|':>9}  {'allowed':>9}"
            f"  {'rel. error':>10}",
        ]
        rows = zip(self.inputs, self.analytic, self.numeric, self.abs_errors, self.allowed, self.rel_errors)
        for i, (x, a, n, e, limit, r) in enumerate(rows):
            flag = "  <- mismatch" if i in failed else ""
            lines.append(f"  {i:>5}  {x:>12.6g}  {a:>22.15g}  {n:>22.15g}  {e:>9.3g}  {limit:>9.3g}  {r:>10.3g}{flag}")
        if self.precision == "high":
            lines.append(
                "  numeric: 50 significant digits; size: the chain rule's sum of |terms| "
                f"({', '.join(f'{s:.3g}' for s in self.sizes)}); drift: the float forward values' share "
                f"({', '.join(f'{d:.3g}' for d in self.drifts)})"
            )
        return "\n".join(lines)


def gradcheck(
    fn: Callable[..., Value],
    xs: Sequence[Number],
    eps: float | None = None,
    atol: float | None = None,
    rtol: float | None = None,
    *,
    precision: str = "float",
) -> GradcheckResult:
    """Compare the gradient of `fn` at `xs` by backward() and by central differences.

    Args:
        fn: called as fn(*values) with one Value per input; returns a Value.
        xs: the point, one float per input (a single number for a function of one input).
        eps: the step of the central differences (default 1e-6); for |x_i| > 1 it is relative, the
            step being eps * |x_i|, so that x_i +- step differ from x_i in the same digits at any scale.
        atol: the absolute tolerance: input i passes when |analytic - numeric| <= atol + rtol * |numeric|
            (default 1e-5).
        rtol: the relative tolerance, in the same rule (default 1e-3).
        precision: "float" (the default) or "high": the numeric derivative at 50 significant
            digits, from the graph fn records replayed on mpmath numbers (the `oracles` extra);
            eps is not used, rtol defaults to 1e-12 and atol to 1e-290 (below it floats lose
            digits), and input i passes when |analytic - numeric| <= atol + rtol * (|numeric| + size)
            + drift, where size is the sum of |terms| the chain rule adds up (the scale of its
            rounding, which matters where the terms cancel to near zero) and drift is how far
            the rounded float forward values move the derivative (sin of a rounded 1e6, say),
            plus the resolution of the 50-digit differences (1e-30 of the output's size, about).
            See docs/oracles.md.

    Returns:
        A GradcheckResult with `ok`, `analytic`, `numeric`, `abs_errors` (|analytic - numeric|),
        `allowed` (atol + rtol * |numeric|, what the pass rule compares them with), `rel_errors`
        and `max_rel_error`; its repr prints them side by side.
    """
    name = getattr(fn, "__name__", repr(fn))
    if precision not in ("float", "high"):
        raise ValueError(f"gradcheck: precision must be 'float' or 'high', got {precision!r}")
    high = precision == "high"
    eps = 1e-6 if eps is None else eps
    atol = (1e-290 if high else 1e-5) if atol is None else atol
    rtol = (1e-12 if high else 1e-3) if rtol is None else rtol
    if not eps > 0:
        raise ValueError(f"gradcheck: eps must be > 0, got {eps!r}")
    if isinstance(xs, (int, float)) and not isinstance(xs, bool):
        xs = [xs]
    point = [Value(x).data for x in xs]
    _, analytic = value_and_grad(fn)(*point)
    analytic = analytic if isinstance(analytic, tuple) else (analytic,)
    sizes: tuple[float, ...] = ()
    drifts: tuple[float, ...] = ()
    if high:
        numeric, sizes, drifts = _at_50_digits(fn, name, point)
        allowed = tuple(atol + rtol * (abs(n) + s) + d for n, s, d in zip(numeric, sizes, drifts))
    else:
        numeric = tuple(_central_difference(fn, name, point, i, eps) for i in range(len(point)))
        allowed = tuple(atol + rtol * abs(n) for n in numeric)
    abs_errors = tuple(abs(a - n) for a, n in zip(analytic, numeric))
    rel_errors = tuple(e / max(abs(a) + abs(n), TINY) for e, a, n in zip(abs_errors, analytic, numeric))
    return GradcheckResult(
        function=name,
        inputs=tuple(point),
        analytic=tuple(analytic),
        numeric=numeric,
        abs_errors=abs_errors,
        allowed=allowed,
        rel_errors=rel_errors,
        max_rel_error=max(rel_errors, default=0.0),
        ok=all(e <= limit for e, limit in zip(abs_errors, allowed)),  # False for nan
        atol=atol,
        rtol=rtol,
        precision=precision,
        sizes=sizes,
        drifts=drifts,
    )


def _at_50_digits(
    fn: Callable[..., Value], name: str, point: list[float]
) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
    """The numeric gradient at 50 digits, each chain-rule sum's size, and the float forward values' drift."""
    from .high_precision import record

    recording = record(fn, point)
    baked = recording.baking_reads()
    if baked:
        raise ValueError(
            f"gradcheck: {name} reads a Value as a plain number ({baked[0]}), which its graph keeps as a constant, "
            "so precision='high' (a replay of that graph) would not differentiate it; use the default precision"
        )
    try:
        numeric = recording.gradient()
        path = recording.along_float_path()
    except (ArithmeticError, ValueError) as error:
        add_context(error, f"gradcheck: {name} at 50 digits, within 1e-20 (relative) of {point!r}")
        raise
    resolution = recording.gradient_error(path)  # what 50 digits can resolve: matters for derivatives near 1e-30 * f
    drifts = [abs(n - m) + r for n, m, r in zip(numeric, path.gradient, resolution)]
    return tuple(map(float, numeric)), tuple(map(float, path.size)), tuple(map(float, drifts))


def _central_difference(fn: Callable[..., Value], name: str, point: list[float], i: int, eps: float) -> float:
    step = eps * max(1.0, abs(point[i]))

    def f_at(x_i: float) -> float:
        shifted = [Value(x_i if j == i else x) for j, x in enumerate(point)]
        try:
            with no_grad():
                out = fn(*shifted)
        except (ArithmeticError, ValueError) as error:
            add_context(error, f"gradcheck: {name} failed at input {i} = {x_i!r}, {step!r} from the point")
            raise
        return out.data if isinstance(out, Value) else float(out)

    above, below = point[i] + step, point[i] - step
    return (f_at(above) - f_at(below)) / (above - below)  # the step as the floats actually took it
