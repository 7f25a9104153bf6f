"""The `autodiff` command: `autodiff graph "log(x1) + x1*x2 - sin(x2)" --at x1=2 x2=5 -o f.svg`.

Bad input ends with a one-line error on stderr and exit code 2 (1 when the
problem is the machine: no renderer installed, output that cannot be written),
never a traceback. A closed output pipe (`autodiff graph ... | head -2`) ends
quietly with exit code 1, and text that the terminal's encoding cannot show is
written with ASCII stand-ins.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import keyword
import math
import os
import shlex
import sys
import unicodedata
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
# The file name decides what -o writes.
_FORMATS = {".svg": "svg", ".dot": "dot", ".gv": "dot", ".html": "html", ".htm": "html"}
# What -o FILE.html leaves to the page (it shows each gradient and term as the pass reaches them).
_PAGE_DECIDES = {"--no-grad": "no_grad", "--color-by-grad": "color_by_grad", "--contributions": "contributions"}
# The renderer's messages name its arguments; the command line says its options instead.
_OPTION_NAMES = {
    "renderer='dot'": "--renderer dot",
    "renderer='wasm'": "--renderer wasm",
    "a smaller depth or max_nodes": "a smaller --depth or --max-nodes",
}
# ASCII stand-ins for the symbols of the printed text, where the output encoding lacks them.
_ASCII = str.maketrans({"×": "x", "…": "...", "≥": ">=", "·": "*"})


class _Exit(Exception):
    """Stop with a one-line message and an exit code."""

    def __init__(self, message: str, code: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.code = code


class _OutputFailed(_Exit):
    """Stdout or stderr cannot be written (closed, or a full disk): exit code 1."""

    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_FAILED)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse prints usage and a traceback-free error: make it one line
        raise _Exit(f"{message} (see {self.prog} --help)")


def _parser() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The parser of the command line, and that of its graph command."""
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
        'with "-" goes last, after "--": autodiff graph --at x=1 -- "-x*x". '
        'Example: autodiff graph "log(x1) + x1*x2 - sin(x2)" --at x1=2 x2=5 -o f.svg',
    )
    graph.add_argument("expression", nargs="?", help='for example "log(x1) + x1*x2 - sin(x2)"')
    graph.add_argument(
        "--at",
        nargs="+",
        action="extend",
        default=[],
        metavar="NAME=VALUE",
        help="the value of each variable, e.g. --at x1=2 x2=5",
    )
    graph.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write the graph here: FILE.svg (a picture), FILE.dot or FILE.gv (DOT source), FILE.html (a page "
        'that steps through the backward pass), or "-" for stdout',
    )
    graph.add_argument(
        "--format",
        choices=("svg", "dot"),
        help="what -o - writes: svg (the default) or dot (the DOT source); for a FILE, its name decides",
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
    return parser, graph


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
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        try:
            parser, graph = _parser()
            args, extras = parser.parse_known_args(argv)
        except SystemExit as done:  # --help and --version
            return done.code if isinstance(done.code, int) else EXIT_OK
        if args.command is None:
            raise _Exit("choose a command: graph (see autodiff --help)")
        _find_expression(args, argv, graph)
        if extras:
            raise _Exit(f"unrecognized arguments: {' '.join(extras)} (see autodiff graph --help)")
        code = _graph(args)
        _flush_stdout()  # here, so that a closed pipe or a full disk is reported below rather than at exit
        return code
    except _Exit as error:
        if isinstance(error, _OutputFailed):  # what stdout still holds would fail again at exit
            _silence_stdout()
        _complain(f"autodiff: error: {error}")
        return error.code
    except BrokenPipeError:  # the reader went away (| head): stop quietly, as the Python docs advise
        _silence_stdout()
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


def _find_expression(args: argparse.Namespace, argv: list[str], graph: argparse.ArgumentParser) -> None:
    """Take the expression from the end of --at when --at swallowed it; else say how to pass it."""
    if args.expression is not None:
        return
    if args.at and "=" not in args.at[-1]:  # autodiff graph --at x=1 "x*x"
        args.expression = args.at.pop()
        return
    options = {name for action in graph._actions for name in action.option_strings}
    dashed = [a for a in argv if a.startswith("-") and a != "--" and not _is_option(a, options)]
    hint = ""
    if dashed:  # argparse reads "-x" as an option, or even as "-o x"
        hint = (
            f'; {dashed[0]!r} was read as an option: an expression that starts with "-" goes last, after --, '
            f"as in autodiff graph --at {' '.join(map(shlex.quote, args.at or ['x=1']))} -- {shlex.quote(dashed[0])}"
        )
    raise _Exit(f"the following arguments are required: expression{hint} (see autodiff graph --help)")


def _is_option(arg: str, options: set[str]) -> bool:
    """Whether argparse took `arg` for one of `options` (--explain, --output=f.svg, or an abbreviation: --exp)."""
    name = arg.partition("=")[0]
    return name in options or (name.startswith("--") and any(o.startswith(name) for o in options))


def _stream(name: str) -> TextIO:
    """sys.stdout or sys.stderr; refused when the shell closed it (`>&-` makes it None)."""
    stream = getattr(sys, name)
    if stream is None:
        raise _OutputFailed(f"{name} is closed, so the results cannot be printed: redirect it (> /dev/null) instead")
    return stream


def _say(text: str, stream: TextIO) -> None:
    """Write a line of text; characters the stream's encoding lacks become ASCII stand-ins or escapes."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        text = text.translate(_ASCII).encode(encoding, "backslashreplace").decode(encoding)
    except LookupError:  # an encoding Python does not know: leave the text to the stream
        pass
    with _writing(stream):
        stream.write(text + "\n")


def _complain(text: str) -> None:
    """Print an error on stderr, if there is a stderr that can take it: the exit code says the rest."""
    try:
        _say(text, _stream("stderr"))
        sys.stderr.flush()
    except (_Exit, OSError, ValueError):
        pass


def _write_stdout(text: str) -> None:
    """Write SVG or DOT to stdout as UTF-8 (what both declare), whatever the terminal's encoding."""
    stdout = _stream("stdout")
    buffer = getattr(stdout, "buffer", None)
    with _writing(stdout):
        if buffer is None:
            stdout.write(text)
            return
        stdout.flush()
        data = memoryview(text.encode("utf-8"))
        # Unbuffered (python -u, PYTHONUNBUFFERED), stdout's buffer is the raw file, whose write may take only
        # part of the data (when the reader of a pipe goes away mid-write): write the rest, which then fails.
        while data:
            written = buffer.write(data)  # None: a non-blocking stdout took nothing this time
            data = data[written or 0 :]
        buffer.flush()


def _flush_stdout() -> None:
    if sys.stdout is not None:
        with _writing(sys.stdout):
            sys.stdout.flush()


@contextlib.contextmanager
def _writing(stream: TextIO) -> Iterator[None]:
    """Turn a failed write on `stream` (a full disk, /dev/full) into a one-line error with exit code 1; a
    closed pipe stays a BrokenPipeError, which ends quietly."""
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as error:
        name = "stdout" if stream is sys.stdout else "stderr" if stream is sys.stderr else "the output"
        raise _OutputFailed(f"cannot write to {name}: {error.strerror or error}") from None


def _silence_stdout() -> None:
    """Point stdout at devnull, so that flushing it at exit does not fail again on the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (tests capture it), or closed (None)
        pass


def _graph(args: argparse.Namespace) -> int:
    from .expression import ExpressionError, parse_expression
    from .graph import GraphTooLargeError, RendererError, draw_dot, explain, render_svg, to_html

    fmt = _output_format(args.output, args.format)
    if fmt == "html" and (flags := [flag for flag, name in _PAGE_DECIDES.items() if getattr(args, name)]):
        raise _Exit(f"-o {args.output!r}: the page shows each gradient and term as the pass reaches it; "
                    f"leave out {flags[0]}")  # fmt: skip
    try:
        expression = parse_expression(args.expression)
    except ExpressionError as error:
        raise _Exit(f"{error}") from None
    values = _parse_at(args.at, expression.variables)
    f = _root_name(expression.variables)
    try:
        out, leaves = expression.evaluate(values)
        if not any(out is leaf for leaf in leaves.values()):  # a lone variable keeps its name
            out.label = f
        out.backward()
    except ExpressionError as error:
        raise _Exit(f"{error}") from None
    except (ArithmeticError, ValueError) as error:  # a derivative undefined at this point, e.g. sqrt at 0
        raise _Exit(f"{error}") from None

    to_stdout = args.output == "-"
    report = _stream("stderr" if to_stdout else "stdout")
    point = ", ".join(f"{name}={_number(v)}" for name, v in values.items())
    _say(f"{f}({point}) = {out.data!r}", report)
    for name, leaf in leaves.items():
        _say(f"d{f}/d{name} = {leaf.grad!r}", report)
    if args.explain:
        for leaf in leaves.values():
            _say(str(explain(leaf, out)), report)
    if args.output is None:
        return EXIT_OK

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
        if fmt == "html":
            text = to_html(out, args.renderer, rankdir=args.rankdir, max_nodes=args.max_nodes, depth=args.depth)
        else:
            text = graph.source if fmt == "dot" else render_svg(graph.source, args.renderer)
    except GraphTooLargeError as error:
        raise _Exit(
            f"the graph has {error.n_nodes} nodes, more than --max-nodes {error.max_nodes}: "
            "pass --depth N to draw only the N ops nearest the result, or raise --max-nodes"
        ) from None
    except RendererError as error:  # in the command line's words: --renderer dot, not renderer='dot'
        message = str(error)
        for api, option in _OPTION_NAMES.items():
            message = message.replace(api, option)
        raise _Exit(message, EXIT_FAILED) from None
    if to_stdout:
        _write_stdout(text)
        return EXIT_OK
    try:
        Path(args.output).write_text(text, encoding="utf-8")
    except OSError as error:
        raise _Exit(f"cannot write {args.output!r}: {error.strerror or error}", EXIT_FAILED) from None
    _say(f"wrote {args.output}", report)
    return EXIT_OK


def _output_format(output: str | None, fmt: str | None) -> str:
    """svg or dot: from the name of the -o FILE, else --format; refuse names that promise another format."""
    if output is None or output == "-":
        return fmt or "svg"
    by_name = _FORMATS.get(Path(output).suffix.lower())
    if by_name is None:
        raise _Exit(
            f"-o {output!r}: the file name must end in .svg (the picture) or .dot/.gv (DOT source), or .html (a "
            "page that steps through the backward pass); "
            "other formats (.png, .pdf) are not written: convert the SVG"
        )
    if fmt is not None and fmt != by_name:
        raise _Exit(f"--format {fmt} does not match -o {output!r}, which means {by_name}")
    return by_name


def _root_name(variables: list[str]) -> str:
    """A name for the expression's value that no variable has: f, else g, h, f1, f2, ..."""
    candidates = itertools.chain(["f", "g", "h"], (f"f{i}" for i in itertools.count(1)))
    return next(name for name in candidates if name not in variables)


def _parse_at(items: list[str], variables: list[str]) -> dict[str, float]:
    """{name: value} from ["x1=2", "x2=5"], checked against the expression's variables."""
    from .expression import FUNCTIONS

    values: dict[str, float] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name, text = unicodedata.normalize("NFKC", name.strip()), text.strip()  # as Python reads the expression
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
            known = f"its variables: {', '.join(variables)}" if variables else "it has no variables"
            raise _Exit(f"--at: {name!r} does not appear in the expression ({known})")
    return {name: values[name] for name in variables}


def _number(x: float) -> str:
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)
