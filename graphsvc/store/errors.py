"""Store errors that a user can act on."""

from __future__ import annotations


class StoreError(RuntimeError):
    """Base class for store failures."""


class StoreLockedError(StoreError):
    """Another process owns the embedded store (see `sqlite_backend`: one process per store directory)."""


class StoreUnavailableError(StoreError):
    """The configured store could not be reached or opened."""
