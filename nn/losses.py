"""Loss functions, for one example or for a batch (lists of examples: their mean).

Every loss takes (prediction, target) for one example, or a list of predictions
and a list of targets for a batch, and then returns the mean of the per-example
losses, so the batch gradient is the mean of the per-example gradients.
Predictions are Values (or numbers); targets are numbers, checked, or Values
(e.g. inputs of a function traced by `autodiff.compile`), taken as given.

The classification losses take raw scores (logits), the output of a "linear"
last layer, and are computed in forms that stay finite and exact for |logit| up
to 1000 and beyond.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence

import autodiff
from autodiff import Value

__all__ = ["mse", "binary_cross_entropy", "hinge", "cross_entropy", "softmax", "l2"]

Prediction = Value | float


def mse(pred: Prediction | Sequence, target: float | Sequence) -> Value:
    """The squared error (pred - target)**2; for lists, the mean over every entry.

    A list is a batch of single-output examples or the outputs of one example, and
    a list of lists a batch of multi-output examples: either way the result is the
    mean of the squared errors of all entries (as torch.nn.MSELoss).
    """
    preds, targets = _flatten("mse", pred, target)
    return _mean([(_value("mse", p) - t) ** 2 for p, t in zip(preds, targets)])


def binary_cross_entropy(logit: Prediction | Sequence, target: float | Sequence) -> Value:
    """-[t log sigmoid(z) + (1 - t) log(1 - sigmoid(z))] for a logit z and a target t of 0 or 1.

    Computed as softplus(z) - t z, whose derivative sigmoid(z) - t is exact at every z
    (also at 0) and which stays finite for large |z| (as torch's BCEWithLogitsLoss).
    """
    logits, targets = _batch("binary_cross_entropy", logit, target)
    losses = []
    for z, t in zip(logits, targets):
        _check_label("binary_cross_entropy", "target", t, (0, 1))
        z = _value("binary_cross_entropy", z)
        losses.append(z.softplus() - t * z)
    return _mean(losses)


def hinge(score: Prediction | Sequence, label: float | Sequence) -> Value:
    """The max-margin loss relu(1 - label * score) for a label of -1 or +1."""
    scores, labels = _batch("hinge", score, label)
    losses = []
    for s, y in zip(scores, labels):
        _check_label("hinge", "label", y, (-1, 1))
        losses.append((1 - y * _value("hinge", s)).relu())
    return _mean(losses)


def cross_entropy(logits: Sequence, target: int | Sequence[int]) -> Value:
    """-log softmax(logits)[target], computed as logsumexp(z_j - z_target over j): the same as
    logsumexp(z) - z_target, but the differences keep their digits when the logits are large
    (at 1e15, logsumexp(z) itself is only known to the nearest 0.125).

    One example is a list of logits and a class index; a batch is a list of such
    lists and a list of indices.
    """
    if isinstance(target, numbers.Integral) and not isinstance(target, bool):
        return _cross_entropy_one(logits, target)
    examples, targets = _batch("cross_entropy", logits, target)
    return _mean([_cross_entropy_one(z, k) for z, k in zip(examples, targets)])


def _cross_entropy_one(logits: object, k: object) -> Value:
    zs = _logit_list("cross_entropy", logits)
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"cross_entropy: target must be a class index (an int), got {type(k).__name__} ({k!r})")
    if not 0 <= k < len(zs):
        raise ValueError(f"cross_entropy: target must be a class index in [0, {len(zs)}), got {k!r}")
    return autodiff.logsumexp([z - zs[k] for z in zs])


def softmax(logits: Sequence[Prediction]) -> list[Value]:
    """The probabilities e**z_i / sum_j e**z_j, as exp(d_i - logsumexp(d)) with d = z - max(z):
    no overflow, and no digits lost when the logits are large (as in `cross_entropy`)."""
    zs = _logit_list("softmax", logits)
    top = max(zs, key=lambda z: z.data)  # any z_j would do mathematically; the largest keeps exp(d) <= 1
    differences = [z - top for z in zs]
    lse = autodiff.logsumexp(differences)
    return [(d - lse).exp() for d in differences]


def l2(parameters: Iterable[Value]) -> Value:
    """The sum of squares of the parameters, as one node (add `lam * l2(model.parameters())` to a loss)."""
    ps = list(parameters)
    return autodiff.dot(ps, ps)


def _mean(losses: list[Value]) -> Value:
    # The mean of the per-example losses: its gradient is the mean of their gradients.
    return losses[0] if len(losses) == 1 else autodiff.sum(losses) / len(losses)


def _is_list(x: object) -> bool:
    return isinstance(x, (list, tuple))


def _batch(who: str, pred: object, target: object) -> tuple[Sequence, Sequence]:
    """Predictions and targets as two equal-length lists (one example: lists of one)."""
    if not _is_list(target):
        return [pred], [target]
    if not _is_list(pred):
        raise TypeError(f"{who}: a list of targets needs a list of predictions, got {type(pred).__name__}")
    if len(pred) != len(target):
        raise ValueError(f"{who}: {len(pred)} predictions but {len(target)} targets")
    if not pred:
        raise ValueError(f"{who}: the batch is empty")
    return pred, target


def _flatten(who: str, pred: object, target: object) -> tuple[list, list]:
    preds, targets = _batch(who, pred, target)
    flat_preds, flat_targets = [], []
    for i, (p, t) in enumerate(zip(preds, targets)):
        if _is_list(p) or _is_list(t):
            if not (_is_list(p) and _is_list(t)) or len(p) != len(t):
                raise ValueError(f"{who}: prediction {i} and its target differ in shape: {_shape(p)} and {_shape(t)}")
            flat_preds += p
            flat_targets += t
        else:
            flat_preds.append(p)
            flat_targets.append(t)
    if not flat_preds:
        raise ValueError(f"{who}: there is nothing to compare (empty lists)")
    for t in flat_targets:
        _check_number(who, "target", t)
    return flat_preds, flat_targets


def _shape(x: object) -> str:
    return f"a list of {len(x)}" if _is_list(x) else f"a single {type(x).__name__}"


def _value(who: str, x: object) -> Value:
    if isinstance(x, Value):
        return x
    if _is_list(x):
        raise TypeError(f"{who}: expected one prediction (a Value or number), got a list of {len(x)}")
    _check_number(who, "prediction", x)
    return Value(x)


def _logit_list(who: str, logits: object) -> list[Value]:
    if not _is_list(logits) or not logits:
        raise TypeError(f"{who}: expected a non-empty list of logits, got {type(logits).__name__} ({logits!r})")
    return [_value(who, z) for z in logits]


def _check_number(who: str, what: str, x: object) -> None:
    if isinstance(x, bool) or not isinstance(x, (numbers.Real, Value)):
        raise TypeError(f"{who}: {what} must be a number, got {type(x).__name__} ({x!r})")
    if not isinstance(x, Value) and not _is_finite(x):
        raise ValueError(f"{who}: {what} must be a finite number, got {x!r}")


def _is_finite(x: numbers.Real) -> bool:
    try:
        return math.isfinite(x)
    except OverflowError:  # an int beyond the float range
        return False


def _check_label(who: str, what: str, y: object, allowed: tuple[int, int]) -> None:
    # A Value target (an input of a traced function, say) is taken as given: checking it would read its data.
    if isinstance(y, Value):
        return
    if isinstance(y, bool) or not isinstance(y, numbers.Real) or y not in allowed:
        raise ValueError(f"{who}: {what} must be {allowed[0]} or {allowed[1]}, got {y!r}")
