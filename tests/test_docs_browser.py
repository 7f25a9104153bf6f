"""The documentation site in a real browser: built with `mkdocs build --strict`, served on 127.0.0.1, opened in
headless Chromium.

Every page must render with no script or console error and load nothing from another host (the site
builds and reads without a network); the search index must be there and answer a query; the API page
of `Value` must show its docstring; the embedded step-through pages must run and step on a click; the
tutorial must show its stored outputs. Needs the docs extra (`pip install -e ".[docs]"`) and Chromium.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from browser import BROWSER_MARKS, Browser, as_palette_png

pytest.importorskip("mkdocs", reason="the docs extra is not installed (pip install -e '.[docs]')")

pytestmark = [*BROWSER_MARKS, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOT = ROOT / "demos" / "gallery" / "docs_home.png"
SCREENSHOT_SIZE = (1280, 800)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site, built as CI builds it: strict, so that a broken link, anchor, image or iframe fails here too."""
    folder = tmp_path_factory.mktemp("site")
    top_level = sorted(ROOT.iterdir())
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "true"}  # Material's notice about MkDocs 2; mkdocs is pinned to 1.6
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(folder)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    assert sorted(ROOT.iterdir()) == top_level  # the build writes nothing into the clone (no site/, no .cache/)
    return folder


@pytest.fixture(scope="module")
def base_url(site):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    with Browser(*SCREENSHOT_SIZE) as b:
        yield b


def assert_clean(browser: Browser, base_url: str) -> None:
    """No script error, no console error, no failed load, and nothing asked of another host."""
    assert browser.errors() == []
    elsewhere = [url for url in browser.requests() if not url.startswith((base_url, "data:", "about:"))]
    assert elsewhere == []


def wait_for(browser: Browser, expression: str, what: str):
    """The value of `expression` once it is truthy (a bound on waiting for the page's scripts, not a timing)."""
    deadline = time.monotonic() + 20
    while not (value := browser.evaluate(expression)):
        assert time.monotonic() < deadline, what
        time.sleep(0.1)
    return value


def test_the_home_page_renders_with_the_navigation_and_no_error(browser, base_url):
    browser.open(base_url + "index.html")
    assert browser.evaluate("document.querySelector('h1').firstChild.textContent") == "Getting started"
    nav = browser.evaluate("[...document.querySelectorAll('.md-nav__link')].map(a => a.textContent.trim())")
    for title in ("The engine", "Watching backward", "Benchmarks", "Gallery", "Value and Op"):
        assert title in nav
    images = browser.evaluate("[...document.querySelectorAll('article img')].map(i => [i.src, i.naturalWidth])")
    assert images and all(width > 0 for _, width in images)  # the lecture example's graph, from demos/gallery
    assert_clean(browser, base_url)


def test_the_home_page_screenshot_is_kept_in_the_gallery(browser, base_url):
    """AUTODIFF_UPDATE_SNAPSHOTS=1 takes it anew (demos/gallery/docs_home.png); otherwise it must be there."""
    browser.open(base_url + "index.html")
    if os.environ.get("AUTODIFF_UPDATE_SNAPSHOTS"):
        browser.screenshot(SCREENSHOT)
        as_palette_png(SCREENSHOT)
    png = SCREENSHOT.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == SCREENSHOT_SIZE


def test_every_page_of_the_site_loads_with_no_error_and_nothing_from_elsewhere(browser, base_url, site):
    pages = sorted(path.relative_to(site).as_posix() for path in site.rglob("*.html"))
    pages = [page for page in pages if not page.startswith(("steps/", "gallery/", "404"))]  # pages of the nav
    assert len(pages) >= 20
    for page in pages:
        browser.open(base_url + page)
        assert browser.errors() == [], page
        assert_clean(browser, base_url)


def test_the_search_index_exists_and_the_search_box_finds_a_page(browser, base_url, site):
    index = json.loads((site / "search" / "search_index.json").read_text(encoding="utf-8"))
    locations = {doc["location"] for doc in index["docs"]}
    assert {"index.html", "api/value.html#autodiff.Value", "watching-backward.html"} <= locations
    browser.open(base_url + "index.html")
    browser.evaluate("""(() => {
      const box = document.querySelector('input.md-search__input');
      box.focus();
      box.value = 'gradcheck';
      box.dispatchEvent(new Event('input', {bubbles: true}));
    })()""")
    found = wait_for(
        browser,
        "[...document.querySelectorAll('.md-search-result__item a')].map(a => a.getAttribute('href'))",
        "the search box found nothing for 'gradcheck'",
    )
    pages = {href.split("?")[0] + "#" + href.split("#")[-1] for href in found if "#" in href}  # ?h= highlights
    assert base_url + "api/functions.html#autodiff.gradcheck" in pages, found
    assert_clean(browser, base_url)


def test_the_api_page_of_value_shows_its_docstring_and_members(browser, base_url):
    browser.open(base_url + "api/value.html")
    heading = browser.evaluate("document.getElementById('autodiff.Value').textContent")
    assert "Value" in heading
    text = browser.evaluate("document.querySelector('article').innerText")
    assert "A scalar that remembers how it was computed." in text
    for member in ("autodiff.Value.backward", "autodiff.Value.explain_grad", "autodiff.Op"):
        assert browser.evaluate(f"document.getElementById('{member}') !== null"), member
    assert_clean(browser, base_url)


# The step-through page inside the iframe (same origin): its counter, its words, and where its forward button is.
FRAME = "document.querySelector('iframe[src^=\"steps/lecture_example.html\"]')"
FRAME_STATE = f"""(() => {{
  const doc = {FRAME}.contentDocument;
  return {{counter: doc.getElementById('step-counter').textContent,
           narration: doc.getElementById('narration').textContent}};
}})()"""
FORWARD_BUTTON_CENTRE = f"""(() => {{
  const frame = {FRAME};
  frame.scrollIntoView({{block: 'center', behavior: 'instant'}});
  const outer = frame.getBoundingClientRect();
  const button = frame.contentDocument.getElementById('step-forward').getBoundingClientRect();
  return [outer.left + frame.clientLeft + button.left + button.width / 2,
          outer.top + frame.clientTop + button.top + button.height / 2];
}})()"""


def click(browser: Browser, x: float, y: float) -> None:
    """A real mouse click at (x, y) of the viewport, as a user's."""
    for kind in ("mousePressed", "mouseReleased"):
        browser.command("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})


def test_the_embedded_step_through_page_runs_and_steps_on_a_click(browser, base_url):
    browser.open(base_url + "watching-backward.html")
    state = wait_for(browser, FRAME_STATE, "the embedded page's script did not run")
    assert state["counter"] == "step 5 of 8"  # the page opens at #step=5, the step the text describes
    assert "x1.grad = 0.5 + 1 × 5 = 5.5" in state["narration"]
    x, y = browser.evaluate(FORWARD_BUTTON_CENTRE)
    click(browser, x, y)
    state = wait_for(browser, f"(s => s.counter === 'step 6 of 8' && s)({FRAME_STATE})", "the click did not step")
    assert state["narration"].startswith("Step 6 of 8: visit x1")
    frames = browser.evaluate(
        "[...document.querySelectorAll('iframe')].map(f => [f.getAttribute('src'),"
        " f.contentDocument.getElementById('step-counter').textContent])"
    )
    assert [src.split("#")[0] for src, _ in frames] == [
        "steps/lecture_example.html", "steps/mlp_collapsed.html", "gallery/moons_neuron.html",
    ]  # fmt: skip
    assert all(counter.startswith("step ") for _, counter in frames)  # each page's script ran
    assert_clean(browser, base_url)


def test_the_tutorial_is_rendered_with_its_stored_outputs(browser, base_url):
    browser.open(base_url + "tutorial.html")
    assert browser.evaluate("document.querySelector('h1').textContent").startswith("From a derivative to a trained")
    outputs = browser.evaluate("document.querySelectorAll('.jp-OutputArea-output').length")
    pictures = browser.evaluate(
        "[...document.querySelectorAll('.jp-OutputArea-output img')].filter(i => i.naturalWidth > 0).length"
    )
    assert outputs >= 20 and pictures >= 4  # the printed checks, and the graphs and plots stored in the notebook
    text = browser.evaluate("document.querySelector('article').innerText")
    assert "11.652071455223084" in text  # the lecture example's f, as the notebook printed it
    assert_clean(browser, base_url)
