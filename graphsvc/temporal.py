"""Pure helpers for change over time: field-level diffs of documents and half-open interval arithmetic.

Instants are integers (UTC microseconds); an interval is `(start, end)` with `end` None while open.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Interval = tuple[int, int | None]


@dataclass(frozen=True)
class FieldChange:
    """One JSON path whose value differs: `before` is None when added, `after` None when removed."""

    path: str
    before: Any
    after: Any


def diff_documents(before: Any, after: Any, path: str = "") -> list[FieldChange]:
    """The added, removed and changed JSON paths between two documents, in path order.

    Mappings are compared key by key (`metadata.labels.tier`); lists of equal length element by element
    (`spec.dependsOn[1]`), lists of different lengths as one value, which reads better for short lists
    such as tags than a cascade of shifted elements.
    """
    if before == after:
        return []
    if isinstance(before, dict) and isinstance(after, dict):
        changes: list[FieldChange] = []
        for key in sorted(set(before) | set(after)):
            child = f"{path}.{key}" if path else str(key)
            if key not in before:
                changes.append(FieldChange(child, None, after[key]))
            elif key not in after:
                changes.append(FieldChange(child, before[key], None))
            else:
                changes.extend(diff_documents(before[key], after[key], child))
        return changes
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [
            c for i, (b, a) in enumerate(zip(before, after, strict=True)) for c in diff_documents(b, a, f"{path}[{i}]")
        ]
    return [FieldChange(path, before, after)]


def clip(interval: Interval, since: int, until: int) -> tuple[int, int] | None:
    """The part of `interval` inside [since, until), or None."""
    start, end = interval
    start, end = max(start, since), min(until if end is None else end, until)
    return (start, end) if start < end else None


def merge(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, with overlapping or touching intervals joined."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def subtract(base: list[tuple[int, int]], covered: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of `base` not covered by `covered` (both lists of closed-open intervals)."""
    gaps: list[tuple[int, int]] = []
    covered = merge(covered)
    for start, end in merge(base):
        cursor = start
        for c_start, c_end in covered:
            if c_end <= cursor or c_start >= end:
                continue
            if c_start > cursor:
                gaps.append((cursor, c_start))
            cursor = max(cursor, c_end)
        if cursor < end:
            gaps.append((cursor, end))
    return gaps


def intersect(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out = []
    for a_start, a_end in merge(a):
        for b_start, b_end in merge(b):
            start, end = max(a_start, b_start), min(a_end, b_end)
            if start < end:
                out.append((start, end))
    return merge(out)
