"""Expressions typed by a person, such as "log(x1) + x1*x2 - sin(x2)", turned into a graph of Values.

The text is parsed with `ast` and only a whitelist is accepted: numbers, variable
names, + - * / **, unary minus and plus, parentheses, and calls of the engine's
functions. Nothing is ever passed to `eval`. Limits on length, operator count and
nesting refuse hostile input (10,000 nested parentheses) before it is parsed or
evaluated; an exponent above MAX_EXPONENT (`9**9**9`) is refused during
evaluation, before the power is computed.
"""

from __future__ import annotations

import ast
import functools
import math
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from . import functions
from .value import Value, as_value

__all__ = [
    "Expression", "ExpressionError", "parse_expression", "FUNCTIONS",
    "MAX_LENGTH", "MAX_OPERATORS", "MAX_DEPTH", "MAX_EXPONENT",
]  # fmt: skip

MAX_LENGTH = 10_000  # characters
MAX_OPERATORS = 1000  # + - * / ** (binary or unary): a flat sum of 1000 terms is fine, Python's parser recurses
# Nesting of the syntax tree: calls, unary minus, bracketed operands, ** chains. A left-to-right chain
# a + b - c * d ... counts once, however long (at most MAX_DEPTH // 2 levels of brackets).
MAX_DEPTH = 100
MAX_EXPONENT = 1000.0  # |b| in a ** b


class ExpressionError(ValueError):
    """The text is not an expression this module accepts, or cannot be evaluated; the message is one line."""


def _unary(f: Callable[[Value], Value]) -> tuple[int, int, Callable[..., Value]]:
    return 1, 1, f


def _fold(method: str) -> Callable[..., Value]:
    def fold(first: Value, *rest: Value) -> Value:
        for x in rest:
            first = getattr(first, method)(x)
        return first

    return fold


# name -> (fewest arguments, most arguments (None: any number), function of Values): every function of one
# input of the op table (exp, log, ...: autodiff.functions.UNARY), then those with other signatures.
FUNCTIONS: dict[str, tuple[int, int | None, Callable[..., Value]]] = {
    **{name: _unary(function) for name, function in functions.UNARY.items()},
    "ln": _unary(functions.log),  # the lecture notes' name for log
    "abs": _unary(abs),
    "atan2": (2, 2, functions.atan2),
    "remainder": (2, 2, functions.remainder),  # a % b, with the sign of b
    "clamp": (3, 3, functions.clamp),
    "leaky_relu": (1, 2, lambda x, slope=None: x.leaky_relu() if slope is None else x.leaky_relu(slope.data)),
    "max": (2, None, _fold("max")),
    "min": (2, None, _fold("min")),
    "logsumexp": (1, None, lambda *xs: functions.logsumexp(xs)),
}

_OPERATORS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_REFUSED_OPERATORS = {
    ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>",
    ast.BitOr: "|", ast.BitXor: "^", ast.BitAnd: "&", ast.Not: "not", ast.Invert: "~",
}  # fmt: skip
_REFUSED = {
    ast.Attribute: "attribute access", ast.Subscript: "indexing", ast.Lambda: "a lambda",
    ast.ListComp: "a comprehension", ast.SetComp: "a comprehension", ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a comprehension", ast.Compare: "a comparison", ast.BoolOp: "and/or",
    ast.IfExp: "a conditional expression", ast.NamedExpr: "an assignment", ast.Starred: "unpacking (*)",
    ast.List: "a list", ast.Tuple: "a tuple", ast.Set: "a set", ast.Dict: "a dict",
    ast.JoinedStr: "a string", ast.FormattedValue: "a string", ast.Await: "await", ast.Yield: "yield",
    ast.YieldFrom: "yield", ast.Slice: "a slice",
}  # fmt: skip
_ALLOWED = "allowed: numbers, variables, + - * / **, unary minus, and calls of " + ", ".join(sorted(FUNCTIONS))


@dataclass(frozen=True)
class Expression:
    """A parsed, checked expression: evaluate it at a point to get its graph."""

    text: str
    tree: ast.Expression

    @functools.cached_property
    def variables(self) -> list[str]:
        """The variable names, in order of first appearance."""
        names = [n for n in _operands(self.tree.body) if isinstance(n, ast.Name)]
        ordered = sorted(names, key=lambda n: (n.lineno, n.col_offset))
        return list(dict.fromkeys(n.id for n in ordered))

    def evaluate(self, values: Mapping[str, float]) -> tuple[Value, dict[str, Value]]:
        """The expression's Value at `values` (one number per variable), and a leaf Value per variable.

        Args:
            values: a number for each variable.
        """
        missing = [name for name in self.variables if name not in values]
        if missing:
            raise ExpressionError(f"no value for the variable {missing[0]!r}")
        leaves = {name: Value(values[name], label=name) for name in self.variables}
        out = _Evaluator(self.text, leaves).visit(self.tree.body)
        return out, leaves


def parse_expression(text: str) -> Expression:
    """Parse and check `text`; raise ExpressionError (one line, naming what is wrong) if it is not allowed.

    Args:
        text: an expression such as "log(x1) + x1*x2 - sin(x2)".
    """
    if not isinstance(text, str):
        raise TypeError(f"expression must be a str, got {type(text).__name__}")
    if not text.strip():
        raise ExpressionError("the expression is empty")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the expression is {len(text)} characters long, more than the limit of {MAX_LENGTH}")
    _check_brackets(text)
    # Python warns about some texts it still parses ("1if x else 2": SyntaxWarning, invalid decimal literal);
    # the checks below refuse them with a reason, so the warning would only add a second line.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _check_operators(text)
        tree = _parse(text.strip())
    _check(tree, text.strip())
    return Expression(text.strip(), tree)


def _parse(text: str) -> ast.Expression:
    try:
        return ast.parse(text, mode="eval")
    except SyntaxError as error:
        if "Exceeds the limit" in error.msg:  # Python 3.11+ refuses to convert integers of over 4300 digits
            digits = max(len(run) for run in re.findall(r"\d+", text))
            raise ExpressionError(f"a number in the expression is too long ({digits} digits) for a float") from None
        raise ExpressionError(_syntax_error(error, text)) from None
    except (RecursionError, MemoryError):  # Python's parser gives up on very deep nesting
        raise ExpressionError(f"the expression is nested too deeply to parse (limit: {MAX_DEPTH} levels)") from None
    except (ValueError, OverflowError) as error:  # null bytes, integer literals too long to convert
        raise ExpressionError(f"cannot parse the expression: {error}") from None


def _syntax_error(error: SyntaxError, text: str) -> str:
    """One line for Python's SyntaxError: where it is, and the text there (Python's message is often only
    "invalid syntax")."""
    lines = text.split("\n")
    row = min(max(error.lineno or 1, 1), len(lines))
    line, column = lines[row - 1], error.offset or 0
    where = f"line {row}, column {column}" if len(lines) > 1 else f"column {column}"
    message = error.msg
    if not message.startswith("invalid syntax"):  # Python said what is wrong: "'(' was never closed"
        return f"invalid syntax at {where}: {message}"
    hint = message[len("invalid syntax") :].strip(" .")  # "Perhaps you forgot a comma?"
    hint = f"; {hint[0].lower()}{hint[1:]}" if hint else ""
    if not 1 <= column <= len(line):  # Python points past the end: "x*", "log(x) +"
        shown = repr(text) if len(text) <= 40 else repr("…" + text[-39:])
        return f"invalid syntax: the expression ends too early: {shown}{hint}"
    end = error.end_offset if error.end_offset and error.end_offset > column else column + 1
    start = max(0, column - 20)  # 40 characters of the line around the column
    shown = ("…" if start else "") + line[start : start + 40] + ("…" if start + 40 < len(line) else "")
    return f"invalid syntax at {where}: unexpected {line[column - 1 : end - 1]!r} in {shown!r}{hint}"


def _check_brackets(text: str) -> None:
    level = deepest = 0
    for c in text:
        if c in "([{":
            level += 1
            deepest = max(deepest, level)
        elif c in ")]}":
            level -= 1
    if deepest > MAX_DEPTH // 2:
        raise ExpressionError(f"the expression nests brackets {deepest} deep, more than the limit of {MAX_DEPTH // 2}")


# Python's tokens, as far as counting operators needs them: names, numbers (whose exponent may have a sign),
# other operators, and the operators counted. Operators inside a string or a comment are counted too: never
# fewer than Python's tokenizer finds, as many for an expression with neither (the tests compare them).
_TOKENS = re.compile(
    r"""[^\W\d]\w*
      | 0[xXoObB]\w*
      | (?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][-+]?\d(?:_?\d)*)?[jJ]?
      | //=? | \*\*= | [-+*/%@&|^<>=!:]=
      | (\*\*|[-+*/])
    """,
    re.VERBOSE,
)


def _count_operators(text: str) -> int:
    return sum(1 for operator in _TOKENS.findall(text) if operator)


def _check_operators(text: str) -> None:
    """At most MAX_OPERATORS operators, counted before parsing: Python's parser recurses on a long sum."""
    count = _count_operators(text)
    if count > MAX_OPERATORS:
        raise ExpressionError(f"the expression has {count} operators, more than the limit of {MAX_OPERATORS}")


def _check(tree: ast.Expression, text: str) -> None:
    """Every node is on the whitelist and calls, brackets and operators nest at most MAX_DEPTH deep (a name or a
    number inside the deepest one is not a level of its own); walked without recursion."""
    stack = [(tree.body, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH and not isinstance(node, (ast.Name, ast.Constant)):
            raise ExpressionError(
                f"the expression nests calls, brackets or operators more than {MAX_DEPTH} levels deep"
            )
        _check_node(node, text)
        for child in _children(node):
            stack.append((child, depth if _continues_chain(node, child) else depth + 1))


def _children(node: ast.AST) -> list[ast.AST]:
    """The operands of `node`: not its context or operator, nor the name of a called function (_check_call's)."""
    if isinstance(node, (ast.Name, ast.Constant)):
        return []
    if isinstance(node, ast.BinOp):
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp):
        return [node.operand]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return list(node.args)  # keyword arguments are refused by _check_call
    return [child for child in ast.iter_child_nodes(node) if not _is_context(child)]


def _operands(root: ast.AST) -> list[ast.AST]:
    """Every node under `root` (included) that _check visits, walked without recursion."""
    out, stack = [], [root]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(_children(node))
    return out


def _continues_chain(node: ast.AST, child: ast.AST) -> bool:
    """Whether `child` is the left operand of `node` and an operation itself: a + b + c, read left to right."""
    return isinstance(node, ast.BinOp) and child is node.left and isinstance(child, ast.BinOp)


def _is_context(node: ast.AST) -> bool:
    return isinstance(node, (ast.expr_context, ast.operator, ast.unaryop))


def _check_node(node: ast.AST, text: str) -> None:
    # The node's text is cut out only for an error message: cutting it costs a pass over the whole text.
    refused_op = (isinstance(node, ast.BinOp) and type(node.op) not in _OPERATORS) or (
        isinstance(node, ast.UnaryOp) and not isinstance(node.op, (ast.USub, ast.UAdd))
    )
    if refused_op:
        operator = _REFUSED_OPERATORS.get(type(node.op), "?")
        raise ExpressionError(f"the operator {operator} is not allowed: {_segment(text, node)}")
    if isinstance(node, ast.Constant):
        _number(node, text)
    elif isinstance(node, ast.Call):
        _check_call(node, text)
    elif isinstance(node, ast.Name):
        if node.id in FUNCTIONS:  # a called name is not visited: _check_call checks it
            raise ExpressionError(f"{node.id!r} is a function: call it, as in {node.id}(x)")
    elif not isinstance(node, (ast.BinOp, ast.UnaryOp)):
        what = _REFUSED.get(type(node), type(node).__name__)
        raise ExpressionError(f"{what} is not allowed: {_segment(text, node)}; {_ALLOWED}")


def _check_call(node: ast.Call, text: str) -> None:
    if not isinstance(node.func, ast.Name):
        raise ExpressionError(f"only the engine's functions can be called, by name: {_segment(text, node)}")
    name = node.func.id
    if name not in FUNCTIONS:
        raise ExpressionError(f"unknown function {name!r}; the functions are: {', '.join(sorted(FUNCTIONS))}")
    if node.keywords:
        raise ExpressionError(f"keyword arguments are not allowed: {_segment(text, node)}")
    fewest, most, _ = FUNCTIONS[name]
    n = len(node.args)
    if n < fewest or (most is not None and n > most):
        expected = f"{fewest}" if fewest == most else f"{fewest} to {most}" if most else f"at least {fewest}"
        plural = "s" if expected not in ("1", "at least 1") else ""
        raise ExpressionError(f"{name}() takes {expected} argument{plural}, got {n}: {_segment(text, node)}")
    if name == "leaky_relu" and n == 2 and _literal(node.args[1]) is None:
        raise ExpressionError(f"leaky_relu's slope must be a number: {_segment(text, node)}")


def _number(node: ast.Constant, text: str) -> float:
    value = node.value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = "a string" if isinstance(value, (str, bytes)) else repr(value)
        raise ExpressionError(f"{kind} is not allowed: {_segment(text, node)}; {_ALLOWED}")
    try:
        x = float(value)
    except OverflowError:
        raise ExpressionError(f"the number {_segment(text, node)} is too large for a float") from None
    if not math.isfinite(x):
        raise ExpressionError(f"the number {_segment(text, node)} is not finite")
    return x


def _literal(node: ast.AST) -> float | None:
    """The number a literal (possibly signed) stands for, else None."""
    sign = 1.0
    while isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        sign = -sign if isinstance(node.op, ast.USub) else sign
        node = node.operand
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return sign * float(node.value)
    return None


def _segment(text: str, node: ast.AST, width: int = 40) -> str:
    return _cut(ast.get_source_segment(text, node) or type(node).__name__, width)


def _cut(segment: str, width: int = 40) -> str:
    return repr(segment if len(segment) <= width else segment[: width - 1] + "…")


class _Evaluator:
    """Builds the Values of a checked tree: it recurses only as deep as _check allows (MAX_DEPTH)."""

    def __init__(self, text: str, leaves: dict[str, Value]) -> None:
        self.text, self.leaves = text, leaves

    def visit(self, node: ast.AST) -> Value:
        try:
            return self._visit(node)
        except ExpressionError:
            raise
        except (ArithmeticError, ValueError, TypeError) as error:  # the engine's domain and range errors
            raise ExpressionError(f"{error} (in {_segment(self.text, node)})") from None

    def _visit(self, node: ast.AST) -> Value:
        literal = _literal(node)
        if literal is not None:
            return as_value(literal)
        if isinstance(node, ast.Name):
            return self.leaves[node.id]
        if isinstance(node, ast.UnaryOp):
            x = self.visit(node.operand)
            return -x if isinstance(node.op, ast.USub) else x
        if isinstance(node, ast.BinOp):  # a chain a + b - c ...: down its left operands in a loop
            chain = [node]
            while _continues_chain(chain[-1], chain[-1].left):
                chain.append(chain[-1].left)
            a = self.visit(chain[-1].left)
            for link in reversed(chain):
                a = self._binop(link, a, self.visit(link.right))
            return a
        if isinstance(node, ast.Call):
            _, _, f = FUNCTIONS[node.func.id]
            return f(*[self.visit(arg) for arg in node.args])
        raise ExpressionError(f"cannot evaluate {_segment(self.text, node)}")  # unreachable after _check

    def _binop(self, node: ast.BinOp, a: Value, b: Value) -> Value:
        op = _OPERATORS[type(node.op)]
        try:
            if op == "**" and abs(b.data) > MAX_EXPONENT:
                raise ExpressionError(
                    f"the exponent {b.data:.10g} is too large (at most {MAX_EXPONENT:g} in absolute value): "
                    f"{_segment(self.text, node)}"
                )
            return {"+": a.__add__, "-": a.__sub__, "*": a.__mul__, "/": a.__truediv__, "**": a.__pow__}[op](b)
        except ExpressionError:
            raise
        except (ArithmeticError, ValueError, TypeError) as error:  # as visit() reports them, naming this link
            raise ExpressionError(f"{error} (in {_segment(self.text, node)})") from None
