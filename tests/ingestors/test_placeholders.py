"""`$text`, `$json` and `$yaml` placeholders, resolved against the document's own file or fetched."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestors.documents import ReadResult
from ingestors.fetch import FetchError
from ingestors.read import read_source
from ingestors.reading_policy import ReadingPolicy
from tests.ingestors.catalog_files import http_server, messages, write

API = """
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: petstore
  namespace: Shop
spec:
  type: openapi
  definition:
    {placeholder}: {target}
"""


def api(placeholder: str, target: str) -> str:
    return API.replace("{placeholder}", placeholder).replace("{target}", target)


def definition(result: ReadResult) -> object:
    [document] = result.documents
    return document.data["spec"]["definition"]


@pytest.mark.parametrize(
    ("placeholder", "content", "value"),
    [
        ("$text", "openapi: 3.0.0\ninfo: {title: Petstore}\n", "openapi: 3.0.0\ninfo: {title: Petstore}\n"),
        ("$json", '{"openapi": "3.0.0", "paths": {}}', {"openapi": "3.0.0", "paths": {}}),
        ("$yaml", "openapi: 3.0.0\ninfo: {title: Petstore}\n", {"openapi": "3.0.0", "info": {"title": "Petstore"}}),
    ],
)
def test_a_relative_placeholder_is_read_next_to_the_document(
    tmp_path: Path, placeholder: str, content: str, value: object, policy: ReadingPolicy
) -> None:
    write(tmp_path, {"catalog/api.yaml": api(placeholder, "./specs/petstore.data"), "catalog/specs/petstore.data": ""})
    (tmp_path / "catalog/specs/petstore.data").write_text(content)

    result = read_source(str(tmp_path / "catalog/api.yaml"), policy=policy)

    assert definition(result) == value
    assert result.errors == []
    assert result.files_read == 1  # placeholder content is not a catalog file


def test_placeholders_are_found_anywhere_in_a_document(tmp_path: Path, policy: ReadingPolicy) -> None:
    write(
        tmp_path,
        {
            "a.yaml": """
            kind: Component
            metadata:
              name: a
              annotations: {readme: {$text: ./readme.txt}}
            spec:
              steps:
                - name: one
                  input: {$json: ./input.json}
            """,
            "readme.txt": "hello",
            "input.json": "[1, 2]",
        },
    )

    [document] = read_source(str(tmp_path / "a.yaml"), policy=policy).documents

    assert document.data["metadata"]["annotations"]["readme"] == "hello"
    assert document.data["spec"]["steps"][0]["input"] == [1, 2]


def test_an_http_placeholder_is_fetched(tmp_path: Path, policy: ReadingPolicy) -> None:
    write(tmp_path, {"served/petstore.json": '{"openapi": "3.0.0"}'})
    with http_server(tmp_path / "served") as base_url:
        write(tmp_path, {"api.yaml": api("$json", f"{base_url}petstore.json")})

        result = read_source(str(tmp_path / "api.yaml"), policy=policy)

    assert definition(result) == {"openapi": "3.0.0"}
    assert result.errors == []


def test_an_unreachable_url_is_reported_and_the_placeholder_kept_in_place(
    tmp_path: Path, policy: ReadingPolicy
) -> None:
    write(tmp_path, {"api.yaml": api("$text", "http://127.0.0.1:9/petstore.yaml")})

    result = read_source(str(tmp_path / "api.yaml"), policy=policy)

    assert definition(result) == {"$text": "http://127.0.0.1:9/petstore.yaml"}
    [error] = result.errors
    assert error.message == (
        "spec.definition: $text http://127.0.0.1:9/petstore.yaml: could not fetch: [Errno 111] Connection refused"
    )
    assert (error.location, error.document_index, error.line) == (f"file:{tmp_path}/api.yaml", 0, 1)
    assert error.entity_ref == "api:shop/petstore"
    assert result.incomplete_locations == set()  # the entity itself was read


def test_a_url_that_is_not_found_is_reported(tmp_path: Path, policy: ReadingPolicy) -> None:
    with http_server(tmp_path) as base_url:
        write(tmp_path, {"api.yaml": api("$text", f"{base_url}missing.yaml")})
        result = read_source(str(tmp_path / "api.yaml"), policy=policy)

    assert messages(result) == [
        f"spec.definition: $text {base_url}missing.yaml: does not exist (HTTP 404 File not found)"
    ]


def test_the_fetch_is_injectable_and_gets_the_timeout(tmp_path: Path, policy: ReadingPolicy) -> None:
    asked = []

    def fetch(url: str, timeout: float) -> str:
        asked.append((url, timeout))
        if "down" in url:
            raise FetchError("timed out after 2 s")
        return "fetched"

    write(
        tmp_path, {"apis.yaml": api("$text", "https://example.com/up.yaml") + "---\n" + api("$text", "https://down/")}
    )

    result = read_source(str(tmp_path / "apis.yaml"), fetch=fetch, timeout=2, policy=policy)

    assert asked == [("https://example.com/up.yaml", 2), ("https://down/", 2)]
    assert [d.data["spec"]["definition"] for d in result.documents] == ["fetched", {"$text": "https://down/"}]
    assert messages(result) == ["spec.definition: $text https://down/: could not fetch: timed out after 2 s"]


def test_each_location_is_read_once_per_read(tmp_path: Path, policy: ReadingPolicy) -> None:
    asked = []

    def fetch(url: str, timeout: float) -> str:
        asked.append(url)
        raise FetchError("no network")

    write(tmp_path, {"apis.yaml": "---\n".join([api("$text", "https://example.com/spec.yaml")] * 3)})

    result = read_source(str(tmp_path / "apis.yaml"), fetch=fetch, policy=policy)

    assert asked == ["https://example.com/spec.yaml"]
    assert len(result.errors) == 3  # but every document that uses it hears about it


@pytest.mark.parametrize(
    ("placeholder", "target", "files", "message"),
    [
        (
            "$text",
            "./missing.yaml",
            {},
            "spec.definition: $text ./missing.yaml: missing.yaml does not exist",
        ),
        (
            "$json",
            "./bad.json",
            {"bad.json": "{nope"},
            "spec.definition: $json ./bad.json: not valid JSON: "
            "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        ),
        (
            "$yaml",
            "./bad.yaml",
            {"bad.yaml": "a: [1\n"},
            "spec.definition: $yaml ./bad.yaml: not valid YAML: "
            "YAML syntax error at line 2, column 1: did not find expected ',' or ']' (while parsing a flow sequence)",
        ),
        (
            "$yaml",
            "./two.yaml",
            {"two.yaml": "a: 1\n---\nb: 2\n"},
            "spec.definition: $yaml ./two.yaml: expected exactly one YAML document, found 2",
        ),
        ("$text", "[a, b]", {}, "spec.definition: $text takes a relative path or a URL, not a list"),
        ("$foo", "./x.yaml", {}, "spec.definition: unknown placeholder $foo (supported: $text, $json, $yaml)"),
    ],
    ids=["missing-file", "bad-json", "bad-yaml", "two-yaml-documents", "not-a-string", "unknown-placeholder"],
)
def test_an_unresolvable_placeholder_is_an_error_and_stays_in_place(
    tmp_path: Path, placeholder: str, target: str, files: dict[str, str], message: str, policy: ReadingPolicy
) -> None:
    write(tmp_path, {"api.yaml": api(placeholder, target), **files})

    result = read_source(str(tmp_path / "api.yaml"), policy=policy)

    assert messages(result) == [message.format(root=tmp_path)]
    assert list(definition(result)) == [placeholder]


def test_json_schema_keywords_are_not_placeholders(tmp_path: Path, policy: ReadingPolicy) -> None:
    write(
        tmp_path,
        {
            "template.yaml": """
        kind: Template
        metadata: {name: t}
        spec:
          parameters:
            - properties:
                owner: {$ref: '#/definitions/owner'}
        """
        },
    )

    result = read_source(str(tmp_path / "template.yaml"), policy=policy)

    assert result.documents[0].data["spec"]["parameters"][0]["properties"]["owner"] == {"$ref": "#/definitions/owner"}
    assert result.errors == []


def test_a_mapping_with_other_keys_beside_a_dollar_key_is_left_alone(tmp_path: Path, policy: ReadingPolicy) -> None:
    write(tmp_path, {"a.yaml": "kind: Component\nmetadata: {name: a}\nspec: {$text: ./x, other: 1}\n"})

    result = read_source(str(tmp_path / "a.yaml"), policy=policy)

    assert result.documents[0].data["spec"] == {"$text": "./x", "other": 1}
    assert result.errors == []
