"""Measure the playground's first load in headless Chromium: bytes transferred and seconds until it is ready.

    python docs/playground/build.py && python docs/playground/measure.py --runs 5

Serves docs/playground/ on 127.0.0.1 (Python's http.server: no compression), opens index.html in a
fresh browser profile (an empty cache) for each run, and reports, per run, the bytes the page, its
worker and its frames received (Network.loadingFinished's encodedDataLength, headers included) and
the time from navigation until the page says it is ready (Python, the engine and Graphviz loaded).
A second load in the same profile, from the browser's cache, is timed too. Medians and ranges at
the end, and the size the same files would take gzipped (a server that compresses sends about that).
"""

from __future__ import annotations

import argparse
import functools
import gzip
import http.server
import json
import statistics
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "tests"))

from browser import Browser  # noqa: E402 - the tests' driver of headless Chromium, over the DevTools protocol

READY = "document.getElementById('loading').className"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".mjs": "text/javascript", ".js": "text/javascript", ".wasm": "application/wasm"}  # fmt: skip

    def log_message(self, *args) -> None:
        pass


def load(browser: Browser, url: str, timeout: float = 300.0) -> tuple[float, int, list[str]]:
    """Open url and wait until the page is ready: (seconds, bytes received, the URLs requested)."""
    started = time.monotonic()
    browser.open(url)
    while not browser.evaluate(READY):
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"not ready after {timeout} s")
        time.sleep(0.05)
    seconds = time.monotonic() - started
    if browser.evaluate(READY) != "ready":
        raise RuntimeError(browser.evaluate("document.getElementById('load-status').textContent"))
    stages = json.loads(browser.evaluate("document.body.dataset.stages"))
    print("  stages (s): " + ", ".join(f"{name} {value:.1f}" for name, value in stages.items()))
    time.sleep(0.5)  # the last loadingFinished events
    browser.evaluate("1")
    received = sum(e["params"]["encodedDataLength"] for e in browser.events
                   if e.get("method") == "Network.loadingFinished")  # fmt: skip
    return seconds, received, browser.requests()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not (HERE / "dist" / "manifest.json").exists():
        sys.exit("measure.py: build first: python docs/playground/build.py")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(HERE)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/index.html"
    first, sizes, again = [], [], []
    for run in range(args.runs):
        with Browser(1280, 900) as browser:
            browser.watch_workers_and_frames()
            seconds, received, urls = load(browser, url)
            outside = [u for u in urls if not u.startswith(url.rsplit("/", 1)[0]) and not u.startswith("data:")]
            cached, _, _ = load(browser, url)
        first.append(seconds)
        sizes.append(received)
        again.append(cached)
        print(f"run {run + 1}: first load {seconds:.1f} s, {received / 1e6:.2f} MB received, {len(urls)} requests, "
              f"{len(outside)} outside the origin; again from the cache {cached:.1f} s")  # fmt: skip
    server.shutdown()
    gzipped = sum(len(gzip.compress(path.read_bytes(), 6)) for path in (HERE / "dist").rglob("*") if path.is_file())
    print(f"first load: median {statistics.median(first):.1f} s (range {min(first):.1f}-{max(first):.1f}), "
          f"{statistics.median(sizes) / 1e6:.1f} MB; from the cache: median {statistics.median(again):.1f} s "
          f"(range {min(again):.1f}-{max(again):.1f}); dist/ gzipped: {gzipped / 1e6:.1f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
