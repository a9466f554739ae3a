"""The embedded default: LadybugDB in this process, one database file in the store directory.

LadybugDB rules this module enforces (graph-engines.md, "Concurrency and durability"):
one `Database` per process, one `Connection` per thread, and one write transaction at a time — a second
writer fails instead of waiting, so all writes pass through one lock. A torn WAL tail after a crash makes the
strict open refuse the database; the committed data is still there, so we set the WAL aside and reopen
leniently, and say so in the log.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import ladybug
import pyarrow as pa

from graphsvc.store.backend import Insert, Operation
from graphsvc.store.dialect import LadybugDialect
from graphsvc.store.errors import StoreError, StoreLockedError
from graphsvc.store.schema import Column, EdgeTable

log = logging.getLogger(__name__)

DATABASE_FILE = "catalog.lbdb"
OWNER_FILE = "owner.json"
CHECKPOINT_BYTES = 256 * 1024 * 1024
"""Fold the WAL into the database file at 256 MiB instead of 16 MiB: at 16 MiB a large sync checkpointed
several times, and each checkpoint rewrites columns of the whole store (measured: commits 5.2 s -> 0.7 s)."""


class LadybugBackend:
    dialect = LadybugDialect()

    def __init__(self, store_dir: str | Path, *, buffer_pool_mb: int = 1024, read_only: bool = False) -> None:
        self.store_dir = Path(store_dir)
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.store_dir / DATABASE_FILE
        self._database = self._open(buffer_pool_mb * 1024 * 1024, read_only)
        self._local = threading.local()
        self._write_lock = threading.Lock()

    def _open(self, buffer_pool: int, read_only: bool) -> ladybug.Database:
        try:
            return ladybug.Database(
                str(self.path), buffer_pool_size=buffer_pool, read_only=read_only, checkpoint_threshold=CHECKPOINT_BYTES
            )
        except RuntimeError as error:
            text = str(error)
            if "lock" in text.lower():
                raise StoreLockedError(_locked_message(self.store_dir)) from error
            if "WAL" not in text:
                raise StoreError(f"could not open the store {self.path}: {text}") from error
        wal = Path(f"{self.path}.wal")
        aside = wal.with_name(f"{wal.name}.corrupt-{int(time.time())}")
        log.warning("store %s: WAL tail is damaged; keeping it as %s and recovering committed data", self.path, aside)
        if wal.exists():
            os.replace(wal, aside)
        return ladybug.Database(
            str(self.path),
            buffer_pool_size=buffer_pool,
            read_only=read_only,
            throw_on_wal_replay_failure=False,
        )

    def _connection(self) -> ladybug.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = ladybug.Connection(self._database)
            self._local.connection = connection
        return connection

    def read(self, query: str, parameters: dict[str, Any] | None = None) -> list[list[Any]]:
        return self._connection().execute(query, parameters or {}).get_all()

    def write(self, operations: Sequence[Operation]) -> None:
        """Each write transaction gets a connection of its own: LadybugDB keeps the buffers of every COPY
        until the connection that ran it closes, so a long-lived one fills the buffer pool after a few
        dozen small syncs (tests/store/test_ladybug_backend.py)."""
        with self._write_lock, closing(ladybug.Connection(self._database)) as connection:
            connection.execute("BEGIN TRANSACTION")
            try:
                for operation in operations:
                    if isinstance(operation, Insert):
                        _copy(connection, operation)
                    else:
                        connection.execute(*operation)
            except BaseException:
                _rollback(connection)
                raise
            connection.execute("COMMIT")

    def write_schema(self, statements: Sequence[str]) -> None:
        with self._write_lock:
            for statement in statements:
                self._connection().execute(statement)

    def close(self) -> None:
        self._local = threading.local()
        self._database.close()

    # --- which process owns the store --------------------------------------------------------------------

    def claim_ownership(self, url: str | None) -> None:
        """Tell other processes who holds the store, so their error can name the service to use instead."""
        owner = {"pid": os.getpid(), "url": url, "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        (self.store_dir / OWNER_FILE).write_text(json.dumps(owner))

    def release_ownership(self) -> None:
        (self.store_dir / OWNER_FILE).unlink(missing_ok=True)


_ARROW_TYPES = {
    "STRING": pa.string(),
    "INT64": pa.int64(),
    "STRING[]": pa.list_(pa.string()),
    "INT64[]": pa.list_(pa.int64()),
}


def _copy(connection: ladybug.Connection, insert: Insert) -> None:
    """`COPY` from an Arrow table: LadybugDB's bulk path, about 30x faster than UNWIND (graph-engines.md).

    Columns are given in table order with explicit types (an all-null column would otherwise have no type).
    A missing edge endpoint fails the COPY, and with it the whole transaction.
    """
    columns: list[Column] = list(insert.table.columns)
    if isinstance(insert.table, EdgeTable):
        columns = [Column("src", "STRING"), Column("dst", "STRING"), *columns]
    arrays = {
        ("from" if c.name == "src" else "to" if c.name == "dst" else c.name): pa.array(
            [row.get(c.name) for row in insert.rows], type=_ARROW_TYPES[c.type]
        )
        for c in columns
    }
    connection.execute(f"COPY {insert.table.label} FROM $arrow", {"arrow": pa.table(arrays)})


def _rollback(connection: ladybug.Connection) -> None:
    try:
        connection.execute("ROLLBACK")
    except RuntimeError:
        pass  # an error inside the transaction already rolled it back


def _locked_message(store_dir: Path) -> str:
    owner_file = store_dir / OWNER_FILE
    holder = "another process"
    hint = "stop it, or send this command through its API with --url"
    try:
        owner = json.loads(owner_file.read_text())
        holder = f"process {owner.get('pid')}"
        if owner.get("url"):
            holder = f"the catalog service at {owner['url']} (pid {owner.get('pid')})"
            hint = f"rerun with --url {owner['url']} to go through it, or stop it first"
    except (OSError, ValueError):
        pass
    return f"the store {store_dir} is in use by {holder}; only one process may open it: {hint}"
