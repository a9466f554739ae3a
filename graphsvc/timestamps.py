"""Instants in the store are INT64 microseconds since the Unix epoch, UTC.

One integer representation works the same way on both backends, sorts correctly, and makes the
half-open validity intervals `[valid_from, valid_to)` a pair of integer comparisons.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


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


def to_iso(micros: int) -> str:
    """An instant as ISO 8601 in UTC, exact to the microsecond (`2026-01-05T10:00:00Z`)."""
    value = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
    return value.isoformat().replace("+00:00", "Z")
