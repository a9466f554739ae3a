"""A store's state as two runs of the same syncs agree on it, compared row by row.

Two stores that went through the same syncs differ only in what the clock and `uuid4` gave them: instants
(`valid_from`, `valid_to`, `at`, `created_at`, `updated_at`, version starts, the `@<micros>` of version keys)
and sync run ids (in provenance columns and inside batch, event and error ids), and the directory the
catalog was read from. `full_state` maps each distinct instant to its rank among the store's instants, each
run id to the rank of its start, and the catalog directory to `<root>`; everything else is kept as stored,
rows sorted. Two syncs at two instants give ranks 0 and 1 in every store, however long apart they ran.

`present_state` is what the catalog says now (present entities, open edges, the latest run's errors),
without history: it is equal for two stores whose present is the same catalog, whatever each went through
before.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphsvc.store import GraphStore, open_store
from tests.suite_settings import suite_settings

STATE_TABLES = ("entities", "versions", "edges", "change_events", "change_batches", "sync_errors", "source_files")
"""Compared row by row. `source_files` (the digest cache) too: a digest committed without the data it
stands for would make the next sync skip that file for good."""
INSTANT_COLUMNS = frozenset({"valid_from", "valid_to", "at", "created_at", "updated_at", "started_at", "finished_at"})
RUN_COLUMNS = frozenset({"sync_run", "closed_sync_run", "id", "batch"})
"""Columns that hold a sync run id, or an id built from one (`run:0001`, `run:0001:7`, `run:3`)."""
VERSION_KEY_COLUMNS = frozenset({"id", "version", "previous"})
"""Columns that hold a version key (`ref@<micros>`)."""
SPECIAL_TEXT = RUN_COLUMNS | VERSION_KEY_COLUMNS
_RUN_ID = re.compile(r"\b[0-9a-f]{32}\b")
_VERSION_INSTANT = re.compile(r"@(\d{10,})\b")

Row = tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class State:
    """Normalized rows per table, each table's rows sorted."""

    tables: dict[str, tuple[Row, ...]]

    def diff(self, other: State, limit: int = 3) -> list[str]:
        """What differs, table by table, with a few rows found only on each side; empty when equal."""
        out = []
        for table in sorted(self.tables.keys() | other.tables.keys()):
            mine, theirs = self.tables.get(table, ()), other.tables.get(table, ())
            if mine == theirs:
                continue
            only_mine = _sorted(set(mine) - set(theirs))
            only_theirs = _sorted(set(theirs) - set(mine))
            out.append(
                f"{table}: {len(mine)} rows against {len(theirs)}; {len(only_mine)} only here, "
                f"{len(only_theirs)} only there"
            )
            out += [f"  here:  {_short(row)}" for row in only_mine[:limit]]
            out += [f"  there: {_short(row)}" for row in only_theirs[:limit]]
        return out


def open_dir(store_dir: Path) -> GraphStore:
    """Open an embedded store directory as any process would (which marks runs left `running` interrupted)."""
    return open_store(suite_settings(store_dir=store_dir))


def full_state(store: GraphStore, root: Path | str) -> State:
    """Every row of `STATE_TABLES`, instants and run ids replaced by ranks, the catalog directory by `<root>`."""
    dumped = {table: store.rows(table) for table in STATE_TABLES}
    runs = {row["id"]: row["started_at"] for row in store.rows("sync_runs")}
    instants: set[int] = set()
    for rows in dumped.values():
        for row in rows:
            instants.update(v for c, v in row.items() if c in INSTANT_COLUMNS and v is not None)
            instants.update(row.get("version_starts") or ())
    rank = {t: i for i, t in enumerate(sorted(instants))}
    run_rank = {run: f"run#{rank.get(start, '?')}" for run, start in runs.items()}
    normalize = _Normalizer(str(root), rank, run_rank)
    tables = {table: _sorted(normalize.row(row) for row in rows) for table, rows in dumped.items()}
    return State(tables)


def present_state(store: GraphStore, root: Path | str) -> State:
    """What the catalog says now: present entities (content columns), open edges, the latest run's errors."""
    scrub = _Normalizer(str(root), {}, {})
    content = ("ref", "kind", "namespace", "name", "title", "description", "type", "lifecycle", "owner", "system")
    content += ("domain", "tags", "search", "document", "hash", "state", "location")
    entities = _sorted(scrub.row({c: e[c] for c in content}) for e in store.rows("entities") if e["state"] == "present")
    open_versions = _sorted(
        scrub.row({"ref": v["ref"], "hash": v["hash"], "document": v["document"]})
        for v in store.rows("versions")
        if v["valid_to"] is None
    )
    edge_columns = ("src", "type", "dst", "origin")
    edges = _sorted(scrub.row({c: x[c] for c in edge_columns}) for x in store.rows("edges") if x["valid_to"] is None)
    latest = set(store.latest_sync_run_ids())
    keep = ("location", "document_index", "line", "entity_ref", "category", "message")
    errors = _sorted(scrub.row({c: e[c] for c in keep}) for e in store.rows("sync_errors") if e["sync_run"] in latest)
    return State({"entities": entities, "open_versions": open_versions, "open_edges": edges, "errors": errors})


def sync_runs(store: GraphStore) -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in store.rows("sync_runs")}


class _Normalizer:
    def __init__(self, root: str, rank: dict[int, int], run_rank: dict[str, str]) -> None:
        self.root = root.rstrip("/")
        self.rank = rank
        self.run_rank = run_rank

    def row(self, row: dict[str, Any]) -> Row:
        """The row as (column, value) pairs in the table's column order; only the columns that need it are
        rewritten (a state holds some 10^4 rows: the common case, a plain value, stays cheap)."""
        out = []
        for column, value in row.items():
            if value is None:
                pass
            elif type(value) is str:
                if self.root and self.root in value:
                    value = value.replace(self.root, "<root>")
                if column in SPECIAL_TEXT:
                    value = self.text(column, value)
            elif column in INSTANT_COLUMNS and type(value) is int:
                value = f"t#{self.rank.get(value, value)}"
            elif column == "version_starts":
                value = tuple(f"t#{self.rank.get(v, v)}" for v in value)
            elif type(value) is list:
                value = tuple(value)
            out.append((column, value))
        return tuple(out)

    def text(self, column: str, value: str) -> str:
        if column in RUN_COLUMNS and self.run_rank:
            value = _RUN_ID.sub(lambda m: self.run_rank.get(m.group(0), m.group(0)), value)
        if column in VERSION_KEY_COLUMNS and self.rank and "@" in value:
            value = _VERSION_INSTANT.sub(lambda m: f"@t#{self.rank.get(int(m.group(1)), m.group(1))}", value)
        return value


def _sorted(rows: Iterable[Row]) -> tuple[Row, ...]:
    """Rows in a fixed order (by their text: columns may hold None beside strings)."""
    return tuple(sorted(rows, key=repr))


KEY_COLUMNS = ("id", "ref", "entity_ref", "src", "type", "dst", "origin", "location")
"""Shown first when a row is printed (a diff line is cut short)."""


def _short(row: Row, width: int = 240) -> str:
    values = dict(row)
    ordered = {c: values[c] for c in KEY_COLUMNS if c in values} | values
    text = json.dumps(ordered, default=str)
    return text if len(text) <= width else text[: width - 3] + "..."
