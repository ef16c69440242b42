"""A program in a pseudo-terminal, driven by what its screen says (for Claude Code's interactive mode).

`Terminal` starts the program with its own terminal (a fixed size), reads everything it draws in a
thread, and `wait_for(text)` waits until `text` has been drawn: escape sequences and whitespace are taken
out of both first, since an interactive UI moves the cursor between words instead of printing spaces.
`send` types keys (UP and ENTER below).  Closing kills the program's whole process group.
"""

from __future__ import annotations

import fcntl
import os
import re
import signal
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

ESCAPES = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78]")
UP = "\x1b[A"
DOWN = "\x1b[B"
ENTER = "\r"
ROWS, COLUMNS = 50, 160


def flat(text: str) -> str:
    """`text` without whitespace, lower case: how screen text is compared."""
    return "".join(text.split()).lower()


class Terminal:
    def __init__(self, command: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> None:
        leader, follower = os.openpty()
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        self.process = subprocess.Popen(
            list(command), cwd=cwd, env=dict(env), stdin=follower, stdout=follower, stderr=follower, start_new_session=True
        )
        os.close(follower)
        self._leader = leader
        self._drawn = bytearray()
        self._seen = 0
        """How much of the screen text earlier waits have consumed."""
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self._leader, 65536)
            except OSError:
                return
            if not chunk:
                return
            with self._lock:
                self._drawn.extend(chunk)

    def screen(self) -> str:
        """Everything drawn so far, escape sequences taken out."""
        with self._lock:
            return ESCAPES.sub(b"", bytes(self._drawn)).decode(errors="replace")

    def wait_for(self, *texts: str, timeout: float = 60.0) -> str:
        """Wait until one of `texts` is drawn after what the last wait found; which one.  Fails with the screen."""
        wanted = [flat(text) for text in texts]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            drawn = flat(self.screen())
            for text, flattened in zip(texts, wanted, strict=True):
                found = drawn.find(flattened, self._seen)
                if found >= 0:
                    self._seen = found + len(flattened)
                    return text
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"the terminal never showed {texts!r}; it shows (tail):\n{self.screen()[-4000:]}")

    def send(self, keys: str, pause: float = 0.4) -> None:
        os.write(self._leader, keys.encode())
        time.sleep(pause)

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        os.close(self._leader)
        self._reader.join(timeout=5)
