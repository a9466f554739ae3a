"""Every statement the Neo4j backend can send, checked by Neo4j's own Cypher front end.

Neo4j cannot run on this machine, so `@neo4j-cypher/language-support` (`lintCypherQuery`, under Cypher 5 and
Cypher 25) stands in for the server's parser and semantic analysis. One linter run covers all statements (a
Node start costs seconds); that each statement uses only the parameters it is sent with is checked here.
"""

from __future__ import annotations

import os
import re

import pytest

from graphsvc.store.cypher import Statements, all_statements
from graphsvc.store.dialect import Neo4jDialect
from graphsvc.store.schema import EDGE_COLUMNS, EDGE_LABELS, NODE_TABLES, VERSION_EDGE
from tests.cypher_lint.neo4j_lint import ensure_linter_installed, format_report, lint_cypher

# Keys read from `$rows` maps that are not columns of any table (all others are, and are declared below).
ROW_KEYS = {"src", "dst", "at"}
SCHEMA = {
    "labels": [t.label for t in NODE_TABLES],
    "relationship_types": [*EDGE_LABELS.values(), VERSION_EDGE],
    "property_keys": sorted(
        {c.name for t in NODE_TABLES for c in t.columns} | {c.name for c in EDGE_COLUMNS} | ROW_KEYS
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
    enumerated = all_statements(Statements(Neo4jDialect()))
    for text, parameters in enumerated:
        assert set(re.findall(r"\$(\w+)", text)) == set(parameters), text
    texts = [text for text, _ in enumerated] + Neo4jDialect().schema_statements()
    declared = {name for _, parameters in enumerated for name in parameters}
    results = lint_cypher(texts, parameters=dict.fromkeys(declared), **SCHEMA)
    assert not any(results), format_report(texts, results)
    assert len(texts) > 100  # the enumeration really covers the store


def test_the_lint_rejects_the_ladybug_dialect(linter: None) -> None:
    """Control: the LadybugDB text of the same statements must NOT pass as Neo4j Cypher."""
    from graphsvc.store.dialect import LadybugDialect

    ladybug = Statements(LadybugDialect())
    texts = [
        ladybug.relations("out"),
        ladybug.create_errors,
        *LadybugDialect().schema_statements()[:1],
        ladybug.reachable("DEPENDS_ON", "out", 6),
    ]
    results = lint_cypher(texts, parameters={"refs": None, "rows": None, "ref": None}, **SCHEMA)
    assert all(any(d.is_error for d in diagnostics) for diagnostics in results), format_report(texts, results)
