"""`read_source`: what a source string means, and the Backstage example catalog read end to end."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from graphsvc.config import ReadingSettings
from ingestors.documents import ReadResult
from ingestors.filesystems import SourceUnavailableError
from ingestors.git import is_clone_url
from ingestors.read import read_source
from ingestors.reading_policy import ReadingPolicy
from tests.ingestors.catalog_files import entity, http_server, location, names, offline_fetch, write

EXAMPLES = Path("/work/shared/fixtures/backstage-examples")
CATALOG_MODEL = EXAMPLES / "packages/catalog-model/examples"
TEMPLATES = EXAMPLES / "plugins/scaffolder-backend/sample-templates"
ROOTS = [CATALOG_MODEL / "all.yaml", CATALOG_MODEL / "acme-corp.yaml", TEMPLATES / "all-templates.yaml"]


def test_a_local_file_is_read_as_the_root(tmp_path: Path, policy: ReadingPolicy) -> None:
    write(tmp_path, {"team.yaml": entity("Group", "team")})

    for source in (str(tmp_path / "team.yaml"), f"file:{tmp_path}/team.yaml", f"file://{tmp_path}/team.yaml"):
        result = read_source(source, policy=policy)
        assert (names(result), result.source) == (["team"], source)
        assert result.documents[0].location == f"file:{tmp_path}/team.yaml"


def test_a_missing_path_raises(tmp_path: Path, policy: ReadingPolicy) -> None:
    with pytest.raises(SourceUnavailableError, match=f"^no such file or directory: {tmp_path}/missing$"):
        read_source(str(tmp_path / "missing"), policy=policy)


def test_an_http_url_is_read_as_one_yaml_file_with_its_locations(tmp_path: Path, policy: ReadingPolicy) -> None:
    write(
        tmp_path,
        {
            "org/catalog-info.yaml": location("org", "./teams/a.yaml"),
            "org/teams/a.yaml": entity("Group", "a"),
        },
    )
    with http_server(tmp_path) as base_url:
        result = read_source(f"{base_url}org/catalog-info.yaml", policy=policy)

    assert names(result) == ["org", "a"]
    assert [d.location for d in result.documents] == [
        f"url:{base_url}org/catalog-info.yaml",
        f"url:{base_url}org/teams/a.yaml",
    ]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:9/catalog-info.yaml", "could not fetch: [Errno 111] Connection refused"),
        ("{base}missing.yaml", "does not exist (HTTP 404 File not found)"),
    ],
)
def test_an_http_url_that_cannot_be_read_raises(tmp_path: Path, url: str, reason: str, policy: ReadingPolicy) -> None:
    with http_server(tmp_path) as base_url, pytest.raises(SourceUnavailableError) as raised:
        read_source(url.format(base=base_url), policy=policy)

    assert str(raised.value) == reason


@pytest.mark.parametrize(
    ("source", "is_git"),
    [
        ("https://github.com/org/repo.git", True),
        ("git@github.com:org/repo", True),
        ("ssh://git@host/org/repo", True),
        ("file:///srv/repos/catalog.git", True),
        ("https://github.com/org/repo/blob/main/catalog-info.yaml", False),
        ("/srv/repos/catalog.git", False),  # a local path is git only when a branch or commit is asked for
    ],
)
def test_clone_urls_are_recognised(source: str, is_git: bool) -> None:
    assert is_clone_url(source) is is_git


def read_examples() -> list[ReadResult]:
    """The examples read as a service allowed to read the fixtures would read them."""
    policy = ReadingPolicy.from_settings(ReadingSettings(local_roots=[EXAMPLES]))
    return [read_source(str(root), fetch=offline_fetch, policy=policy) for root in ROOTS]


def test_the_backstage_examples_reach_55_files_and_73_entities() -> None:
    results = read_examples()
    kinds = Counter(document.data["kind"] for result in results for document in result.documents)

    assert sum(result.files_read for result in results) == 55
    assert kinds == {
        "Location": 11,
        "Component": 13,
        "API": 10,
        "Group": 8,
        "User": 17,
        "System": 3,
        "Domain": 3,
        "Resource": 1,
        "Template": 4,
        "AiResource": 3,
    }
    assert sum(kinds.values()) == 73


def test_the_backstage_examples_resolve_local_placeholders() -> None:
    apis = {
        d.data["metadata"]["name"]: d.data["spec"].get("definition")
        for result in read_examples()
        for d in result.documents
        if d.data["kind"] == "API"
    }

    assert apis["petstore"] == (CATALOG_MODEL / "apis/petstore.oas.yaml").read_text()
    assert apis["petstore-webhook"] == (CATALOG_MODEL / "apis/petstore-webhook.oas.yaml").read_text()
    assert apis["spotify"] == {
        "$text": "https://github.com/APIs-guru/openapi-directory/blob/"
        "dab6854d4d599aafb0eb36e6c7ae1fe0c37509b7/APIs/spotify.com/2021.4.2/openapi.yaml"
    }


def test_the_backstage_examples_report_one_error_per_unreachable_remote() -> None:
    errors = [error for result in read_examples() for error in result.errors]
    offline = "could not fetch: [Errno -3] Temporary failure in name resolution"
    blob = "https://github.com/APIs-guru/openapi-directory/blob"
    templates = "https://github.com/backstage/software-templates/blob/main/scaffolder-templates"

    assert [(e.entity_ref, e.location.rsplit("/", 1)[1], e.message) for e in errors] == [
        (
            "api:default/spotify",
            "spotify-api.yaml",
            f"spec.definition: $text {blob}/dab6854d4d599aafb0eb36e6c7ae1fe0c37509b7/APIs/spotify.com/2021.4.2/"
            f"openapi.yaml: {offline}",
        ),
        (
            "api:default/wayback-archive",
            "wayback-archive-api.yaml",
            f"spec.definition: $text {blob}/main/APIs/archive.org/wayback/1.0.0/openapi.yaml: {offline}",
        ),
        (
            "api:default/wayback-search",
            "wayback-search-api.yaml",
            f"spec.definition: $text {blob}/main/APIs/archive.org/search/1.0.0/openapi.yaml: {offline}",
        ),
        *[
            (
                "location:default/example-templates-remote",
                "remote-templates.yaml",
                f"spec.targets[{i}]: {templates}/{name}/template.yaml: {offline}",
            )
            for i, name in enumerate(
                ["create-react-app", "docs-template", "pull-request", "react-ssr-template", "springboot-grpc-template"]
            )
        ],
    ]
    assert [e.document_index for e in errors] == [0] * 8
