"""Rules evaluated on symbols: an op's forward value and partials as Python source text.

`SourceMath` is the math namespace on symbols. Evaluating a rule on it, with a
`Sym` for each input, gives the rule's formula as source: `MUL.partials` on
symbols gives `(x1, x0)`, `TANH.partials` gives `(1.0 - out * out)`. From that
text the engine generates its fast backward functions (autodiff/specialize.py)
and `autodiff.compile` its straight-line programs, so a derivative is written once,
in the op table, and never copied.

A rule that branches on its inputs (`if x > 0`) cannot be written as one formula:
a symbol refuses comparisons and truth tests (`NotSymbolic`), and the caller falls
back to evaluating the rule on numbers.
"""

from __future__ import annotations

from typing import Any

from .namespace import FUNCTIONS, Namespace

__all__ = ["Sym", "SymTuple", "SourceMath", "NotSymbolic", "source", "unwrapped"]

INLINE_LIMIT = 64  # longer sums and dots become a call, to keep expressions shallow


class NotSymbolic(TypeError):
    """A rule did something with a symbol that a formula cannot express (a branch, float())."""


class Sym:
    """A symbolic value: the source text of an expression."""

    __slots__ = ("src",)

    def __init__(self, src: str) -> None:
        self.src = src

    def __repr__(self) -> str:
        return f"Sym({self.src!r})"

    # + and * give way (NotImplemented) to an operand they cannot write, so that the backward pass's
    # identities work on symbols too: ZERO + g is g, g * ONE is g (autodiff/backward.py).
    def __add__(self, other: Any) -> Sym:
        text = _written(other)
        return NotImplemented if text is None else Sym(f"({self.src} + {text})")

    def __radd__(self, other: Any) -> Sym:
        text = _written(other)
        return NotImplemented if text is None else Sym(f"({text} + {self.src})")

    def __sub__(self, other: Any) -> Sym:
        return Sym(f"({self.src} - {source(other)})")

    def __rsub__(self, other: Any) -> Sym:
        return Sym(f"({source(other)} - {self.src})")

    def __mul__(self, other: Any) -> Sym:
        text = _written(other)
        return NotImplemented if text is None else Sym(f"({self.src} * {text})")

    def __rmul__(self, other: Any) -> Sym:
        text = _written(other)
        return NotImplemented if text is None else Sym(f"({text} * {self.src})")

    def __truediv__(self, other: Any) -> Sym:
        return Sym(f"({self.src} / {source(other)})")

    def __rtruediv__(self, other: Any) -> Sym:
        return Sym(f"({source(other)} / {self.src})")

    def __pow__(self, other: Any) -> Sym:
        return Sym(f"({self.src} ** {source(other)})")

    def __rpow__(self, other: Any) -> Sym:
        return Sym(f"({source(other)} ** {self.src})")

    def __neg__(self) -> Sym:
        return Sym(f"(-{self.src})")

    def __pos__(self) -> Sym:
        return self

    def __abs__(self) -> Sym:
        return Sym(f"abs({self.src})")

    def _refuse(self, *args: Any) -> Any:
        raise NotSymbolic(f"a formula cannot branch on or convert the symbol {self.src}")

    __bool__ = __float__ = __int__ = __index__ = __lt__ = __le__ = __gt__ = __ge__ = __round__ = _refuse
    __eq__ = __ne__ = _refuse  # type: ignore[assignment]
    __hash__ = None  # type: ignore[assignment]


class SymTuple(Sym):
    """A symbolic tuple (softmax's partials): code generators bind it to a name once, then index it."""

    __slots__ = ("length",)

    def __init__(self, src: str, length: int) -> None:
        super().__init__(src)
        self.length = length

    def __len__(self) -> int:
        return self.length


def _written(x: Any) -> str | None:
    """`source(x)`, or None for what source cannot write."""
    try:
        return source(x)
    except NotSymbolic:
        return None


def source(x: Any) -> str:
    """Source text of a symbol, a number literal from a rule, or a tuple of them."""
    if isinstance(x, Sym):
        return x.src
    if isinstance(x, tuple):
        return "(" + "".join(f"{source(item)}, " for item in x) + ")"
    if type(x) is float or type(x) is int:
        text = repr(float(x))
        return text if text not in ("nan", "inf", "-inf") else f"float({text!r})"  # no name nan or inf in code
    raise NotSymbolic(f"cannot write {type(x).__name__} ({x!r}) into source")


def unwrapped(text: str) -> str:
    """Source text without the parentheses around the whole of it, for the right side of an assignment:
    `(s1 * s0)` as `s1 * s0`, which Python compiles a fifth faster. A text that starts with "(" is always
    wrapped whole: every operation on symbols puts its result in parentheses, and calls start with a name."""
    return text[1:-1] if text[:1] == "(" else text


def _call(name: str) -> staticmethod:
    def function(*args: Any) -> Sym:
        return Sym(f"m_{name}({', '.join(source(a) for a in args)})")

    function.__name__ = name
    return staticmethod(function)


class SourceMath(metaclass=Namespace):
    """The math namespace on symbols: each function call becomes source text `m_<name>(...)`."""

    locals().update({name: _call(name) for name in FUNCTIONS})

    @staticmethod
    def sum(xs: tuple) -> Sym:
        if len(xs) > INLINE_LIMIT:
            return Sym(f"m_sum({source(tuple(xs))})")
        return Sym("(" + " + ".join(source(x) for x in xs) + ")")

    @staticmethod
    def dot(ws: tuple, xs: tuple) -> Sym:
        if len(ws) > INLINE_LIMIT:
            return Sym(f"m_dot({source(tuple(ws))}, {source(tuple(xs))})")
        return Sym("(" + " + ".join(f"{source(w)} * {source(x)}" for w, x in zip(ws, xs)) + ")")

    @staticmethod
    def softmax(xs: tuple) -> SymTuple:
        return SymTuple(f"m_softmax({source(tuple(xs))})", len(xs))

    @staticmethod
    def constant(c: Any) -> Any:
        return c
