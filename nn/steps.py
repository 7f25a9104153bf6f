"""One training step and how it fails: `train_step`, its `StepResult`, and `NonFiniteLossError`.

A batch's loss is the mean of its examples' losses, so each step follows the mean of
the per-example gradients (as the Q&A on batch gradients explains).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from autodiff import Value

from .data import _check_same_length
from .losses import _mean
from .module import Module
from .optim import Optimizer

if TYPE_CHECKING:
    from .train import History

__all__ = ["StepResult", "NonFiniteLossError", "train_step", "guarded_step", "non_finite", "output_data"]

Loss = Callable[[Any, Any], Value]


class NonFiniteLossError(ArithmeticError):
    """Training met a loss, gradient or update that is not a finite number.

    Raised by `fit`, with `history` holding the epochs that finished.
    """

    history: History | None = None


@dataclass(frozen=True)
class StepResult:
    """One training step: the batch's mean loss and the model's outputs (as floats) before the update;
    for a batch in Dask arrays, no outputs but the number of correct predictions."""

    loss: float
    outputs: list[Any]
    correct: int | None = None


def train_step(model: Module, loss: Loss, optimizer: Optimizer, X: Sequence[Any], y: Sequence[Any]) -> StepResult:
    """One minibatch step: zero the gradients, mean loss of the batch, backward, optimizer step.

    Args:
        model: called on each example of X.
        loss: a per-example loss, loss(prediction, target) -> Value.
        optimizer: updates the parameters from their gradients.
        X: the batch's examples.
        y: their targets.

    Returns:
        A StepResult with the batch's mean loss and the outputs the model gave.
    """
    _check_same_length("train_step", X, y, "targets")
    optimizer.zero_grad()
    outputs = [model(x) for x in X]
    batch_loss = _mean([loss(out, t) for out, t in zip(outputs, y)])
    batch_loss.backward()
    optimizer.step()
    return StepResult(batch_loss.data, [output_data(out) for out in outputs])


def guarded_step(
    step: Callable[[Any, Any], StepResult], Xb: Any, yb: Any, epoch: int, number: int, n_steps: int
) -> StepResult:
    """`step(Xb, yb)`, its errors naming the epoch and step: an overflow is a NonFiniteLossError."""
    where = f"epoch {epoch + 1}, step {number + 1} of {n_steps}"
    try:
        return step(Xb, yb)
    except ArithmeticError as error:  # overflow in forward, backward or the update: nothing was updated
        raise non_finite(where, error) from error
    except ValueError as error:
        raise ValueError(f"fit: at {where}: {error}") from error


def non_finite(where: str, error: ArithmeticError, before: str = "this step") -> NonFiniteLossError:
    """The error `fit` raises for an overflow at `where`: the parameters keep their values from `before`."""
    return NonFiniteLossError(
        f"fit: the loss is not finite at {where} ({type(error).__name__}: {error}); "
        f"the parameters keep their values from before {before}"
    )


def output_data(out: Any) -> Any:
    """A model's output as floats: a Value's data, or a list of them."""
    if isinstance(out, Value):
        return out.data
    if isinstance(out, (list, tuple)):
        return [output_data(o) for o in out]
    return out
