"""The graph's shape, declared as data: node tables, their properties, and the relation edge types.

Backstage relation rows come in pairs (`ownedBy` / `ownerOf`). The store keeps one edge per pair, in the
direction of the forward type, and derives the reverse row when reading: half the edges, and the two rows
of a pair can never disagree. Each edge also records its *origin*, the entity whose spec declared it, because
Backstage drops a relation when its originating entity goes away, not when its target does.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphsvc.model import REVERSE_RELATION

# Backstage forward relation type -> edge label. The reverse types are read off incoming edges.
EDGE_LABELS: dict[str, str] = {
    "ownedBy": "OWNED_BY",
    "providesApi": "PROVIDES_API",
    "consumesApi": "CONSUMES_API",
    "dependsOn": "DEPENDS_ON",
    "parentOf": "PARENT_OF",
    "memberOf": "MEMBER_OF",
    "partOf": "PART_OF",
}
FORWARD_TYPES: dict[str, str] = {label: rel for rel, label in EDGE_LABELS.items()}
RELATION_TYPE_EDGES: dict[str, tuple[str, str]] = {
    **{forward: (label, "out") for forward, label in EDGE_LABELS.items()},
    **{REVERSE_RELATION[forward]: (label, "in") for forward, label in EDGE_LABELS.items()},
}
"""Each of Backstage's 14 relation types -> (the edge label that stores it, the direction it is read in from the
entity that has the row): a reverse type (`dependencyOf`) is its forward type's edge read from the other end."""
VERSION_EDGE = "HAS_VERSION"

# Entity.state values. A `dangling` node stands in for a relation target no source has defined (yet).
PRESENT = "present"
REMOVED = "removed"
DANGLING = "dangling"


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # STRING, INT64, STRING[], INT64[]: SQLite's column types follow (sql.SQL_TYPES); Neo4j is schemaless

    @property
    def is_list(self) -> bool:
        return self.type.endswith("[]")


@dataclass(frozen=True)
class NodeTable:
    label: str
    key: str
    columns: tuple[Column, ...]
    indexed: tuple[str, ...] = ()  # secondary indexes where the backend has them (Neo4j)


def _cols(spec: str) -> tuple[Column, ...]:
    return tuple(Column(*item.split(":")) for item in spec.split())


ENTITY = NodeTable(
    "Entity",
    "ref",
    _cols(
        "ref:STRING kind:STRING namespace:STRING name:STRING title:STRING description:STRING "
        "type:STRING lifecycle:STRING owner:STRING system:STRING domain:STRING tags:STRING[] "
        "search:STRING document:STRING hash:STRING source:STRING location:STRING state:STRING "
        "created_at:INT64 updated_at:INT64 version_starts:INT64[] annotations:STRING[] labels:STRING[]"
    ),
    indexed=("kind", "source", "owner", "state"),
)
"""`annotations` and `labels`: the document's metadata as filter entries, `key` and `key=value` for each pair
(`graphsvc.store.hygiene.metadata_entries`), since Neo4j cannot read into the stored JSON."""
ENTITY_VERSION = NodeTable(
    "EntityVersion",
    "id",
    _cols(
        "id:STRING ref:STRING hash:STRING document:STRING valid_from:INT64 valid_to:INT64 "
        "source:STRING location:STRING sync_run:STRING commit_sha:STRING commit_author:STRING "
        "closed_sync_run:STRING closed_commit_sha:STRING closed_commit_author:STRING "
        # the entity's filter columns as of this version, so that past states filter like the present
        "kind:STRING namespace:STRING name:STRING title:STRING description:STRING type:STRING lifecycle:STRING "
        "owner:STRING system:STRING domain:STRING tags:STRING[] search:STRING annotations:STRING[] labels:STRING[]"
    ),
    indexed=("ref", "valid_from", "valid_to", "kind", "owner"),
)
SYNC_RUN = NodeTable(
    "SyncRun",
    "id",
    _cols(
        "id:STRING source:STRING started_at:INT64 finished_at:INT64 status:STRING commit_sha:STRING "
        "added:INT64 updated:INT64 removed:INT64 unchanged:INT64 errors:INT64 principal:STRING"
    ),
    indexed=("started_at",),
)
"""`principal` is who started the sync (`graphsvc.auth.principal`): a token, a user, the operator's shell."""
SYNC_ERROR = NodeTable(
    "SyncError",
    "id",
    _cols(
        "id:STRING sync_run:STRING source:STRING location:STRING document_index:INT64 line:INT64 "
        "entity_ref:STRING category:STRING message:STRING at:INT64"
    ),
    indexed=("sync_run", "entity_ref", "location"),
)
REGISTERED_LOCATION = NodeTable(
    "RegisteredLocation",
    "target",
    _cols("target:STRING added_at:INT64 branch:STRING discovery_glob:STRING"),
)
SOURCE_FILE = NodeTable(
    "SourceFile",
    "id",
    _cols("id:STRING source:STRING location:STRING digest:STRING"),
    indexed=("source",),
)
"""Content digests of the files a source's last sync read cleanly: a cache that lets the next sync skip
parsing unchanged files. Unlike entity data it is replaced, not versioned."""
CHANGE_BATCH = NodeTable(
    "ChangeBatch",
    "id",
    _cols("id:STRING at:INT64 sync_run:STRING source:STRING size:INT64"),
    indexed=("at",),
)
"""The change events one write transaction of a sync recorded: when, and how many (numbered 0..size-1)."""
CHANGE_EVENT = NodeTable(
    "ChangeEvent",
    "id",
    _cols(
        # id is `batch:ordinal`, so that a page of the feed is found by key once the batches are known
        "id:STRING batch:STRING ordinal:INT64 at:INT64 type:STRING entity_ref:STRING relation_type:STRING "
        "target_ref:STRING version:STRING previous:STRING "
        "source:STRING location:STRING sync_run:STRING commit_sha:STRING commit_author:STRING "
        # the event entity's filter columns at the time of the event
        "kind:STRING namespace:STRING owner:STRING system:STRING"
    ),
    indexed=("at", "kind", "owner"),
)
"""The change feed, one row per change, written by the sync in the same transaction as the change itself.
Append-only like everything else; see `graphsvc.change_log`."""
API_TOKEN = NodeTable(
    "ApiToken",
    "id",
    _cols(
        "id:STRING name:STRING scopes:STRING secret_hash:STRING created_at:INT64 created_by:STRING "
        "revoked_at:INT64 revoked_by:STRING"
    ),
)
"""Static API tokens (`graphsvc.auth.tokens`): the SHA-256 of each secret, never the secret; scopes
space-separated. Revoked tokens
are kept (who revoked them, when), like everything else here."""
SCHEMA_VERSION = 6
"""Bumped whenever a table or property changes, so that a store written by another version is refused with
a clear message instead of failing later in some statement, or migrated where `MIGRATIONS` knows how."""
MIGRATED_FROM = 4
"""The oldest version this one migrates in place, a version at a time (see `GraphStore._migrate`): 4 -> 5,
sync runs had no principal, no API tokens; 5 -> 6, entities and versions had no annotation and label entries."""
STORE_META = NodeTable("StoreMeta", "id", _cols("id:STRING schema_version:INT64"))
IMPORT_MARKER = NodeTable(
    "ImportMarker", "id", _cols("id:STRING file:STRING sha256:STRING started_at:INT64 rows:INT64")
)
"""Present only while `catalog import` loads a file (`graphsvc.portable`): committed before its first rows,
removed with its last, so a store it stays in holds a partial import, which `open_store` refuses to serve."""
NODE_TABLES = (
    STORE_META,
    ENTITY,
    ENTITY_VERSION,
    SYNC_RUN,
    SYNC_ERROR,
    REGISTERED_LOCATION,
    SOURCE_FILE,
    CHANGE_BATCH,
    CHANGE_EVENT,
    IMPORT_MARKER,
    API_TOKEN,
)

EDGE_COLUMNS = _cols(
    "origin:STRING valid_from:INT64 valid_to:INT64 source:STRING sync_run:STRING commit_sha:STRING "
    "commit_author:STRING closed_sync_run:STRING closed_commit_sha:STRING closed_commit_author:STRING"
)


@dataclass(frozen=True)
class EdgeTable:
    label: str
    source: NodeTable
    target: NodeTable
    columns: tuple[Column, ...]


RELATION_EDGES = {label: EdgeTable(label, ENTITY, ENTITY, EDGE_COLUMNS) for label in EDGE_LABELS.values()}
VERSION_EDGES = EdgeTable(VERSION_EDGE, ENTITY, ENTITY_VERSION, ())

DUMP_TABLES = {
    "entities": ENTITY,
    "versions": ENTITY_VERSION,
    "sync_runs": SYNC_RUN,
    "sync_errors": SYNC_ERROR,
    "registered_locations": REGISTERED_LOCATION,
    "source_files": SOURCE_FILE,
    "change_batches": CHANGE_BATCH,
    "change_events": CHANGE_EVENT,
}
"""The tables `GraphStore.rows` reads whole (and "edges": every relation edge with its type), by name."""
EDGE_DUMP_COLUMNS = ("src", "type", "dst", *(c.name for c in EDGE_COLUMNS))
