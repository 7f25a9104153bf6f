"""Lines of numpy for a scheduled batch, derived from the op rules.

A scheduled batch (`batched.py`) holds groups of same-op nodes whose values are
rows of a (rows x examples) array V; nodes that depend on parameters only are
rows of a column S, computed once per call. Here each group becomes a line or two
of numpy: the op's `forward` and `partials` (autodiff/ops.py) are evaluated once
on symbolic arrays (`ArraySourceMath`), as the float backend evaluates them on
`SourceMath`, so the lines hold no second copy of the math. A call that numpy can
direct into an existing array (a ufunc, `matmul`, `sum`) writes straight into its
rows of V or of the gradients G (`out=`): no fresh array per group.

The reverse pass follows the eager engine's chain rule: the first contribution to
a gradient writes it, later ones add to it, and a gradient that is a copy of
another (the partial 1.0 of +, with a single consumer) is not copied but named.
A dense layer's `dot` nodes are W @ X forward and W.T @ G, G @ X.T backward. An
op with many operands of one kind (a sum over all parameters, say) reads them as
one stacked array (operands x nodes x examples), and its rule's sums and
element-wise partials become single numpy calls over the stack.

The lines come in chunks, a group's forward or backward pass each, which
`batch_steps.py` runs one after the other; `generate` shows them as one program.
On a long graph of small groups, the block's lines use scratch rows (Z) for their
intermediate arrays, gather scattered operands into them, and give a gradient rows
of G only while it is needed (`gradient_rows.py`).

The lines mention only row numbers, generated names and the namespace's function
names; the user's constants and index arrays are bound from a list.
"""

from __future__ import annotations

import functools
import inspect
import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..namespace import FUNCTIONS, MissingMathFunction
from ..ops import Op, OpDefinitionError
from ..specialize import checked_partials
from ..symbolic import INLINE_LIMIT, Sym, SymTuple, source
from .gradient_rows import GradientRows
from .numpy_math import NumpyMath

__all__ = [
    "ROW",
    "PARAM",
    "CONST",
    "SHARED",
    "Operand",
    "Group",
    "ArraySym",
    "ArraySourceMath",
    "Function",
    "Written",
    "write",
    "generate",
    "propagates",
]

ROW, PARAM, CONST, SHARED = "row", "param", "const", "shared"
UNROLL = 4  # a contribution to at most this many scattered rows of G is added row by row
VALUES = {ROW: "V", SHARED: "S", PARAM: "P"}  # where an operand's values are, by kind
GRADS = {ROW: "G", SHARED: "SG", PARAM: "GP"}  # and where its gradient goes


@dataclass
class Operand:
    """Where one operand position of a group reads from, by kind and index (a row of V, a
    parameter, a constant, a row of S)."""

    kind: str
    index: np.ndarray
    rows: slice | np.ndarray = field(init=False)
    unique: bool = field(init=False)
    same: bool = field(init=False)  # every node reads the same position (a row that broadcasts)

    def __post_init__(self) -> None:
        positions = self.index.tolist()
        self.rows = _as_slice(self.index, positions)
        distinct = len(set(positions))
        self.unique = distinct == len(positions)
        self.same = distinct == 1 and len(positions) > 1


@dataclass
class Group:
    """Nodes of one op at one level, computed together; outputs are rows `rows` of V (or S)."""

    op: Op
    rows: slice
    operands: list[Operand]
    dense: bool = False  # operands: weights (nodes x k, flattened) as PARAM, inputs (k) as ROW
    weights_shape: tuple[int, int] = (0, 0)
    augmented: bool = False  # dense with a bias: weights [W | b] (nodes x k + 1), inputs [X; 1]
    stack: tuple[int, int] | None = None  # (operands k, nodes): one operand, index position-major


@dataclass
class Schedule:
    """A scheduled batch, as the writer reads it."""

    groups: list[Group]  # rows of V, in order
    shared_groups: list[Group]  # rows of S, in order
    n_inputs: int
    output_row: int
    constants: np.ndarray
    n_params: int
    ones_rows: list[int] = field(default_factory=list)  # rows of V that hold ones: an affine layer's [X; 1]


# --- symbolic arrays -------------------------------------------------------------------
class ArraySym(Sym):
    """A symbolic array: its source; when it is one call numpy can direct into an existing
    array, that call's function and arguments (their sources, and the arguments themselves);
    when it is operand i of a stack, (stack, i)."""

    __slots__ = ("call", "args", "parts", "elementwise", "stack")

    def __init__(
        self,
        src: str,
        call: str | None = None,
        args: tuple[str, ...] = (),
        parts: tuple = (),
        elementwise: bool = False,
        stack: tuple[str, int] | None = None,
    ) -> None:
        super().__init__(src)
        self.call = call
        self.args = args
        self.parts = parts
        self.elementwise = elementwise
        self.stack = stack

    def written_to(self, dest: str) -> list[str]:
        """Lines that store this array into the array named `dest`. An element-wise call whose
        argument is itself an element-wise call computes that argument in `dest` first, then
        works in place: a chain such as g * (1 - out * out) makes no temporary array."""
        if self.call is None:
            return [f"{dest}[...] = {self.src}"]
        if self.elementwise:
            for i, part in enumerate(self.parts):
                others = self.args[:i] + self.args[i + 1 :]
                if isinstance(part, ArraySym) and part.elementwise and not _mentions(others, dest):
                    args = (*self.args[:i], dest, *self.args[i + 1 :])
                    return [*part.written_to(dest), f"{self.call}({', '.join(args)}, out={dest})"]
        return [f"{self.call}({', '.join(self.args)}, out={dest})"]


def _mentions(sources: tuple[str, ...], name: str) -> bool:
    return any(re.search(rf"\b{name}\b", src) for src in sources)


def _operator(symbol: str, ufunc: str, reflected: bool = False) -> Any:
    def method(self: ArraySym, other: Any) -> ArraySym:
        parts = (other, self) if reflected else (self, other)
        a, b = (source(part) for part in parts)
        return ArraySym(f"({a} {symbol} {b})", ufunc, (a, b), parts, elementwise=True)

    return method


for _name, _symbol, _ufunc in [("add", "+", "np_add"), ("sub", "-", "np_subtract"), ("mul", "*", "np_multiply"),
                               ("truediv", "/", "np_true_divide"), ("pow", "**", "np_power")]:  # fmt: skip
    setattr(ArraySym, f"__{_name}__", _operator(_symbol, _ufunc))
    setattr(ArraySym, f"__r{_name}__", _operator(_symbol, _ufunc, reflected=True))
ArraySym.__neg__ = lambda self: ArraySym(f"(-{self.src})", "np_negative", (self.src,), (self,), elementwise=True)
ArraySym.__abs__ = lambda self: ArraySym(f"np_absolute({self.src})", "np_absolute", (self.src,), (self,), True)
NUMPY_NAMES = {"np_add": "np.add", "np_subtract": "np.subtract", "np_multiply": "np.multiply",
               "np_true_divide": "np.true_divide", "np_power": "np.power", "np_negative": "np.negative",
               "np_absolute": "np.absolute", "np_matmul": "np.matmul", "np_sum": "np.add.reduce",
               "np_broadcast_to": "np.broadcast_to", "np_bincount": "np.bincount", "np_take": "np.take"}  # fmt: skip


def _stack_run(xs: Any) -> str | None:
    """`stack[a:b]` when xs are the operands a..b-1 of one stack, in order; else None."""
    if not isinstance(xs, (tuple, list)) or not xs:
        return None
    if not all(isinstance(x, ArraySym) and x.stack is not None for x in xs):
        return None
    name, first = xs[0].stack
    if any(x.stack != (name, first + i) for i, x in enumerate(xs)):
        return None
    return f"{name}[{first}:{first + len(xs)}]"


def _directable(name: str) -> bool:
    """Whether NumpyMath's function can write into a given array: a ufunc, or one taking `out`
    (an element-wise function, as every function of the namespace but sum, dot and logsumexp)."""
    function = getattr(NumpyMath, name, None)
    if isinstance(function, np.ufunc):
        return True
    try:
        return "out" in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


def _namespace_call(name: str) -> Any:
    """m.<name> on symbolic arrays: a call of NumpyMath's function, directed into an array when
    it can be. A sequence argument that is a run of a stack is passed as that stack's slice."""
    directable = _directable(name)

    def function(*args: Any) -> ArraySym:
        sources = tuple(_stack_run(a) or source(a) for a in args)
        call = f"m_{name}" if directable else None
        return ArraySym(f"m_{name}({', '.join(sources)})", call, sources, args, elementwise=directable)

    function.__name__ = name
    return staticmethod(function)


class ArraySourceMath:
    """The math namespace on symbolic arrays: each function call becomes numpy source.

    Every function of `SourceMath` is here (so a primitive added there works here too).
    Short sums and dots become chains of + and *, in the order `FloatMath` adds them;
    over a stack's operands they are one call of `NumpyMath.sum` or `.dot` on the stack."""

    @staticmethod
    def sum(xs: Sequence[Any]) -> Any:
        run = _stack_run(xs)
        if run is not None:  # one reduction over the stack, into the destination
            return ArraySym(f"m_sum({run})", "m_sum", (run,), (xs,))
        if len(xs) > INLINE_LIMIT:
            return ArraySym(f"m_sum({source(tuple(xs))})")
        return functools.reduce(operator.add, xs)

    @staticmethod
    def dot(ws: Sequence[Any], xs: Sequence[Any]) -> Any:
        runs = _stack_run(ws), _stack_run(xs)
        if None not in runs:
            return ArraySym(f"m_dot({runs[0]}, {runs[1]})")
        if len(ws) > INLINE_LIMIT:
            return ArraySym(f"m_dot({source(tuple(ws))}, {source(tuple(xs))})")
        return functools.reduce(operator.add, map(operator.mul, ws, xs))

    @staticmethod
    def softmax(xs: Sequence[Any]) -> SymTuple:
        return SymTuple(f"m_softmax({_stack_run(xs) or source(tuple(xs))})", len(xs))

    @staticmethod
    def constant(c: Any) -> Any:
        return c


for _name in FUNCTIONS:
    if _name not in vars(ArraySourceMath):
        setattr(ArraySourceMath, _name, _namespace_call(_name))


# --- which operands a non-finite value always reaches the output from ------------------------
class _Opaque:
    """Any number, in a propagation probe."""

    def _any(self, other: Any = None) -> Any:
        return OPAQUE

    def _keep_taint(self, other: Any) -> Any:
        return other if isinstance(other, _Taint) else OPAQUE

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _keep_taint
    __truediv__ = __rtruediv__ = __pow__ = __rpow__ = __neg__ = __abs__ = _any


class _Taint(_Opaque):
    """A non-finite number, in a propagation probe. IEEE +, - and * keep it non-finite whatever the
    other operand (inf - inf and 0 * inf are nan); anything else (1 / inf = 0, max(-inf, 0) = 0) may not."""

    def _keep(self, other: Any = None) -> Any:
        return self

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __neg__ = _keep


OPAQUE, TAINT = _Opaque(), _Taint()


class _TaintMath:
    """The math namespace of the probe: sums and dots are + and *, every other function opaque."""

    @staticmethod
    def sum(xs: Sequence[Any]) -> Any:
        return functools.reduce(operator.add, xs)

    @staticmethod
    def dot(ws: Sequence[Any], xs: Sequence[Any]) -> Any:
        return functools.reduce(operator.add, map(operator.mul, ws, xs))

    @staticmethod
    def constant(c: Any) -> Any:
        return c


for _name in FUNCTIONS:
    if _name not in vars(_TaintMath):
        setattr(_TaintMath, _name, staticmethod(lambda *args: OPAQUE))


def propagates(op: Op, n_operands: int, position: int) -> bool:
    """Whether the op's output is non-finite whenever operand `position` is, whatever the others:
    its forward rule, evaluated on probes, reaches that operand only through +, - and *.
    Not cached here: a cache of the module would keep every user's Op alive (the scheduler keeps one per program)."""
    probes = [TAINT if i == position else OPAQUE for i in range(n_operands)]
    try:
        return op.forward(_TaintMath, *probes) is TAINT
    except Exception:  # a rule that does more with its operands than a probe can: not known to
        return False


# --- the generated functions -------------------------------------------------------------
@dataclass
class Function:
    """One generated function's parts: the lines that make its views once per set of arrays
    (`views`, and the row slices `slices` by name), and the lines it runs at every call, in
    chunks (a group's forward or backward pass); a name a chunk makes is local to it."""

    arrays: str  # the binder's parameters
    arguments: str  # the function's own
    views: list[str]
    slices: dict[str, tuple[str, int, int]]
    chunks: list[list[str]]
    resets: list[str]  # lines that set constant rows (ones, the output's gradient 1): at binding, and again
    # whenever arrays of another width (which share the numbers) have run in between


@dataclass
class Written:
    """The three functions of a mode (`generate`), the values their lines read as k0, k1, ...,
    and the name of the inputs' rows of V (the block fills them from X first)."""

    shared_forward: Function
    block: Function
    shared_backward: Function | None
    bound: list[Any]
    inputs: str
    gradient_rows: int  # the height of G: the inputs' gradients, then rows reused as gradients come and go


def write(schedule: Schedule, mode: str) -> Written:
    """The lines of the functions of `mode` ("forward", "summed" or "per_example"), derived from the
    op rules: see `generate` for what each function does."""
    bound: list[Any] = []
    shared_forward = _Writer(schedule, mode, SHARED, bound)
    for group in schedule.shared_groups:
        shared_forward.forward(group)
    block = _Writer(schedule, mode, ROW, bound)
    block.resets += [f"V[{row}] = 1.0" for row in schedule.ones_rows]
    inputs = block.view("V", slice(0, schedule.n_inputs))
    for group in schedule.groups:
        block.forward(group)
    shared_backward = None
    if mode != "forward":
        block.backward()
        shared_backward = _Writer(schedule, mode, SHARED, bound)
        shared_backward.assigned["GP"].update(range(schedule.n_params))  # the block wrote every one
        shared_backward.backward(seeded=block.assigned["SG"])
    return Written(
        shared_forward.function("P1, S", ""),
        block.function("V, G, P1, S, GP, SG", "X"),
        shared_backward and shared_backward.function("P1, S, SG, GP", ""),
        bound,
        inputs,
        block.gradient_rows.height,
    )


def generate(schedule: Schedule, mode: str) -> tuple[str, list[Any]]:
    """Source of `make(np, m, k)` and the list `k` it binds. `make` returns three binders, each
    called once per set of arrays (it makes their views) and returning the function to call:

    bind_shared_forward(P1, S) -> shared_forward(): fills S (parameter-only nodes x 1) from the
    parameters P1;
    bind_block(V, G, P1, S, GP, SG) -> block(X): fills V (rows x examples of the block) from X
    (examples x inputs); with gradients (mode "summed" or "per_example"; G, GP, SG are None
    for "forward") it also fills G (rows 0..inputs-1 are the input gradients), GP (the
    parameter gradients, summed over the block, or params x examples) and adds the
    gradients reaching S into SG (zeros before the first block: rows x 1 summed, else x
    examples);
    bind_shared_backward(P1, S, SG, GP) -> shared_backward(): adds the parameters' share
    through S into GP (None for "forward").

    The batch runs these lines chunk by chunk (`batch_steps.py`); this source shows them as one program.
    """
    written = write(schedule, mode)
    written.block.chunks.insert(0, [f"{written.inputs}[...] = X.T"])
    functions = [_render("shared_forward", written.shared_forward), _render("block", written.block)]
    if written.shared_backward is None:
        functions.append("    bind_shared_backward = None")
    else:
        functions.append(_render("shared_backward", written.shared_backward))
    body = "\n".join(functions)
    used = sorted(name for name in FUNCTIONS if f"m_{name}(" in body)
    preamble = [f"m_{name} = m.{name}" for name in used]
    preamble += [f"{name} = {expression}" for name, expression in NUMPY_NAMES.items() if f"{name}(" in body]
    preamble += [f"k{i} = k[{i}]" for i in range(len(written.bound))]
    returned = "bind_shared_forward, bind_block, bind_shared_backward"
    return "\n".join(
        ["def make(np, m, k):", *(f"    {line}" for line in preamble), body, f"    return {returned}", ""]
    ), written.bound


def _render(name: str, function: Function) -> str:
    """The source of bind_<name>(arrays), which makes the views and returns <name>(arguments)."""
    slices = [f"{view} = {b}[{a}:{z}]" for view, (b, a, z) in function.slices.items()]
    lines = [line for chunk in function.chunks for line in chunk]
    made = [*function.views, *slices, *function.resets]
    return "\n".join(
        [f"    def bind_{name}({function.arrays}):", *(f"        {line}" for line in made)]
        + [f"        def {name}({function.arguments}):", *(f"            {line}" for line in lines or ["pass"])]
        + [f"        return {name}"]
    )


class _Writer:
    """The lines of one generated function: the forward or backward pass over the groups of
    one space, V's rows (`own` ROW) or S's (`own` SHARED)."""

    def __init__(self, schedule: Schedule, mode: str, own: str, bound: list[Any]) -> None:
        self.s = schedule
        self.mode = mode
        self.own = own
        self.groups = schedule.groups if own == ROW else schedule.shared_groups
        self.bound = bound
        self.views: list[str] = []  # made once per set of arrays (besides the slices of `slices`)
        self.resets: list[str] = []  # rows of V and G that hold constants: set again when other arrays used them
        self.slices: dict[str, tuple[str, int, int]] = {}  # views of rows a:b of a buffer, by name
        self.chunks: list[list[str]] = []  # run at every call, one chunk per group and pass
        self.lines: list[str] = self.new_chunk()
        self.names: dict[tuple, str] = {}  # names made once per set of arrays
        self.local: dict[tuple, str] = {}  # names made in the current chunk
        self.count = 0
        self.scratch_rows = 0  # the block's scratch array Z: as many rows as a chunk needs at most
        self.gradient_rows = GradientRows(schedule.groups, schedule.n_inputs) if own == ROW else None
        # Positions of each gradient buffer that hold this call's value: written, not yet added to.
        # SG starts at zero (the caller's), so it is only ever added to.
        self.assigned: dict[str, set[int]] = {"G": set(), "GP": set(), "SG": set()}
        self.always_add = {"SG"}
        self.alias: dict[int, str] = {}  # group -> the name of its gradient, a consumer's
        self.group_at = {(g.rows.start, g.rows.stop): i for i, g in enumerate(self.groups)}
        self.writers: dict[int, int] = {}  # row of G -> how many contributions it receives

    def new_chunk(self) -> list[str]:
        """Start the lines of a new chunk (a group's forward or backward pass): names made by the lines of
        the chunk before it are not visible in it, and its scratch rows are free."""
        if self.chunks:
            lines = self.chunks[-1]
            if self.made or self.local:
                _drop_unread(lines, set(self.local.values()) | self.made)
            if self.pending:
                read = set(_IDENTIFIER.findall("\n".join(lines)))
                lines[:0] = [line for name, line in self.pending.items() if name in read]  # the gathers it reads
        self.made: set[str] = set()
        self.pending: dict[str, str] = {}
        self.scratch_used = 0
        self.lines = []
        self.chunks.append(self.lines)
        self.local = {}
        return self.lines

    def fresh(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def function(self, arrays: str, arguments: str) -> Function:
        self.new_chunk()
        if self.scratch_rows:
            self.views.insert(0, f"Z = np.empty(({self.scratch_rows}, V.shape[1]))")
        chunks = [chunk for chunk in self.chunks if chunk]
        return Function(arrays, arguments, self.views, self.slices, chunks, self.resets)

    # --- names --------------------------------------------------------------------
    def bind(self, value: Any) -> str:
        self.bound.append(value)
        return f"k{len(self.bound) - 1}"

    def base(self, buffer: str) -> str:
        """The buffer's name; the parameters are read as a column (params x 1) that broadcasts."""
        if buffer == "P" and ("P",) not in self.names:
            self.names[("P",)] = "P"
            self.views.append("P = P1[:, None]")
        return buffer

    def view(self, buffer: str, rows: slice) -> str:
        """A local name for rows a:b of a buffer (a view), made at its first use."""
        name = f"{buffer.lower()}{rows.start}_{rows.stop}"
        if name not in self.slices:
            self.base(buffer)
            self.slices[name] = (buffer, rows.start, rows.stop)
        return name

    def gather(self, buffer: str, index: np.ndarray) -> str:
        """A name for rows `index` of a buffer (a copy; the index may be 2-d, a stack), made at the start
        of the chunk if the chunk reads it. The block gathers V's rows into its scratch rows."""
        key = (buffer, index.shape, tuple(index.ravel().tolist()))
        if key not in self.local:
            if buffer == "V" and self.own == ROW:
                _, start, stop = self.slices[self.scratch(index.size)]
                shape = ", ".join(map(str, index.shape))
                name = self.names.get(("Z", start, shape))
                if name is None:  # the same scratch rows in the same shape: one view
                    name = self.names["Z", start, shape] = self.fresh("z")
                    self.views.append(f"{name} = Z[{start}:{stop}].reshape({shape}, -1)")
                line = f"np.take(V, {self.bind(index)}, axis=0, out={name}, mode='clip')"
            else:
                name = self.fresh("t")
                line = f"{name} = {self.base(buffer)}[{self.bind(index)}]"
            self.local[key] = name
            self.pending[name] = line
        return self.local[key]

    def scratch(self, n: int) -> str:
        """n rows of the block's scratch array Z, free again at the next chunk."""
        start = self.scratch_used
        self.scratch_used += n
        self.scratch_rows = max(self.scratch_rows, self.scratch_used)
        return self.view("Z", slice(start, start + n))

    def operand(self, o: Operand) -> ArraySym:
        if o.kind == CONST:
            values = self.s.constants[o.index]
            if len(set(values.tolist())) == 1:  # one number for every node: a numpy scalar
                return ArraySym(self.bind(np.float64(values[0])))
            return ArraySym(self.bind(values[:, None]))
        if isinstance(o.rows, slice):
            return ArraySym(self.view(VALUES[o.kind], o.rows))
        if o.same:  # one row for every node: it broadcasts
            return ArraySym(self.view(VALUES[o.kind], slice(int(o.index[0]), int(o.index[0]) + 1)))
        return ArraySym(self.gather(VALUES[o.kind], o.index))

    def operands(self, group: Group) -> list[ArraySym]:
        if group.stack is None and self.stacks(group):  # gathered into one array: a call per rule, not per operand
            name = self.gather("V", np.array([o.index for o in group.operands]))
            return [ArraySym(f"{name}[{i}]", stack=(name, i)) for i in range(len(group.operands))]
        if group.stack is None:
            return [self.operand(o) for o in group.operands]
        o, (k, nodes) = group.operands[0], group.stack
        index = o.index.reshape(k, nodes)
        if o.kind == CONST:
            name = self.bind(self.s.constants[index][..., None])
        else:
            name = self.gather(VALUES[o.kind], index)
        return [ArraySym(f"{name}[{i}]", stack=(name, i)) for i in range(k)]

    def stacks(self, group: Group) -> bool:
        """Whether the block reads the operands of an op of any number of operands (sum, logsumexp) as one
        stack: when there are at least 3, all rows of V."""
        return (
            self.own == ROW
            and group.op.arity is None
            and len(group.operands) >= 3
            and all(o.kind == ROW for o in group.operands)
        )

    def weights(self, group: Group) -> str:
        """The dense group's weight matrix (nodes x k): a view of P1 when its positions are consecutive."""
        index, rows = group.operands[0].index, group.operands[0].rows
        key = ("W", tuple(index.tolist()))
        if isinstance(rows, slice):
            if key not in self.names:
                self.names[key] = name = self.fresh("w")
                self.views.append(f"{name} = P1[{rows.start}:{rows.stop}].reshape{group.weights_shape}")
            return self.names[key]
        if key not in self.local:  # a gather: made in each chunk that reads it
            self.local[key] = name = self.fresh("w")
            self.lines.append(f"{name} = P1[{self.bind(index.reshape(group.weights_shape))}]")
        return self.local[key]

    def transposed(self, group: Group) -> str:
        """W.T (without an affine layer's bias column) as a contiguous copy, made once per call: BLAS
        multiplies it faster than a view."""
        weights = self.weights(group)
        key = ("T", weights)
        if key not in self.local:
            self.local[key] = name = f"{weights}t"
            self.lines.append(f"{name} = {weights}{'[:, :-1]' if group.augmented else ''}.T.copy()")
        return self.local[key]

    def layer_inputs(self, group: Group) -> str:
        """A dense layer's inputs X (k x examples), or an affine layer's [X; 1]: a view of V when a row of
        ones follows X there, else a copy into an array whose last row holds ones."""
        o = group.operands[1]
        x = self.operand(o).src
        if not group.augmented:
            return x
        if isinstance(o.rows, slice) and o.rows.stop in self.s.ones_rows:
            return self.view("V", slice(o.rows.start, o.rows.stop + 1))
        key = ("X1", tuple(o.index.tolist()))
        if key not in self.names:
            self.names[key] = name = self.fresh("x")
            self.views += [f"{name} = np.empty(({len(o.index) + 1}, V.shape[1]))", f"{name}[-1] = 1.0"]
            self.lines.append(f"{name}[:-1] = {x}")
        return self.names[key]

    def ones(self) -> str:
        """A vector of ones, one per example of the block: a product with it sums over the examples."""
        if ("ones",) not in self.names:
            self.names[("ones",)] = "ones"
            self.views.append("ones = np.ones(V.shape[1])")
        return "ones"

    # --- forward ------------------------------------------------------------------
    def forward(self, group: Group) -> None:
        self.new_chunk()
        dest = self.view(VALUES[self.own], group.rows)
        if group.dense:
            inputs = self.layer_inputs(group)
            self.lines.extend(_product(self.weights(group), inputs, group.weights_shape[1]).written_to(dest))
            return
        operands = self.operands(group)
        try:
            value = group.op.forward(ArraySourceMath, *operands)
        except MissingMathFunction:
            raise
        except (TypeError, ArithmeticError, ValueError):  # not a formula (it branches, say): call the rule
            value = ArraySym(f"{self.bind(group.op)}.forward(m, {''.join(f'{o.src}, ' for o in operands)})")
        if isinstance(value, ArraySym):
            self.lines.extend(value.written_to(dest))
        else:
            self.lines.append(f"{dest}[...] = {source(value)}")

    # --- backward -----------------------------------------------------------------
    def backward(self, seeded: set[int] | None = None) -> None:
        """The reverse pass over this space's groups. V's starts at the output (gradient 1);
        S's from the gradients the block added into SG (`seeded`)."""
        grads = GRADS[self.own]
        if self.own == ROW:
            self.count_writers()
            out = self.s.output_row  # d out / d out = 1, set once: nothing else writes that row
            self.resets.append(f"G[{self.gradient_rows.row(out)}] = 1.0")
            self.gradient_rows.keep(out)  # set once, not at every call: its rows are never lent to another
            self.assigned["G"].add(out)
        else:
            self.assigned["SG"].update(seeded or ())
        for i in range(len(self.groups) - 1, -1, -1):
            self.new_chunk()
            self.current = i
            self.group_backward(i, self.groups[i], grads)
            if self.gradient_rows:
                self.gradient_rows.release(i)
        self.new_chunk()
        if self.own == ROW:
            self.zero_unassigned("G", range(self.s.n_inputs))  # returned: every input has a gradient
            self.zero_unassigned("GP", range(self.s.n_params))

    def group_backward(self, i: int, group: Group, grads: str) -> None:
        """The lines of group i's backward step: its partials times its gradient, into its operands' gradients."""
        self.group_size = group.rows.stop - group.rows.start
        grad = self.grad_of(i, group, grads)
        if grad is None:  # no gradient reaches these nodes: they contribute nothing
            return
        if group.dense:
            self.dense_backward(group, grad)
            return
        operands = self.operands(group)
        partials = self.partials(group, operands)
        if group.stack is not None:
            self.stack_backward(group, grad, operands, partials)
        elif isinstance(partials, SymTuple) and partials.src.startswith("m_") and self.stacks(group):
            # a namespace function of the stack gives every partial in one stacked array: times the gradient
            # in place, once
            name = self.fresh("q")
            self.made.add(name)
            self.lines += [f"{name} = {partials.src}", f"np_multiply({name}, {grad}, out={name})"]
            for position, o in enumerate(group.operands):
                if o.kind != CONST:
                    self.contribute(o, ArraySym(f"{name}[{position}]"))
        else:
            for o, partial in zip(group.operands, self.each(partials)):
                self.contribute_partial(o, grad, partial)

    def partials(self, group: Group, operands: list[ArraySym]) -> Any:
        """The op's partials on the group's operands: a tuple of formulas, or one call giving all of them
        (a SymTuple: softmax, or the rule itself where it is not a formula)."""
        out = ArraySym(self.view(VALUES[self.own], group.rows))
        try:
            partials = group.op.partials(ArraySourceMath, out, *operands)
        except (MissingMathFunction, OpDefinitionError):
            raise
        except (TypeError, ArithmeticError, ValueError):  # not a formula: call the rule on the arrays
            arguments = "".join(f"{x.src}, " for x in (out, *operands))
            return SymTuple(f"{self.bind(group.op)}.partials(m, {arguments})", len(operands))
        return partials if isinstance(partials, SymTuple) else checked_partials(group.op, partials, len(operands))

    def each(self, partials: Any) -> Any:
        """The partials one by one; a call that gives all of them is made once, into a name."""
        if not isinstance(partials, SymTuple):
            return partials
        name = self.fresh("q")
        self.made.add(name)
        self.lines.append(f"{name} = {partials.src}")
        return [ArraySym(f"{name}[{i}]") for i in range(len(partials))]

    def contribute_partial(self, o: Operand, grad: str, partial: Any) -> None:
        if o.kind == CONST or (_is_number(partial) and partial == 0.0):
            return
        g = ArraySym(grad)
        if _is_number(partial) and partial in (1.0, -1.0):
            self.contribute(o, g if partial == 1.0 else -g, copy=partial == 1.0)
        else:
            self.contribute(o, g * partial)

    def stack_backward(self, group: Group, grad: str, operands: list[ArraySym], partials: tuple) -> None:
        """The partials of a stacked group as one array over the stack, when they have one form."""
        o, (k, nodes) = group.operands[0], group.stack
        if o.kind == CONST:
            return
        stacked = _stacked_partials(operands, partials, self.bind)
        if stacked is None:  # partials of different forms: operand by operand
            index = o.index.reshape(k, nodes)
            for i, partial in enumerate(self.each(partials)):
                self.contribute_partial(Operand(o.kind, index[i]), grad, partial)
            return
        if _is_number(stacked):
            if stacked == 0.0:
                return
            spread = f"np_broadcast_to({grad}, ({k}, *{grad}.shape))"
            contribution = spread if stacked == 1.0 else f"({spread} * {source(stacked)})"
        else:
            contribution = f"({grad} * {stacked.src})"
        self.contribute(o, ArraySym(f"{contribution}.reshape({k * nodes}, -1)"))

    def count_writers(self) -> None:
        self.writers = {self.s.output_row: 1}
        for group in self.groups:
            for o in group.operands:
                if o.kind == ROW:
                    for row in o.index.tolist():
                        self.writers[row] = self.writers.get(row, 0) + 1

    def grad_of(self, i: int, group: Group, grads: str) -> str | None:
        """The name of the group's gradient (rows of G, or the consumer's it is a copy of); None if none arrived."""
        if i in self.alias:
            return self.alias[i]
        rows = range(group.rows.start, group.rows.stop)
        missing = [r for r in rows if r not in self.assigned[grads]]
        if len(missing) == len(rows):
            return None
        self.zero_unassigned(grads, missing)
        return self.view(grads, self.gradient_rows.rows(group.rows) if grads == "G" else group.rows)

    def contribute(self, o: Operand, contribution: ArraySym, copy: bool = False) -> None:
        """Add a gradient contribution (nodes x examples) to the operand's gradient; summed over
        the examples where that gradient has no examples axis."""
        buffer = GRADS[o.kind]
        if buffer == "G" and copy and self.try_alias(o, contribution.src):
            return
        if self.mode == "summed" and buffer == "GP" and self.own == SHARED:  # one column: no sum
            contribution = ArraySym(f"{contribution.src}.ravel()")
        elif self.mode == "summed" and buffer in ("GP", "SG") and self.own == ROW:  # a sum over the examples
            ones = self.ones() if buffer == "GP" else f"{self.ones()}[:, None]"
            contribution = ArraySym(f"({contribution.src} @ {ones})", "np_matmul", (contribution.src, ones))
        self.add_to(buffer, o, contribution)

    def try_alias(self, o: Operand, grad: str) -> bool:
        """A group whose only gradient contribution is a copy of `grad` takes `grad` as its gradient."""
        if self.own != ROW or not isinstance(o.rows, slice) or (o.rows.start, o.rows.stop) not in self.group_at:
            return False
        rows = range(o.rows.start, o.rows.stop)
        if any(self.writers.get(r) != 1 or r in self.assigned["G"] for r in rows):
            return False
        borrower = self.group_at[(o.rows.start, o.rows.stop)]
        self.alias[borrower] = grad
        self.gradient_rows.lend(borrower, self.current)
        self.assigned["G"].update(rows)
        return True

    def add_to(self, buffer: str, o: Operand, contribution: ArraySym, shape: str = "") -> None:
        """Write (first contribution) or add (later ones) `contribution` into `buffer` at `o`'s positions.
        `shape` is the contribution's own shape (a dense layer's weight gradients), which a
        consecutive destination takes by a reshape, and any other by flattening the contribution."""
        in_block = buffer == "G" and self.own == ROW
        if o.same and not shape and in_block:  # one position for every node: their contributions summed first
            o, contribution = Operand(o.kind, o.index[:1]), self.summed_over_nodes(contribution)
        elif o.same and not shape:
            o = Operand(o.kind, o.index[:1])
            contribution = ArraySym(f"np_sum({contribution.src}, axis=0, keepdims=True)", "np_sum",
                                    (contribution.src, "axis=0", "keepdims=True"))  # fmt: skip
        elif in_block and o.unique and not isinstance(o.rows, slice) and len(o.index) <= UNROLL:
            rows = self.each_row(contribution, len(o.index))
            for i in range(len(o.index)):
                self.add_to(buffer, Operand(o.kind, o.index[i : i + 1]), ArraySym(rows[i]))
            return
        elif not o.unique and not shape and not (buffer == "GP" and self.mode == "summed"):
            o, contribution = self.summed_by_position(o, contribution)
        positions = o.index.tolist()
        assigned = self.assigned[buffer]
        new = [] if buffer in self.always_add else [r for r in dict.fromkeys(positions) if r not in assigned]
        where = self.gradient_rows.rows(o.rows) if buffer == "G" and self.gradient_rows else o.rows
        if isinstance(where, slice):
            dest = self.view(buffer, where) + (f".reshape({shape})" if shape else "")
            if len(new) == len(positions):
                self.lines.extend(contribution.written_to(dest))
            elif in_block and not shape:  # into scratch rows first: no temporary array
                self.zero_unassigned(buffer, new)
                if contribution.call is not None:
                    scratch = self.scratch(len(positions))
                    self.lines.extend(contribution.written_to(scratch))
                    contribution = ArraySym(scratch)
                self.lines.append(f"np_add({dest}, {contribution.src}, out={dest})")
            else:
                self.zero_unassigned(buffer, new)
                self.lines.append(f"{dest}[...] += {contribution.src}")  # [...]: the name stays the view
        else:
            flat = contribution.src
            if shape:
                flat = f"({flat}).ravel()" if self.mode == "summed" else f"({flat}).reshape({len(positions)}, -1)"
            index = self.bind(where)
            if o.unique and len(new) == len(positions):
                self.lines.append(f"{buffer}[{index}] = {flat}")
            elif o.unique:
                self.zero_unassigned(buffer, new)
                self.lines.append(f"{buffer}[{index}] += {flat}")
            elif buffer == "GP" and self.mode == "summed":  # a position twice: bincount sums both
                self.zero_unassigned(buffer, new)
                self.lines.append(f"GP[...] += np_bincount({index}, weights={flat}, minlength={self.s.n_params})")
            else:  # a position twice in one operand: add.at sums both contributions
                self.zero_unassigned(buffer, new)
                self.lines.append(f"np.add.at({buffer}, {index}, {flat})")
        assigned.update(positions)

    def summed_over_nodes(self, contribution: ArraySym) -> ArraySym:
        """The group's contributions to one row (nodes x examples), summed over the nodes into a scratch
        row; a negation is applied after the sum."""
        negated = contribution.call == "np_negative"
        inner = contribution.parts[0] if negated else contribution
        src = inner.src if isinstance(inner, ArraySym) else source(inner)
        if isinstance(inner, ArraySym) and inner.call is not None:
            src = self.scratch(self.group_size)
            self.lines.extend(inner.written_to(src))
        total = self.scratch(1)
        self.lines.append(f"np_sum({src}, axis=0, keepdims=True, out={total})")
        if negated:
            return ArraySym(f"(-{total})", "np_negative", (total,), (ArraySym(total),), elementwise=True)
        return ArraySym(total)

    def each_row(self, contribution: ArraySym, n: int) -> list[str]:
        """The names of the n rows of a contribution: rows of its view, or of scratch rows it is written to."""
        src = contribution.src
        if src in self.slices and contribution.call is None:
            buffer, start, _ = self.slices[src]
        else:
            scratch = self.scratch(n)
            self.lines.extend(contribution.written_to(scratch) if contribution.call else [f"{scratch}[...] = {src}"])
            buffer, start, _ = self.slices[scratch]
        return [self.view(buffer, slice(start + i, start + i + 1)) for i in range(n)]

    def summed_by_position(self, o: Operand, contribution: ArraySym) -> tuple[Operand, ArraySym]:
        """An operand that reads some positions more than once, as one that reads each once, and the
        contributions summed by position: a product with a 0/1 matrix (positions x nodes), which BLAS
        computes much faster than numpy's add.at."""
        positions, inverse = np.unique(o.index, return_inverse=True)
        summing = np.zeros((len(positions), len(o.index)))
        summing[inverse, np.arange(len(o.index))] = 1.0
        matrix = self.bind(summing)
        summed = ArraySym(f"({matrix} @ {contribution.src})", "np_matmul", (matrix, contribution.src))
        return Operand(o.kind, positions), summed

    def zero_unassigned(self, buffer: str, positions: Any) -> None:
        missing = [r for r in positions if r not in self.assigned[buffer]]
        if not missing or buffer in self.always_add:
            return
        rows = _as_slice(np.array(missing))
        if buffer == "G" and self.gradient_rows:
            rows = self.gradient_rows.rows(rows)
        if isinstance(rows, slice):
            self.lines.append(f"{self.view(buffer, rows)}[...] = 0.0")
        else:
            self.lines.append(f"{buffer}[{self.bind(rows)}] = 0.0")
        self.assigned[buffer].update(missing)

    def dense_backward(self, group: Group, grad: str) -> None:
        """d/dx_i (w . x) = w_i and d/dw_i = x_i (the dot rule), as products with the layer's matrices:
        input gradients W.T @ G, weight gradients G @ X.T summed over the examples (or one outer
        product per example). An affine layer's bias gradients, G summed over the examples (the
        partials of + are 1), come with its weights' as the last column of G @ [X; 1].T."""
        inputs = self.layer_inputs(group)
        m, k = group.weights_shape
        self.add_to("G", group.operands[1], _product(self.transposed(group), grad, m))
        if self.mode == "per_example":
            outer = (f"{grad}[:, None, :]", f"{inputs}[None, :, :]")
            contribution = ArraySym(f"({outer[0]} * {outer[1]})", "np_multiply", outer)
            self.add_to("GP", group.operands[0], contribution, shape=f"{m}, {k}, -1")
        else:
            contribution = ArraySym(f"({grad} @ {inputs}.T)", "np_matmul", (grad, f"{inputs}.T"))
            self.add_to("GP", group.operands[0], contribution, shape=f"{m}, {k}")


def _product(a: str, b: str, inner: int) -> ArraySym:
    """The matrix product a @ b; over an inner dimension of 1, the same numbers as a broadcast
    product (an outer product), which numpy computes several times faster."""
    if inner == 1:
        return ArraySym(f"({a} * {b})", "np_multiply", (a, b))
    return ArraySym(f"({a} @ {b})", "np_matmul", (a, b))


def _stacked_partials(operands: list[ArraySym], partials: tuple, bind: Any) -> Any:
    """The partials of a stacked group as one expression over the stack (operands x nodes x
    examples): a number shared by all, a reordering of the stack (the dot rule's), or one
    element-wise form written for every operand, or one call on the whole stack that gives them
    all, stacked the same way (softmax). None when they have no common form."""
    name = operands[0].stack[0]
    if isinstance(partials, SymTuple):
        whole = f"{name}[0:{len(operands)}]"
        if whole in partials.src and not re.search(rf"\b{name}\[\d+\]", partials.src):
            return ArraySym(partials.src)
        return None
    if all(_is_number(p) for p in partials):
        if len(set(partials)) == 1:
            return float(partials[0])
        return ArraySym(bind(np.array(partials, dtype=float)[:, None, None]))
    if not all(isinstance(p, ArraySym) for p in partials):
        return None
    if all(p.stack is not None and p.stack[0] == name for p in partials):
        order = [p.stack[1] for p in partials]
        return ArraySym(name if order == list(range(len(order))) else f"{name}[{bind(np.array(order))}]")
    forms = {re.sub(rf"\b{name}\[{i}\]", name, p.src) for i, p in enumerate(partials)}
    form = forms.pop() if len(forms) == 1 else ""
    if re.search(rf"\b{name}\b(?!\[)", form) and not re.search(rf"\b{name}\[", form):
        return ArraySym(form)  # each operand's partial, the same function of that operand
    return None


_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


def _drop_unread(lines: list[str], local: set[str]) -> None:
    """Remove the lines that make a chunk-local name no later line reads (a softmax of operands whose
    partials are not needed, say)."""
    if not any(line.partition(" = ")[0] in local for line in lines):  # no line makes one: none to drop
        return
    read: set[str] = set()
    for i in range(len(lines) - 1, -1, -1):
        name, equals, rest = lines[i].partition(" = ")
        if equals and name in local and name not in read:
            del lines[i]
            continue
        read.update(_IDENTIFIER.findall(lines[i]))


def _is_number(x: Any) -> bool:
    return type(x) is float or type(x) is int


def _as_slice(index: np.ndarray, positions: list | None = None) -> slice | np.ndarray:
    """A slice for consecutive ascending indices (a view, no copy), else the index array."""
    if index.ndim != 1:
        return index
    positions = index.tolist() if positions is None else positions
    if positions and positions == list(range(positions[0], positions[0] + len(positions))):
        return slice(positions[0], positions[0] + len(positions))
    return index
