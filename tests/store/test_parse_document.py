"""A stored document reads back exactly as Python's parser reads its JSON text, whichever parser reads it:
orjson reads an integer past 64 bits as a float without saying so, so such documents go to Python's parser."""

from __future__ import annotations

import json
import math

import pytest

from graphsvc.store.records import parse_document

DOCUMENTS = [
    # (what it holds, the stored JSON text)
    ("a plain entity", '{"kind":"Component","metadata":{"name":"a"},"spec":{"owner":"group:t","replicas":3}}'),
    ("the largest unsigned 64-bit integer", '{"spec":{"n":18446744073709551615}}'),
    ("one past it", '{"spec":{"n":18446744073709551616}}'),
    ("one below the smallest signed 64-bit integer", '{"spec":{"n":-9223372036854775809}}'),
    ("an integer of 40 digits", '{"spec":{"n":1234567890123456789012345678901234567890}}'),
    ("a large integer in a list", '{"spec":{"ns":[1,2,99999999999999999999]}}'),
    ("a string of 19 digits", '{"metadata":{"name":"a"},"spec":{"id":"1234567890123456789"}}'),
    ("a float with a long mantissa", '{"spec":{"x":0.12345678901234567891}}'),
    ("a float in exponent form", '{"spec":{"x":1e+16,"y":-2.5e-300}}'),
    ("a lone surrogate", '{"spec":{"s":"\\ud800"}}'),
    ("non-ASCII text", '{"metadata":{"description":"Zahlungsdienst für Rückerstattungen ✓"}}'),
]


@pytest.mark.parametrize(("name", "text"), DOCUMENTS, ids=[name for name, _ in DOCUMENTS])
def test_a_document_reads_back_as_pythons_parser_reads_it(name: str, text: str) -> None:
    parsed = parse_document(text)
    assert parsed == json.loads(text)
    assert json.dumps(parsed) == json.dumps(json.loads(text)), name  # the same types too (an int stays an int)


def test_nan_and_infinity_read_back_as_python_reads_them() -> None:
    parsed = parse_document('{"spec":{"a":NaN,"b":Infinity,"c":-Infinity}}')["spec"]
    assert math.isnan(parsed["a"]) and parsed["b"] == math.inf and parsed["c"] == -math.inf
