"""The offline Neo4j Cypher lint harness must be able to fail.

The linter's semantic pass swallows its own exceptions and then reports nothing, i.e. "clean", so
these negative controls guard against a harness that silently passes everything. Positive controls
guard against one that rejects everything.
"""

from __future__ import annotations

import os

import pytest

from tests.cypher_lint.neo4j_lint import (
    ERROR,
    WARNING,
    Diagnostic,
    ensure_linter_installed,
    format_report,
    lint_cypher,
    problems,
)

LANGUAGES = ("CYPHER 5", "CYPHER 25")

SCHEMA = dict(
    labels=["Entity", "EntityVersion"],
    relationship_types=[
        "OWNED_BY",
        "DEPENDS_ON",
        "PART_OF",
        "PROVIDES_API",
        "CONSUMES_API",
        "MEMBER_OF",
        "CHILD_OF",
        "HAS_VERSION",
    ],
    property_keys=[
        "ref",
        "kind",
        "name",
        "title",
        "tags",
        "spec_json",
        "valid_from",
        "valid_to",
        "src",
        "dst",
        "vf",
        "vt",
    ],
    parameters={"ref": "x", "rows": [], "t": 0, "tags": [], "d": 3},
)


@pytest.fixture(scope="module", autouse=True)
def _linter_installed():
    reason = ensure_linter_installed()
    if reason is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)


def lint(statements: list[str]) -> list[list[Diagnostic]]:
    return lint_cypher(statements, **SCHEMA)


# (name, statement, substring expected in at least one error message)
NEGATIVE = [
    ("ladybug_ddl", "CREATE NODE TABLE Entity(ref STRING PRIMARY KEY)", "Invalid input 'TABLE'"),
    (
        "ladybug_recursive_lambda",
        "MATCH (a:Entity {ref: $ref})-[:DEPENDS_ON*1..6 (r, n | WHERE r.valid_from <= $t)]->(b:Entity) RETURN b.ref",
        "Invalid input '('",
    ),
    ("label_function", "MATCH (n:Entity) RETURN label(n) AS kind", "Function label is not present"),
    (
        "shortest_in_rel_pattern",
        "MATCH (a:Entity {ref: $ref})-[:DEPENDS_ON* SHORTEST 1..6]->(b:Entity) RETURN b.ref",
        "Invalid input 'SHORTEST'",
    ),
    ("undeclared_parameter", "MATCH (e:Entity {ref: $nope}) RETURN e.name", "Parameter $nope is not defined"),
    ("unknown_function", "MATCH (e:Entity) RETURN frobnicate(e.ref) AS x", "Function frobnicate is not present"),
    ("syntax_garbage", "MATCH (( RETURN ]", "Invalid input"),
    # $d IS declared: the error must come from the hop bound itself, not from an undeclared parameter.
    (
        "parameter_hop_bound",
        "MATCH (a:Entity {ref: $ref})-[:DEPENDS_ON*1..$d]->(b:Entity) RETURN b.ref",
        "Parameter maps cannot be used in `MATCH` patterns",
    ),
]

POSITIVE = [
    (
        "merge_upsert",
        "UNWIND $rows AS row\n"
        "MERGE (e:Entity {ref: row.ref})\n"
        "ON CREATE SET e.kind = row.kind, e.name = row.name, e.tags = row.tags, e.valid_from = row.vf\n"
        "ON MATCH SET e.kind = row.kind, e.name = row.name, e.tags = row.tags\n"
        "RETURN count(*) AS n",
    ),
    (
        "unique_constraint",
        "CREATE CONSTRAINT entity_ref IF NOT EXISTS FOR (e:Entity) REQUIRE e.ref IS UNIQUE",
    ),
    (
        "valid_path_all",
        "MATCH p = (a:Entity {ref: $ref})-[:DEPENDS_ON*1..6]->(b:Entity)\n"
        "WHERE all(r IN relationships(p) WHERE r.valid_to IS NULL)\n"
        "RETURN DISTINCT b.ref AS ref",
    ),
    (
        "any_tag",
        "MATCH (e:Entity) WHERE any(t IN e.tags WHERE t IN $tags) RETURN e.ref AS ref ORDER BY ref",
    ),
]


@pytest.fixture(scope="module")
def negative_results():
    return dict(zip([n for n, _, _ in NEGATIVE], lint([s for _, s, _ in NEGATIVE]), strict=True))


@pytest.fixture(scope="module")
def positive_results():
    return dict(zip([n for n, _ in POSITIVE], lint([s for _, s in POSITIVE]), strict=True))


@pytest.mark.parametrize(("name", "statement", "expected"), NEGATIVE, ids=[n for n, _, _ in NEGATIVE])
def test_negative_control_is_rejected_in_both_languages(negative_results, name, statement, expected):
    diags = negative_results[name]
    report = format_report([statement], [diags])
    for language in LANGUAGES:
        errors = [d for d in diags if d.severity == ERROR and d.language == language]
        assert errors, f"{language}: no error for negative control {name}\n{report}"
        assert any(expected in d.message for d in errors), f"{language}: wrong error for {name}\n{report}"


@pytest.mark.parametrize(("name", "statement"), POSITIVE, ids=[n for n, _ in POSITIVE])
def test_positive_control_is_clean(positive_results, name, statement):
    diags = positive_results[name]
    assert diags == [], format_report([statement], [diags])


def test_cypher_25_is_really_checked():
    # LET is Cypher 25 only: an error under Cypher 5 and clean under Cypher 25 shows that both
    # passes run, each with its own language.
    [diags] = lint(["LET x = 1 RETURN x"])
    assert {d.language for d in diags if d.is_error} == {"CYPHER 5"}, diags


def test_warnings_are_reported_with_severity_and_only_allowed_explicitly():
    deprecated, unknown_label = lint(
        ["MATCH (e:Entity) RETURN id(e) AS i", "MATCH (x:NoSuchLabel) RETURN x.ref AS ref"]
    )
    assert deprecated and all(d.severity == WARNING for d in deprecated), deprecated
    assert problems(deprecated), "a warning must not pass unless the caller allows it"
    assert problems(deprecated, allowed_warnings=["deprecated"]) == []
    assert unknown_label and all(d.severity == WARNING for d in unknown_label), unknown_label
    assert any("NoSuchLabel" in d.message for d in unknown_label)
    # errors cannot be allowed away
    [garbage] = lint(["MATCH (( RETURN ]"])
    assert problems(garbage, allowed_warnings=["Invalid input", ""]) == garbage


def test_positions_are_one_based_within_the_statement():
    [diags] = lint(["MATCH (e:Entity)\nWHERE e.ref = $nope\nRETURN e"])
    assert {(d.line, d.column) for d in diags} == {(2, 15)}, diags


def test_several_statements_in_one_string_are_rejected():
    [diags] = lint(["MATCH (e:Entity) RETURN e.ref; MATCH (e:Entity) RETURN e.name"])
    assert any(d.is_error and d.language is None for d in diags), diags


def test_console_commands_are_not_cypher():
    [diags] = lint([":param ref => 'x'"])
    assert any(d.is_error for d in diags), diags


def test_semantic_crash_fails_the_statement(monkeypatch):
    # The library swallows exceptions of its semantic pass and then reports nothing at all: with the
    # hook (an unknown Cypher version makes that pass throw) even syntax garbage would lint clean.
    # lint.mjs must turn the swallowed crash into an error.
    monkeypatch.setenv("CYPHER_LINT_FORCE_SEMANTIC_CRASH", "1")
    results = lint(["MATCH (e:Entity) RETURN e.ref AS ref", "MATCH (( RETURN ]"])
    for diags in results:
        crashed = {d.language for d in diags if d.is_error and "semantic analysis threw" in d.message}
        assert crashed == set(LANGUAGES), diags


def test_worker_threads_give_the_same_result(monkeypatch, negative_results):
    monkeypatch.setenv("CYPHER_LINT_WORKERS", "2")
    assert lint([s for _, s, _ in NEGATIVE]) == list(negative_results.values())
