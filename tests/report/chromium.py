"""Headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``), for tests.

No browser-driver package is needed: Chromium reads JSON commands, each ending in a NUL byte, from its
file descriptor 3 and writes answers and events to its descriptor 4.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--hide-scrollbars",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--force-device-scale-factor=1", "--remote-debugging-pipe")
# Puts the two pipe ends at descriptors 3 and 4 whatever numbers they had, then becomes Chromium.
SHIM = ("import fcntl, os, sys\n"
        "read, write = (fcntl.fcntl(int(fd), fcntl.F_DUPFD, 10) for fd in sys.argv[1:3])\n"
        "os.dup2(read, 3); os.dup2(write, 4)\n"
        "os.execv(sys.argv[3], sys.argv[3:])\n")


def find_chromium() -> str | None:
    return next((path for path in map(shutil.which, NAMES) if path), None)


class ChromiumError(RuntimeError):
    pass


class Browser:
    """One headless Chromium with one page; ``with Browser(path) as page: page.open(url)``."""

    def __init__(self, executable: str, width: int = 1280, height: int = 900, timeout: float = 60) -> None:
        self.executable, self.width, self.height, self.timeout = executable, width, height, timeout
        self._next_id = 0
        self._buffer = b""

    def __enter__(self) -> Browser:
        self._profile = tempfile.mkdtemp(prefix="chromium-profile-")
        to_browser, self._commands = os.pipe()
        self._answers, from_browser = os.pipe()
        arguments = [self.executable, *FLAGS, f"--user-data-dir={self._profile}",
                     f"--window-size={self.width},{self.height}", "about:blank"]
        self._log = Path(self._profile) / "chromium.log"
        with open(self._log, "wb") as log:
            self.process = subprocess.Popen([sys.executable, "-c", SHIM, str(to_browser), str(from_browser),
                                             *arguments], pass_fds=(to_browser, from_browser),
                                            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        os.close(to_browser)
        os.close(from_browser)
        try:
            target = self.send("Target.createTarget", url="about:blank")["targetId"]
            self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
            self.send("Page.enable", session=True)
            self.send("Emulation.setDeviceMetricsOverride", session=True, width=self.width, height=self.height,
                      deviceScaleFactor=1, mobile=False)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self._commands)
        os.close(self._answers)
        self.process.kill()
        self.process.wait(timeout=30)
        shutil.rmtree(self._profile, ignore_errors=True)

    def send(self, method: str, session: bool = False, **params: Any) -> dict[str, Any]:
        """Send one command and return its result (events that arrive meanwhile are dropped)."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read()
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise ChromiumError(f"{method}: {answer['error']}")
                return answer["result"]

    def wait_for(self, event: str) -> dict[str, Any]:
        while True:
            message = self._read()
            if message.get("method") == event:
                return message.get("params", {})

    def _read(self) -> dict[str, Any]:
        import select

        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._answers], [], [], self.timeout)
            block = os.read(self._answers, 1 << 20) if ready else b""
            if not block:
                log = self._log.read_text(errors="replace")[-2000:]
                raise ChromiumError(f"Chromium stopped answering ({'timed out' if not ready else 'exited'}): {log}")
            self._buffer += block
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def open(self, url: str) -> None:
        """Navigate and wait until the page (and its images) have loaded."""
        self.send("Page.navigate", session=True, url=url)
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", session=True, expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise ChromiumError(f"script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path) -> tuple[int, int]:
        """A PNG of the whole page (not only the window); returns its CSS size."""
        size = self.send("Page.getLayoutMetrics", session=True)["cssContentSize"]
        width, height = int(size["width"]), int(size["height"])
        shot = self.send("Page.captureScreenshot", session=True, format="png", captureBeyondViewport=True,
                         clip={"x": 0, "y": 0, "width": width, "height": height, "scale": 1})
        Path(path).write_bytes(base64.b64decode(shot["data"]))
        return width, height
