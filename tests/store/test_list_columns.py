"""SQLite keeps list columns (tags, annotation and label entries, version starts) as JSON text, and writes it
exactly as `json.dumps` does, though without the encoder for what they usually hold: the text is compared (the
tag triggers run when it changes) and stores written before keep reading the same."""

from __future__ import annotations

import json

import pytest

from graphsvc.store.sqlite_backend import _value


@pytest.mark.parametrize(
    "value",
    [
        [],
        ["python"],
        ["python", "tier-1", "grpc"],
        ["", ""],
        ["backstage.io/techdocs-ref", "backstage.io/techdocs-ref=dir:."],
        ["a b", " leading", "trailing "],
        ['say "hi"'],
        ["back\\slash"],
        ["ünïcode"],
        ["tab\there", "new\nline", "nul\x00", "del\x7f"],
        [1796222887223646],
        [1, 2, 3],
        [-1, 0, 10**30],
        [True, 1],
        [1.5, 2],
        ["a", 1],
        [None],
        [["nested"]],
        [{"a": 1}],
    ],
)
def test_a_list_is_stored_as_json_dumps_writes_it(value: list[object]) -> None:
    assert _value(value) == json.dumps(value)


@pytest.mark.parametrize("value", ["text", 42, 1.5, None, b"bytes"])
def test_scalars_are_bound_as_they_are(value: object) -> None:
    assert _value(value) is value


def test_tuples_and_mappings_are_json_too() -> None:
    assert (_value(("a", 1)), _value({"b": [1]})) == ('["a", 1]', '{"b": [1]}')
