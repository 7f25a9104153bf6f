"""`CompiledFunction`: a traced program, run as generated code on floats or on numpy batches."""

from __future__ import annotations

import itertools
import math
import numbers
import threading
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any, Protocol

from ..errors import add_context, check_switch
from ..functional import value_and_grad
from ..grad_mode import enable_grad
from ..numerics import UncheckedFloatMath
from ..value import Value, constant
from . import pickling
from .codegen import generate
from .trace import Program

__all__ = ["CompiledFunction", "ArrayAdapter", "register_array_adapter", "require_numpy", "run_eagerly"]


class CompiledFunction:
    """A function traced once and replayed as straight-line code.

    Attributes:
        params: the parameters, in the order of the parameter gradients.
        program: the traced Program (slots in topological order).
        n_inputs: how many floats the function takes.
        has_aux: whether the function also reports aux values (see `autodiff.compile`).
    """

    def __init__(
        self,
        program: Program,
        params: tuple[Value, ...],
        name: str,
        has_aux: bool,
        aux_is_list: bool,
        fn: Callable[..., Any] | None = None,
    ):
        self.program = program
        self.params = params
        self.name = name
        self.has_aux = has_aux
        self._aux_is_list = aux_is_list
        self.n_inputs = len(program.inputs)
        self._constants = [c for _, c in program.constants]
        self._float_runs: dict[bool, Callable[..., tuple]] = {}  # built on first use, as the batched one
        self._batched: Any = None  # built on first use: it needs numpy
        self._fn = fn  # the traced function, run again for an error (not pickled: a copy replays the program)

    def __repr__(self) -> str:
        return f"<compiled {self.name}: {self.n_inputs} inputs, {len(self.params)} params, {self.program.n_ops} ops>"

    def __reduce__(self) -> tuple:
        """Pickle the program and the parameters' values, not the generated code or numpy buffers."""
        return _unpickle, (pickling.pack(self.program, self.params), self.name, self.has_aux, self._aux_is_list)

    @property
    def source(self) -> str:
        """The generated Python source of the forward and backward pass."""
        return generate(self.program, with_grad=True)

    # --- one example, on floats -----------------------------------------------
    def __call__(self, xs: Sequence[float]) -> Any:
        """The function's value at the floats `xs` (with `has_aux`: (value, aux))."""
        value, aux, _, _ = self._run_floats(xs, False)
        return self._with_aux(value, aux)

    def value_and_grad(self, xs: Sequence[float], accumulate_grads: bool = False) -> tuple[Any, list, list]:
        """(value, gradients with respect to the inputs, gradients with respect to `params`).

        With `has_aux`, the first item is (value, aux).

        Args:
            xs: one float per input.
            accumulate_grads: also add the parameter gradients into each parameter's
                `.grad`, as `backward()` would.
        """
        if accumulate_grads is not False:
            check_switch(f"compiled {self.name}", "accumulate_grads", accumulate_grads)
        value, aux, input_grads, param_grads = self._run_floats(xs, True)
        if accumulate_grads:
            for p, g in zip(self.params, param_grads):
                p.grad += g
        return self._with_aux(value, aux), input_grads, param_grads

    def _run_floats(self, xs: Sequence[float], with_grad: bool) -> tuple[float, list, list, list]:
        xs = self._check_inputs(xs)
        p = [param.data for param in self.params]
        run = self._float_runs.get(with_grad)
        if run is None:
            run = self._float_runs[with_grad] = _build(self.program, with_grad)
        try:
            result = run(xs, p, self._constants)
        except (ArithmeticError, ValueError):
            result = None
        if result is not None and math.isfinite(result[-1]):  # the sum of every number computed
            if with_grad:
                value, aux, input_grads, param_grads, _ = result
                return value, list(aux), list(input_grads), list(param_grads)
            return result[0], list(result[1]), [], []
        # Something was not finite or not defined: the eager engine says exactly what (or, when
        # the undefined local derivative meets a zero gradient, has the answer).
        return self._eagerly(xs, p, with_grad)

    def _eagerly(self, xs: list[float], p: list[float], with_grad: bool) -> tuple[float, list, list, list]:
        """The program in the eager engine: its result, or the eager engine's error. Where it fails, the
        error is the traced function's own when that function is at hand, run again eagerly: its ops meet
        their inputs in the order the function makes them (the program's order may differ), and in anomaly
        mode each node knows the line of the function that made it."""
        try:
            return run_eagerly(self.program, xs, p, with_grad)
        except (ArithmeticError, ValueError):
            own = self._error_of_fn(xs, p, with_grad)
            if own is None:
                raise
            raise own from None

    def _error_of_fn(self, xs: list[float], p: list[float], with_grad: bool) -> BaseException | None:
        """The error the traced function raises when it runs eagerly at xs; None when it raises none, or
        when it is not at hand (a copy made by pickling) or `p` are not its parameters' values now."""
        if self._fn is None or p != [param.data for param in self.params]:
            return None
        with _RERUN:  # value_and_grad puts the parameters' .grad back: one run at a time
            try:
                if with_grad:
                    value_and_grad(self._fn, has_aux=self.has_aux)(*xs)
                else:
                    with enable_grad():
                        self._fn(*[Value(x) for x in xs])
            except (ArithmeticError, ValueError) as error:
                return error
            except Exception:  # not an error of the engine's: the program's error stands
                return None
        return None

    def _check_inputs(self, xs: Sequence[float]) -> list[float]:
        """The inputs as finite floats; ints and numpy's numbers are converted, bools and strings refused
        (as `Value` refuses them)."""
        if isinstance(xs, (str, bytes)):
            raise TypeError(f"compiled {self.name}: inputs must be a sequence of numbers, got {xs!r}")
        try:
            values = list(xs)
        except TypeError:
            raise TypeError(f"compiled {self.name}: inputs must be a sequence of numbers, got {xs!r}") from None
        if len(values) != self.n_inputs:
            raise ValueError(f"compiled {self.name}: expected {self.n_inputs} inputs, got {len(values)}")
        if set(map(type, values)) - {float}:  # the common case, all floats, needs no conversion
            for i, x in enumerate(values):
                if not _is_number_type(type(x)):
                    raise TypeError(f"compiled {self.name}: input {i} must be an int or float, {_shown(x)}")
                try:
                    values[i] = float(x)
                except OverflowError:  # an int too large for a float
                    raise ValueError(f"compiled {self.name}: input {i} is not finite as a float: {x!r}") from None
        if not all(map(math.isfinite, values)):
            i = next(i for i, x in enumerate(values) if not math.isfinite(x))
            raise ValueError(f"compiled {self.name}: input {i} is not finite: {values[i]!r}")
        return values

    def _with_aux(self, value: Any, aux: Any) -> Any:
        if not self.has_aux:
            return value
        if self._aux_is_list:
            return value, aux
        return value, aux[..., 0] if hasattr(aux, "ndim") else aux[0]

    # --- a batch of examples, on numpy arrays ----------------------------------
    def batch(self, X: Any) -> Any:
        """The function's value for each row of `X` (examples x inputs), as a numpy array
        (with `has_aux`: (values, aux), aux of shape (n,) or (n, k)).

        An array that a registered adapter runs (a Dask array: `dask_batch.py`) gives that
        adapter's arrays, computed chunk by chunk."""
        adapter = _adapter_for(X)
        if adapter is not None:
            return adapter.batch(self, X)
        X = self._check_batch(X)
        values, aux = self._run_batch_forward(X, [param.data for param in self.params])
        return self._with_aux(values, aux)

    def batch_value_and_grad(
        self, X: Any, per_example: bool = False, accumulate_grads: bool = False
    ) -> tuple[Any, Any, Any]:
        """Values and gradients for every row of `X`, vectorised with numpy.

        Args:
            X: an (examples x inputs) array or list of rows.
            per_example: return the parameter gradients of every example, shape
                (examples x params), instead of their sum over the batch.
            accumulate_grads: add the summed parameter gradients into each
                parameter's `.grad`, as `backward()` on the summed outputs would.

        Returns:
            (values, input_grads, param_grads): shapes (n,), (n, inputs), and
            (params,) summed over the batch, or (n, params) with `per_example`.
            With `has_aux`, the first item is (values, aux).

        A Dask array X (rows in chunks, all inputs in each) runs one task per chunk
        (`dask_batch.py`): the summed parameter gradients come back as numpy, the
        per-row results as Dask arrays with X's row chunks.
        """
        check_switch(f"compiled {self.name}", "per_example", per_example)
        check_switch(f"compiled {self.name}", "accumulate_grads", accumulate_grads)
        adapter = _adapter_for(X)
        if adapter is not None:
            return adapter.batch_value_and_grad(self, X, per_example, accumulate_grads)
        X = self._check_batch(X)
        p = [param.data for param in self.params]
        values, aux, inputs, grads = self._run_batch(X, p, per_example)
        summed = grads.sum(axis=0) if grads.ndim == 2 else grads
        if accumulate_grads:
            for param, g in zip(self.params, summed.tolist()):
                param.grad += g
        return self._with_aux(values, aux), inputs, grads if per_example else summed

    def _run_batch(self, X: Any, p: list[float], per_example: bool, first_row: int = 0) -> tuple[Any, Any, Any, Any]:
        """The batched run, with the examples it could not finish replayed in the eager engine.

        Returns per-example parameter gradients when `per_example` or when some example
        needed the eager engine; summed ones otherwise. An error names an example by its row
        in the caller's whole batch, of which X starts at row `first_row`."""
        import numpy as np

        n = X.shape[0]
        batched = self._batched_program()  # scheduling runs no user code: its errors are bugs, not fallbacks
        try:
            if batched.output_row is None:  # the output depends on no input
                raise _EagerOnly
            with np.errstate(all="ignore"):
                values, aux, inputs, grads, checked = batched.run(X, p, per_example)
                if checked or _all_finite(values, aux, inputs, grads):  # the common case, in one test
                    return values, aux, inputs, grads
                finite = np.isfinite(values) & np.isfinite(inputs).all(axis=1) & np.isfinite(aux).all(axis=1)
                bad = ~finite
                if per_example:
                    bad |= ~np.isfinite(grads).all(axis=1)
                elif bad.any() or not np.isfinite(grads).all():  # which examples? ask per example
                    values, aux, inputs, grads, _ = batched.run(X, p, True)
                    bad |= ~np.isfinite(grads).all(axis=1)
        except (_EagerOnly, TypeError, ValueError):  # TypeError, ValueError: a user's rule that cannot take arrays
            bad = np.ones(n, dtype=bool)
            values, inputs, grads = np.zeros(n), np.zeros((n, self.n_inputs)), np.zeros((n, len(p)))
            aux = np.zeros((n, len(self.program.aux)))
        for i in np.flatnonzero(bad):  # these examples: the eager engine's result, or its error
            values[i], aux[i], inputs[i], grads[i] = self._replay(X, i, p, True, first_row)
        return values, aux, inputs, grads

    def _run_batch_forward(self, X: Any, p: list[float], first_row: int = 0) -> tuple[Any, Any]:
        """The batched forward pass, with the examples it could not finish replayed in the eager engine
        (an error names the example by its row in a batch of which X starts at row `first_row`)."""
        import numpy as np

        n = X.shape[0]
        batched = self._batched_program()  # scheduling runs no user code: its errors are bugs, not fallbacks
        try:
            if batched.output_row is None:  # the output depends on no input
                raise _EagerOnly
            with np.errstate(all="ignore"):
                values, aux = batched.forward(X, p)
            bad = ~(np.isfinite(values) & np.isfinite(aux).all(axis=1))
        except (_EagerOnly, TypeError, ValueError):  # TypeError, ValueError: a user's rule that cannot take arrays
            values, aux = np.zeros(n), np.zeros((n, len(self.program.aux)))
            bad = np.ones(n, dtype=bool)
        for i in np.flatnonzero(bad):
            values[i], aux[i], _, _ = self._replay(X, i, p, False, first_row)
        return values, aux

    def _replay(
        self, X: Any, i: int, p: list[float], with_grad: bool, first_row: int
    ) -> tuple[float, list, list, list]:
        """Example i in the eager engine: its result, or its error naming the example (row first_row + i)."""
        try:
            return self._eagerly(X[i].tolist(), p, with_grad)
        except (ArithmeticError, ValueError) as error:
            add_context(error, f"compiled {self.name}, example {first_row + i}")
            raise

    def _batched_program(self) -> Any:
        if self._batched is None:  # built on first use: it needs numpy
            from .batched import BatchedProgram

            self._batched = BatchedProgram(self.program)
        return self._batched

    def _check_batch(self, X: Any) -> Any:
        """X as a 2-d float array of finite numbers; bools and strings are refused, as on floats."""
        np = require_numpy(f"compiled {self.name}: batches")

        if isinstance(X, np.ndarray) and X.dtype != object:
            if X.dtype.kind not in "fiu":
                raise TypeError(f"compiled {self.name}: the batch must hold ints or floats, got an array of {X.dtype}")
        else:
            self._check_batch_elements(X)
        try:
            X = np.asarray(X, dtype=float)
        except (TypeError, ValueError):
            raise TypeError(f"compiled {self.name}: the batch must be numbers, got {type(X).__name__}") from None
        except OverflowError:  # an int too large for a float, among Python ints
            i, j, x = next((i, j, x) for i, row in enumerate(X) for j, x in enumerate(row) if _too_large(x))
            raise ValueError(f"compiled {self.name}: example {i}, input {j} is not finite as a float: {x!r}") from None
        if X.ndim != 2 or X.shape[1] != self.n_inputs:
            raise ValueError(
                f"compiled {self.name}: the batch must have shape (examples, {self.n_inputs}), got {X.shape}"
            )
        if not np.isfinite(X).all():
            row = int(np.flatnonzero(~np.isfinite(X).all(axis=1))[0])
            raise ValueError(f"compiled {self.name}: example {row} is not finite: {X[row].tolist()!r}")
        return X

    def _check_batch_elements(self, X: Any) -> None:
        """Refuse a bool or a string among the rows of X, naming its example and input
        (numpy would read True as 1.0 and "1.5" as 1.5)."""
        if isinstance(X, (str, bytes)):
            raise TypeError(f"compiled {self.name}: the batch must be rows of numbers, got {X!r}")
        try:
            kinds = set(map(type, itertools.chain.from_iterable(X)))
        except TypeError:  # rows that are not sequences: the shape check says what is wrong
            return
        if all(_is_number_type(kind) for kind in kinds):
            return
        for i, row in enumerate(X):
            for j, x in enumerate(row):
                if not _is_number_type(type(x)):
                    raise TypeError(
                        f"compiled {self.name}: example {i}, input {j} must be an int or float, {_shown(x)}"
                    )


def require_numpy(who: str) -> ModuleType:
    """numpy, or a one-line error saying that `who` needs it and how to install it."""
    try:
        import numpy
    except ImportError:
        raise ModuleNotFoundError(
            f'{who} need numpy, which a plain pip install leaves out: pip install numpy (or the "demos" extra, '
            'pip install "autodiff[demos]")',
            name="numpy",
        ) from None
    return numpy


_RERUN = threading.Lock()


class _EagerOnly(Exception):
    """This program runs example by example in the eager engine."""


def _build(program: Program, with_grad: bool) -> Any:
    namespace: dict[str, Any] = {"ops": program.ops}
    exec(compile(generate(program, with_grad), f"<autodiff.compile {with_grad=}>", "exec"), namespace)
    return namespace["make"](UncheckedFloatMath)  # its errors are caught: _run_floats replays them eagerly


def _unpickle(packed: tuple, name: str, has_aux: bool, aux_is_list: bool) -> CompiledFunction:
    return CompiledFunction(*pickling.unpack(packed), name, has_aux, aux_is_list)


# --- arrays of other libraries ----------------------------------------------------------
class ArrayAdapter(Protocol):
    """Runs a compiled function over the arrays of another library (Dask's: `dask_batch.py`)."""

    def batch(self, f: CompiledFunction, X: Any) -> Any: ...

    def batch_value_and_grad(self, f: CompiledFunction, X: Any, per_example: bool, accumulate_grads: bool) -> Any: ...


_adapter_finders: list[Callable[[Any], ArrayAdapter | None]] = []


def register_array_adapter(find: Callable[[Any], ArrayAdapter | None]) -> None:
    """Let `batch` and `batch_value_and_grad` take another kind of array: `find(X)` returns the adapter
    that runs X (telling X's kind without importing its library), or None for an array of another kind."""
    _adapter_finders.append(find)


def _adapter_for(X: Any) -> ArrayAdapter | None:
    for find in _adapter_finders:
        adapter = find(X)
        if adapter is not None:
            return adapter
    return None


def _all_finite(*arrays: Any) -> bool:
    """Whether every number of the numpy arrays is finite, by one sum: a sum is finite only if
    its terms are (or it overflows, a false alarm, after which the caller looks closer)."""
    import numpy as np

    return bool(np.isfinite(sum(np.add.reduce(a, axis=None) for a in arrays if a.size)))


def _is_number_type(kind: type) -> bool:
    """int, float and numpy's ints and floats; not bool (nor numpy's), str, complex or None."""
    return issubclass(kind, numbers.Real) and not issubclass(kind, bool)


def _too_large(x: object) -> bool:
    try:
        float(x)
    except OverflowError:
        return True
    return False


def _shown(x: object) -> str:
    return f"got {type(x).__name__} ({x!r})"


def run_eagerly(
    program: Program, xs: Sequence[float], params: Sequence[float], with_grad: bool = True
) -> tuple[float, list, list, list]:
    """Interpret the program with Values and backward(): the eager engine's answer, or its error.

    Returns (value, aux values, input gradients, parameter gradients); without
    `with_grad`, the forward pass only, and the gradient lists are empty. The graph is
    recorded even inside `no_grad()`: the program's gradients do not depend on the caller's mode.
    """
    nodes: list[Value | None] = [None] * len(program)
    inputs = [Value(x) for x in xs]
    param_leaves = [Value(p) for p in params]
    for i, k in enumerate(program.inputs):
        if k is not None:
            nodes[k] = inputs[i]
    for j, k in enumerate(program.params):
        if k is not None:
            nodes[k] = param_leaves[j]
    for k, c in program.constants:
        nodes[k] = constant(c, "compile")
    with enable_grad():
        for k, op in enumerate(program.ops):
            if op is not None:
                nodes[k] = op._apply(*(nodes[j] for j in program.parents[k]))
    out = nodes[program.output]
    aux = [nodes[k].data for k in program.aux]
    if not with_grad:
        return out.data, aux, [], []
    out.backward()
    return out.data, aux, [x.grad for x in inputs], [p.grad for p in param_leaves]
