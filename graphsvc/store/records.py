"""What the store returns: plain frozen records, independent of the engine and of GraphQL."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

import orjson

LONG_NUMBER = re.compile(r"\d{19}")
"""Nineteen digits in a row: a number that may be an integer past 64 bits, which orjson reads as a float
(18446744073709551616 as 1.8446744073709552e+19) without saying so; such a document (or one holding a string
of that many digits) is read by Python's parser, exactly."""


def parse_document(document_json: str) -> dict[str, Any]:
    """A stored document, by orjson (3x faster than `json.loads`: a page of full entities parses hundreds);
    what it refuses (NaN, lone surrogates) or could misread (`LONG_NUMBER`) the standard parser reads."""
    if LONG_NUMBER.search(document_json):
        return json.loads(document_json)  # type: ignore[no-any-return]
    try:
        document: dict[str, Any] = orjson.loads(document_json)
    except orjson.JSONDecodeError:
        document = json.loads(document_json)
    return document


@dataclass(frozen=True)
class EntityRecord:
    ref: str
    kind: str
    namespace: str
    name: str
    title: str | None
    description: str | None
    document_json: str = field(repr=False)
    state: str
    source: str | None
    location: str | None
    created_at: int | None
    updated_at: int | None

    @cached_property
    def document(self) -> dict[str, Any]:
        """The entity as Backstage shapes it (apiVersion/kind/metadata/spec), parsed on first use."""
        return parse_document(self.document_json)

    @property
    def metadata(self) -> dict[str, Any]:
        return self.document.get("metadata") or {}

    @property
    def spec(self) -> dict[str, Any]:
        return self.document.get("spec") or {}


class RelationRow(NamedTuple):
    """One Backstage relation row of an entity: `source --type--> target`. A named tuple, not a dataclass: an
    entity page makes, hashes and sorts thousands of them, and a tuple does that in C (measured: the rows of
    380 entities were a third of the page's time as frozen dataclasses)."""

    type: str
    target: str
    source: str


@dataclass(frozen=True)
class SyncRunRecord:
    id: str
    source: str
    started_at: int
    finished_at: int | None
    status: str
    commit_sha: str | None
    added: int | None
    updated: int | None
    removed: int | None
    unchanged: int | None
    errors: int | None
    principal: str | None = None
    """Who started the sync: `token:<name>`, `user:default/<name>`, `anonymous`, `cli:<os user>`."""


@dataclass(frozen=True)
class ErrorRecord:
    id: str
    sync_run: str
    source: str
    location: str | None
    document_index: int | None
    line: int | None
    entity_ref: str | None
    category: str
    message: str
    at: int


@dataclass(frozen=True)
class RegisteredLocationRecord:
    target: str
    added_at: int
    branch: str | None
    glob: str | None


@dataclass(frozen=True)
class ApiTokenRecord:
    """A static API token as stored: the SHA-256 of its secret, never the secret itself."""

    id: str
    name: str
    scopes: tuple[str, ...]
    secret_hash: str
    created_at: int
    created_by: str
    revoked_at: int | None = None
    revoked_by: str | None = None
