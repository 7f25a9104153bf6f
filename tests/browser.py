"""Headless Chromium for the tests, driven over the Chrome DevTools Protocol on a pipe (no extra package).

Chromium reads commands from file descriptor 3 and writes replies and events to
4, one JSON message per NUL-terminated chunk (--remote-debugging-pipe). Nothing
is downloaded: the tests use Debian's `chromium` (or $AUTODIFF_CHROMIUM) and
skip where it is missing.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

# Flags that work in a container as root, with no network, no GPU and no desktop session.
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio", "--remote-debugging-pipe",
]  # fmt: skip
TIMEOUT = 30.0
# Runs Chromium with the two pipe ends at descriptors 3 and 4, where it looks for them. They go through
# descriptors >= 10 first, so that neither end is overwritten when one of them is 3 or 4 already.
_AT_3_AND_4 = """
import fcntl, os, sys
ends = [int(fd) for fd in sys.argv[1:3]]
high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in ends]
for fd in ends:
    os.close(fd)
for target, fd in zip((3, 4), high):
    os.dup2(fd, target)
    os.close(fd)
os.execv(sys.argv[3], sys.argv[3:])
"""


def chromium_path() -> str | None:
    """The Chromium executable: $AUTODIFF_CHROMIUM, else chromium or chromium-browser on PATH."""
    return os.environ.get("AUTODIFF_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(
        chromium_path() is None, reason="no Chromium (apt-get install chromium, or set AUTODIFF_CHROMIUM)"
    ),
]


def needs_browser(test):
    """Mark a test that runs headless Chromium; it is skipped where Chromium is not installed."""
    for mark in BROWSER_MARKS:
        test = mark(test)
    return test


class Browser:
    """One headless Chromium with one page; `with Browser() as b: b.open(url) ...`."""

    def __init__(self, width: int = 1200, height: int = 800) -> None:
        executable = chromium_path()
        if executable is None:
            raise RuntimeError("no Chromium found")
        self._profile = tempfile.TemporaryDirectory(prefix="autodiff-chromium-")
        commands_read, self._commands = os.pipe()
        self._replies, replies_write = os.pipe()
        args = [executable, *FLAGS, f"--user-data-dir={self._profile.name}", "about:blank"]
        self._process = subprocess.Popen(
            [sys.executable, "-c", _AT_3_AND_4, str(commands_read), str(replies_write), *args],
            pass_fds=(commands_read, replies_write),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(commands_read)
        os.close(replies_write)
        self._buffer = b""
        self._next_id = 0
        self._unanswered_id = 1 << 30  # commands sent without waiting for their reply (the protocol ids are int32)
        self.events: list[dict] = []
        self.attached: dict[str, dict] = {}  # session id -> target info, once watch_workers_and_frames() is on
        self._worlds: dict[tuple[str, str], int] = {}  # (frame, loader) -> the tests' execution context in it
        target = self.command("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        attached = self.command("Target.attachToTarget", {"targetId": target, "flatten": True}, session=False)
        self._session = attached["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.command(f"{domain}.enable")
        self.command("Emulation.setDeviceMetricsOverride",
                     {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})  # fmt: skip

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.command("Browser.close", session=False)
        except (OSError, EOFError, TimeoutError, RuntimeError):
            pass
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        for fd in (self._commands, self._replies):
            try:
                os.close(fd)
            except OSError:
                pass
        self._profile.cleanup()

    def watch_workers_and_frames(self) -> None:
        """From now on, attach to each worker and out-of-process frame the page starts (a sandboxed iframe is
        one): their requests, console and errors join `events`."""
        self.command("Target.setAutoAttach", {"autoAttach": True, "waitForDebuggerOnStart": True, "flatten": True})

    def frames(self) -> list[tuple[str, int | None]]:
        """The page's child frames, for `evaluate(..., frame=...)`: an out-of-process one (Chromium may isolate a
        sandboxed iframe) by its attached session, an in-process one by a world of the tests' own in it."""
        found: list[tuple[str, int | None]] = [(sid, None) for sid, info in self.attached.items()
                                               if info["type"] == "iframe"]  # fmt: skip
        for child in self.command("Page.getFrameTree")["frameTree"].get("childFrames", []):
            key = (child["frame"]["id"], child["frame"]["loaderId"])  # a new document, a new world
            if key not in self._worlds:
                try:
                    world = self.command("Page.createIsolatedWorld", {"frameId": key[0], "worldName": "tests"})
                except RuntimeError:  # out of process: attached above
                    continue
                self._worlds[key] = world["executionContextId"]
            found.append((self._session, self._worlds[key]))
        return found

    # --- the protocol ------------------------------------------------------------------------------------
    def command(self, method: str, params: dict | None = None, session: bool | str = True) -> dict:
        """Send one command (to the page, the browser with session=False, or an attached target by its session
        id) and return its result; events that arrive meanwhile go to `events`."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self._session if session is True else session
        os.write(self._commands, json.dumps(message).encode("utf-8") + b"\0")
        while True:
            reply = self._receive(TIMEOUT)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def _receive(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._replies], [], [], max(left, 0))
            if not ready:
                raise TimeoutError("Chromium did not answer")
            chunk = os.read(self._replies, 1 << 20)
            if not chunk:
                raise EOFError("Chromium closed the pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message = json.loads(raw)
        method = message.get("method")
        if method == "Target.attachedToTarget":  # it waits for us: watch it, then let it run
            session = message["params"]["sessionId"]
            self.attached[session] = message["params"]["targetInfo"]
            for domain in ("Runtime", "Log", "Network"):
                self._send_unanswered(f"{domain}.enable", session)
            self._send_unanswered("Runtime.runIfWaitingForDebugger", session)
        elif method == "Target.detachedFromTarget":
            self.attached.pop(message["params"]["sessionId"], None)
        return message

    def _send_unanswered(self, method: str, session: str) -> None:
        """Send a command whose reply is not waited for (it lands in `events`, with an id no command waits for)."""
        self._unanswered_id += 1
        message = {"id": self._unanswered_id, "method": method, "params": {}, "sessionId": session}
        os.write(self._commands, json.dumps(message).encode("utf-8") + b"\0")

    def wait_for_event(self, method: str, timeout: float = TIMEOUT) -> dict:
        for i, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            event = self._receive(max(deadline - time.monotonic(), 0))
            if event.get("method") == method:
                return event
            self.events.append(event)

    # --- what the tests do -------------------------------------------------------------------------------
    def open(self, url: str | Path) -> None:
        """Load a page (a path or a URL) and wait until its script has run."""
        if isinstance(url, Path):
            url = url.resolve().as_uri()
        # From about:blank, so that opening the same page at another #step loads it anew (a change of the
        # fragment alone would only scroll, with no load event).
        for address in ("about:blank", url):
            self.events.clear()
            self.command("Page.navigate", {"url": address})
            self.wait_for_event("Page.loadEventFired")

    def evaluate(self, expression: str, frame: tuple[str, int | None] | None = None):
        """The value of a JavaScript expression in the page, or in one of its `frames()` (awaited if a promise)."""
        params = {"expression": expression, "returnByValue": True, "awaitPromise": True}
        session, context = frame or (self._session, None)
        if context is not None:
            params["contextId"] = context
        result = self.command("Runtime.evaluate", params, session)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def press(self, key: str) -> None:
        """Press and release a key (ArrowRight, ArrowLeft, Home, End) in the page."""
        codes = {"ArrowLeft": 37, "ArrowRight": 39, "Home": 36, "End": 35}
        for kind in ("keyDown", "keyUp"):
            self.command("Input.dispatchKeyEvent",
                         {"type": kind, "key": key, "code": key, "windowsVirtualKeyCode": codes[key]})  # fmt: skip

    def screenshot(self, path: Path) -> None:
        data = self.command("Page.captureScreenshot", {"format": "png"})["data"]
        path.write_bytes(base64.b64decode(data))

    def errors(self) -> list[str]:
        """Script errors, console errors and failed loads seen so far."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(params["exceptionDetails"].get("exception", {}).get("description", "exception"))
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(" ".join(str(a.get("value", a.get("description"))) for a in params.get("args", [])))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                found.append(params["entry"].get("text", ""))
            elif method == "Network.loadingFailed":
                found.append(f"failed load: {params.get('errorText')}")
        return found

    def requests(self) -> list[str]:
        """The URLs the page asked for since it was opened."""
        return [e["params"]["request"]["url"] for e in self.events if e.get("method") == "Network.requestWillBeSent"]


def as_palette_png(path) -> None:
    """Rewrite a screenshot as a 256-colour PNG, as the gallery's other pictures are kept (a fraction of the size)."""
    from PIL import Image

    with Image.open(path) as image:
        quantized = image.convert("RGB").quantize(256, dither=Image.Dither.NONE)
    quantized.save(path, format="PNG", optimize=True)
