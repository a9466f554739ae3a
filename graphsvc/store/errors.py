"""Store errors that a user can act on."""

from __future__ import annotations


class StoreError(RuntimeError):
    """Base class for store failures."""


class StoreLockedError(StoreError):
    """Another process owns the embedded store (see `sqlite_backend`: one process per store directory)."""


class StoreUnavailableError(StoreError):
    """The configured store could not be reached or opened."""


class PartialImportError(StoreError):
    """The store holds an import that began and did not finish (`catalog import` was stopped): it is not the
    catalog of the file, nor empty, until the import is run again."""


class StoreTransientError(StoreError):
    """The engine aborted a transaction for a reason that may pass (a deadlock, a cluster's leader moving, a
    lost connection): the same transaction may succeed when run again (`graphsvc.sync.sync_source` does)."""


class UnknownRelationError(ValueError):
    """A relation type that is not one of Backstage's 14 (in a walk, or a `missing`/`dangling` filter)."""
