"""Following Location entities: targets, relative paths, globs, presence, URLs, cycles and the file cap."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestors.locations import ReadLimits
from ingestors.read import read_source
from ingestors.reading_policy import ReadingPolicy
from tests.ingestors.catalog_files import entity, http_server, location, messages, names, write


def test_a_location_is_returned_and_its_targets_read_after_its_file(tmp_path: Path, policy: ReadingPolicy) -> None:
    write(
        tmp_path,
        {
            "root/all.yaml": location("all", "./components/a.yaml", "../shared/b.yaml", "c.yaml")
            + "---\n"
            + entity("Component", "after-the-location"),
            "root/components/a.yaml": entity("Component", "a"),
            "shared/b.yaml": entity("Component", "b"),
            "root/c.yaml": entity("Component", "c"),
        },
    )

    result = read_source(str(tmp_path / "root/all.yaml"), policy=policy)

    assert names(result) == ["all", "after-the-location", "a", "b", "c"]
    assert [d.location for d in result.documents[2:]] == [
        f"file:{tmp_path}/root/components/a.yaml",
        f"file:{tmp_path}/shared/b.yaml",
        f"file:{tmp_path}/root/c.yaml",
    ]
    assert result.files_read == 4
    assert result.errors == []


def test_spec_target_and_lower_case_kind_are_followed_too(tmp_path: Path, policy: ReadingPolicy) -> None:
    write(
        tmp_path,
        {
            "all.yaml": "kind: location\nmetadata: {name: all}\nspec: {target: ./a.yaml, targets: [./b.yaml]}\n",
            "a.yaml": entity("Component", "a"),
            "b.yaml": entity("Component", "b"),
        },
    )

    assert names(read_source(str(tmp_path / "all.yaml"), policy=policy)) == ["all", "a", "b"]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("./apis/*.yaml", ["api-1", "api-2"]),
        ("./apis/api-?.yaml", ["api-1", "api-2"]),
        ("./**/*.yaml", ["api-1", "api-2", "deep", "top"]),  # `**` matches no directory too
        ("./**/deep*.yaml", ["deep"]),
        ("./apis/api-[!2].yaml", ["api-1"]),
    ],
)
def test_glob_targets_read_every_matching_file(
    tmp_path: Path, target: str, expected: list[str], policy: ReadingPolicy
) -> None:
    write(
        tmp_path,
        {
            "catalog/all.yaml": location("all", target),
            "catalog/top.yaml": entity("Component", "top"),
            "catalog/apis/api-1.yaml": entity("API", "api-1"),
            "catalog/apis/api-2.yaml": entity("API", "api-2"),
            "catalog/apis/notes.txt": "not yaml",
            "catalog/apis/nested/more/deep.yaml": entity("Component", "deep"),
            "catalog/.hidden/secret.yaml": entity("Component", "hidden"),  # wildcards skip dot names
        },
    )

    result = read_source(str(tmp_path / "catalog/all.yaml"), policy=policy)

    assert sorted(names(result)[1:]) == expected
    assert result.errors == []


def test_a_missing_required_target_is_an_error_and_only_that_target_is_incomplete(
    tmp_path: Path, policy: ReadingPolicy
) -> None:
    write(
        tmp_path,
        {
            "all.yaml": location("all", "./present.yaml", "./missing.yaml"),
            "present.yaml": entity("Component", "present"),
        },
    )

    result = read_source(str(tmp_path / "all.yaml"), policy=policy)

    assert names(result) == ["all", "present"]
    [error] = result.errors
    assert error.message == "spec.targets[1]: ./missing.yaml: missing.yaml does not exist"
    assert (error.location, error.document_index, error.line) == (f"file:{tmp_path}/all.yaml", 0, 1)
    assert error.entity_ref == "location:default/all"
    assert result.incomplete_locations == {f"file:{tmp_path}/missing.yaml"}


def test_a_missing_optional_target_is_silent(tmp_path: Path, policy: ReadingPolicy) -> None:
    write(tmp_path, {"all.yaml": location("all", "./missing.yaml", "./none/*.yaml", presence="optional")})

    result = read_source(str(tmp_path / "all.yaml"), policy=policy)

    assert names(result) == ["all"]
    assert result.errors == []
    assert result.incomplete_locations == set()


def test_a_required_glob_that_matches_nothing_is_an_error(tmp_path: Path, policy: ReadingPolicy) -> None:
    write(tmp_path, {"all.yaml": location("all", "./none/*.yaml")})

    assert messages(read_source(str(tmp_path / "all.yaml"), policy=policy)) == [
        "spec.targets[0]: ./none/*.yaml: no file matches this pattern"
    ]


def test_a_cycle_is_reported_once_with_its_path_and_no_file_is_read_twice(
    tmp_path: Path, policy: ReadingPolicy
) -> None:
    write(
        tmp_path,
        {
            "a.yaml": location("a", "./b.yaml"),
            "b.yaml": location("b", "./a.yaml") + "---\n" + entity("Component", "in-b"),
        },
    )

    result = read_source(str(tmp_path / "a.yaml"), policy=policy)

    assert names(result) == ["a", "b", "in-b"]
    assert result.files_read == 2
    [error] = result.errors
    assert (
        error.message
        == "spec.targets[0]: ./a.yaml: Location cycle a.yaml -> b.yaml -> a.yaml; a.yaml is read only once"
    )
    assert (error.location, error.entity_ref) == (f"file:{tmp_path}/b.yaml", "location:default/b")
    assert result.incomplete_locations == set()


def test_a_location_that_targets_itself_is_a_cycle(tmp_path: Path, policy: ReadingPolicy) -> None:
    write(tmp_path, {"self.yaml": location("self", "./self.yaml")})

    result = read_source(str(tmp_path / "self.yaml"), policy=policy)

    assert names(result) == ["self"]
    assert messages(result) == [
        "spec.targets[0]: ./self.yaml: Location cycle self.yaml -> self.yaml; self.yaml is read only once"
    ]


def test_a_file_reached_along_two_paths_is_read_once_without_error(tmp_path: Path, policy: ReadingPolicy) -> None:
    write(
        tmp_path,
        {
            "root.yaml": location("root", "./left.yaml", "./right.yaml"),
            "left.yaml": location("left", "./shared.yaml"),
            "right.yaml": location("right", "./shared.yaml"),
            "shared.yaml": entity("Component", "shared"),
        },
    )

    result = read_source(str(tmp_path / "root.yaml"), policy=policy)

    assert names(result) == ["root", "left", "shared", "right"]
    assert result.errors == []


def test_an_unreachable_url_target_is_an_error_naming_the_url_and_the_location(
    tmp_path: Path, policy: ReadingPolicy
) -> None:
    write(tmp_path, {"all.yaml": location("remote", "http://127.0.0.1:9/catalog-info.yaml")})

    result = read_source(str(tmp_path / "all.yaml"), policy=policy)

    [error] = result.errors
    assert error.message == (
        "spec.targets[0]: http://127.0.0.1:9/catalog-info.yaml: could not fetch: [Errno 111] Connection refused"
    )
    assert error.entity_ref == "location:default/remote"
    assert result.incomplete_locations == {"url:http://127.0.0.1:9/catalog-info.yaml"}


def test_url_targets_are_fetched_and_their_relative_targets_resolve_against_the_url(
    tmp_path: Path, policy: ReadingPolicy
) -> None:
    write(
        tmp_path,
        {
            "site/team/catalog-info.yaml": location("team", "./services/svc.yaml", "./gone.yaml", presence="optional"),
            "site/team/services/svc.yaml": entity("Component", "svc", definition="{$text: ../notes.txt}"),
            "site/team/notes.txt": "served notes",
        },
    )
    with http_server(tmp_path / "site") as base_url:
        write(tmp_path, {"all.yaml": location("all", f"{base_url}team/catalog-info.yaml")})
        result = read_source(str(tmp_path / "all.yaml"), policy=policy)

    assert names(result) == ["all", "team", "svc"]
    assert [d.location for d in result.documents] == [
        f"file:{tmp_path}/all.yaml",
        f"url:{base_url}team/catalog-info.yaml",
        f"url:{base_url}team/services/svc.yaml",
    ]
    assert result.documents[2].data["spec"]["definition"] == "served notes"
    assert result.errors == []  # the optional target answered 404


def test_location_types_that_are_not_files_or_urls_are_reported_not_followed(
    tmp_path: Path, policy: ReadingPolicy
) -> None:
    write(tmp_path, {"all.yaml": "kind: Location\nmetadata: {name: org}\nspec: {type: github-org, target: x}\n"})

    result = read_source(str(tmp_path / "all.yaml"), policy=policy)

    assert messages(result) == [
        "spec.target: x: Location type 'github-org' is not read by this catalog (only url and file are)"
    ]
    assert result.files_read == 1


def test_a_read_stops_at_the_file_limit_and_says_so(tmp_path: Path, policy: ReadingPolicy) -> None:
    write(
        tmp_path,
        {
            "all.yaml": location("all", "./a.yaml", "./b.yaml", "./c.yaml"),
            **{f"{name}.yaml": entity("Component", name) for name in "abc"},
        },
    )

    result = read_source(str(tmp_path / "all.yaml"), limits=ReadLimits(max_files=2), policy=policy)

    assert names(result) == ["all", "a"]
    assert messages(result) == ["not read: this read reached its limit of 2 files; 2 known files were left unread"]
    assert result.incomplete_locations == {f"file:{tmp_path}/b.yaml", f"file:{tmp_path}/c.yaml"}


def test_a_broken_file_is_incomplete_but_its_readable_documents_count(tmp_path: Path, policy: ReadingPolicy) -> None:
    write(
        tmp_path,
        {
            "all.yaml": location("all", "./broken.yaml"),
            "broken.yaml": entity("Component", "before") + "---\nkind: [oops\n",
        },
    )

    result = read_source(str(tmp_path / "all.yaml"), policy=policy)

    assert names(result) == ["all", "before"]
    [error] = result.errors
    assert (error.location, error.document_index, error.line) == (f"file:{tmp_path}/broken.yaml", 1, 7)
    assert error.message.startswith("YAML syntax error at line 7")
    assert result.incomplete_locations == {f"file:{tmp_path}/broken.yaml"}
