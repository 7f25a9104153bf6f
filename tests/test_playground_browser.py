"""The playground (docs/playground/) in headless Chromium: the engine itself in Pyodide, served from 127.0.0.1.

Each run builds the playground first (docs/playground/build.py, into a temporary folder) from this
working tree's engine: Pyodide and the WebAssembly Graphviz come from npm (kept in ~/.cache/autodiff/playground/
after the first run). Without npm and that cache, or without Chromium, the tests skip.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import importlib.util
import io
import json
import math
import os
import shutil
import struct
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from browser import BROWSER_MARKS, Browser, as_palette_png

from autodiff.cli import main as autodiff_command

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOT = ROOT / "demos" / "gallery" / "playground.png"
SCREENSHOT_SIZE = (1200, 900)
LOAD_TIMEOUT = 180.0  # seconds for Pyodide to load and import the engine (about 4 s here)
RUN_TIMEOUT = 60.0


def _load_build():
    spec = importlib.util.spec_from_file_location("playground_build", ROOT / "docs" / "playground" / "build.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


build = _load_build()
CACHED = all((build.CACHE / package.tarball).exists() for package in (build.PYODIDE, build.GRAPHVIZ_JS))

pytestmark = [
    *BROWSER_MARKS,
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("npm") is None and not CACHED,
        reason="no npm to fetch Pyodide for the playground's build (apt-get install npm)",
    ),
]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".mjs": "text/javascript", ".js": "text/javascript", ".wasm": "application/wasm"}  # fmt: skip

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The built playground served on 127.0.0.1: its base URL."""
    folder = tmp_path_factory.mktemp("playground")
    build.build(folder)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def page(site):
    """The playground, loaded once (about 4 s on an idle machine) for the tests that take it in turn."""
    with Browser(1280, 900) as browser:
        browser.watch_workers_and_frames()
        open_playground(browser, site)
        yield browser
        assert_only_its_own_origin(browser, site)


def open_playground(browser: Browser, site: str, fragment: str = "") -> None:
    browser.open(f"{site}/index.html{fragment}")
    wait_for(browser, "document.body.dataset.ready === 'true' || document.getElementById('loading').className",
             LOAD_TIMEOUT)  # fmt: skip
    assert browser.evaluate("document.getElementById('loading').className") == "ready", browser.evaluate(
        "document.getElementById('load-status').textContent"
    )


def wait_for(browser: Browser, expression: str, timeout: float = RUN_TIMEOUT):
    """Poll a JavaScript expression until it is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = browser.evaluate(expression)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"after {timeout} s, still false: {expression}")


def finished(browser: Browser, section: str) -> str:
    """Wait until the section's last run is done or failed, and say which."""
    return wait_for(browser, f"['done', 'error'].includes(document.getElementById('{section}').dataset.state) && "
                    f"document.getElementById('{section}').dataset.state")  # fmt: skip


def text(browser: Browser, element: str) -> str:
    return browser.evaluate(f"document.getElementById('{element}').textContent")


def run_expression(browser: Browser, expression: str, inputs: str) -> str:
    browser.evaluate(f"""(() => {{
      document.getElementById('expression').dataset.state = 'asked';
      document.getElementById('expression-text').value = {json.dumps(expression)};
      document.getElementById('expression-inputs').value = {json.dumps(inputs)};
      document.getElementById('expression-run').click();
    }})()""")
    return finished(browser, "expression")


def step_through_page(browser: Browser, title: str) -> tuple[str, int | None]:
    """The frame of the step-through page (a sandboxed iframe) whose title is `title`, once its script ran."""

    def find():
        for frame in browser.frames():
            with contextlib.suppress(RuntimeError):  # a frame that went away meanwhile
                if browser.evaluate("document.documentElement.dataset.ready && document.title", frame) == title:
                    return frame
        return None

    deadline = time.monotonic() + RUN_TIMEOUT
    while (frame := find()) is None:
        if time.monotonic() > deadline:
            titles = []
            for frame in browser.frames():
                try:
                    titles.append(browser.evaluate("document.title", frame))
                except RuntimeError as error:
                    titles.append(str(error)[:100])
            raise AssertionError(f"no step-through page titled {title!r}; the frames: {titles}")
        time.sleep(0.1)
    return frame


def assert_only_its_own_origin(browser: Browser, site: str) -> None:
    """Every request of the page, its worker and its frames went to the playground's own server."""
    requests = browser.requests()
    assert any(url.endswith("/dist/pyodide/pyodide.asm.wasm") for url in requests)  # the worker's, watched too
    outside = [url for url in requests if not url.startswith(site + "/") and not url.startswith(("data:", "about:"))]
    assert outside == []
    assert browser.errors() == []


def cli_output(*argv: str) -> tuple[int, str, str]:
    """What `autodiff graph ...` prints here, in CPython: the reference the page is compared with."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = autodiff_command(["graph", *argv])
    return code, out.getvalue(), err.getvalue()


# --- the tests ---------------------------------------------------------------------------------------------


def test_the_lecture_example_gives_its_gradients_and_step_5_adds_5_to_x1_grad(page, site):
    assert finished(page, "expression") == "done"  # the example runs as soon as Python is ready
    lines = text(page, "expression-output").splitlines()
    f = float(lines[0].removeprefix("f(x1=2, x2=5) = "))
    assert f == pytest.approx(math.log(2) + 2 * 5 - math.sin(5), rel=1e-14) and round(f, 6) == 11.652071
    assert lines[1] == "df/dx1 = 5.5"
    assert float(lines[2].removeprefix("df/dx2 = ")) == pytest.approx(2 - math.cos(5), rel=1e-14)
    assert "x1 * x2  (operand 1)              1  ×                 5  =     5" in text(page, "expression-explain")
    frame = step_through_page(page, "backward pass of f")
    assert text_in(page, frame, "step-counter") == "step 0 of 8"
    for _ in range(5):
        page.evaluate("document.getElementById('step-forward').click()", frame)
    assert text_in(page, frame, "step-counter") == "step 5 of 8"
    assert "x1.grad = 0.5 + 1 × 5 = 5.5" in text_in(page, frame, "narration")
    assert "#expr=ln%28x1%29+%2B+x1*x2+-+sin%28x2%29&at=x1%3D2+x2%3D5" == page.evaluate("location.hash")


def text_in(browser: Browser, frame: tuple[str, int | None], element: str) -> str:
    return browser.evaluate(f"document.getElementById('{element}').textContent", frame)


def test_the_address_fragment_shares_the_expression_and_its_inputs(site):
    with Browser(1280, 900) as browser:
        browser.watch_workers_and_frames()
        open_playground(browser, site, "#expr=" + quote("max(x, y) * x") + "&at=" + quote("x=3, y=-1"))
        assert finished(browser, "expression") == "done"
        assert browser.evaluate("document.getElementById('expression-text').value") == "max(x, y) * x"
        _, printed, _ = cli_output("--at", "x=3", "y=-1", "--", "max(x, y) * x")
        assert text(browser, "expression-output").splitlines() == printed.splitlines()[:3]
        assert printed.splitlines()[:3] == ["f(x=3, y=-1) = 9.0", "df/dx = 6.0", "df/dy = 0.0"]
        assert_only_its_own_origin(browser, site)


def test_a_bad_expression_shows_the_command_lines_one_line_error_and_the_page_goes_on(page):
    assert finished(page, "expression") == "done"
    for expression, inputs in [("x1 +* 2", "x1=2"), ("log(x)", "x=-1"), ("x * y", "x=1")]:
        assert run_expression(page, expression, inputs) == "error"
        code, _, expected = cli_output("--at", *inputs.split(), "--", expression)
        assert code == 2 and expected.count("\n") == 1
        assert text(page, "expression-error") == expected.strip()
        assert page.evaluate("document.getElementById('expression-page').hidden") is True
        assert text(page, "expression-output") == ""
    assert text(page, "expression-error") == "autodiff: error: no value for the variable 'y': add y=VALUE to --at"
    assert run_expression(page, "x * x", "x=4") == "done"
    assert text(page, "expression-output") == "f(x=4) = 16.0\ndf/dx = 8.0"
    assert page.evaluate("document.getElementById('expression-error').hidden") is True


def run_cell(browser: Browser, code: str | None = None) -> str:
    if code is not None:
        browser.evaluate(f"document.getElementById('cell-code').value = {json.dumps(code)}")
    wait_for(browser, "!document.getElementById('cell-run').disabled")
    browser.evaluate("document.getElementById('cell').dataset.state = 'asked'")
    browser.evaluate("document.getElementById('cell-run').click()")
    return finished(browser, "cell")


def test_the_user_op_cell_runs_and_shows_its_graph(page):
    assert run_cell(page) == "done"  # the cell as the page offers it: softsign, a user Op
    output = text(page, "cell-output")
    assert "y = 2.25   dy/dx = 0.9375" in output  # 3 · 3/4, and 3/4 + 3 · 1/(1 + 3)^2
    assert "gradcheck(<lambda>): ok" in output
    frame = step_through_page(page, "backward pass of y")
    to_the_end = "const f = document.getElementById('step-forward'); while (!f.disabled) f.click()"
    page.evaluate(to_the_end, frame)
    assert "softsign" in page.evaluate("document.getElementById('graph').textContent", frame)
    assert "grad 0.9375" in page.evaluate("document.getElementById('graph').textContent", frame)


def test_an_error_in_a_cell_is_one_line_with_its_line_number(page):
    assert run_cell(page, "from autodiff import Value\nx = Value(-1.0)\nprint('before')\nx.log()\n") == "error"
    assert text(page, "cell-error") == "line 4: ValueError: log: input must be > 0, got -1.0"
    assert text(page, "cell-output") == "before\n"
    assert run_cell(page, "def f(:\n  pass\n") == "error"
    assert text(page, "cell-error") == "line 1: SyntaxError: invalid syntax"
    assert run_cell(page, "print(sum(range(4)))") == "done" and text(page, "cell-output") == "6\n"


def test_fit_runs_in_a_cell_with_the_shipped_tqdm(page):
    code = (
        "import nn\n"
        "X, y = nn.data.make_moons(40, noise=0.1, seed=0)\n"
        "model = nn.MLP(2, [8, 1], seed=0)\n"
        "history = nn.train.fit(model, X, y, loss='binary_cross_entropy', optimizer=nn.optim.Adam(model.parameters(),"
        " lr=0.05), epochs=3, batch_size=10, seed=0, progress=False)\n"
        "print(len(history.loss), history.loss[-1] < history.loss[0])\n"
    )
    assert run_cell(page, code) == "done", text(page, "cell-error")
    assert text(page, "cell-output") == "3 True\n"


def train_state(browser: Browser) -> tuple[int, float]:
    data = browser.evaluate("({...document.getElementById('train').dataset})")
    return int(data["step"]), float(data["loss"])


def click_and_wait(browser: Browser, button: str) -> None:
    browser.evaluate(f"document.getElementById('train').dataset.state = 'asked';"
                     f"document.getElementById('{button}').click()")  # fmt: skip
    assert finished(browser, "train") == "done"


def test_twenty_training_steps_lower_the_loss_and_reset_starts_again(page):
    click_and_wait(page, "train-reset")
    step, start = train_state(page)
    assert step == 0
    assert 0.5 < start < 1.0  # about ln 2: the untrained network says 1/2 everywhere
    for _ in range(20):
        click_and_wait(page, "train-step")
    step, loss = train_state(page)
    assert step == 20 and loss < 0.9 * start
    assert page.evaluate("document.getElementById('train').dataset.batches") == "20"  # one loss per step drawn
    assert text(page, "train-status").startswith(f"step 20: loss {loss:.4f}, accuracy ")
    click_and_wait(page, "train-reset")
    assert train_state(page) == (0, start)  # the same seed, the same network


def test_play_trains_in_the_worker_while_the_page_answers_and_pause_stops_it(page):
    click_and_wait(page, "train-reset")
    page.evaluate("document.getElementById('train-play').click()")
    assert page.evaluate("document.getElementById('train-play').getAttribute('aria-pressed')") == "true"
    # Each of these answers comes from the page's main thread while the worker computes a chunk of steps.
    seen_running = wait_for(page, "document.getElementById('train').dataset.state === 'running'")
    assert seen_running
    wait_for(page, "Number(document.getElementById('train').dataset.step) >= 15")
    page.evaluate("document.getElementById('train-play').click()")
    wait_for(page, "document.getElementById('train').dataset.state === 'done'")
    step, loss = train_state(page)
    assert step % 5 == 0 and step >= 15  # five steps between drawings
    time.sleep(0.5)
    assert train_state(page) == (step, loss)  # paused
    assert page.evaluate("document.getElementById('train-play').textContent") == "Play"


def test_a_cell_that_never_ends_can_be_stopped_and_python_restarts(page):
    page.evaluate("document.getElementById('cell-code').value = 'while True:\\n    pass\\n'")
    page.evaluate("document.getElementById('cell-run').click()")
    wait_for(page, "!document.getElementById('restart').hidden", timeout=30)  # offered after 3 s
    assert page.evaluate("document.getElementById('cell').dataset.state") == "running"
    page.evaluate("document.getElementById('restart').click()")
    assert finished(page, "cell") == "error"
    assert text(page, "cell-error") == "stopped: Python was restarted"
    wait_for(page, "document.body.dataset.ready === 'true'", LOAD_TIMEOUT)
    assert run_cell(page, "print(6 * 7)") == "done" and text(page, "cell-output") == "42\n"


def test_the_screenshot_of_the_gallery_is_the_playground_at_step_5(site):
    """AUTODIFF_UPDATE_SNAPSHOTS=1 takes it anew (demos/gallery/playground.png); otherwise it must be there."""
    if os.environ.get("AUTODIFF_UPDATE_SNAPSHOTS"):
        width, height = SCREENSHOT_SIZE
        with Browser(width, height) as shooter:
            shooter.watch_workers_and_frames()
            open_playground(shooter, site)
            assert finished(shooter, "expression") == "done"
            frame = step_through_page(shooter, "backward pass of f")
            for _ in range(5):
                shooter.evaluate("document.getElementById('step-forward').click()", frame)
            assert "x1.grad = 0.5 + 1 × 5 = 5.5" in text_in(shooter, frame, "narration")
            # the whole graph in the picture: fit to width on (it may be on already, for a graph wider than its box)
            shooter.evaluate("(b => b.checked || b.click())(document.getElementById('fit-width'))", frame)
            shooter.screenshot(SCREENSHOT)
            as_palette_png(SCREENSHOT)
            assert_only_its_own_origin(shooter, site)
    png = SCREENSHOT.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == SCREENSHOT_SIZE
