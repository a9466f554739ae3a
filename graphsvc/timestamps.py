"""Instants in the store are INT64 microseconds since the Unix epoch, UTC.

One integer representation works the same way on both backends, sorts correctly, and makes the
half-open validity intervals `[valid_from, valid_to)` a pair of integer comparisons.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now_micros() -> int:
    """The current instant."""
    return time.time_ns() // 1000


def to_datetime(micros: int | None) -> datetime | None:
    """An aware UTC datetime for a stored instant (None stays None: an open interval end)."""
    if micros is None:
        return None
    return datetime.fromtimestamp(micros / 1_000_000, tz=UTC)


def from_datetime(value: datetime) -> int:
    """A stored instant for a datetime; naive datetimes are taken to be UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1_000_000)
