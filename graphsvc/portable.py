"""Portable files of a whole store: `catalog export FILE` writes one, `catalog import FILE` loads one into an
empty store of either engine. The way to back up, and the way from the embedded store to Neo4j.

The format, `catalog-graph-export` version 1, is gzip of JSON Lines, one JSON object per line, ASCII only
(other characters escaped):

    {"format": "catalog-graph-export", "version": 1, "schema_version": 4, "catalog_as_of": "...Z",
     "tables": {"sync_runs": 12, ...}}                                          the header: rows per table
    {"table": "sync_runs", "row": {"id": "...", "source": "...", ...}}          one line per row
    ...
    {"end": "catalog-graph-export", "tables": {"sync_runs": 12, ...}, "sha256": "..."}   the trailer

Rows come table by table in `TABLES` order (what a row refers to comes before it), each table in the code
point order of its key (`KEYS`), each row with the columns of `schema.DUMP_TABLES` in schema order, null
columns left out; "edges" are the relation edges (`schema.EDGE_DUMP_COLUMNS`). The HAS_VERSION edges are not
written: a version's `ref` is its edge. The trailer's sha256 is over every byte of the lines before it, the
header's included, and its counts must be the header's and the rows': a truncated, corrupted or edited file
is refused. Nothing depends on the engine or on the moment of the export, so equal stores give identical
bytes: `catalog_as_of` is the newest instant a sync run recorded, and the gzip header holds no time or name.

An import reads the file twice: once to check all of it (nothing is written when any of it is wrong), then
to write it, `SLICE_ROWS` rows per `Insert`. On SQLite the whole import is one transaction. On Neo4j, whose
transactions hold their writes in the server's memory, each slice commits: an import marker
(`schema.IMPORT_MARKER`) commits before the first and is removed after the last, and a store holding one
is refused by every command (`open_store`) until `catalog import` of the same file starts it over.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from graphsvc.store import GraphStore
from graphsvc.store.backend import Insert, Operation
from graphsvc.store.errors import StoreError
from graphsvc.store.schema import (
    DUMP_TABLES,
    EDGE_COLUMNS,
    IMPORT_MARKER,
    RELATION_EDGES,
    SCHEMA_VERSION,
    VERSION_EDGES,
)
from graphsvc.timestamps import now_micros, to_iso

FORMAT = "catalog-graph-export"
FORMAT_VERSION = 1
TABLES = (
    "sync_runs",
    "registered_locations",
    "source_files",
    "entities",
    "versions",
    "edges",
    "change_batches",
    "change_events",
    "sync_errors",
)
"""The tables of a file, in the order they are written and loaded: entities before the versions and edges
that refer to them, sync runs before the batches and errors of each run."""
COLUMNS: dict[str, dict[str, str]] = {
    **{name: {c.name: c.type for c in table.columns} for name, table in DUMP_TABLES.items()},
    "edges": {"src": "STRING", "type": "STRING", "dst": "STRING", **{c.name: c.type for c in EDGE_COLUMNS}},
}
"""Each table's columns and their types (`schema.Column.type`), in the order rows write them."""
KEYS: dict[str, tuple[str, ...]] = {
    **{name: (table.key,) for name, table in DUMP_TABLES.items()},
    "edges": tuple(COLUMNS["edges"]),
}
"""What a table's rows are ordered by: the key of a node table (unique); for an edge, which has none, all of
its columns (its ends, origin and start first), so that even equal-looking edges have one order."""
SLICE_ROWS = 5000
"""Rows per write when importing, and per progress report."""
COMPRESS_LEVEL = 6
"""zlib's default. Measured on the 10k-entity catalog's 70 MB of lines: level 9 is 6% smaller (4.31 MB against
4.58 MB) and compresses 2.3 times as long (1.15 s against 0.49 s); level 1 is 34% larger."""
MAX_LINE_BYTES = 256 << 20
"""A longer line is refused rather than read into memory (a stored document is at most 4 MiB)."""
ONE_TRANSACTION_ENGINES = frozenset({"sqlite"})
"""Engines whose whole import is one transaction (SQLite's WAL holds any size; a killed import leaves
nothing). Elsewhere each slice commits, between the import marker's commit and its removal."""
INT64 = (-(1 << 63), (1 << 63) - 1)

Progress = Callable[[int, int, str], None]
"""(rows done, rows in all, what is being done: "exporting", "checking", "importing")."""


class ExportFileError(ValueError):
    """A file that is not an intact export this version can read; the message says what is wrong with it."""


class ImportRefusedError(RuntimeError):
    """`catalog import` refused, having written nothing; the message (one line) says why and what to do."""


@dataclass(frozen=True)
class FileSummary:
    """What an export file holds, as its trailer (checked) says."""

    tables: dict[str, int]
    sha256: str
    catalog_as_of: str | None

    @property
    def rows(self) -> int:
        return sum(self.tables.values())

    def describe(self) -> str:
        """`12 sync runs, 1 registered location, ...`: the tables that hold rows."""
        return ", ".join(_counted(n, name) for name, n in self.tables.items() if n) or "no rows"


def _counted(n: int, table: str) -> str:
    name = table.replace("_", " ")
    if n == 1:
        name = {"entities": "entity", "change_batches": "change batch"}.get(table, name.removesuffix("s"))
    return f"{n} {name}"


# --- lines (pure) ----------------------------------------------------------------------------------------


def encode(value: dict[str, Any]) -> bytes:
    """One line of a file: compact JSON, ASCII only, and its newline."""
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=False).encode("ascii") + b"\n"


def header(tables: dict[str, int], catalog_as_of: int | None) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "schema_version": SCHEMA_VERSION,
        "catalog_as_of": to_iso(catalog_as_of) if catalog_as_of is not None else None,
        "tables": tables,
    }


def row_line(table: str, row: dict[str, Any]) -> bytes:
    """A row's line: its non-null columns, in the table's column order."""
    return encode({"table": table, "row": {c: row[c] for c in COLUMNS[table] if row.get(c) is not None}})


def trailer(tables: dict[str, int], sha256: str) -> dict[str, Any]:
    return {"end": FORMAT, "tables": tables, "sha256": sha256}


def sort_key(table: str) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """A row's place in its table: its `KEYS` in code point order (a null before any value)."""
    keys = KEYS[table]
    return lambda row: tuple((row.get(k) is not None, row.get(k)) for k in keys)


def newest_instant(sync_runs: Sequence[dict[str, Any]]) -> int | None:
    """The newest instant the sync runs recorded (the catalog's state as of which a file holds it)."""
    instants = [row[c] for row in sync_runs for c in ("started_at", "finished_at") if row.get(c) is not None]
    return max(instants, default=None)


def _is_string(value: Any) -> bool:
    return isinstance(value, str)


def _is_int64(value: Any) -> bool:
    return type(value) is int and INT64[0] <= value <= INT64[1]  # a JSON true is no integer here


FITS: dict[str, Callable[[Any], bool]] = {
    "STRING": _is_string,
    "INT64": _is_int64,
    "STRING[]": lambda value: isinstance(value, list) and all(map(_is_string, value)),
    "INT64[]": lambda value: isinstance(value, list) and all(map(_is_int64, value)),
}
"""Whether a JSON value (not null: null fits every column) can be stored in a column of each type."""


class FileChecker:
    """Checks a file line by line, holding only what the checks need (the entity refs, per-table counts, the
    running checksum), and says what the file holds once its trailer is read (`finish`)."""

    def __init__(self) -> None:
        self.sha256 = hashlib.sha256()
        self.lines = 0
        self.header: dict[str, Any] | None = None
        self.trailer: dict[str, Any] | None = None
        self.counts = dict.fromkeys(TABLES, 0)
        self.table = -1  # the position in TABLES of the table being read
        self.last_key: tuple[Any, ...] | None = None
        self.key = sort_key(TABLES[0])
        self.refs: set[str] = set()

    def line(self, line: bytes) -> None:
        self.lines += 1
        number = self.lines
        if self.trailer is not None:
            raise ExportFileError(f"it is corrupted (line {number} follows its trailer line)")
        if not line.endswith(b"\n"):
            raise ExportFileError(f"it is truncated (its line {number} is incomplete)")
        try:
            value = json.loads(line)
        except ValueError as error:  # JSONDecodeError, UnicodeDecodeError, integers of over 4,300 digits
            raise ExportFileError(f"it is corrupted (line {number} is not JSON: {error})") from None
        if not isinstance(value, dict):
            raise ExportFileError(f"it is corrupted (line {number} is not a JSON object)")
        if number == 1:
            self.header = _check_header(value)
        elif "end" in value:
            self.trailer = value
            return  # the checksum covers the lines before the trailer
        else:
            self._row(number, value)
        self.sha256.update(line)

    def _row(self, number: int, value: dict[str, Any]) -> None:
        where = f"line {number}"
        table, row = value.get("table"), value.get("row")
        if set(value) != {"table", "row"} or not isinstance(row, dict):
            raise ExportFileError(f"it is corrupted ({where} is neither a row nor the trailer)")
        if table not in COLUMNS:
            raise ExportFileError(f"{where} is a row of an unknown table {table!r}")
        position = TABLES.index(table)
        if position < self.table:
            raise ExportFileError(f"it is corrupted ({where}: a row of {table} after the rows of {TABLES[self.table]})")
        if position > self.table:
            self.table, self.last_key, self.key = position, None, sort_key(table)
        columns = COLUMNS[table]
        for column, cell in row.items():
            kind = columns.get(column)
            if kind is None:
                raise ExportFileError(f"{where} has an unknown column {column!r} of {table}")
            if cell is not None and not FITS[kind](cell):
                raise ExportFileError(f"{where}: {table}.{column} is not of type {kind}: {cell!r:.80}")
        required = ("src", "type", "dst") if table == "edges" else KEYS[table]
        missing = [c for c in required if row.get(c) is None]
        if missing:
            raise ExportFileError(f"{where}: a row of {table} without {', '.join(missing)}")
        key = self.key(row)
        if self.last_key is not None and (key < self.last_key or (key == self.last_key and table != "edges")):
            raise ExportFileError(f"it is corrupted ({where}: {table} not in key order, or a key repeated)")
        self.last_key = key
        self._references(where, table, row)
        self.counts[table] += 1

    def _references(self, where: str, table: str, row: dict[str, Any]) -> None:
        """Entities come before what names them: the versions and edges a store cannot hold without them."""
        if table == "entities":
            self.refs.add(row["ref"])
        elif table == "versions" and row.get("ref") not in self.refs:
            raise ExportFileError(f"{where}: a version of {row.get('ref')!r}, which is no entity of the file")
        elif table == "edges":
            if row["type"] not in RELATION_EDGES:
                raise ExportFileError(f"{where}: an edge of an unknown type {row['type']!r}")
            for end in ("src", "dst"):
                if row[end] not in self.refs:
                    raise ExportFileError(f"{where}: an edge from or to {row[end]!r}, which is no entity of the file")

    def finish(self) -> FileSummary:
        if self.header is None:
            raise ExportFileError("it is not a catalog-graph export (it holds no lines)")
        if self.trailer is None:
            raise ExportFileError(f"it is truncated (it ends after line {self.lines}, without its trailer line)")
        trailer = self.trailer
        if set(trailer) != {"end", "tables", "sha256"} or trailer["end"] != FORMAT:
            raise ExportFileError(f"it is corrupted (line {self.lines} is not a trailer line)")
        digest = self.sha256.hexdigest()
        if trailer["sha256"] != digest:
            raise ExportFileError(
                f"it is corrupted (the sha256 of its lines is {digest[:12]}..., its trailer says "
                f"{str(trailer['sha256'])[:12]}...)"
            )
        for source, counts in (("header", self.header["tables"]), ("trailer", trailer["tables"])):
            for table in TABLES:
                if not isinstance(counts, dict) or counts.get(table) != self.counts[table]:
                    said = counts.get(table) if isinstance(counts, dict) else None
                    raise ExportFileError(
                        f"it is corrupted (it holds {self.counts[table]} rows of {table}, its {source} says {said})"
                    )
        return FileSummary(dict(self.counts), digest, self.header["catalog_as_of"])


def _check_header(value: dict[str, Any]) -> dict[str, Any]:
    if value.get("format") != FORMAT:
        raise ExportFileError(f"it is not a catalog-graph export (its first line is not a {FORMAT} header)")
    version = value.get("version")
    if type(version) is not int or version < 1:
        raise ExportFileError(f"its header names no version of the {FORMAT} format this catalog-graph knows")
    if version > FORMAT_VERSION:
        raise ExportFileError(
            f"it is in version {version} of the {FORMAT} format, and this catalog-graph reads version "
            f"{FORMAT_VERSION}: import it with a newer catalog-graph"
        )
    if value.get("schema_version") != SCHEMA_VERSION:
        raise ExportFileError(
            f"it holds a store of schema version {value.get('schema_version')}, and this catalog-graph stores "
            f"version {SCHEMA_VERSION}: import it with the version of catalog-graph that exported it"
        )
    tables = value.get("tables")
    if set(value) != {"format", "version", "schema_version", "catalog_as_of", "tables"} or not isinstance(tables, dict):
        raise ExportFileError("it is corrupted (its header does not have the fields of a version 1 header)")
    unknown = sorted(set(tables) - set(TABLES))
    if unknown:
        raise ExportFileError(f"its header names an unknown table {unknown[0]!r}")
    return value


def read_lines(handle: IO[bytes]) -> Iterator[bytes]:
    """The decompressed lines of a file, each with its newline (the last one without, if it was cut)."""
    try:
        with gzip.GzipFile(fileobj=handle, mode="rb") as stream:
            while line := stream.readline(MAX_LINE_BYTES + 1):
                if len(line) > MAX_LINE_BYTES:
                    raise ExportFileError(f"it is corrupted (a line is longer than {MAX_LINE_BYTES >> 20} MiB)")
                yield line
    except EOFError:
        raise ExportFileError("it is truncated (its gzip stream ends before its end)") from None
    except (OSError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
        raise ExportFileError(f"it is not an intact gzip file ({error}): it is corrupted or not an export") from None


def check_file(handle: IO[bytes], progress: Progress | None = None) -> FileSummary:
    """Check a whole file (from the start of `handle`) without writing anything; what it holds."""
    checker = FileChecker()
    for line in read_lines(handle):
        checker.line(line)
        if progress and checker.lines % SLICE_ROWS == 0 and checker.header:
            progress(checker.lines - 1, sum(checker.header["tables"].values()), "checking")
    return checker.finish()


# --- export ----------------------------------------------------------------------------------------------


class _LineWriter:
    """Lines into a gzip stream that holds no time or name (equal lines, equal bytes), and their sha256."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._gzip = gzip.GzipFile(filename="", mode="wb", compresslevel=COMPRESS_LEVEL, fileobj=raw, mtime=0)
        self._pending: list[bytes] = []
        self._size = 0
        self.sha256 = hashlib.sha256()

    def write(self, line: bytes, *, hashed: bool = True) -> None:
        if hashed:
            self.sha256.update(line)
        self._pending.append(line)
        self._size += len(line)
        if self._size >= 1 << 20:
            self.flush()

    def flush(self) -> None:
        self._gzip.write(b"".join(self._pending))
        self._pending.clear()
        self._size = 0

    def close(self) -> None:
        self.flush()
        self._gzip.close()


def export_store(store: GraphStore, raw: IO[bytes], progress: Progress | None = None) -> FileSummary:
    """Write the whole store to `raw` (a binary stream), from one read snapshot, a table at a time."""
    with store.snapshot() as view:
        counts = {name: view.count_rows(name) for name in TABLES}
        total = sum(counts.values())
        sync_runs = view.rows("sync_runs")
        as_of = newest_instant(sync_runs)
        writer = _LineWriter(raw)
        writer.write(encode(header(counts, as_of)))
        written: dict[str, int] = {}
        done = 0
        for name in TABLES:
            rows = sync_runs if name == "sync_runs" else view.rows(name)
            rows.sort(key=sort_key(name))
            for row in rows:
                writer.write(row_line(name, row))
                done += 1
                if progress and done % SLICE_ROWS == 0:
                    progress(done, total, "exporting")
            written[name] = len(rows)
            del rows
        if written != counts or view.disturbed():  # Neo4j's read-committed snapshot saw a commit land
            raise StoreError(
                "the store changed while it was exported (a sync committed meanwhile): export again when no sync runs"
            )
        digest = writer.sha256.hexdigest()
        writer.write(encode(trailer(written, digest)), hashed=False)
        writer.close()
    if progress:
        progress(done, total, "exporting")
    return FileSummary(written, digest, to_iso(as_of) if as_of is not None else None)


def export_file(store: GraphStore, path: Path, progress: Progress | None = None) -> FileSummary:
    """Export into `path`, replacing it only once the whole file is written and on disk: an export that fails
    or is killed leaves what was there before (and, if killed, a `.FILE.PID.part` beside it)."""
    path = Path(path)
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        with part.open("wb") as handle:  # created as any new file is (the umask decides who may read it)
            summary = export_store(store, handle, progress)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(part, path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return summary


# --- import ----------------------------------------------------------------------------------------------


def import_file(
    store: GraphStore, path: Path, progress: Progress | None = None, *, store_name: str = "the store"
) -> FileSummary:
    """Load an export file into `store`, which must be empty (or hold a partial import of the same file,
    which is deleted first). The file is checked whole before anything is written."""
    path = Path(path).resolve()
    refuse = _refusal(path)
    with path.open("rb") as handle:
        if store.import_marker() is None:
            _refuse_unless_empty(store, refuse, store_name)  # before reading the file: say so at once
        try:
            summary = check_file(handle, progress)
        except ExportFileError as error:
            raise refuse(str(error)) from None
        handle.seek(0)
        atomic = getattr(store.backend, "name", None) in ONE_TRANSACTION_ENGINES
        with store.transaction() if atomic else nullcontext():
            _make_room(store, summary, refuse, store_name)
            marker = {"id": "import", "file": str(path), "sha256": summary.sha256, "started_at": now_micros()}
            store.write([Insert(IMPORT_MARKER, [{**marker, "rows": summary.rows}])])
            _load(store, handle, summary, progress)
            store.write([(store.statements.clear_import_marker, {})])
    if progress:
        progress(summary.rows, summary.rows, "importing")
    return summary


def _refusal(path: Path) -> Callable[[str], ImportRefusedError]:
    def refuse(reason: str) -> ImportRefusedError:
        return ImportRefusedError(f"cannot import {path}: {reason}; nothing was written")

    return refuse


def _refuse_unless_empty(store: GraphStore, refuse: Callable[[str], ImportRefusedError], store_name: str) -> None:
    held = {name: store.count_rows(name) for name in TABLES}
    if any(held.values()):
        holds = FileSummary(held, "", None).describe()
        raise refuse(
            f"{store_name} is not empty (it holds {holds}); a file is imported into an empty store only: "
            "name a new --store DIR, or an empty Neo4j database"
        )


def _make_room(
    store: GraphStore, summary: FileSummary, refuse: Callable[[str], ImportRefusedError], store_name: str
) -> None:
    """An empty store for the import: a partial import of the same file is deleted (the marker last, so that
    an import stopped meanwhile still says so); anything else in the store refuses it."""
    marker = store.import_marker()
    if marker is not None:
        if marker["sha256"] != summary.sha256:
            raise refuse(
                f"{store_name} holds a partial import of another file, {marker['file']}: import that file again "
                "to finish it, or start from an empty store"
            )
        store.delete_rows(tuple(reversed(TABLES)))
        store.write([(store.statements.clear_import_marker, {})])
    _refuse_unless_empty(store, refuse, store_name)


def _load(store: GraphStore, handle: IO[bytes], summary: FileSummary, progress: Progress | None) -> None:
    """The file's rows into the store, `SLICE_ROWS` at a time, each slice in one write."""
    sha256 = hashlib.sha256()
    table: str | None = None
    rows: list[dict[str, Any]] = []
    done = 0
    for number, line in enumerate(read_lines(handle), start=1):
        value = json.loads(line)
        if number > 1 and "end" in value:
            break
        sha256.update(line)
        if number == 1:
            continue
        if table is not None and (value["table"] != table or len(rows) == SLICE_ROWS):
            store.write(load_operations(table, rows))
            rows = []
            if progress:
                progress(done, summary.rows, "importing")
        table = value["table"]
        rows.append(value["row"])
        done += 1
    if table is not None and rows:
        store.write(load_operations(table, rows))
    if sha256.hexdigest() != summary.sha256:
        raise StoreError("the file changed while it was imported; import it again")


def load_operations(table: str, rows: list[dict[str, Any]]) -> list[Operation]:
    """The writes that store rows of one table of a file: the engine's own `Insert` (which on SQLite also
    writes the tag rows; its triggers count the versions), with the HAS_VERSION edge of each version (a
    relationship on Neo4j, the `ref` column itself in SQL) and the relation edges by label."""
    if table == "edges":
        by_label: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            by_label[row["type"]].append(row)
        return [Insert(RELATION_EDGES[label], edges) for label, edges in by_label.items()]
    operations: list[Operation] = [Insert(DUMP_TABLES[table], rows)]
    if table == "versions":
        operations.append(Insert(VERSION_EDGES, [{"src": row["ref"], "dst": row["id"]} for row in rows]))
    return operations
