"""Optimizers: SGD (with momentum) and Adam, with the update rules of torch.optim.

Each optimizer reads `p.grad` of its parameters and changes `p.data`. A step is
all or nothing: every new value is computed before any is assigned, so if one
would not be finite, `step()` raises and no parameter (and no optimizer state)
changes; and an exception while assigning (a KeyboardInterrupt) puts back the
values assigned so far.

Learning-rate schedules: pass `schedule`, a function of the step number t = 0, 1,
2, ... that returns the learning rate of step t, e.g.
`schedule=lambda t: 0.1 * 0.99 ** t`. The current rate is in `optimizer.lr`, which,
without a schedule, a callback may also set directly (with one, the schedule decides).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable
from typing import Any

from autodiff import Value

__all__ = ["Optimizer", "SGD", "Adam"]

Schedule = Callable[[int], float]


class Optimizer:
    """The common part: the parameter list, the learning rate and its schedule."""

    def __init__(self, params: Iterable[Value], lr: float, schedule: Schedule | None = None) -> None:
        self.params = _parameter_list(type(self).__name__, params)
        self.lr = _check_lr(type(self).__name__, lr)
        if schedule is not None and not callable(schedule):
            raise TypeError(f"{type(self).__name__}: schedule must be a function of the step number, got {schedule!r}")
        self.schedule = schedule
        self.steps = 0  # how many steps have been taken

    def zero_grad(self) -> None:
        """Set the gradient of every parameter to 0.0."""
        for p in self.params:
            p.grad = 0.0

    def step(self) -> None:
        """Update every parameter from its gradient: all of them, or none if anything goes wrong."""
        name = type(self).__name__
        if self.schedule is not None:
            lr = _check_lr(f"{name}: schedule({self.steps})", self.schedule(self.steps))
        else:  # it may have been set between steps
            lr = _check_lr(name, self.lr)
        grads = [p.grad for p in self.params]
        if not all(type(g) is float for g in grads):  # ints, or Values after backward(create_graph=True)
            grads = [_grad_of(name, i, p) for i, p in enumerate(self.params)]
        data = [p.data for p in self.params]
        new_data, new_state = self._update(lr, data, grads)
        for i, x in enumerate(new_data):
            if not math.isfinite(x):
                raise OverflowError(
                    f"{name}: step {self.steps} would make parameter {i} {x!r} "
                    f"(data {data[i]!r}, grad {grads[i]!r}); nothing was changed"
                )
        new_state.update(lr=lr, steps=self.steps + 1)
        old_state = {key: getattr(self, key) for key in new_state}
        try:
            for p, x in zip(self.params, new_data):
                p.data = x
            for key, value in new_state.items():
                setattr(self, key, value)
        except BaseException:  # an interrupt or a failing assignment half-way: put back what was assigned
            for p, x in zip(self.params, data):
                p.data = x
            for key, value in old_state.items():
                setattr(self, key, value)
            raise

    def _update(self, lr: float, data: list[float], grads: list[float]) -> tuple[list[float], dict[str, Any]]:
        """The new parameter values, and the new optimizer state (attribute name -> value), computed but not set."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.params)} parameters, lr={self.lr!r})"


class SGD(Optimizer):
    """Stochastic gradient descent, as torch.optim.SGD (dampening 0, no Nesterov).

        g = grad + weight_decay * p
        buf = g at the first step, then momentum * buf + g       (when momentum > 0)
        p = p - lr * buf   (or p - lr * g without momentum)

    Args:
        params: the Values to optimize, e.g. `model.parameters()`.
        lr: the learning rate.
        momentum: the momentum factor (0 for plain gradient descent).
        weight_decay: the L2 penalty, added to the gradient as weight_decay * p.
        schedule: a function t -> learning rate of step t, or None.
    """

    def __init__(
        self,
        params: Iterable[Value],
        lr: float,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        schedule: Schedule | None = None,
    ) -> None:
        super().__init__(params, lr, schedule)
        self.momentum = _check_in("SGD", "momentum", momentum, 0.0, None)
        self.weight_decay = _check_in("SGD", "weight_decay", weight_decay, 0.0, None)
        self.buffers: list[float] | None = None

    def _update(self, lr: float, data: list[float], grads: list[float]) -> tuple[list[float], dict[str, Any]]:
        mu, wd = self.momentum, self.weight_decay
        g = [gi + wd * p for p, gi in zip(data, grads)] if wd else grads
        if not mu:
            return [p - lr * gi for p, gi in zip(data, g)], {}
        buf = g if self.buffers is None else [mu * b + gi for b, gi in zip(self.buffers, g)]
        return [p - lr * b for p, b in zip(data, buf)], {"buffers": buf}

    def __repr__(self) -> str:
        return (
            f"SGD({len(self.params)} parameters, lr={self.lr!r}, momentum={self.momentum!r}, "
            f"weight_decay={self.weight_decay!r})"
        )


class Adam(Optimizer):
    """Adam, as torch.optim.Adam (bias-corrected moments; weight decay added to the gradient).

        g = grad + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        p = p - (lr / (1 - beta1**t)) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)   (t = 1, 2, ...)

    Args:
        params: the Values to optimize, e.g. `model.parameters()`.
        lr: the learning rate.
        betas: the decay rates (beta1, beta2) of the first and second moments.
        eps: added to the denominator, for numerical stability.
        weight_decay: the L2 penalty, added to the gradient as weight_decay * p.
        schedule: a function t -> learning rate of step t, or None.
    """

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        schedule: Schedule | None = None,
    ) -> None:
        super().__init__(params, lr, schedule)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"Adam: betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = (
            _check_in("Adam", "betas[0]", betas[0], 0.0, 1.0),
            _check_in("Adam", "betas[1]", betas[1], 0.0, 1.0),
        )
        self.eps = _check_in("Adam", "eps", eps, 0.0, None)
        self.weight_decay = _check_in("Adam", "weight_decay", weight_decay, 0.0, None)
        self.m = [0.0] * len(self.params)
        self.v = [0.0] * len(self.params)

    def _update(self, lr: float, data: list[float], grads: list[float]) -> tuple[list[float], dict[str, Any]]:
        (beta1, beta2), eps, wd = self.betas, self.eps, self.weight_decay
        t = self.steps + 1
        g = [gi + wd * p for p, gi in zip(data, grads)] if wd else grads
        m = [beta1 * mi + (1.0 - beta1) * gi for mi, gi in zip(self.m, g)]
        v = [beta2 * vi + (1.0 - beta2) * gi * gi for vi, gi in zip(self.v, g)]
        step_size = lr / (1.0 - beta1**t)
        sqrt_correction2 = math.sqrt(1.0 - beta2**t)
        new = [p - step_size * (mi / (math.sqrt(vi) / sqrt_correction2 + eps)) for p, mi, vi in zip(data, m, v)]
        return new, {"m": m, "v": v}

    def __repr__(self) -> str:
        return (
            f"Adam({len(self.params)} parameters, lr={self.lr!r}, betas={self.betas!r}, eps={self.eps!r}, "
            f"weight_decay={self.weight_decay!r})"
        )


def _parameter_list(who: str, params: Iterable[Value]) -> list[Value]:
    if isinstance(params, Value) or not isinstance(params, Iterable):
        raise TypeError(f"{who}: params must be a list of Values (e.g. model.parameters()), got {params!r}")
    out, seen = [], set()
    for i, p in enumerate(params):
        if not isinstance(p, Value):
            raise TypeError(f"{who}: parameter {i} must be a Value, got {type(p).__name__} ({p!r})")
        if p not in seen:  # a shared parameter is stepped once
            seen.add(p)
            out.append(p)
    if not out:
        raise ValueError(f"{who}: got an empty parameter list")
    return out


def _grad_of(who: str, i: int, p: Value) -> float:
    g = p.grad
    if type(g) is float:
        return g
    if isinstance(g, Value):  # after backward(create_graph=True)
        return g.data
    if isinstance(g, numbers.Real) and not isinstance(g, bool):
        return float(g)
    raise TypeError(f"{who}: the gradient of parameter {i} must be a number, got {type(g).__name__} ({g!r})")


def _check_lr(who: str, lr: object) -> float:
    return _check_in(who, "lr", lr, 0.0, None)


def _check_in(who: str, name: str, x: object, low: float, high: float | None) -> float:
    """x as a float, with low <= x (< high when given)."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{who}: {name} must be a number, got {type(x).__name__} ({x!r})")
    x = float(x)
    if not (math.isfinite(x) and low <= x and (high is None or x < high)):
        bounds = f"in [{low:g}, {high:g})" if high is not None else f">= {low:g}"
        raise ValueError(f"{who}: {name} must be a finite number {bounds}, got {x!r}")
    return x
