"""The `autodiff` command: `autodiff graph "log(x1) + x1*x2 - sin(x2)" --at x1=2 x2=5 -o f.svg`.

Bad input ends with a one-line error on stderr and exit code 2 (1 when the
problem is the machine: no renderer installed), never a traceback.
"""

from __future__ import annotations

import argparse
import keyword
import math
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class _Exit(Exception):
    """Stop with a one-line message and an exit code."""

    def __init__(self, message: str, code: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.code = code


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse prints usage and a traceback-free error: make it one line
        raise _Exit(f"{message} (see {self.prog} --help)")


def _parser() -> argparse.ArgumentParser:
    from . import __version__
    from .expression import FUNCTIONS

    parser = _Parser(prog="autodiff", description="A scalar reverse-mode automatic differentiation engine.")
    parser.add_argument("--version", action="version", version=f"autodiff {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    graph = commands.add_parser(
        "graph",
        help="evaluate an expression, print its gradients and draw its computation graph",
        description="Evaluate an expression at a point, run backward, print the value and each variable's "
        "gradient, and draw the computation graph as SVG (or DOT).",
        epilog="The expression may use numbers, variables, + - * / **, unary minus and the functions "
        f"{', '.join(sorted(FUNCTIONS))}. It is parsed, never run as Python code. An expression that starts "
        'with "-" goes after "--": autodiff graph --at x=1 -- "-x*x". '
        'Example: autodiff graph "log(x1) + x1*x2 - sin(x2)" --at x1=2 x2=5 -o f.svg',
    )
    graph.add_argument("expression", help='for example "log(x1) + x1*x2 - sin(x2)"')
    graph.add_argument(
        "--at",
        nargs="+",
        action="extend",
        default=[],
        metavar="NAME=VALUE",
        help="the value of each variable, e.g. --at x1=2 x2=5",
    )
    graph.add_argument("-o", "--output", metavar="FILE", help='write the graph here ("-" for stdout)')
    graph.add_argument(
        "--format",
        choices=("svg", "dot"),
        help="svg (the default) or dot (the DOT source); a FILE ending in .dot or .gv means dot",
    )
    graph.add_argument(
        "--renderer",
        choices=("auto", "dot", "wasm"),
        default="auto",
        help="the system Graphviz dot, the embedded one (wasm), or auto: dot if installed, else wasm",
    )
    graph.add_argument("--rankdir", choices=("LR", "TB", "RL", "BT"), default="LR", help="layout direction")
    graph.add_argument("--depth", type=_positive_int, metavar="N", help="draw only the N ops nearest the result")
    graph.add_argument(
        "--max-nodes",
        type=_positive_int,
        default=500,
        metavar="N",
        help="refuse to draw more nodes than this (default 500)",
    )
    graph.add_argument("--no-grad", action="store_true", help="draw data only, not gradients")
    graph.add_argument("--color-by-grad", action="store_true", help="fill nodes by |grad|, with a legend")
    graph.add_argument(
        "--contributions",
        action="store_true",
        help="label each edge with its term of the gradient: upstream grad × local derivative",
    )
    graph.add_argument(
        "--explain", action="store_true", help="print each variable's gradient as a sum of one term per edge"
    )
    return parser


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return n


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with `argv` (default: sys.argv[1:]) and return the exit code."""
    try:
        try:
            args = _parser().parse_args(argv)
        except SystemExit as done:  # --help and --version
            return done.code if isinstance(done.code, int) else EXIT_OK
        if args.command is None:
            raise _Exit("choose a command: graph (see autodiff --help)")
        return _graph(args)
    except _Exit as error:
        print(f"autodiff: error: {error}", file=sys.stderr)
        return error.code
    except KeyboardInterrupt:
        return 130


def _graph(args: argparse.Namespace) -> int:
    from .expression import ExpressionError, parse_expression
    from .graph import GraphTooLargeError, RendererError, draw_dot, explain, render_svg

    try:
        expression = parse_expression(args.expression)
    except ExpressionError as error:
        raise _Exit(f"{error}") from None
    values = _parse_at(args.at, expression.variables)
    try:
        out, leaves = expression.evaluate(values)
        out.label = "f"
        out.backward()
    except ExpressionError as error:
        raise _Exit(f"{error}") from None
    except (ArithmeticError, ValueError) as error:  # a derivative undefined at this point, e.g. sqrt at 0
        raise _Exit(f"{error}") from None

    to_stdout = args.output == "-"
    report = sys.stderr if to_stdout else sys.stdout
    point = ", ".join(f"{name}={_number(v)}" for name, v in values.items())
    print(f"f({point}) = {out.data!r}", file=report)
    for name, leaf in leaves.items():
        print(f"df/d{name} = {leaf.grad!r}", file=report)
    if args.explain:
        for leaf in leaves.values():
            print(explain(leaf, out), file=report)
    if args.output is None:
        return EXIT_OK

    fmt = args.format or ("dot" if args.output.lower().endswith((".dot", ".gv")) else "svg")
    try:
        graph = draw_dot(
            out,
            rankdir=args.rankdir,
            show_grad=not args.no_grad,
            max_nodes=args.max_nodes,
            depth=args.depth,
            color_by_grad=args.color_by_grad,
            show_contributions=args.contributions,
        )
        text = graph.source if fmt == "dot" else render_svg(graph.source, args.renderer)
    except GraphTooLargeError as error:
        raise _Exit(
            f"the graph has {error.n_nodes} nodes, more than --max-nodes {error.max_nodes}: "
            "pass --depth N to draw only the N ops nearest the result, or raise --max-nodes"
        ) from None
    except RendererError as error:
        raise _Exit(str(error), EXIT_FAILED) from None
    if to_stdout:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        Path(args.output).write_text(text, encoding="utf-8")
    except OSError as error:
        raise _Exit(f"cannot write {args.output!r}: {error.strerror or error}") from None
    print(f"wrote {args.output}", file=report)
    return EXIT_OK


def _parse_at(items: list[str], variables: list[str]) -> dict[str, float]:
    """{name: value} from ["x1=2", "x2=5"], checked against the expression's variables."""
    from .expression import FUNCTIONS

    values: dict[str, float] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name, text = name.strip(), text.strip()
        if not sep or not name or not text:
            raise _Exit(f"--at expects NAME=VALUE, got {item!r}")
        if not name.isidentifier() or keyword.iskeyword(name) or name in FUNCTIONS:
            raise _Exit(f"--at: {name!r} is not a valid variable name (in {item!r})")
        if name in values:
            raise _Exit(f"--at: {name!r} is given twice")
        try:
            value = float(text)
        except ValueError:
            raise _Exit(f"--at: the value of {name!r} must be a number, got {text!r}") from None
        if not math.isfinite(value):
            raise _Exit(f"--at: the value of {name!r} must be a finite number, got {text!r}")
        values[name] = value
    for name in variables:
        if name not in values:
            raise _Exit(f"no value for the variable {name!r}: add {name}=VALUE to --at")
    for name in values:
        if name not in variables:
            raise _Exit(f"--at: {name!r} does not appear in the expression (its variables: {', '.join(variables)})")
    return {name: values[name] for name in variables}


def _number(x: float) -> str:
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)
