"""A small progress printer for long management commands (no dependency: tqdm is not in the environment).

On a terminal it redraws one line (``label  1200/2000  60%``); into a file or a pipe it writes a line at every
tenth of the way, so a log stays short.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


class Progress:
    """Count steps of a job and show how far it is. Use as a context manager or call :meth:`close`."""

    def __init__(self, label: str, total: int, *, stream: Any) -> None:
        self.label, self.total, self.stream = label, max(total, 0), stream
        self.done = 0
        self._tty = bool(stream is not None and getattr(stream, "isatty", lambda: False)())
        self._next_tenth = 1
        self._started = time.monotonic()

    def advance(self, steps: int = 1) -> None:
        self.done += steps
        if self.stream is None or not self.total:
            return
        if self._tty:
            self.stream.write(f"\r  {self.label}  {self.done}/{self.total}  {100 * self.done // self.total}%")
            self.stream.flush()
            return
        reached = min(10, self.done * 10 // self.total)
        if reached >= self._next_tenth:
            self.stream.write(f"  {self.label}  {self.done}/{self.total}  {reached * 10}%\n")
            self._next_tenth = reached + 1

    def close(self) -> None:
        if self.stream is not None and self.total:
            elapsed = time.monotonic() - self._started
            if self._tty:
                self.stream.write(f"\r  {self.label}  {self.done}/{self.total}  done in {elapsed:.1f}s\n")
            else:
                self.stream.write(f"  {self.label}  done in {elapsed:.1f}s\n")
            self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def progress(items: Iterable[T], *, label: str, total: int, stream: Any) -> Iterator[T]:
    """Yield ``items`` while showing a progress line on ``stream`` (nothing when it is None)."""
    with Progress(label, total, stream=stream) as bar:
        for item in items:
            yield item
            bar.advance()
