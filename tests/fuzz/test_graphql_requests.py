"""Fuzzing POST /graphql through Starlette's TestClient, over a real store holding a small catalog.

Generators: schema-aware queries (the real field names of `schema.graphql`, random arguments of right and
wrong types, huge integers, unicode and NUL, variables, aliases, fragments, inline fragments, nesting past
the depth limit, mutations with targets that cannot reach the network or the disk); random token soups;
hostile variables; and bodies that are not GraphQL requests at all (malformed JSON, JSON that is not an
object, a missing or non-string query).

Properties of every response: HTTP 200 or 400, never 500; a JSON body; every `errors` entry has a
`message`; no message or extension holds a Python traceback, a source path of the service or its
libraries, or the text of an unexpected Python exception; and afterwards the server still answers a
known query with the known answer.

The minimal cases of what the fuzzers found (bodies that are not UTF-8 or nest too deeply, JSON that is not
an object, empty selection sets, request errors answered as plain text) are kept as table rows below.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import graphql
import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from graphsvc.api.app import create_app
from graphsvc.config import Settings
from graphsvc.service import CatalogService
from graphsvc.store import open_store
from tests.fuzz import Cases, examples_on, fuzz_settings
from tests.store.catalog_builder import component, entity, group

REPO = Path(__file__).resolve().parents[2]
SCHEMA = graphql.build_schema((REPO / "schema.graphql").read_text())

CATALOG = [
    group("org", ["platform"]),
    group("platform", ["team-a"], parent="org"),
    group("team-a", [], parent="platform", members=["alice"]),
    entity("User", "alice", {"memberOf": ["team-a"]}),
    entity("System", "payments", {"owner": "platform", "domain": "commerce"}),
    entity("Domain", "commerce", {"owner": "org"}),
    component(
        "checkout",
        owner="team-a",
        system="payments",
        providesApis=["checkout-api"],
        dependsOn=["component:ledger", "resource:orders-db"],
    ),
    component("ledger", owner="team-a", system="payments", dependsOn=["component:ghost"]),
    entity(
        "API",
        "checkout-api",
        {"type": "openapi", "lifecycle": "production", "owner": "team-a", "definition": "openapi: 3.0.0"},
    ),
    entity("Resource", "orders-db", {"type": "database", "owner": "team-a", "big": 10**300}),
    entity(
        "Component",
        "unicode",
        {"type": "service", "lifecycle": "production", "owner": "nobody"},
        title="ünï\x00cödé \U0001f600",
        annotations={"fz/ctl": "\x00\x07\x1b\x7f", "fz/long": "x" * 5000},
        tags=["c++", "a:b"],
    ),
]

KNOWN_QUERY = '{ entity(ref: "component:checkout") { ref owner { ref } dependsOn { ref } } }'
KNOWN_ANSWER = {
    "data": {
        "entity": {
            "ref": "component:default/checkout",
            "owner": {"ref": "group:default/team-a"},
            "dependsOn": [{"ref": "component:default/ledger"}, {"ref": "resource:default/orders-db"}],
        }
    }
}


class Server:
    def __init__(self, http: TestClient, catalog_file: Path, store_dir: Path, engine: str) -> None:
        self.http = http
        self.catalog_file = catalog_file
        self.store_dir = store_dir
        self.engine = engine

    def examples(self, count: int) -> int:
        return examples_on(self.engine, count)


@pytest.fixture(scope="module")
def server(module_store_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("fuzz-graphql").resolve()
    catalog_file = base / "catalog" / "catalog-info.yaml"
    catalog_file.parent.mkdir()
    catalog_file.write_text(yaml.safe_dump_all(CATALOG, allow_unicode=True))
    no_rate_limit = {"rate_limit_burst": 1_000_000}  # the fuzzer sends hundreds of requests a second
    settings = module_store_settings.model_copy(update={"fetch_timeout_s": 1.0, **no_rate_limit})
    service = CatalogService(open_store(settings), settings)
    summary = service.register(str(catalog_file))
    assert summary.added == len(CATALOG) and not summary.errors, summary.errors
    with TestClient(create_app(service), raise_server_exceptions=False) as http:
        yield Server(http, catalog_file, settings.store_dir, settings.backend)
    service.close()


# --- What every response must look like --------------------------------------------------------------------

LEAK_MARKERS = [
    "Traceback (most recent call last)",
    'File "/',
    '.py", line',
    str(REPO / "graphsvc"),
    str(REPO / "ingestors"),
    "site-packages",
    sys.prefix,
    sys.base_prefix + "/lib",
]
RAW_EXCEPTION = re.compile(
    r"object has no attribute|unhashable type|'NoneType'|index out of range|unsupported operand|"
    r"not subscriptable|positional argument|unexpected keyword argument|sqlite3\.|OperationalError|"
    r"IntegrityError|maximum recursion depth|codec can't|Exceeds the limit \(\d+ digits\)|KeyError|"
    r"TypeError|AttributeError|ValueError|\w\(\) arg|empty sequence|division by zero|<object at 0x|"
    r"Errno \d+\]"
)
"""Text of a Python exception nobody meant to show a client (what an unhandled error in a resolver says)."""


def check_response(server: Server, body: bytes, cases: Cases, content_type: str = "application/json") -> None:
    response = server.http.post("/graphql", content=body, headers={"content-type": content_type})
    cases.add(f"http-{response.status_code}")
    request_text = body.decode("utf-8", "replace")
    assert response.status_code in (200, 400), (response.status_code, response.text[:500])
    answer = response.json()  # raises if the body is not JSON
    assert isinstance(answer, dict), answer
    errors = answer.get("errors")
    if errors is not None:
        cases.tag("with-errors")
        assert isinstance(errors, list) and errors, answer
        for error in errors:
            assert isinstance(error, dict) and isinstance(error.get("message"), str), error
            assert error["message"], error
    shown = response.text
    for marker in [*LEAK_MARKERS, str(server.store_dir)]:
        assert marker not in shown or marker in request_text, f"the response shows {marker!r}: {shown[:2000]}"
    if response.status_code == 200:
        for error in response.json().get("errors") or []:
            text = error.get("message", "") + json.dumps(error.get("extensions") or {})
            found = RAW_EXCEPTION.search(text)
            assert found is None or found.group() in request_text, f"an internal error reached the client: {error}"


def still_answers(server: Server) -> None:
    response = server.http.post("/graphql", json={"query": KNOWN_QUERY})
    assert response.status_code == 200 and response.json() == KNOWN_ANSWER, response.text[:1000]


# --- Values ------------------------------------------------------------------------------------------------

SPECIAL = "\x00\x01\x07\x1b\x7f\u0085\u2028\ufeff\ufffe\U0001f600é日\"\\'`{}()[]$@!#:,.|&=\n\t"
chars = st.one_of(st.characters(codec="utf-8"), st.sampled_from(SPECIAL))
strings = st.one_of(
    st.text(chars, max_size=30),
    st.sampled_from(
        [
            "component:checkout",
            "Component:Default/Checkout",
            "group:team-a",
            "checkout",
            "a:b:c",
            "component:a\x00",
            "",
            " ",
            "x" * 10_000,
            "ref:" + "x" * 300,
            "cmVmOmNvbXBvbmVudDpkZWZhdWx0L2NoZWNrb3V0",  # a real cursor
            "%%%",
            "spec.type",
            "metadata.tags",
            "owner",
            "dependsOn",
        ]
    ),
)
datetimes = st.one_of(
    st.sampled_from(
        [
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:00+14:00",
            "0001-01-01T00:00:00Z",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59.999999-12:00",
            "9999-99-99",
            "2026-02-30T00:00:00Z",
            "2026-01-01T25:00:00Z",
            "2026-01-01",
            "now",
            "",
            "+275760-09-13T00:00:00Z",
            "2026-01-01T00:00:00+99:00",
        ]
    ),
    st.datetimes().map(lambda d: d.isoformat()),
    strings,
)
huge_ints = st.sampled_from([2**31, -(2**31) - 1, 2**63, 10**30, -(10**30), 10**400, 2**31 - 1, -(2**31)])
ints = st.one_of(st.integers(-3, 1100), huge_ints, st.integers())
floats = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([1e308, -0.0, 5e-324]))
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), ints, floats, strings),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(chars, max_size=10), inner, max_size=4),
    max_leaves=15,
)

SAFE_TARGET_TAIL = st.text(
    st.characters(codec="utf-8", exclude_characters="@:/\\"), max_size=20
)  # no `user@host:path`, no URL scheme


def safe_targets(catalog_file: str) -> st.SearchStrategy[str]:
    """Location targets that reach neither the network nor any real directory (a relative or empty target
    would mean the server's working directory, the whole repository)."""
    return st.one_of(
        SAFE_TARGET_TAIL.map(lambda tail: "/nonexistent-fz/" + tail),
        st.sampled_from(
            [
                "/nonexistent-fz/a\x00b",
                "/nonexistent-fz/" + "x" * 5000,
                "/nonexistent-fz/" + "a/" * 3000,
                "/\x00",
                "file:/nonexistent-fz/x.yaml",
                "file:///nonexistent-fz/x.yaml",
                "/nonexistent-fz/x.yaml\n",
                catalog_file,
            ]
        ),
    )


def graphql_literal(value: Any, enum: bool = False) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return value if enum else json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(graphql_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        items = []
        for key, item in value.items():
            name = key if re.fullmatch(r"[_A-Za-z][_0-9A-Za-z]*", key) else "k" + str(abs(hash(key)) % 1000)
            items.append(f"{name}: {graphql_literal(item)}")
        return "{" + ", ".join(items) + "}"
    raise TypeError(value)


def _unwrap(type_: Any) -> Any:
    while isinstance(type_, graphql.GraphQLNonNull | graphql.GraphQLList):
        type_ = type_.of_type
    return type_


def _input_value(draw: st.DrawFn, type_: Any, mutation_target: st.SearchStrategy[str] | None) -> Any:
    """A value for an input type: right most of the time, wrong on purpose some of the time."""
    if draw(st.integers(0, 5)) == 0:  # any type at all (but never a free string for a mutation's target)
        return draw(json_values if mutation_target is None else st.one_of(ints, floats, st.booleans(), st.none()))
    if isinstance(type_, graphql.GraphQLNonNull):
        return _input_value(draw, type_.of_type, mutation_target)
    if isinstance(type_, graphql.GraphQLList):
        return [_input_value(draw, type_.of_type, mutation_target) for _ in range(draw(st.integers(0, 3)))]
    if isinstance(type_, graphql.GraphQLInputObjectType):
        names = list(type_.fields)
        chosen = draw(st.lists(st.sampled_from([*names, "colour", "__typename"]), max_size=4, unique=True))
        return {
            name: _input_value(draw, type_.fields[name].type, mutation_target) if name in type_.fields else "x"
            for name in chosen
        }
    if isinstance(type_, graphql.GraphQLEnumType):
        return draw(st.sampled_from([*type_.values, "NOT_A_VALUE"]))
    name = type_.name
    if name == "String" and mutation_target is not None:
        return draw(mutation_target)
    return draw(
        {
            "String": strings,
            "Int": ints,
            "Float": floats,
            "Boolean": st.booleans(),
            "DateTime": datetimes,
            "JSON": json_values,
            "ID": strings,
        }.get(name, strings)
    )


class QueryBuilder:
    """Writes one operation: selections from the schema with arguments, variables and fragments."""

    def __init__(self, draw: st.DrawFn, max_depth: int, mutation_target: st.SearchStrategy[str] | None) -> None:
        self.draw = draw
        self.max_depth = max_depth
        self.mutation_target = mutation_target
        self.variables: dict[str, Any] = {}
        self.declarations: list[str] = []
        self.fragments: list[str] = []

    def argument(self, name: str, arg: graphql.GraphQLArgument) -> str:
        draw = self.draw
        value = _input_value(draw, arg.type, self.mutation_target)
        if draw(st.integers(0, 3)) == 0:  # through a variable, declared with its type or a wrong one
            variable = f"v{len(self.variables)}"
            declared = str(arg.type) if draw(st.integers(0, 4)) else draw(st.sampled_from(["Int", "String!", "[Int]"]))
            self.declarations.append(f"${variable}: {declared}")
            if draw(st.integers(0, 6)):
                self.variables[variable] = value
            return f"{name}: ${variable}"
        is_enum = isinstance(_unwrap(arg.type), graphql.GraphQLEnumType) and isinstance(value, str)
        return f"{name}: {graphql_literal(value, enum=is_enum and value.isidentifier())}"

    def selection(self, type_: Any, depth: int, lists: int) -> str:
        draw = self.draw
        type_ = _unwrap(type_)
        if isinstance(type_, graphql.GraphQLUnionType):
            return (
                "{ __typename "
                + " ".join(f"... on {t.name} {self.selection(t, depth + 1, lists)}" for t in type_.types[:2])
                + " }"
            )
        fields = type_.fields
        leaf = [
            n
            for n, f in fields.items()
            if isinstance(_unwrap(f.type), graphql.GraphQLScalarType | graphql.GraphQLEnumType)
        ]
        nested = [n for n, f in fields.items() if n not in leaf]
        if depth >= self.max_depth:
            nested = []
        if lists >= 2:  # keep the answer small: lists of lists of lists multiply
            nested = [n for n in nested if not _is_list(fields[n].type)]
        choices = draw(st.lists(st.sampled_from(leaf + nested + ["__typename", "notAField"]), min_size=1, max_size=4))
        parts = []
        for name in choices:
            if name in ("__typename", "notAField"):
                parts.append(name)
                continue
            field_ = fields[name]
            written = name
            if draw(st.integers(0, 5)) == 0:
                written = f"a{len(parts)}: {name}"
            arguments = [
                self.argument(arg_name, arg)
                for arg_name, arg in field_.args.items()
                if isinstance(arg.type, graphql.GraphQLNonNull) or draw(st.integers(0, 2)) == 0
            ]
            if arguments:
                written += "(" + ", ".join(arguments) + ")"
            if name in nested:
                written += " " + self.selection(field_.type, depth + 1, lists + _is_list(field_.type))
            parts.append(written)
        if isinstance(type_, graphql.GraphQLInterfaceType) and depth < self.max_depth and draw(st.booleans()):
            possible = SCHEMA.get_possible_types(type_)
            target = draw(st.sampled_from(possible))
            parts.append(f"... on {target.name} {self.selection(target, depth + 1, lists)}")
        if depth < self.max_depth and draw(st.integers(0, 6)) == 0:
            fragment = f"F{len(self.fragments)}"
            on = type_.name if draw(st.integers(0, 3)) else draw(st.sampled_from(["Component", "Query", "Nope"]))
            self.fragments.append(f"fragment {fragment} on {on} {{ __typename }}")
            parts.append(f"...{fragment}")
        return "{ " + " ".join(parts) + " }"


def _is_list(type_: Any) -> int:
    while isinstance(type_, graphql.GraphQLNonNull):
        type_ = type_.of_type
    return int(isinstance(type_, graphql.GraphQLList))


@st.composite
def schema_requests(draw: st.DrawFn, catalog_file: str) -> dict[str, Any]:
    operation = draw(st.sampled_from(["query", "query", "query", "mutation", "anonymous", "subscription"]))
    target = safe_targets(catalog_file) if operation == "mutation" else None
    builder = QueryBuilder(draw, draw(st.sampled_from([2, 4, 6, 16, 18])), target)
    root = SCHEMA.mutation_type if operation == "mutation" else SCHEMA.query_type
    if operation == "mutation":  # never unregister the catalog the known query reads
        fields = draw(st.lists(st.sampled_from(sorted(root.fields)), min_size=1, max_size=2))
        parts = []
        for name in fields:
            field_ = root.fields[name]
            mutation_target = (
                target if name != "unregisterLocation" else SAFE_TARGET_TAIL.map(lambda t: "/nonexistent-fz/" + t)
            )
            builder.mutation_target = mutation_target
            arguments = ", ".join(builder.argument(a, arg) for a, arg in field_.args.items())
            parts.append(f"{name}({arguments}) {builder.selection(field_.type, 1, 0)}")
        body = "{ " + " ".join(parts) + " }"
    else:
        body = builder.selection(root, 0, 0)
    if draw(st.integers(0, 9)) == 0:  # many aliases
        body = "{ " + " ".join(f"a{i}: __typename" for i in range(draw(st.sampled_from([49, 50, 51, 60])))) + " }"
    header = {"anonymous": "", "subscription": "subscription"}.get(operation, operation)
    if builder.declarations and header:
        header += f" Op({', '.join(builder.declarations)})"
    elif header and draw(st.booleans()):
        header += " Op"
    query = f"{header} {body}".strip() + "".join(" " + f for f in builder.fragments)
    request: dict[str, Any] = {"query": query}
    if builder.variables or draw(st.booleans()):
        request["variables"] = builder.variables
    if draw(st.integers(0, 5)) == 0:
        request["operationName"] = draw(st.sampled_from(["Op", "Other", None, ""]))
    return request


# fmt: off
TOKENS = [
    "{", "}", "(", ")", "[", "]", ":", "!", "$", "@", "...", "=", "|", "&", ",", "#",
    "query", "mutation", "subscription", "fragment", "on", "true", "false", "null",
    "entity", "entities", "facets", "ref", "owner", "dependsOn", "dependencies", "relations", "edges", "node",
    "totalCount", "filter", "first", "after", "asOf", "__typename", "__schema", "__type", "types", "fields",
    "name", "kind", "spec", "document", "history", "changes", "graphDiff", "ownershipGaps", "errors",
    "registerLocation", "refresh", "unregisterLocation", "...on", "Component", "Entity", "@include", "@skip",
    "@deprecated", "if", "\"\"\"", '"\\u0000"', '"\\x41"', '"\\u12"', '"\\uD800"', '"\\u{1F600}"', '"unterminated',
    "0", "-0", "1e999", "99999999999999999999999999", "0x10", "1.5", ".5", "1e", "\x00", "\ufeff", "é", "\U0001f600",
]
# fmt: on


@st.composite
def token_soups(draw: st.DrawFn) -> dict[str, Any]:
    tokens = draw(st.lists(st.one_of(st.sampled_from(TOKENS), st.text(chars, max_size=6)), max_size=60))
    separators = draw(st.sampled_from([" ", "", "\n", ",", "\t", "\r\n"]))
    query = separators.join(tokens)
    if draw(st.booleans()):
        query = "{ " + query + " }"
    if draw(st.integers(0, 8)) == 0:
        query = "{" * draw(st.sampled_from([16, 100, 3000])) + "ref" + "}" * draw(st.sampled_from([0, 16, 100]))
    if draw(st.integers(0, 8)) == 0:
        query = "{ " + "__typename " * draw(st.sampled_from([4999, 5001, 20_000])) + "}"
    return {"query": query}


@st.composite
def hostile_variables(draw: st.DrawFn) -> dict[str, Any]:
    query = draw(
        st.sampled_from(
            [
                "query($r: String!) { entity(ref: $r) { ref } }",
                "query($f: Int) { entities(first: $f) { totalCount } }",
                "query($f: EntityFilter) { entities(filter: $f) { totalCount edges { node { ref } } } }",
                'query($a: DateTime) { entity(ref: "component:checkout", asOf: $a) { ref } }',
                'query($d: Int!) { entity(ref: "component:checkout") { dependencies(depth: $d) { ref } } }',
                "query($s: DateTime!, $u: DateTime) { changes(since: $s, until: $u) { edges { cursor } } }",
                "query($x: [String!]!) { entity(ref: $x) { ref } }",
                'query($j: JSON) { entity(ref: "component:checkout") { ref } }',
                "query($after: String) { entities(after: $after, first: 1) { edges { cursor } } }",
                "query($t: String!) { facets(field: $t) { value count } }",
            ]
        )
    )
    names = re.findall(r"\$(\w+):", query)
    variables = draw(
        st.one_of(
            st.fixed_dictionaries({}, optional={n: json_values for n in names}),
            st.dictionaries(st.text(chars, max_size=8), json_values, max_size=3),
            st.just({n: "[" * 50 for n in names}),
            st.just({n: [[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]] for n in names}),
        )
    )
    return {"query": query, "variables": variables}


@st.composite
def raw_bodies(draw: st.DrawFn) -> bytes:
    """Bodies that are not a JSON object holding a query."""
    good = json.dumps({"query": KNOWN_QUERY}).encode()
    return draw(
        st.one_of(
            st.binary(max_size=200),
            st.integers(0, len(good)).map(lambda i: good[:i]),
            st.integers(0, len(good) - 1).flatmap(
                lambda i: st.sampled_from([b"\x00", b"\xff", b'"', b"{", b"\\"]).map(lambda b: good[:i] + b + good[i:])
            ),
            json_values.map(lambda v: json.dumps(v).encode()),
            st.sampled_from(
                [
                    b"",
                    b"null",
                    b"true",
                    b"0",
                    b'"query"',
                    b"[]",
                    b'[{"query": "{ __typename }"}]',
                    b"{}",
                    b'{"query": null}',
                    b'{"query": 42}',
                    b'{"query": ["{ __typename }"]}',
                    b'{"query": "{ __typename }", "variables": "x"}',
                    b'{"query": "{ __typename }", "variables": []}',
                    b'{"query": "{ __typename }", "operationName": 5}',
                    b'{"query": "{ __typename }", "extensions": 5}',
                    b'{"query": "{ __typename }", "query": "{ x }"}',
                    b'{"query": "{ __typename }", "variables": {"a": NaN}}',
                    b'{"query": "{ __typename }", "variables": {"a": 1e999999}}',
                    b'{"query": "{ __typename }", "variables": {"a": ' + b"9" * 5000 + b"}}",
                    b"\xef\xbb\xbf" + good,
                    good.decode().encode("utf-16"),
                    b"[" * 100_000 + b"]" * 100_000,
                    b'{"query": "{ __typename }", "variables": {"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}",
                ]
            ),
        )
    )


# --- The tests ---------------------------------------------------------------------------------------------


def _run_requests(server: Server, cases: Cases, request: dict[str, Any]) -> None:
    body = json.dumps(request, ensure_ascii=False).encode("utf-8", "surrogatepass")
    check_response(server, body, cases)
    still_answers(server)


def test_schema_aware_queries(server: Server, record_property: Any) -> None:
    cases = Cases("graphql: schema-aware queries")

    @fuzz_settings(server.examples(300))
    @given(request=schema_requests(str(server.catalog_file)))
    @example(request={"query": "{ entities(first: 99999999999999999999) { totalCount } }"})
    @example(request={"query": '{ entity(ref: "component:a\\u0000") { ref } }'})
    @example(request={"query": 'mutation { registerLocation(target: "/nonexistent-fz/a\\u0000b") { syncRun { id } } }'})
    @example(request={"query": '{ entity(ref: "component:unicode") { title annotations spec document } }'})
    @example(request={"query": '{ entity(ref: "resource:orders-db") { spec } }'})
    def run(request: dict[str, Any]) -> None:
        _run_requests(server, cases, request)

    try:
        run()
    finally:
        cases.report(record_property)


def test_random_token_queries(server: Server, record_property: Any) -> None:
    cases = Cases("graphql: token soups")

    @fuzz_settings(server.examples(200))
    @given(request=token_soups())
    @example(request={"query": "\x00"})
    @example(request={"query": '{ entity(ref: "\\uD800") { ref } }'})
    def run(request: dict[str, Any]) -> None:
        _run_requests(server, cases, request)

    try:
        run()
    finally:
        cases.report(record_property)


def test_hostile_variables(server: Server, record_property: Any) -> None:
    cases = Cases("graphql: hostile variables")

    @fuzz_settings(server.examples(120))
    @given(request=hostile_variables())
    @example(request={"query": "query($f: Int) { entities(first: $f) { totalCount } }", "variables": {"f": 10**400}})
    def run(request: dict[str, Any]) -> None:
        _run_requests(server, cases, request)

    try:
        run()
    finally:
        cases.report(record_property)


def test_malformed_bodies(server: Server, record_property: Any) -> None:
    cases = Cases("graphql: malformed bodies")

    @fuzz_settings(server.examples(120))
    @given(body=raw_bodies())
    def run(body: bytes) -> None:
        check_response(server, body, cases)
        still_answers(server)

    try:
        run()
    finally:
        cases.report(record_property)


# --- Minimal cases of what the fuzzers found ---------------------------------------------------------------

BODY_CASES = [
    pytest.param(b"\x80", id="a body that is not UTF-8"),
    pytest.param(b'{"query": "{ __typename }", "x": "\xff"}', id="a non-UTF-8 byte in a string"),
    pytest.param(b"[" * 100_000 + b"]" * 100_000, id="JSON nested 100000 deep"),
    pytest.param(
        b'{"query": "{ __typename }", "variables": {"a": ' + b"9" * 4301 + b"}}",
        id="a 4301-digit integer variable",
    ),
    pytest.param(b'{"query": "{}"}', id="an empty selection set"),
    pytest.param(
        b'{"query": "{ entity(ref: \\"component:checkout\\") { } }"}',
        id="an empty sub-selection",
    ),
    pytest.param(b'"x"', id="a JSON string"),
    pytest.param(b"1", id="a JSON number"),
    pytest.param(b"null", id="JSON null"),
    pytest.param(b"true", id="JSON true"),
    pytest.param(b"{", id="malformed JSON"),
    pytest.param(b"[]", id="a JSON list (batching is off)"),
    pytest.param(b"{}", id="no query"),
    pytest.param(b'{"query": 1}', id="a query that is not a string"),
    pytest.param(b'{"query": "{ __typename }", "variables": 5}', id="variables not an object"),
    pytest.param(b'{"query": "{ __typename }", "operationName": "x"}', id="unknown operationName"),
    pytest.param(b'{"query": "\\u0000"}', id="a NUL query"),
    pytest.param(b'{"query": "{ entities(first: 99999999999999999999) { totalCount } }"}', id="a huge Int literal"),
    pytest.param(b'{"query": "{ __typename }", "variables": {"a": 1e999999}}', id="an infinite variable"),
]


@pytest.mark.parametrize("body", BODY_CASES)
def test_request_bodies_get_a_json_answer(server: Server, body: bytes) -> None:
    """Each body must get HTTP 200 or 400 with a JSON body whose errors have messages."""
    response = server.http.post("/graphql", content=body, headers={"content-type": "application/json"})
    assert response.status_code in (200, 400), response.status_code
    answer = response.json()
    assert isinstance(answer, dict)
    for error in answer.get("errors") or []:
        assert isinstance(error.get("message"), str) and error["message"]
        assert RAW_EXCEPTION.search(error["message"]) is None, error
    still_answers(server)
