"""Every statement the Neo4j backend can send, checked by Neo4j's own Cypher front end.

Neo4j cannot run on this machine, so `@neo4j-cypher/language-support` (`lintCypherQuery`, under Cypher 5 and
Cypher 25) stands in for the server's parser and semantic analysis. One linter run covers all statements (a
Node start costs seconds); that each statement uses only the parameters it is sent with is checked here.
"""

from __future__ import annotations

import os
import re

import pytest

from graphsvc.store.cypher import WRITER_PROPERTIES, Statements, all_statements, schema_statements
from graphsvc.store.schema import EDGE_COLUMNS, EDGE_LABELS, NODE_TABLES, VERSION_EDGE
from tests.cypher_lint.neo4j_lint import ensure_linter_installed, format_report, lint_cypher

# Keys read from `$rows` maps that are not columns of any table (all others are, and are declared below).
ROW_KEYS = {"src", "dst", "at"}
SCHEMA = {
    "labels": [t.label for t in NODE_TABLES],
    "relationship_types": [*EDGE_LABELS.values(), VERSION_EDGE],
    "property_keys": sorted(
        {c.name for t in NODE_TABLES for c in t.columns}
        | {c.name for c in EDGE_COLUMNS}
        | ROW_KEYS
        | set(WRITER_PROPERTIES)
    ),
}


@pytest.fixture(scope="module")
def linter() -> None:
    reason = ensure_linter_installed()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


def test_every_neo4j_statement_lints_clean(linter: None) -> None:
    enumerated = all_statements(Statements())
    for text, parameters in enumerated:
        assert set(re.findall(r"\$(\w+)", text)) == set(parameters), text
    texts = [text for text, _ in enumerated] + schema_statements()
    declared = {name for _, parameters in enumerated for name in parameters}
    results = lint_cypher(texts, parameters=dict.fromkeys(declared), **SCHEMA)
    assert not any(results), format_report(texts, results)
    assert len(texts) > 100  # the enumeration really covers the store


def test_the_lint_rejects_cypher_of_other_engines(linter: None) -> None:
    """Control: statements in the Cypher dialect of another engine (LadybugDB's, which this store used to
    speak) must NOT pass as Neo4j Cypher."""
    texts = [
        "UNWIND $refs AS ref MATCH (a:Entity {ref: ref})-[x:OWNED_BY]->(b:Entity) RETURN a.ref, label(x), b.ref",
        "UNWIND $rows AS r CREATE (x:SyncError {id: r.id, line: cast(r.line AS INT64)})",
        "CREATE NODE TABLE IF NOT EXISTS Entity(ref STRING PRIMARY KEY)",
        "MATCH p = (a:Entity {ref: $ref})-[x:DEPENDS_ON* SHORTEST 1..6]->(b:Entity) RETURN b.ref, length(p)",
    ]
    results = lint_cypher(texts, parameters={"refs": None, "rows": None, "ref": None}, **SCHEMA)
    assert all(any(d.is_error for d in diagnostics) for diagnostics in results), format_report(texts, results)
