"""One progress line on a terminal for the CLI's long commands: an ingest's reading, validating and writing,
an export's or import's rows; each phase with its own count, rate and ETA (tqdm's).

It is drawn only when its stream is a terminal: piped into a file or a CI log, a command prints its results
and nothing else. Updates come as fast as the work goes (after each file read, each thousand entities
validated); the line is redrawn at most every `min_interval` seconds, so drawing never costs the work time.
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import IO, Any


class ProgressDisplay:
    def __init__(self, stream: IO[str] | None = None, min_interval: float = 0.1) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.min_interval = min_interval
        self.phase: str | None = None
        self.drawn_at = 0.0
        self.bar: Any = None

    def __enter__(self) -> ProgressDisplay:
        from tqdm import tqdm

        # disable=None: tqdm draws only on a terminal. leave=False: the line goes when the work is done. The
        # size is Python's reading of the terminal (COLUMNS/LINES, else 80x24 where the terminal tells none):
        # tqdm's own reads -1 rows from a terminal without a size and then draws nothing.
        size = shutil.get_terminal_size()
        self.bar = tqdm(total=0, file=self.stream, disable=None, leave=False, ncols=size.columns, nrows=size.lines)
        return self

    def __exit__(self, *_: object) -> None:
        self.bar.close()

    @property
    def shown(self) -> bool:
        return not self.bar.disable

    def reading(self, files_read: int, files_known: int, documents: int) -> None:
        """A catalog read: files read of those found so far (Locations may add more), documents parsed."""
        self._show("reading", files_read, files_known, "files", f"{documents:,} documents")

    def syncing(self, done: int, total: int, phase: str) -> None:
        """A sync's phase (`graphsvc.sync.Progress`): validating, writing or removing entities."""
        self._show(phase, done, total, "entities")

    def rows(self, done: int, total: int, doing: str | None = None) -> None:
        """An export's or import's rows (`graphsvc.portable.Progress`)."""
        self._show(doing or "rows", done, total, "rows")

    def _show(self, phase: str, done: int, total: int, unit: str, note: str | None = None) -> None:
        if not self.shown:
            return
        if phase != self.phase:  # a new phase: its own count, rate and ETA from here
            self.phase = phase
            self.bar.reset(total)
            self.bar.unit = unit
            self.bar.set_description_str(phase, refresh=False)
            self.drawn_at = 0.0
        self.bar.total = total
        self.bar.n = done
        if note is not None:
            self.bar.set_postfix_str(note, refresh=False)
        now = time.monotonic()
        if now - self.drawn_at >= self.min_interval or done >= total:
            self.drawn_at = now
            self.bar.refresh()
