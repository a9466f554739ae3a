"""The few places where LadybugDB's Cypher and Neo4j's differ, each one named.

Every statement the store sends is written once in `cypher.py`; where the two engines disagree, the
statement asks its dialect for the fragment. See ../shared/docs/graph-engines.md for the measured table.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from graphsvc.store.schema import EDGE_COLUMNS, EDGE_LABELS, NODE_TABLES, VERSION_EDGE


class Dialect(ABC):
    name: str
    batched_key_lookups: bool
    """Whether `UNWIND $refs AS ref MATCH (a {ref: ref})-[...]->()` uses the key index. Neo4j's planner
    does; LadybugDB's hash-joins the whole edge table (22 ms vs 0.16 ms for one key at 10k entities), so
    on LadybugDB the store sends one indexed statement per ref instead."""

    @abstractmethod
    def schema_statements(self) -> list[str]:
        """DDL that creates tables / constraints / indexes, idempotently."""

    @abstractmethod
    def edge_type(self, variable: str) -> str:
        """The label of a relationship: `label(r)` on LadybugDB, `type(r)` on Neo4j."""

    def reachable(self, label: str, direction: str, depth: int, validity: str) -> str | None:
        """One statement answering "what is reachable within `depth` hops, at what distance", or None where
        the store should walk level by level. `validity` is the per-edge predicate over `r`."""
        return None

    @abstractmethod
    def nullable_int(self, expression: str) -> str:
        """An integer read from a `$rows` map that may be null in every row.

        LadybugDB types an all-null column as STRING, so it needs an explicit cast.
        """

    @abstractmethod
    def to_string(self, expression: str) -> str:
        """An integer as a string (to build a version key, `ref@valid_from`)."""

    @abstractmethod
    def latest_at(self, instants: str, instant: int) -> str:
        """The greatest element of the integer list `instants` that is <= `instant`, or null if none is.

        `instant` is written into the text: LadybugDB cannot read a parameter inside a list lambda."""


class LadybugDialect(Dialect):
    name = "ladybug"
    batched_key_lookups = False

    def schema_statements(self) -> list[str]:
        statements = []
        for table in NODE_TABLES:
            columns = ", ".join(
                f"{c.name} {c.type}" + (" PRIMARY KEY" if c.name == table.key else "") for c in table.columns
            )
            statements.append(f"CREATE NODE TABLE IF NOT EXISTS {table.label}({columns})")
        edge_columns = ", ".join(f"{c.name} {c.type}" for c in EDGE_COLUMNS)
        for label in EDGE_LABELS.values():
            statements.append(f"CREATE REL TABLE IF NOT EXISTS {label}(FROM Entity TO Entity, {edge_columns})")
        statements.append(f"CREATE REL TABLE IF NOT EXISTS {VERSION_EDGE}(FROM Entity TO EntityVersion)")
        return statements

    def edge_type(self, variable: str) -> str:
        return f"label({variable})"

    def reachable(self, label: str, direction: str, depth: int, validity: str) -> str | None:
        """`SHORTEST` keeps one path per node reached, so the cost is the nodes reached, not the walks, and
        the path length is the breadth-first distance. The hop bound must be a literal."""
        hops = f"[x:{label}* SHORTEST 1..{int(depth)} (r, n | WHERE {validity})]"
        pattern = f"-{hops}->" if direction == "out" else f"<-{hops}-"
        return f"MATCH p = (a:Entity {{ref: $ref}}){pattern}(b:Entity) RETURN b.ref, length(p) AS d ORDER BY d, b.ref"

    def nullable_int(self, expression: str) -> str:
        return f"cast({expression} AS INT64)"

    def to_string(self, expression: str) -> str:
        return f"cast({expression} AS STRING)"

    def latest_at(self, instants: str, instant: int) -> str:
        return f"list_max(list_filter({instants}, s -> s <= {int(instant)}))"


class Neo4jDialect(Dialect):
    name = "neo4j"
    batched_key_lookups = True

    def schema_statements(self) -> list[str]:
        statements = []
        for table in NODE_TABLES:
            low = table.label.lower()
            statements.append(
                f"CREATE CONSTRAINT {low}_{table.key} IF NOT EXISTS "
                f"FOR (n:{table.label}) REQUIRE n.{table.key} IS UNIQUE"
            )
            for prop in table.indexed:
                statements.append(f"CREATE INDEX {low}_{prop} IF NOT EXISTS FOR (n:{table.label}) ON (n.{prop})")
        for label in EDGE_LABELS.values():
            statements.append(
                f"CREATE INDEX {label.lower()}_validity IF NOT EXISTS "
                f"FOR ()-[r:{label}]-() ON (r.valid_from, r.valid_to)"
            )
            statements.append(f"CREATE INDEX {label.lower()}_origin IF NOT EXISTS FOR ()-[r:{label}]-() ON (r.origin)")
        return statements

    def edge_type(self, variable: str) -> str:
        return f"type({variable})"

    def nullable_int(self, expression: str) -> str:
        return f"toInteger({expression})"

    def to_string(self, expression: str) -> str:
        return f"toString({expression})"

    def latest_at(self, instants: str, instant: int) -> str:
        t = int(instant)
        return f"reduce(m = null, s IN {instants} | CASE WHEN s <= {t} AND (m IS NULL OR s > m) THEN s ELSE m END)"
