"""Splitting a catalog file into documents: positions, YAML 1.2 scalars, syntax errors and the guards."""

from __future__ import annotations

import math

import pytest

from ingestors.yaml_documents import YamlLimits, format_size, parse_yaml_documents


def test_each_document_has_its_index_and_start_line_and_empty_documents_are_skipped() -> None:
    text = (
        "# the first document starts after this comment\n"  # 1
        "kind: Component\n"  # 2
        "---\n"  # 3
        "---\n"  # 4: an empty document, still counted
        "kind: API\n"  # 5
        "spec:\n"  # 6
        "  type: openapi\n"  # 7
        "--- \n"  # 8
        "kind: Group\n"  # 9
        "---\n"  # 10: a trailing separator makes another empty document
    )
    parsed = parse_yaml_documents(text)

    assert [(d.index, d.line, d.data["kind"]) for d in parsed.documents] == [
        (0, 2, "Component"),
        (2, 5, "API"),
        (3, 9, "Group"),
    ]
    assert parsed.complete


def test_a_document_that_is_not_a_mapping_is_still_returned() -> None:
    parsed = parse_yaml_documents("- a\n- b\n---\njust text\n---\n42\n")

    assert [d.data for d in parsed.documents] == [["a", "b"], "just text", 42]


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("yes", "yes"),  # YAML 1.1 would say True; Backstage (YAML 1.2) keeps the string
        ("on", "on"),
        ("2024-01-01", "2024-01-01"),  # not a date
        ("1:20", "1:20"),  # not sexagesimal 80
        ("1_000", "1_000"),
        ("true", True),
        ("False", False),
        ("~", None),
        ("null", None),
        ("", None),
        ("42", 42),
        ("-7", -7),
        ("0o17", 15),
        ("0x1F", 31),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ("-.inf", -math.inf),
        ("'42'", "42"),
        ('"true"', "true"),
        ("!!str 42", "42"),
        ("!!float 1", 1.0),
        ("!Ref some-resource", "some-resource"),  # unknown tags are ignored, as in Backstage
        ("!!binary aGVsbG8=", "aGVsbG8="),
    ],
)
def test_scalars_follow_the_yaml_1_2_core_schema(written: str, value: object) -> None:
    parsed = parse_yaml_documents(f"value: {written}\n")

    assert parsed.documents[0].data == {"value": value}


def test_mapping_keys_are_strings_as_written() -> None:
    parsed = parse_yaml_documents("1: one\ntrue: yes\n'q': quoted\n")

    assert parsed.documents[0].data == {"1": "one", "true": "yes", "q": "quoted"}


def test_anchors_aliases_and_merge_keys_are_expanded() -> None:
    text = "defaults: &defaults {owner: team-a, lifecycle: production}\nspec:\n  <<: *defaults\n  lifecycle: beta\n"
    parsed = parse_yaml_documents(text)

    assert parsed.documents[0].data == {
        "defaults": {"owner": "team-a", "lifecycle": "production"},
        "spec": {"owner": "team-a", "lifecycle": "beta"},
    }


def test_a_duplicate_key_rejects_only_its_document() -> None:
    parsed = parse_yaml_documents("kind: A\nname: x\nname: y\n---\nkind: B\n")

    assert [d.data for d in parsed.documents] == [{"kind": "B"}]
    [problem] = parsed.problems
    assert (problem.message, problem.document_index, problem.line) == ("document 0: duplicate key 'name'", 0, 3)
    assert not problem.stops_file


def test_a_syntax_error_keeps_the_documents_before_it_and_says_where() -> None:
    text = "kind: A\n---\nkind: B\n---\nkind: C\nspec: [unclosed, list\nother: 1\n---\nkind: D\n"
    parsed = parse_yaml_documents(text)

    assert [d.data["kind"] for d in parsed.documents] == ["A", "B"]
    [problem] = parsed.problems
    assert problem.stops_file
    assert problem.document_index == 2
    assert problem.line == 7
    assert problem.message == (
        "YAML syntax error at line 7, column 6: did not find expected ',' or ']' (while parsing a flow sequence)"
    )
    assert not parsed.complete


def test_a_document_over_the_size_limit_is_rejected_and_its_neighbours_kept() -> None:
    huge = "description: " + "x" * (10 * 1024 * 1024 + 200_000) + "\n"
    parsed = parse_yaml_documents(f"kind: A\n---\n{huge}---\nkind: C\n")

    assert [d.data["kind"] for d in parsed.documents] == ["A", "C"]
    [problem] = parsed.problems
    assert problem.message == "document 1 is 10.2 MiB; the limit is 4.0 MiB"
    assert (problem.document_index, problem.line) == (1, 3)


def test_the_size_limit_counts_utf8_bytes() -> None:
    text = "name: " + "é" * 600 + "\n"  # 606 characters, 1206 bytes

    assert parse_yaml_documents(text, YamlLimits(max_document_bytes=1000)).problems[0].message == (
        "document 0 is 1.2 KiB; the limit is 1000 bytes"
    )
    assert parse_yaml_documents(text, YamlLimits(max_document_bytes=1300)).complete


def _nested_blocks(levels: int) -> str:
    return "".join("  " * level + "k:\n" for level in range(levels)) + "  " * levels + "k: leaf\n"


@pytest.mark.parametrize(
    ("deep", "line"),
    [
        ("a: " + "[" * 70 + "]" * 70, 1),  # shallow enough for libyaml's own composer
        (_nested_blocks(70), 65),
        ("a: " + "[" * 200_000 + "]" * 200_000, 1),  # would crash libyaml's recursive composer
        ("- " * 50_000 + "x", 1),
    ],
    ids=["flow-70", "block-70", "flow-200k", "compact-sequences-50k"],
)
def test_nesting_deeper_than_the_limit_rejects_only_that_document(deep: str, line: int) -> None:
    parsed = parse_yaml_documents(f"kind: A\n---\n{deep}\n---\nkind: C\n")

    assert [d.data["kind"] for d in parsed.documents] == ["A", "C"]
    [problem] = parsed.problems
    assert problem.message == "document 1: nesting is deeper than 64 levels"
    assert (problem.document_index, problem.line) == (1, line + 2)


@pytest.mark.parametrize("comment", ["", "# aliases (*) are possible in this file\n"])
def test_nesting_up_to_the_limit_is_accepted(comment: str) -> None:
    parsed = parse_yaml_documents(comment + "a: " + "[" * 63 + "]" * 63 + "\n")

    assert parsed.complete
    value = parsed.documents[0].data["a"]
    for _ in range(62):
        [value] = value
    assert value == []


def test_nesting_through_aliases_counts_the_expanded_depth() -> None:
    inner = "[" * 40 + "]" * 40
    text = f"a: &deep {inner}\nb: [[[[[[[[[[[[[[[[[[[[[[[[*deep]]]]]]]]]]]]]]]]]]]]]]]]\n"  # 1 + 24 + 40 levels

    assert parse_yaml_documents(text).problems[0].message == "document 0: nesting is deeper than 64 levels"
    assert parse_yaml_documents(text, YamlLimits(max_depth=65)).complete


ALIAS_BOMB = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


def test_an_alias_bomb_is_rejected_without_expanding_it() -> None:
    parsed = parse_yaml_documents(f"kind: A\n---\n{ALIAS_BOMB}---\nkind: C\n")

    assert [d.data["kind"] for d in parsed.documents] == ["A", "C"]
    [problem] = parsed.problems
    assert problem.message == "document 1: more than 200000 values once aliases are expanded (an alias bomb?)"
    assert problem.document_index == 1


def test_a_recursive_alias_is_rejected() -> None:
    parsed = parse_yaml_documents("a: &a [1, *a]\n")

    assert parsed.problems[0].message == "document 0: an alias refers to a collection that contains it"


def test_aliases_within_the_limits_are_fine() -> None:
    text = "tags: &t [a, b]\nmore: [*t, *t]\n"  # 11 values expanded: 1 + (1 + 2) + (1 + 2 * 3)
    parsed = parse_yaml_documents(text, YamlLimits(max_nodes=11))

    assert parsed.documents[0].data == {"tags": ["a", "b"], "more": [["a", "b"], ["a", "b"]]}
    assert parse_yaml_documents(text, YamlLimits(max_nodes=10)).problems


@pytest.mark.parametrize(("size", "shown"), [(12, "12 bytes"), (3584, "3.5 KiB"), (4 * 1024 * 1024, "4.0 MiB")])
def test_sizes_are_shown_in_the_unit_that_says_most(size: int, shown: str) -> None:
    assert format_size(size) == shown
