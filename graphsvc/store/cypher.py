"""The Neo4j engine's statements: every query the store sends to Neo4j, in Cypher.

Statements are plain strings with `$parameters`. Batched writes take `$rows` (a list of maps with the same
keys in every row) and use the forms measured fastest in graph-engines.md: bind a row field with `WITH`
before using it as a MERGE/MATCH key, and one `MATCH` per endpoint before touching an edge. Each statement
has a twin of the same name and row shape in `sql.py` (SQLite). `all_statements` enumerates every statement
so that tests can lint them with Neo4j's own front end.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from functools import cached_property
from typing import Any

from graphsvc.store.hygiene import RELATION_TESTS, relation_filter
from graphsvc.store.schema import (
    API_TOKEN,
    DUMP_TABLES,
    EDGE_DUMP_COLUMNS,
    EDGE_LABELS,
    IMPORT_MARKER,
    NODE_TABLES,
    PRESENT,
    RELATION_EDGES,
    REMOVED,
    SCHEMA_VERSION,
    VERSION_EDGE,
    VERSION_EDGES,
    EdgeTable,
    NodeTable,
)

ENTITY_FIELDS = (
    "ref",
    "kind",
    "namespace",
    "name",
    "title",
    "description",
    "document",
    "state",
    "source",
    "location",
    "created_at",
    "updated_at",
)
ENTITY_RETURN = ", ".join(f"e.{f}" for f in ENTITY_FIELDS)
# A past state in the same shape: a version is present by definition; its interval stands in for timestamps.
VERSION_RETURN = (
    ENTITY_RETURN.replace("e.state", f"'{PRESENT}'")
    .replace("e.created_at", "e.valid_from")
    .replace("e.updated_at", "e.valid_to")
)
REMOVED_VERSION_RETURN = VERSION_RETURN.replace(f"'{PRESENT}'", f"'{REMOVED}'")
"""The last version of an entity removed by an instant: its end is when it was removed."""
RELATION_LABELS = "|".join(EDGE_LABELS.values())
VERSION_FIELDS = (
    "id", "ref", "document", "valid_from", "valid_to", "source", "location", "sync_run", "commit_sha",
    "commit_author", "closed_sync_run", "closed_commit_sha", "closed_commit_author",
)  # fmt: skip
VERSION_COLUMNS = ", ".join(f"v.{f}" for f in VERSION_FIELDS)
CHANGE_FILTERS = ("kind", "namespace", "owner", "system")
CHANGE_EVENT_FIELDS = (
    "type", "at", "entity_ref", "relation_type", "target_ref", "version", "previous",
    "source", "location", "sync_run", "commit_sha", "commit_author",
)  # fmt: skip
CHANGE_EVENT_COLUMNS = ", ".join(f"c.{f}" for f in CHANGE_EVENT_FIELDS)
OPEN = "IS NULL"


def valid(variable: str, at: bool) -> str:
    """The validity predicate: open now, or (`at`) valid at `$as_of` (intervals are half-open)."""
    if not at:
        return f"{variable}.valid_to IS NULL"
    return f"{variable}.valid_from <= $as_of AND ({variable}.valid_to IS NULL OR {variable}.valid_to > $as_of)"


def valid_at(variable: str, instant: int) -> str:
    """Valid at `instant`, which is written into the text (an integer, so nothing can be injected).

    (Written for LadybugDB, the embedded engine of earlier versions, and kept: it costs Neo4j nothing.)
    LadybugDB has no secondary indexes, but keeps each column's min/max per node group and skips the groups
    that cannot match; only when a comparison's other side is a literal, not a parameter (measured over 1M
    versions: `valid_from > $t` 9.6 ms, `valid_from > <literal>` 1.2 ms). Neo4j replaces literals by
    parameters itself, so its plans are still cached and its indexes still used.
    """
    return f"{variable}.valid_from <= {int(instant)} AND {_not_ended(variable, instant)}"


def valid_at_parts(variable: str, instant: int) -> tuple[str, str]:
    """`valid_at` as two disjoint conditions without OR, each of which the node-group statistics can prune:
    closed since `instant`, and still open.

    Versions are appended in time order, so the groups of versions that began after `instant` are skipped,
    and so are those of versions all closed by then. Measured at 100k entities x 10 versions, mid-history,
    count of kind+type: 21.7 ms with `$as_of` and OR, 5.9 ms in these two parts (present: 6.2 ms).
    """
    t = int(instant)
    begun = f"{variable}.valid_from <= {t}"
    return f"{begun} AND {variable}.valid_to > {t}", f"{begun} AND {variable}.valid_to IS NULL"


def _not_ended(variable: str, instant: int) -> str:
    """Not closed by `instant`: with a start known to be at or before it, valid then."""
    return f"({variable}.valid_to IS NULL OR {variable}.valid_to > {int(instant)})"


def _condition(name: str, as_of: int | None) -> str:
    """The condition of one active filter on `e`: an entity (now) or a version (valid at `as_of`)."""
    relation = relation_filter(name)
    if relation is None:
        return _CONDITIONS[name]
    test, label, direction = relation
    arrow = f"-[x:{label}]->" if direction == "out" else f"<-[x:{label}]-"
    if as_of is None:
        start, live, exists = "(e)", valid("x", False), f"b.state = '{PRESENT}'"
    else:  # from the version to its entity along the version edge: a ref lookup got a scan per row planned
        start, live = f"(e)<-[:{VERSION_EDGE}]-(:Entity)", valid_at("x", as_of)
        exists = f"EXISTS {{ MATCH (b)-[:{VERSION_EDGE}]->(v:EntityVersion) WHERE {valid_at('v', as_of)} }}"
    if test == "missing":
        return f"NOT EXISTS {{ MATCH {start}{arrow}(:Entity) WHERE {live} }}"
    return f"EXISTS {{ MATCH {start}{arrow}(b:Entity) WHERE {live} AND NOT {exists} }}"


def _removed_by(variable: str, instant: int) -> str:
    """`variable` is an entity's last version before `instant`, and it ended by then: the entity was removed
    (versions of one entity never overlap, so no later one began in between)."""
    t, v = int(instant), variable
    versions = f"({v})<-[:{VERSION_EDGE}]-(:Entity)-[:{VERSION_EDGE}]->(n:EntityVersion)"
    later = f"MATCH {versions} WHERE n.valid_from >= {v}.valid_to AND n.valid_from <= {t}"
    return f"{v}.valid_to <= {t} AND NOT EXISTS {{ {later} }}"


_CHANGE_TYPES = "c.type IN $types"
_REMOVED = f"state:{REMOVED}"
"""The active filter name of `EntityFilter(state=REMOVED)`."""
_IS_REMOVED = f"e.state = '{REMOVED}'"


def _to_integer(expression: str) -> str:
    return f"toInteger({expression})"


def _all(conditions: list[str]) -> str:
    return " AND ".join(conditions)


def _union(parts: Iterable[str]) -> str:
    """Disjoint parts of one answer; ALL keeps equal rows of different parts (two equal counts, say)."""
    return " UNION ALL ".join(parts)


# Properties an entity row sets on every upsert (besides ref and timestamps).
ENTITY_STATE_PROPS = (
    "kind",
    "namespace",
    "name",
    "title",
    "description",
    "type",
    "lifecycle",
    "owner",
    "system",
    "domain",
    "tags",
    "search",
    "document",
    "hash",
    "source",
    "location",
    "version_starts",
    "annotations",
    "labels",
)

SYNC_RUN_FIELDS = (
    "id",
    "source",
    "started_at",
    "finished_at",
    "status",
    "commit_sha",
    "added",
    "updated",
    "removed",
    "unchanged",
    "errors",
    "principal",
)
SYNC_ERROR_FIELDS = (
    "id",
    "sync_run",
    "source",
    "location",
    "document_index",
    "line",
    "entity_ref",
    "category",
    "message",
    "at",
)


@dataclass(frozen=True)
class EntityFilter:
    """Filters over an entity's state (now, or at an instant); None means "any", and all that are set hold."""

    kind: str | None = None
    namespace: str | None = None
    type: str | None = None
    lifecycle: str | None = None
    owner: str | None = None
    system: str | None = None
    domain: str | None = None
    tag: str | None = None
    text: str | None = None
    annotation: tuple[str, ...] | None = None
    """Entries (`key` or `key=value`, see `hygiene.metadata_entries`) the entity's annotations all hold."""
    label: tuple[str, ...] | None = None
    """The same for its labels."""
    missing: tuple[str, ...] | None = None
    """Relation types (`hygiene.RELATION_EDGE`) the entity has no relation row of, each of them."""
    dangling: tuple[str, ...] | None = None
    """Relation types of each of which it has a row whose target does not exist."""
    state: str = PRESENT
    """PRESENT, or REMOVED: the entities removed (now, or by the instant) as their last version was."""

    def active(self) -> tuple[str, ...]:
        """What the statement depends on, in declaration order (the statement cache key): the names of the
        value filters that are set, `missing:<type>` / `dangling:<type>` for each relation filter's types, and
        `state:removed`."""
        names: list[str] = []
        for name in (f.name for f in fields(self)):
            value = getattr(self, name)
            if name in RELATION_TESTS:
                names += [f"{name}:{relation}" for relation in value or ()]
            elif name == "state":
                names += [] if value == PRESENT else [f"state:{value}"]
            elif value is not None:
                names.append(name)
        return tuple(names)

    def parameters(self) -> dict[str, Any]:
        """The statement's parameters: the value filters' values (lists for the entry filters)."""
        out = {name: getattr(self, name) for name in self.active() if ":" not in name}
        return {name: list(value) if isinstance(value, tuple) else value for name, value in out.items()}


_CONDITIONS = {
    "kind": "e.kind = $kind",
    "namespace": "e.namespace = $namespace",
    "type": "e.type = $type",
    "lifecycle": "e.lifecycle = $lifecycle",
    "owner": "e.owner = $owner",
    "system": "e.system = $system",
    "domain": "e.domain = $domain",
    "tag": "$tag IN e.tags",
    "text": "e.search CONTAINS $text",
    "annotation": "all(p IN $annotation WHERE p IN e.annotations)",
    "label": "all(p IN $label WHERE p IN e.labels)",
}
FACET_FIELDS = ("kind", "namespace", "type", "lifecycle", "owner", "system", "domain", "tag")


def schema_statements() -> list[str]:
    """Constraints (one per node key) and indexes, idempotently; StoreMeta's first."""
    statements = []
    for table in NODE_TABLES:
        low = table.label.lower()
        statements.append(
            f"CREATE CONSTRAINT {low}_{table.key} IF NOT EXISTS FOR (n:{table.label}) REQUIRE n.{table.key} IS UNIQUE"
        )
        for prop in table.indexed:
            statements.append(f"CREATE INDEX {low}_{prop} IF NOT EXISTS FOR (n:{table.label}) ON (n.{prop})")
    for label in EDGE_LABELS.values():
        statements.append(
            f"CREATE INDEX {label.lower()}_validity IF NOT EXISTS FOR ()-[r:{label}]-() ON (r.valid_from, r.valid_to)"
        )
        statements.append(f"CREATE INDEX {label.lower()}_origin IF NOT EXISTS FOR ()-[r:{label}]-() ON (r.origin)")
    return statements


class Statements:
    """The Cypher statements, built lazily, then reused as constant strings."""

    # --- writes: entities and versions ---------------------------------------------------------------------

    @cached_property
    def update_entities(self) -> str:
        """New current state for entity nodes that exist already (changed, returned, or dangling until now)."""
        sets = ", ".join(f"e.{p} = r.{p}" for p in ENTITY_STATE_PROPS)
        return (
            "UNWIND $rows AS r WITH r, r.ref AS ref MATCH (e:Entity {ref: ref}) "
            f"SET {sets}, e.state = '{PRESENT}', e.updated_at = r.at"
        )

    def insert_nodes(self, table: NodeTable) -> str:
        """Create nodes known to be new (`Insert` on Neo4j)."""
        props = ", ".join(f"{c.name}: r.{c.name}" for c in table.columns)
        return f"UNWIND $rows AS r CREATE (n:{table.label} {{{props}}})"

    def insert_edges(self, table: EdgeTable) -> str:
        """Create edges known to be new; the count lets the caller refuse rows whose endpoint is missing."""
        props = ", ".join(f"{c.name}: r.{c.name}" for c in table.columns)
        return (
            f"UNWIND $rows AS r MATCH (a:{table.source.label} {{{table.source.key}: r.src}}) "
            f"MATCH (b:{table.target.label} {{{table.target.key}: r.dst}}) "
            f"CREATE (a)-[:{table.label}{' {' + props + '}' if props else ''}]->(b) RETURN count(*)"
        )

    @cached_property
    def relocate_entities(self) -> str:
        return "UNWIND $rows AS r WITH r, r.ref AS ref MATCH (e:Entity {ref: ref}) SET e.location = r.location"

    @cached_property
    def close_versions(self) -> str:
        return (
            "UNWIND $rows AS r WITH r, r.ref AS ref "
            f"MATCH (e:Entity {{ref: ref}})-[:{VERSION_EDGE}]->(v:EntityVersion) WHERE v.valid_to {OPEN} "
            "SET v.valid_to = r.at, v.closed_sync_run = r.sync_run, v.closed_commit_sha = r.commit_sha, "
            "v.closed_commit_author = r.commit_author"
        )

    @cached_property
    def mark_removed(self) -> str:
        return (
            "UNWIND $rows AS r WITH r, r.ref AS ref MATCH (e:Entity {ref: ref}) "
            "SET e.state = 'removed', e.updated_at = r.at"
        )

    # --- writes: relation edges ----------------------------------------------------------------------------

    def close_edges(self, label: str) -> str:
        return (
            "UNWIND $rows AS r MATCH (a:Entity {ref: r.src}) MATCH (b:Entity {ref: r.dst}) "
            f"MATCH (a)-[x:{label}]->(b) WHERE x.origin = r.origin AND x.valid_to {OPEN} "
            "SET x.valid_to = r.at, x.closed_sync_run = r.sync_run, x.closed_commit_sha = r.commit_sha, "
            "x.closed_commit_author = r.commit_author"
        )

    # --- writes: sync runs, errors, registered locations ---------------------------------------------------

    @cached_property
    def create_sync_run(self) -> str:
        return (
            "CREATE (s:SyncRun {id: $id, source: $source, started_at: $started_at, status: 'running', "
            "commit_sha: $commit_sha, principal: $principal})"
        )

    @cached_property
    def api_tokens(self) -> str:
        cols = ", ".join(f"t.{c.name}" for c in API_TOKEN.columns)
        return f"MATCH (t:ApiToken) RETURN {cols} ORDER BY t.created_at, t.id"

    @cached_property
    def revoke_api_token(self) -> str:
        return "MATCH (t:ApiToken {id: $id}) WHERE t.revoked_at IS NULL SET t.revoked_at = $at, t.revoked_by = $by"

    @cached_property
    def migrate_schema(self) -> list[str]:
        """From `MIGRATED_FROM` (4) to 5: nodes are schemaless, only the version changes."""
        return ["MATCH (m:StoreMeta {id: 'store'}) SET m.schema_version = 5"]

    @cached_property
    def metadata_columns(self) -> list[tuple[str, str]]:
        """(probe, DDL) pairs adding the annotation and label entries (schema version 6): none, nodes are
        schemaless (see `GraphStore._migrate`)."""
        return []

    def metadata_documents(self, table: str) -> str:
        """A page of the documents of `DUMP_TABLES[table]` (entities, versions), by key after `$after`."""
        node = DUMP_TABLES[table]
        return (
            f"MATCH (n:{node.label}) WHERE n.{node.key} > $after AND n.document IS NOT NULL "
            f"RETURN n.{node.key}, n.document ORDER BY n.{node.key} LIMIT $limit"
        )

    def set_metadata_entries(self, table: str) -> str:
        node = DUMP_TABLES[table]
        return (
            f"UNWIND $rows AS r WITH r, r.key AS key MATCH (n:{node.label} {{{node.key}: key}}) "
            "SET n.annotations = r.annotations, n.labels = r.labels"
        )

    @cached_property
    def set_current_schema_version(self) -> str:
        return f"MATCH (m:StoreMeta {{id: 'store'}}) SET m.schema_version = {SCHEMA_VERSION}"

    @cached_property
    def finish_sync_run(self) -> str:
        return (
            "MATCH (s:SyncRun {id: $id}) SET s.finished_at = $finished_at, s.status = $status, "
            "s.added = $added, s.updated = $updated, s.removed = $removed, s.unchanged = $unchanged, "
            "s.errors = $errors"
        )

    @cached_property
    def take_writer_lock(self) -> str:
        """The first statement of every write transaction: writing the writer node takes Neo4j's exclusive
        lock on it until commit, so the write transactions of all services sharing the database run one at a
        time, and each reads what the previous one committed."""
        return "MERGE (w:StoreMeta {id: 'writer'}) SET w.held_by = $label"

    @cached_property
    def commit_gate(self) -> str:
        """The commit gate (see `neo4j_backend`): its generation, and the write being applied (or null)."""
        return "OPTIONAL MATCH (g:StoreMeta {id: 'commit'}) RETURN coalesce(g.generation, 0), g.applying"

    @cached_property
    def open_commit_gate(self) -> str:
        return (
            "MERGE (g:StoreMeta {id: 'commit'}) SET g.generation = coalesce(g.generation, 0) + 1, g.applying = $write"
        )

    @cached_property
    def close_commit_gate(self) -> str:
        """Closes the gate `$write` opened (if another write opened it since, that one's stays open)."""
        return (
            "MATCH (g:StoreMeta {id: 'commit'}) WHERE g.applying = $write "
            "SET g.generation = g.generation + 1, g.applying = null"
        )

    @cached_property
    def live_writes(self) -> str:
        """The writes whose transaction is open somewhere in the DBMS, by their metadata."""
        return "SHOW TRANSACTIONS YIELD metaData WHERE metaData.catalog_write IS NOT NULL RETURN metaData.catalog_write"

    @cached_property
    def running_sync_runs(self) -> str:
        return "MATCH (s:SyncRun) WHERE s.status = 'running' RETURN s.id"

    @cached_property
    def live_sync_runs(self) -> str:
        """The sync runs whose write transaction is open somewhere in the DBMS (any service), by the label
        each carries in its transaction metadata."""
        return (
            "SHOW TRANSACTIONS YIELD metaData WHERE metaData.catalog_sync_run IS NOT NULL "
            "RETURN metaData.catalog_sync_run"
        )

    @cached_property
    def interrupt_sync_runs(self) -> str:
        return (
            "MATCH (s:SyncRun) WHERE s.id IN $ids AND s.status = 'running' "
            "SET s.status = 'interrupted', s.finished_at = $at"
        )

    @cached_property
    def interrupt_running_syncs(self) -> str:
        return "MATCH (s:SyncRun) WHERE s.status = 'running' SET s.status = 'interrupted', s.finished_at = $at"

    @cached_property
    def create_errors(self) -> str:
        as_int = _to_integer
        return (
            "UNWIND $rows AS r CREATE (x:SyncError {id: r.id, sync_run: r.sync_run, source: r.source, "
            f"location: r.location, document_index: {as_int('r.document_index')}, line: {as_int('r.line')}, "
            "entity_ref: r.entity_ref, category: r.category, message: r.message, at: r.at})"
        )

    @cached_property
    def forget_file_digests(self) -> str:
        return "MATCH (f:SourceFile) WHERE f.source = $source DELETE f"

    @cached_property
    def file_digests(self) -> str:
        return "MATCH (f:SourceFile) WHERE f.source = $source RETURN f.location, f.digest"

    @cached_property
    def schema_version(self) -> str:
        return "MATCH (m:StoreMeta {id: 'store'}) RETURN m.schema_version"

    @cached_property
    def any_entity(self) -> str:
        return "MATCH (e:Entity) RETURN e.ref LIMIT 1"

    @cached_property
    def set_schema_version(self) -> str:
        return "MERGE (m:StoreMeta {id: 'store'}) ON CREATE SET m.schema_version = $version"

    @cached_property
    def register_location(self) -> str:
        return (
            "MERGE (l:RegisteredLocation {target: $target}) "
            "ON CREATE SET l.added_at = $at, l.branch = $branch, l.discovery_glob = $discovery_glob"
        )

    @cached_property
    def unregister_location(self) -> str:
        return "MATCH (l:RegisteredLocation {target: $target}) DELETE l"

    # --- reads used by the sync ----------------------------------------------------------------------------

    @cached_property
    def source_state(self) -> str:
        return "MATCH (e:Entity) WHERE e.source = $source RETURN e.ref, e.hash, e.state, e.location"

    @cached_property
    def claims(self) -> str:
        return "UNWIND $refs AS ref MATCH (e:Entity {ref: ref}) RETURN e.ref, e.source, e.state"

    @cached_property
    def event_subjects(self) -> str:
        return (
            "UNWIND $refs AS ref MATCH (e:Entity {ref: ref}) "
            "RETURN e.ref, e.kind, e.namespace, e.owner, e.system, e.location, e.version_starts"
        )

    @cached_property
    def documents(self) -> str:
        return "UNWIND $refs AS ref MATCH (e:Entity {ref: ref}) RETURN e.ref, e.document"

    @cached_property
    def registered_locations(self) -> str:
        return "MATCH (l:RegisteredLocation) RETURN l.target, l.added_at, l.branch, l.discovery_glob ORDER BY l.target"

    # --- reads used by the API -----------------------------------------------------------------------------

    @cached_property
    def entities_by_ref(self) -> str:
        """Present entities by ref: key lookups, which both engines batch well."""
        present = f"e.state = '{PRESENT}'"
        return f"UNWIND $refs AS ref MATCH (e:Entity {{ref: ref}}) WHERE {present} RETURN {ENTITY_RETURN}"

    @cached_property
    def version_starts(self) -> str:
        """When each entity's versions began: enough to name the version valid at any instant."""
        return "UNWIND $refs AS ref MATCH (e:Entity {ref: ref}) RETURN e.ref, e.version_starts"

    def entities_at(self, as_of: int) -> str:
        """Entities by ref as they were at `as_of`: the entity's versions by the `ref` index, the one valid then.

        Only a version's own validity decides which one that is: its start, set once, and its end, set once
        when a later sync closes it. Picking the version from the entity's `version_starts` list (one key
        lookup, which suited LadybugDB) depends on a list every changing sync rewrites.
        """
        version = self._version_of("a", as_of, [_not_ended("e", as_of)])
        return f"UNWIND $refs AS ref MATCH (a:Entity {{ref: ref}}) {version} RETURN {VERSION_RETURN}"

    def _version_of(self, entity: str, as_of: int, conditions: list[str]) -> str:
        """Binds `e` to the versions of `entity` that began at or before `as_of` and meet `conditions`."""
        started = f"e.valid_from <= {int(as_of)}"
        return f"MATCH (e:EntityVersion {{ref: {entity}.ref}}) WHERE {_all([started, *conditions])}"

    def _version_by_key(self, ref: str, start: str) -> str:
        """Binds `e` to the version with key `ref@start` (see `graphsvc.sync.version_key`)."""
        return f"WITH {ref} + '@' + toString({start}) AS id MATCH (e:EntityVersion {{id: id}})"

    def _heads(self, active: tuple[str, ...], as_of: int | None, *, paged: bool) -> list[str]:
        """`MATCH ... WHERE` clauses binding `e` to what matches the filters: the present entities, or the
        versions valid at `as_of`. Several heads are disjoint parts of the answer, to be joined by UNION ALL.

        An owner filter walks the owner's incoming OWNED_BY edges instead of scanning every entity. The `WITH`
        keeps LadybugDB from pushing the entity conditions into a scan of the whole table (measured at 100k
        entities: 1.45 ms with a plain WHERE, 0.3 ms with WITH ... WHERE). At an instant the walk continues to
        each owned entity's version by key, as in `entities_at` (no DISTINCT needed: only an entity's own
        `spec.owner` declares its OWNED_BY edge, so one at a time is valid, as the present walk assumes too);
        without an owner the versions are scanned in the two parts of `valid_at_parts`. Removed entities are
        scanned (their OWNED_BY edges are closed): the entities marked removed, or at `as_of` the versions
        that ended by then with none after them (`_removed_by`).
        """
        removed = _REMOVED in active
        skipped = {_REMOVED, *(() if removed else ("owner",))}
        conditions = [_condition(name, as_of) for name in active if name not in skipped]
        if paged:
            conditions.append("e.ref > $after")
        if removed:
            if as_of is None:
                return [f"MATCH (e:Entity) WHERE {_all([_IS_REMOVED, *conditions])}"]
            return [f"MATCH (e:EntityVersion) WHERE {_all([_removed_by('e', as_of), *conditions])}"]
        owner = "MATCH (o:Entity {ref: $owner})<-[w:OWNED_BY]-"
        if as_of is None:
            present = [f"e.state = '{PRESENT}'", *conditions]
            if "owner" in active:
                return [f"{owner}(e:Entity) WITH e, w WHERE {_all([valid('w', False), *present])}"]
            return [f"MATCH (e:Entity) WHERE {_all(present)}"]
        if "owner" in active:
            walk = f"{owner}(a:Entity) WITH a, w WHERE {valid_at('w', as_of)}"
            return [f"{walk} {self._version_of('a', as_of, [_not_ended('e', as_of), *conditions])}"]
        return [f"MATCH (e:EntityVersion) WHERE {_all([part, *conditions])}" for part in valid_at_parts("e", as_of)]

    def find_entities(self, active: tuple[str, ...], as_of: int | None = None) -> str:
        """A page of matching entities (versions at `as_of`) after `$after`, in ref order, up to `$limit`.

        A scan picks the page by key first and reads only that page's rows: sorting the whole rows of every
        match, large `document` included, made the present kind+type page cost 69 ms against 20 ms (100k
        entities, 33k matches). An owner's walk reaches few rows and returns them directly. The parts of a
        UNION ALL each bring their own page: the caller merges them and keeps the first `$limit`.
        """
        returned = ENTITY_RETURN if as_of is None else VERSION_RETURN
        if _REMOVED in active and as_of is not None:
            returned = REMOVED_VERSION_RETURN
        if "owner" in active and _REMOVED not in active:
            tail = f"RETURN {returned} ORDER BY e.ref LIMIT $limit"
        else:
            tail = f"{self._page(as_of)} RETURN {returned} ORDER BY e.ref"
        return _union(f"{head} {tail}" for head in self._heads(active, as_of, paged=True))

    def _page(self, as_of: int | None) -> str:
        """Keeps the first `$limit` matches by ref and binds `e` to them again, now with all their properties."""
        if as_of is None:
            return "WITH e.ref AS ref ORDER BY ref LIMIT $limit MATCH (e:Entity {ref: ref})"
        page = "WITH e.ref AS ref, e.valid_from AS start ORDER BY ref LIMIT $limit"
        return f"{page} {self._version_by_key('ref', 'start')}"

    def count_entities(self, active: tuple[str, ...], as_of: int | None = None) -> str:
        """How many entities match, as one count per part: the caller adds them up."""
        return _union(f"{head} RETURN count(e) AS n" for head in self._heads(active, as_of, paged=False))

    def facet(self, field: str, active: tuple[str, ...], as_of: int | None = None) -> str:
        """(value, count) of `field` over the matches, per part: the caller adds up the parts' counts."""
        if field == "tag":  # an entity without tags is counted in the null bucket
            each = "UNWIND CASE WHEN size(coalesce(e.tags, [])) = 0 THEN [null] ELSE e.tags END AS value"
            tail = f"{each} RETURN value, count(*) AS n ORDER BY n DESC, value"
        else:
            tail = f"WITH e.{field} AS value RETURN value, count(*) AS n ORDER BY n DESC, value"
        return _union(f"{head} {tail}" for head in self._heads(active, as_of, paged=False))

    def _start(self, batched: bool) -> str:
        """Many start refs at once (`$refs`), or one (`$ref`): see `Dialect.batched_key_lookups`."""
        return "UNWIND $refs AS ref MATCH (a:Entity {ref: ref})" if batched else "MATCH (a:Entity {ref: $ref})"

    def relations(self, direction: str, at: bool = False, batched: bool = True) -> str:
        """Relation edges of entities, one direction; open now, or valid at `$as_of`."""
        arrow = f"-[x:{RELATION_LABELS}]->" if direction == "out" else f"<-[x:{RELATION_LABELS}]-"
        return f"{self._start(batched)}{arrow}(b:Entity) WHERE {valid('x', at)} RETURN a.ref, type(x), b.ref"

    def neighbours(self, label: str, direction: str, at: bool = False, batched: bool = True) -> str:
        """One hop along edges of one label (breadth-first traversal, owned entities)."""
        arrow = f"-[x:{label}]->" if direction == "out" else f"<-[x:{label}]-"
        return f"{self._start(batched)}{arrow}(b:Entity) WHERE {valid('x', at)} RETURN DISTINCT a.ref, b.ref"

    def reachable(self, label: str, direction: str, depth: int, at: bool = False) -> str | None:
        """None: the store walks level by level (one statement per level), which keeps the cost proportional
        to the nodes reached on dense graphs, where variable-length patterns enumerate paths."""
        return None

    def edges_of(self, label: str, at: bool = False) -> str:
        """Every edge of one label, open now or (`at`) valid at `$as_of`, each (source, target) once."""
        return f"MATCH (a:Entity)-[x:{label}]->(b:Entity) WHERE {valid('x', at)} RETURN DISTINCT a.ref, b.ref"

    def dump(self, name: str) -> tuple[str, tuple[str, ...]]:
        """Every row of one table (see `DUMP_TABLES`) in key order, and the column names."""
        if name == "edges":
            props = ", ".join(f"x.{c}" for c in EDGE_DUMP_COLUMNS[3:])
            return (
                f"MATCH (a:Entity)-[x:{RELATION_LABELS}]->(b:Entity) RETURN a.ref, type(x), b.ref, {props} "
                "ORDER BY a.ref, type(x), b.ref, x.origin, x.valid_from",
                EDGE_DUMP_COLUMNS,
            )
        table = DUMP_TABLES[name]
        columns = tuple(c.name for c in table.columns)
        props = ", ".join(f"n.{c}" for c in columns)
        return f"MATCH (n:{table.label}) RETURN {props} ORDER BY n.{table.key}", columns

    @cached_property
    def version_census(self) -> str:
        """(entities with versions, fewest and most versions of one, fewest and most open, all versions)."""
        return (
            f"MATCH (e:Entity)-[:{VERSION_EDGE}]->(v:EntityVersion) WITH e, count(v) AS n, "
            "sum(CASE WHEN v.valid_to IS NULL THEN 1 ELSE 0 END) AS open "
            "RETURN count(e), min(n), max(n), min(open), max(open), sum(n)"
        )

    @cached_property
    def invariants(self) -> list[tuple[str, str]]:
        """(what must hold, a statement answering the rows that break it): see `GraphStore.check`."""
        return [
            (
                "each present entity has exactly one open version",
                f"MATCH (e:Entity) WHERE e.state = '{PRESENT}' OPTIONAL MATCH (e)-[:{VERSION_EDGE}]->(v:EntityVersion) "
                "WHERE v.valid_to IS NULL WITH e, count(v) AS n WHERE n <> 1 RETURN e.ref, n",
            ),
            (
                "no entity that is not present has an open version",
                f"MATCH (e:Entity)-[:{VERSION_EDGE}]->(v:EntityVersion) WHERE e.state <> '{PRESENT}' "
                "AND v.valid_to IS NULL RETURN e.ref, e.state",
            ),
            (
                "a present entity's columns are those of its open version",
                f"MATCH (e:Entity)-[:{VERSION_EDGE}]->(v:EntityVersion) WHERE e.state = '{PRESENT}' "
                "AND v.valid_to IS NULL AND (e.document <> v.document OR e.hash <> v.hash) RETURN e.ref",
            ),
            (
                "no two open edges have the same source, type, target and origin",
                f"MATCH (a:Entity)-[x:{RELATION_LABELS}]->(b:Entity) WHERE x.valid_to IS NULL "
                "WITH a.ref AS src, type(x) AS type, b.ref AS dst, x.origin AS origin, count(*) AS n WHERE n > 1 "
                "RETURN src, type, dst, origin, n",
            ),
            (
                "an open edge's origin is a present entity",
                f"MATCH (a:Entity)-[x:{RELATION_LABELS}]->(b:Entity) WHERE x.valid_to IS NULL "
                "OPTIONAL MATCH (o:Entity {ref: x.origin}) "
                f"WITH a, x, b, o WHERE o IS NULL OR o.state <> '{PRESENT}' "
                "RETURN a.ref, type(x), b.ref, x.origin",
            ),
            (
                "every change event points at existing versions",
                "MATCH (c:ChangeEvent) WHERE (c.version IS NOT NULL AND NOT EXISTS { MATCH (v:EntityVersion "
                "{id: c.version}) }) OR (c.previous IS NOT NULL AND NOT EXISTS { MATCH (v:EntityVersion "
                "{id: c.previous}) }) RETURN c.id",
            ),
        ]

    # --- reads for time travel: history, changes, graph diffs, ownership --------------------------------------

    @cached_property
    def versions_of(self) -> str:
        return (
            f"MATCH (:Entity {{ref: $ref}})-[:{VERSION_EDGE}]->(v:EntityVersion) "
            f"RETURN {VERSION_COLUMNS} ORDER BY v.valid_from DESC"
        )

    @cached_property
    def version_documents(self) -> str:
        return "UNWIND $ids AS id MATCH (v:EntityVersion {id: id}) RETURN v.id, v.document"

    @cached_property
    def change_batches(self) -> str:
        """The batches of change events recorded in [$since, $until), in feed order: one per write that
        changed something, so few even over long windows."""
        return (
            "MATCH (b:ChangeBatch) WHERE b.at >= $since AND b.at < $until RETURN b.id, b.at, b.size ORDER BY b.at, b.id"
        )

    @cached_property
    def change_events_by_id(self) -> str:
        return f"UNWIND $ids AS id MATCH (c:ChangeEvent {{id: id}}) RETURN c.id, {CHANGE_EVENT_COLUMNS}"

    def change_event_keys(self, active: tuple[str, ...]) -> str:
        """Where the events in [$since, $until) whose entity matched the filters at the time sit in the feed
        (batch, ordinal), in feed order; `types` among the filters: of those types only (`$types`). Only the
        sort keys are read: LadybugDB materializes the returned columns of every matching row before sorting
        (measured on a 122k-event day: 62 ms for the keys, 280 ms with the event ids, 450 ms with the page's
        columns)."""
        conditions = ["c.at >= $since", "c.at < $until"]
        conditions += [_CHANGE_TYPES if name == "types" else _CONDITIONS[name].replace("e.", "c.") for name in active]
        return (
            f"MATCH (c:ChangeEvent) WHERE {_all(conditions)} "
            "RETURN c.batch, c.ordinal ORDER BY c.at, c.batch, c.ordinal LIMIT $limit"
        )

    @cached_property
    def versions_at(self) -> str:
        return f"MATCH (e:EntityVersion) WHERE {valid('e', True)} RETURN e.ref, e.id"

    @cached_property
    def edges_at(self) -> str:
        return (
            f"MATCH (a:Entity)-[x:{RELATION_LABELS}]->(b:Entity) WHERE {valid('x', True)} RETURN a.ref, type(x), b.ref"
        )

    @cached_property
    def owner_edges_of(self) -> str:
        return (
            "MATCH (a:Entity {ref: $ref})-[x:OWNED_BY]->(b:Entity) WHERE x.origin = $ref "
            "RETURN b.ref, x.valid_from, x.valid_to, x.source, x.sync_run, x.commit_sha, x.commit_author "
            "ORDER BY x.valid_from"
        )

    @cached_property
    def owner_edges_between(self) -> str:
        return (
            "MATCH (a:Entity)-[x:OWNED_BY]->(b:Entity) WHERE x.origin = a.ref AND x.valid_from < $until "
            "AND (x.valid_to IS NULL OR x.valid_to > $since) RETURN a.ref, b.ref, x.valid_from, x.valid_to"
        )

    def lifetimes_between(self, active: tuple[str, ...], by_ref: bool = False) -> str:
        """Version intervals overlapping [$since, $until): when entities existed."""
        conditions = ["e.valid_from < $until", "(e.valid_to IS NULL OR e.valid_to > $since)"]
        conditions += [_CONDITIONS[name] for name in active]
        if by_ref:
            conditions.append("e.ref IN $refs")
        return f"MATCH (e:EntityVersion) WHERE {' AND '.join(conditions)} RETURN e.ref, e.valid_from, e.valid_to"

    @cached_property
    def sync_runs(self) -> str:
        cols = ", ".join(f"s.{f}" for f in SYNC_RUN_FIELDS)
        return f"MATCH (s:SyncRun) RETURN {cols} ORDER BY s.started_at DESC LIMIT $limit"

    @cached_property
    def latest_commit(self) -> str:
        return (
            "MATCH (s:SyncRun) WHERE s.source = $source AND s.commit_sha IS NOT NULL "
            "AND s.status IN ['completed', 'completed_with_errors'] "
            "RETURN s.commit_sha, s.started_at ORDER BY s.started_at DESC LIMIT 1"
        )

    @cached_property
    def latest_runs(self) -> str:
        return "MATCH (s:SyncRun) RETURN s.source, max(s.started_at)"

    @cached_property
    def newest_committed_sync(self) -> str:
        """The newest instant of a committed sync of the source (any commit or none)."""
        return (
            "MATCH (s:SyncRun) WHERE s.source = $source AND s.status IN ['completed', 'completed_with_errors'] "
            "RETURN max(s.started_at)"
        )

    def errors(self, active: tuple[str, ...]) -> str:
        cols = ", ".join(f"x.{f}" for f in SYNC_ERROR_FIELDS)
        where = self._error_conditions(active)
        return f"MATCH (x:SyncError) WHERE {where} RETURN {cols} ORDER BY x.at DESC, x.id LIMIT $limit"

    def count_errors(self, active: tuple[str, ...]) -> str:
        return f"MATCH (x:SyncError) WHERE {self._error_conditions(active)} RETURN count(x)"

    @staticmethod
    def _error_conditions(active: tuple[str, ...]) -> str:
        conditions = {
            "sync_runs": "x.sync_run IN $sync_runs",
            "location": "x.location = $location",
            "entity_ref": "x.entity_ref = $entity_ref",
        }
        return " AND ".join(conditions[name] for name in active) or "true"

    @cached_property
    def latest_run_ids(self) -> str:
        return "MATCH (s:SyncRun) WHERE s.source IN $sources AND s.started_at IN $moments RETURN s.id"

    # --- whole-store imports (graphsvc.portable) ---------------------------------------------------------------

    def count_rows(self, name: str) -> str:
        """How many rows one table of `DUMP_TABLES` (or "edges": the relation edges) holds."""
        if name == "edges":
            return f"MATCH ()-[x:{RELATION_LABELS}]->() RETURN count(x)"
        return f"MATCH (n:{DUMP_TABLES[name].label}) RETURN count(n)"

    def delete_rows(self, name: str) -> list[str]:
        """A statement deleting up to `$limit` rows of one table of `DUMP_TABLES` (or "edges"), with their
        relationships: one slice per transaction, so a large store needs no huge one."""
        if name == "edges":
            return [f"MATCH ()-[x:{RELATION_LABELS}]->() WITH x LIMIT $limit DELETE x"]
        return [f"MATCH (n:{DUMP_TABLES[name].label}) WITH n LIMIT $limit DETACH DELETE n"]

    @cached_property
    def import_marker(self) -> str:
        return f"MATCH (m:{IMPORT_MARKER.label}) RETURN {', '.join(f'm.{c.name}' for c in IMPORT_MARKER.columns)}"

    @cached_property
    def clear_import_marker(self) -> str:
        return f"MATCH (m:{IMPORT_MARKER.label}) DELETE m"


WRITER_PROPERTIES = ("held_by", "generation", "applying")
"""The properties of the StoreMeta nodes only Neo4j has: the writer node (`{id: 'writer'}`), the lock every
write transaction takes, and the commit gate (`{id: 'commit'}`) readers check (see `neo4j_backend`)."""


SAMPLE_INSTANT = 1_767_225_600_000_000
"""An instant to write into the as-of entity reads when enumerating them (they carry it as a literal)."""


SAMPLE_FILTERS = EntityFilter(
    **{f.name: "x" for f in fields(EntityFilter) if f.type == "str | None"},
    annotation=("a",),
    label=("a",),
    missing=("hasMember",),
    dangling=("ownedBy",),
)
"""Every kind of filter: the filter clauses the lint tests enumerate (each relation test in the other
direction too, on its own: `RELATION_SAMPLES`)."""
RELATION_SAMPLES = ("missing:ownedBy", "dangling:hasMember")
REMOVED_SAMPLE = ("kind", "annotation", "missing:hasMember", _REMOVED)
"""Removed entities with filters of each kind."""
VALUE_FILTERS = tuple(name for name in SAMPLE_FILTERS.active() if ":" not in name)
"""The filters that are conditions on an entity's (or version's) own columns, with a parameter each."""


def _parameters(active: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(name for name in active if ":" not in name)


def all_statements(statements: Statements) -> list[tuple[str, tuple[str, ...]]]:
    """Every statement the store can send, with the parameters it uses: the lint tests' input."""
    from itertools import combinations

    filters = SAMPLE_FILTERS.active()
    filter_sets = [()] + [(name,) for name in filters] + [filters] + list(combinations(("owner", "kind", "tag"), 2))
    filter_sets += [(name,) for name in RELATION_SAMPLES] + [("owner", _REMOVED), REMOVED_SAMPLE]
    out: list[tuple[str, tuple[str, ...]]] = []
    rows = ("rows",)
    for name in ("update_entities", "relocate_entities", "close_versions", "mark_removed", "create_errors"):
        out.append((getattr(statements, name), rows))
    for table in NODE_TABLES:
        out.append((statements.insert_nodes(table), rows))
    for edge_table in (*RELATION_EDGES.values(), VERSION_EDGES):
        out.append((statements.insert_edges(edge_table), rows))
    for label in EDGE_LABELS.values():
        out.append((statements.close_edges(label), rows))
    out.append((statements.create_sync_run, ("id", "source", "started_at", "commit_sha", "principal")))
    out.append((statements.insert_nodes(API_TOKEN), rows))
    out.append((statements.api_tokens, ()))
    out.append((statements.revoke_api_token, ("id", "at", "by")))
    for statement in statements.migrate_schema:
        out.append((statement, ()))
    for table in ("entities", "versions"):
        out.append((statements.metadata_documents(table), ("after", "limit")))
        out.append((statements.set_metadata_entries(table), rows))
    out.append((statements.set_current_schema_version, ()))
    out.append(
        (
            statements.finish_sync_run,
            ("id", "finished_at", "status", "added", "updated", "removed", "unchanged", "errors"),
        )
    )
    out.append((statements.interrupt_running_syncs, ("at",)))
    out.append((statements.take_writer_lock, ("label",)))
    out.append((statements.commit_gate, ()))
    out.append((statements.open_commit_gate, ("write",)))
    out.append((statements.close_commit_gate, ("write",)))
    out.append((statements.running_sync_runs, ()))
    out.append((statements.interrupt_sync_runs, ("ids", "at")))
    out.append((statements.register_location, ("target", "at", "branch", "discovery_glob")))
    out.append((statements.unregister_location, ("target",)))
    out.append((statements.source_state, ("source",)))
    out.append((statements.forget_file_digests, ("source",)))
    out.append((statements.file_digests, ("source",)))
    for name in ("claims", "documents"):
        out.append((getattr(statements, name), ("refs",)))
    for at, extra in ((False, ()), (True, ("as_of",))):
        as_of = SAMPLE_INSTANT if at else None
        if at:
            out.append((statements.version_starts, ("refs",)))
            out.append((statements.entities_at(SAMPLE_INSTANT), ("refs",)))
        else:
            out.append((statements.entities_by_ref, ("refs",)))
        for direction in ("out", "in"):
            for batched, key in ((True, "refs"), (False, "ref")):
                out.append((statements.relations(direction, at, batched), (key, *extra)))
                for label in EDGE_LABELS.values():
                    out.append((statements.neighbours(label, direction, at, batched), (key, *extra)))
            for label in EDGE_LABELS.values():
                out.append((statements.edges_of(label, at), extra))
                for depth in range(1, 11):
                    statement = statements.reachable(label, direction, depth, at)
                    if statement:
                        out.append((statement, ("ref", *extra)))
        for active in filter_sets:
            parameters = _parameters(active)
            out.append((statements.find_entities(active, as_of), (*parameters, "after", "limit")))
            out.append((statements.count_entities(active, as_of), parameters))
        for field in FACET_FIELDS:  # the filter clauses are the ones above; each facet with none and with all
            for active in ((), VALUE_FILTERS, *((REMOVED_SAMPLE,) if field == "tag" else ())):
                out.append((statements.facet(field, active, as_of), _parameters(active)))
    for name in (*DUMP_TABLES, "edges"):
        out.append((statements.dump(name)[0], ()))
    out.append((statements.version_census, ()))
    for _, statement in statements.invariants:
        out.append((statement, ()))
    out.append((statements.registered_locations, ()))
    out.append((statements.schema_version, ()))
    out.append((statements.set_schema_version, ("version",)))
    out.append((statements.any_entity, ()))
    out.append((statements.versions_of, ("ref",)))
    out.append((statements.event_subjects, ("refs",)))
    out.append((statements.version_documents, ("ids",)))
    out.append((statements.change_batches, ("since", "until")))
    out.append((statements.change_events_by_id, ("ids",)))
    for active in [(name,) for name in (*CHANGE_FILTERS, "types")] + [(*CHANGE_FILTERS, "types")]:
        out.append((statements.change_event_keys(active), ("since", "until", "limit", *active)))
    out.append((statements.versions_at, ("as_of",)))
    out.append((statements.edges_at, ("as_of",)))
    out.append((statements.owner_edges_of, ("ref",)))
    out.append((statements.owner_edges_between, ("since", "until")))
    for active in ((), VALUE_FILTERS):
        out.append((statements.lifetimes_between(active), ("since", "until", *active)))
    out.append((statements.lifetimes_between((), by_ref=True), ("since", "until", "refs")))
    out.append((statements.sync_runs, ("limit",)))
    out.append((statements.latest_runs, ()))
    out.append((statements.newest_committed_sync, ("source",)))
    out.append((statements.latest_commit, ("source",)))
    out.append((statements.latest_run_ids, ("sources", "moments")))
    for active in [
        (),
        ("sync_runs",),
        ("location",),
        ("entity_ref",),
        ("sync_runs", "location", "entity_ref"),
    ]:
        out.append((statements.errors(active), active + ("limit",)))
    out += _import_statements(statements)
    return out


def _import_statements(statements: Statements) -> list[tuple[str, tuple[str, ...]]]:
    """The statements of `catalog import` (`graphsvc.portable`), with their parameters."""
    out: list[tuple[str, tuple[str, ...]]] = [(statements.import_marker, ()), (statements.clear_import_marker, ())]
    for name in (*DUMP_TABLES, "edges"):
        out.append((statements.count_rows(name), ()))
        out += [(statement, ("limit",)) for statement in statements.delete_rows(name)]
    return out
