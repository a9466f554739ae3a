"""No byte stops a read: hostile bytes become error records for their document or file, and the rest is read.

Control characters, bytes that are not UTF-8, binary files, integers too long to be written back as text,
NUL bytes and absurd lengths in Location targets and placeholders: each case names the exact error record,
and every other document of the file and every other file of the source is still returned. Whatever a read
returns must be storable: the sync hashes each document as UTF-8 JSON.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ingestors import yaml_documents
from ingestors.documents import ReadError, ReadResult
from ingestors.fetch import FetchError, default_fetch
from ingestors.filesystems import SourceUnavailableError
from ingestors.git_history import list_commits
from ingestors.read import read_source
from ingestors.reading_policy import ReadingPolicy
from ingestors.yaml_documents import YamlLimits, YamlProblem, parse_yaml_documents
from tests.ingestors.catalog_files import Git, entity, http_server, names, offline_fetch, write


def doc(name: str, extra: str = "") -> bytes:
    """A 4-line entity document (5 with `extra`), as bytes."""
    return (entity("Component", name) + extra).encode()


SEP = b"---\n"


def storable(result: ReadResult) -> None:
    """What the sync does with a read: hash every document as UTF-8 JSON, store every error's text."""
    for document in result.documents:
        json.dumps(document.data, sort_keys=True, ensure_ascii=False, default=str).encode()
        document.location.encode()
    for error in result.errors:
        (error.location + error.message).encode()


@pytest.fixture(params=["libyaml", "python"])
def pipeline(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with libyaml's parser (the default) and with PyYAML's pure-Python one."""
    if request.param == "python":
        monkeypatch.setattr(yaml_documents, "_Loader", yaml_documents._PythonLoader)
        monkeypatch.setattr(yaml_documents, "_PYTHON_COMPOSER", True)
    elif yaml_documents._CParser is None:
        pytest.skip("PyYAML has no libyaml here")
    return request.param


# --- The YAML reader: characters YAML does not allow ----------------------------------------------------


def text(data: bytes) -> str:
    """How the file readers decode a catalog file: bytes that are not UTF-8 become lone surrogates."""
    return data.decode("utf-8", "surrogateescape")


# Three documents a, b, c; the middle one, b, holds the bad bytes on line 9 of the file, at column 10.
BAD_IN_B = {
    "NUL": (b"\x00", "control character 0x00 at line 9, column 10 is not allowed in YAML"),
    "BEL": (b"\x07", "control character 0x07 at line 9, column 10 is not allowed in YAML"),
    "0x01": (b"\x01", "control character 0x01 at line 9, column 10 is not allowed in YAML"),
    "ESC": (b"\x1b", "control character 0x1B at line 9, column 10 is not allowed in YAML"),
    "DEL": (b"\x7f", "control character 0x7F at line 9, column 10 is not allowed in YAML"),
    "C1 control": ("\x9b".encode(), "control character U+009B at line 9, column 10 is not allowed in YAML"),
    "non-character": ("\ufffe".encode(), "character U+FFFE at line 9, column 10 is not allowed in YAML"),
    "latin-1": (b"\xe9", "not valid UTF-8 at byte 143 (line 9, column 10)"),
    "truncated sequence": (b"\xe2\x82", "not valid UTF-8 at byte 143 (line 9, column 10)"),
    "overlong encoding": (b"\xc0\xaf", "not valid UTF-8 at byte 143 (line 9, column 10)"),
    "encoded surrogate": (b"\xed\xa0\x80", "not valid UTF-8 at byte 143 (line 9, column 10)"),
}


@pytest.mark.parametrize("case", list(BAD_IN_B))
def test_a_character_yaml_does_not_allow_rejects_only_its_document(pipeline: str, case: str) -> None:
    bad, message = BAD_IN_B[case]
    data = doc("a") + SEP + doc("b") + SEP + doc("c")
    data = data.replace(b"name: b", b"name: b" + bad)

    parsed = parse_yaml_documents(text(data))

    assert [(d.index, d.line, d.data["metadata"]["name"]) for d in parsed.documents] == [(0, 1, "a"), (2, 11, "c")]
    assert parsed.problems == [YamlProblem(f"document 1: {message}", 1, 9)]
    assert not parsed.complete


@pytest.mark.parametrize(
    ("written", "kept", "problem"),
    [
        # in the first document, which has no `---`: the parser still counts it, and the others keep their numbers
        (b"name: a\x00\n---\nname: b\n---\nname: c\n", [(1, "b"), (2, "c")], ("control character 0x00", 0, 1)),
        # in the last document, and a file that ends without a line break
        (b"name: a\n---\nname: b\n---\nname: c\x07", [(0, "a"), (1, "b")], ("control character 0x07", 2, 5)),
        # in a comment at the end of a document: it is that document's
        (b"name: a\n# \x01\n---\nname: b\n", [(1, "b")], ("control character 0x01", 0, 2)),
        # in a comment before the first `---`, where no document is: it goes with the document that follows
        (b"# \x01\n---\nname: a\n---\nname: b\n", [(1, "b")], ("control character 0x01", 0, 1)),
        # `---` glued to it is no document marker: the document before holds it
        (b"name: a\n---\x07\nname: b\n---\nname: c\n", [(1, "c")], ("control character 0x07", 0, 2)),
        # several documents with bad bytes, each reported
        (b"name: a\x00\n---\nname: b\n---\nname: c\xff\n", [(1, "b")], ("control character 0x00", 0, 1)),
        # a byte-order mark counts in byte offsets (the file's), not in columns (the editor's)
        (b"\xef\xbb\xbfname: a\n---\nname: b\xe9\n", [(0, "a")], ("not valid UTF-8 at byte 22 (line 3", 1, 3)),
    ],
    ids=["first", "last-no-newline", "comment-after", "comment-before", "glued-marker", "two", "bom"],
)
def test_bad_bytes_anywhere_reject_the_document_they_belong_to(
    pipeline: str, written: bytes, kept: list[tuple[int, str]], problem: tuple[str, int, int]
) -> None:
    parsed = parse_yaml_documents(text(written))

    assert [(d.index, d.data["name"]) for d in parsed.documents] == kept
    first = parsed.problems[0]
    what, index, line = problem
    assert first.message.startswith(f"document {index}: {what}")
    assert (first.document_index, first.line) == (index, line)
    assert not any(p.stops_file for p in parsed.problems)


def test_every_document_with_bad_bytes_is_reported() -> None:
    parsed = parse_yaml_documents(text(b"name: a\x00\n---\nname: b\n---\nname: c\xff\n"))

    assert parsed.problems == [
        YamlProblem("document 0: control character 0x00 at line 1, column 8 is not allowed in YAML", 0, 1),
        YamlProblem("document 2: not valid UTF-8 at byte 32 (line 5, column 8)", 2, 5),
    ]


def test_a_file_of_nothing_but_a_control_character_is_one_problem(pipeline: str) -> None:
    parsed = parse_yaml_documents("\x07")

    assert parsed.documents == []
    assert parsed.problems == [
        YamlProblem("document 0: control character 0x07 at line 1, column 1 is not allowed in YAML", 0, 1)
    ]


def test_escapes_for_control_characters_are_fine(pipeline: str) -> None:
    parsed = parse_yaml_documents('name: "a\\0b\\x07c\\u0001"\n')

    assert parsed.documents[0].data == {"name": "a\x00b\x07c\x01"}
    assert parsed.complete


def test_an_escaped_lone_surrogate_never_reaches_the_data(pipeline: str) -> None:
    """libyaml refuses `"\\ud800"` (a syntax error); PyYAML's Python scanner would make it a string that no
    UTF-8 encoder takes, so that document is rejected."""
    parsed = parse_yaml_documents('name: a\n---\nname: "\\ud800"\n---\n"\\udfff": x\n---\nname: d\n')

    if pipeline == "libyaml":
        assert [d.data for d in parsed.documents] == [{"name": "a"}]
        assert parsed.problems[0].message.startswith(
            "YAML syntax error at line 3, column 10: found invalid Unicode character escape code"
        )
    else:
        assert [d.data for d in parsed.documents] == [{"name": "a"}, {"name": "d"}]
        assert parsed.problems == [
            YamlProblem("document 1: the escape for U+D800 (a lone surrogate) is not a character", 1, 3),
            YamlProblem("document 2: the escape for U+DFFF (a lone surrogate) is not a character", 2, 5),
        ]


# --- The YAML reader: integers too large to be written back ---------------------------------------------


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("1" * 5000, "integer with 5000 digits is too large (the limit is 4300 digits)"),
        ("-" + "9" * 4301, "integer with 4301 digits is too large (the limit is 4300 digits)"),
        ("!!int " + "7" * 5000, "integer with 5000 digits is too large (the limit is 4300 digits)"),
        ("0x" + "f" * 5000, "integer with 5000 digits in base 16 is too large (the limit is 4300 decimal digits)"),
        ("0o" + "7" * 6000, "integer with 6000 digits in base 8 is too large (the limit is 4300 decimal digits)"),
    ],
    ids=["decimal", "negative", "tagged", "hexadecimal", "octal"],
)
def test_an_integer_too_large_to_write_back_rejects_only_its_document(
    pipeline: str, written: str, message: str
) -> None:
    parsed = parse_yaml_documents(f"name: a\n---\nname: b\nspec:\n  size: {written}\n---\nname: c\n")

    assert [d.data["name"] for d in parsed.documents] == ["a", "c"]
    assert parsed.problems == [YamlProblem(f"document 1: {message}", 1, 5)]


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("9" * 4300, int("9" * 4300)),
        ("0" * 5000 + "42", 42),  # leading zeros are not digits that count
        ("0x" + "f" * 3000, int("f" * 3000, 16)),  # 3612 decimal digits
        ("!!float " + "1" * 5000, float("inf")),
        ("'" + "1" * 5000 + "'", "1" * 5000),
        ("1" * 5000 + "x", "1" * 5000 + "x"),
    ],
    ids=["at-the-limit", "leading-zeros", "hexadecimal-under", "as-float", "quoted", "not-a-number"],
)
def test_long_numbers_that_can_be_written_back_are_kept(pipeline: str, written: str, value: object) -> None:
    parsed = parse_yaml_documents(f"size: {written}\n")

    assert parsed.complete
    [document] = parsed.documents
    assert document.data == {"size": value}
    json.dumps(document.data)


# --- The YAML reader: nesting past libyaml's own limit (PyYAML 6.0.4 bundles libyaml 0.2.6) ---------------


@pytest.mark.parametrize(
    ("deep", "line"),
    [
        ("a: " + "[" * 1000 + "]" * 1000, 3),
        ("[" * 5000 + "]" * 5000, 3),  # the document's top node: libyaml stops before the parser has seen it
        ("{" * 5000 + "}" * 5000, 3),
        ("a:\n  b: " + "[" * 3000 + "]" * 3000, 4),
        ("- " * 50_000 + "x", 3),
    ],
    ids=["flow-1000", "flow-at-top", "flow-mappings", "flow-in-block", "compact-sequences"],
)
def test_nesting_past_libyamls_limit_rejects_only_that_document(pipeline: str, deep: str, line: int) -> None:
    parsed = parse_yaml_documents(f"kind: A\n---\n{deep}\n---\nkind: C\n")

    assert [(d.index, d.data["kind"]) for d in parsed.documents] == [(0, "A"), (2, "C")]
    assert parsed.problems == [YamlProblem("document 1: nesting is deeper than 64 levels", 1, line)]


@pytest.mark.parametrize(
    ("written", "kept", "problem"),
    [
        ("[" * 2000 + "]" * 2000 + "\n---\nkind: B\n", [(1, "B")], (0, 1)),  # the first document, without `---`
        ("kind: A\n--- " + "[" * 2000 + "]" * 2000 + "\n---\nkind: C\n", [(0, "A"), (2, "C")], (1, 2)),
        ("kind: A\n--- # deep\n" + "[" * 2000 + "]" * 2000 + "\n---\nkind: C\n", [(0, "A"), (2, "C")], (1, 3)),
        ("kind: A\n---\n" + ("[" * 2000 + "]" * 2000 + "\n---\n") * 3 + "kind: E\n", [(0, "A"), (4, "E")], (1, 3)),
    ],
    ids=["first-document", "after-marker", "after-comment", "three-in-a-row"],
)
def test_documents_past_libyamls_nesting_limit_are_found_wherever_they_are(
    pipeline: str, written: str, kept: list[tuple[int, str]], problem: tuple[int, int]
) -> None:
    parsed = parse_yaml_documents(written)

    assert [(d.index, d.data["kind"]) for d in parsed.documents] == kept
    assert (parsed.problems[0].document_index, parsed.problems[0].line) == problem
    assert all(p.message.endswith("nesting is deeper than 64 levels") for p in parsed.problems)
    assert not any(p.stops_file for p in parsed.problems)


def test_libyamls_nesting_limit_met_without_the_depth_check_is_checked_then(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cheap bound keeps libyaml from meeting its limit in the real parse; should it ever, the depth
    check runs then, and the result is the same."""
    monkeypatch.setattr(yaml_documents, "_may_nest_deeply", lambda text: False)

    parsed = parse_yaml_documents("kind: A\n---\na: " + "[" * 2000 + "]" * 2000 + "\n---\nkind: C\n")

    assert [(d.index, d.data["kind"]) for d in parsed.documents] == [(0, "A"), (2, "C")]
    assert parsed.problems == [YamlProblem("document 1: nesting is deeper than 64 levels", 1, 3)]


def libyaml_version() -> tuple[int, ...]:
    try:
        from yaml._yaml import get_version
    except ImportError:
        return ()
    return tuple(get_version())


def test_a_depth_limit_above_libyamls_own_names_libyamls() -> None:
    if libyaml_version() < (0, 2, 6):
        pytest.skip("libyaml before 0.2.6 has no nesting limit of its own")
    parsed = parse_yaml_documents("a: " + "[" * 1500 + "]" * 1500 + "\n---\nb: 1\n", YamlLimits(max_depth=2000))

    assert [d.data for d in parsed.documents] == [{"b": 1}]
    assert parsed.problems == [
        YamlProblem("document 0: nesting is deeper than libyaml's limit (exceeded maximum nesting depth)", 0, 1)
    ]


# --- Reading files: every other document and every other file is still read -------------------------------


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    """A directory whose `other/catalog-info.yaml` is always fine; tests write `bad/catalog-info.yaml`."""
    write(tmp_path, {"other/catalog-info.yaml": entity("Component", "other")})
    (tmp_path / "bad").mkdir()
    return tmp_path


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"

FILES = {
    "NUL": (
        doc("a") + SEP + doc("b\x00") + SEP + doc("c"),
        ["a", "c"],
        [("document 1: control character 0x00 at line 9, column 10 is not allowed in YAML", 1, 9)],
    ),
    "BEL": (
        doc("a") + SEP + doc("b\x07") + SEP + doc("c"),
        ["a", "c"],
        [("document 1: control character 0x07 at line 9, column 10 is not allowed in YAML", 1, 9)],
    ),
    "0x01 in a comment": (
        doc("a") + SEP + b"# \x01\n" + doc("b"),
        ["a"],
        [("document 1: control character 0x01 at line 6, column 3 is not allowed in YAML", 1, 6)],
    ),
    "invalid UTF-8": (
        (doc("a") + SEP + doc("café")).replace("é".encode(), b"\xe9"),
        ["a"],
        [("document 1: not valid UTF-8 at byte 145 (line 9, column 12)", 1, 9)],
    ),
    "integer with 5000 digits": (
        doc("a") + SEP + doc("b", "spec:\n  size: " + "1" * 5000 + "\n") + SEP + doc("c"),
        ["a", "c"],
        [("document 1: integer with 5000 digits is too large (the limit is 4300 digits)", 1, 11)],
    ),
    "deep nesting": (
        doc("a") + SEP + doc("b", "spec: " + "[" * 5000 + "]" * 5000 + "\n") + SEP + doc("c"),
        ["a", "c"],
        [("document 1: nesting is deeper than 64 levels", 1, 10)],
    ),
}


@pytest.mark.parametrize("case", list(FILES))
def test_a_file_with_hostile_bytes_loses_only_the_documents_holding_them(
    catalog: Path, case: str, policy: ReadingPolicy
) -> None:
    data, kept, errors = FILES[case]
    (catalog / "bad/catalog-info.yaml").write_bytes(data)
    bad = f"file:{catalog}/bad/catalog-info.yaml"

    result = read_source(str(catalog), fetch=offline_fetch, policy=policy)

    assert names(result) == [*kept, "other"]
    assert result.errors == [ReadError(bad, message, index, line) for message, index, line in errors]
    assert result.incomplete_locations == {bad}  # the sync keeps what it last had of the rejected documents
    assert bad not in result.file_digests
    storable(result)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (PNG, "binary file (not valid UTF-8 at byte 0, and NUL bytes)"),
        ("kind: Component\n".encode("utf-16"), "UTF-16 text; catalog files must be UTF-8"),
        (
            b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xcb\x48\xcd\xc9\xc9\x07\x00",
            "binary file (not valid UTF-8 at byte 1, and NUL bytes)",
        ),
    ],
    ids=["png", "utf-16", "gzip"],
)
def test_a_binary_file_matched_by_a_glob_is_one_error_and_the_others_are_read(
    catalog: Path, data: bytes, reason: str, policy: ReadingPolicy
) -> None:
    (catalog / "bad/catalog-info.yaml").write_bytes(data)
    bad = f"file:{catalog}/bad/catalog-info.yaml"

    result = read_source(str(catalog), fetch=offline_fetch, policy=policy)

    assert names(result) == ["other"]
    assert result.errors == [ReadError(bad, f"could not read bad/catalog-info.yaml: {reason}")]
    assert result.incomplete_locations == {bad}


def test_a_binary_file_as_the_whole_source_cannot_be_read(tmp_path: Path, policy: ReadingPolicy) -> None:
    (tmp_path / "image.yaml").write_bytes(PNG)

    with pytest.raises(SourceUnavailableError, match=r"binary file \(not valid UTF-8 at byte 0, and NUL bytes\)"):
        read_source(str(tmp_path / "image.yaml"), policy=policy)


def test_a_file_fetched_over_http_loses_only_its_documents_with_bad_bytes(
    tmp_path: Path, policy: ReadingPolicy
) -> None:
    (tmp_path / "catalog-info.yaml").write_bytes(doc("a") + SEP + doc("b\x07") + SEP + doc("c"))
    with http_server(tmp_path) as base_url:
        result = read_source(f"{base_url}catalog-info.yaml", policy=policy)

    assert names(result) == ["a", "c"]
    here = f"url:{base_url}catalog-info.yaml"
    assert result.errors == [
        ReadError(here, "document 1: control character 0x07 at line 9, column 10 is not allowed in YAML", 1, 9)
    ]
    assert result.incomplete_locations == {here}


def test_a_file_whose_path_is_not_utf8_is_reported_not_read(catalog: Path, policy: ReadingPolicy) -> None:
    directory = catalog / os.fsdecode(b"caf\xe9")
    write(directory, {"catalog-info.yaml": entity("Component", "latin")})

    result = read_source(str(catalog), fetch=offline_fetch, policy=policy)

    assert names(result) == ["other"]
    shown = f"file:{catalog}/caf\\xe9/catalog-info.yaml"
    assert result.errors == [ReadError(shown, "caf\\xe9/catalog-info.yaml is not read: its path is not valid UTF-8")]
    storable(result)


def test_a_location_glob_matching_a_path_that_is_not_utf8_says_so_on_the_location(
    tmp_path: Path, policy: ReadingPolicy
) -> None:
    (tmp_path / "catalog-info.yaml").write_text(location_doc("./teams/*.yaml"))
    write(tmp_path, {"good.yaml": entity("Component", "good"), "teams/a.yaml": entity("Group", "a")})
    (tmp_path / "teams" / os.fsdecode(b"\xff.yaml")).write_text(entity("Group", "latin"))

    result = read_source(str(tmp_path / "catalog-info.yaml"), policy=policy)

    assert names(result) == ["here", "a", "good"]
    assert result.errors == [
        ReadError(
            f"file:{tmp_path}/catalog-info.yaml",
            "spec.targets[0]: ./teams/*.yaml: teams/\\xff.yaml is not read: its path is not valid UTF-8",
            0,
            1,
            "location:default/here",
        )
    ]
    storable(result)


def test_a_source_whose_path_is_not_utf8_cannot_be_read(tmp_path: Path, policy: ReadingPolicy) -> None:
    directory = tmp_path / os.fsdecode(b"caf\xe9")
    write(directory, {"catalog-info.yaml": entity("Component", "latin")})

    with pytest.raises(SourceUnavailableError, match=r"caf\\xe9 is not valid UTF-8"):
        read_source(str(directory), policy=policy)


def test_a_symbolic_link_loop_matched_by_a_glob_is_no_crash(catalog: Path, policy: ReadingPolicy) -> None:
    (catalog / "bad/catalog-info.yaml").symlink_to(catalog / "bad/catalog-info.yaml")

    result = read_source(str(catalog), fetch=offline_fetch, policy=policy)

    assert names(result) == ["other"]


# --- Location targets --------------------------------------------------------------------------------------


def location_doc(target: str) -> str:
    return (
        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: here\nspec:\n"
        f"  targets:\n    - {target}\n    - ./good.yaml\n"
    )


LONG = "./" + "a" * 5000 + ".yaml"


def cut(text: str) -> str:
    """How messages show a path or URL over 200 characters."""
    return f"{text[:200]}... ({len(text)} characters)"


TARGETS = {
    "NUL in a path": ('"./a\\0b.yaml"', "./a\\x00b.yaml: a path or URL cannot hold a NUL character"),
    "NUL in a glob": ('"./a\\0*.yaml"', "./a\\x00*.yaml: a path or URL cannot hold a NUL character"),
    "NUL in a directory of a glob": ('"./a\\0/*.yaml"', "./a\\x00/*.yaml: a path or URL cannot hold a NUL character"),
    "NUL in a URL": (
        '"https://example.com/a\\0.yaml"',
        "https://example.com/a\\x00.yaml: a path or URL cannot hold a NUL character",
    ),
    "a control character in a URL": (
        '"https://example.com/a\\x07.yaml"',
        "https://example.com/a\\x07.yaml: could not fetch: not a valid URL: Invalid non-printable ASCII character "
        "in URL, '\\x07' at position 21.",
    ),
    "a bad port": (
        '"https://[::1/x.yaml"',
        "https://[::1/x.yaml: could not fetch: not a valid URL: Invalid IPv6 URL",
    ),
    "a host name too long": (
        "https://" + "a" * 300 + ".example.com/x.yaml",
        f"https://{'a' * 192}... (327 characters): could not fetch: not a valid URL: encoding with 'idna' codec "
        "failed (UnicodeError: label empty or too long)",
    ),
    "a path too long": (
        LONG,
        f"{LONG[:200]}... (5007 characters): could not read {{long location}}: File name too long",
    ),
    "a glob too long": (
        "./" + "b" * 5000 + "/*.yaml",
        f"./{'b' * 198}... (5009 characters): no file matches this pattern",
    ),
}


@pytest.mark.parametrize("case", list(TARGETS))
def test_a_hostile_location_target_is_an_error_of_its_location_and_the_other_targets_are_read(
    tmp_path: Path, case: str, policy: ReadingPolicy
) -> None:
    target, message = TARGETS[case]
    write(tmp_path, {"good.yaml": entity("Component", "good")})
    (tmp_path / "catalog-info.yaml").write_text(location_doc(target))
    here = f"file:{tmp_path}/catalog-info.yaml"

    result = read_source(
        str(tmp_path / "catalog-info.yaml"), policy=policy
    )  # the default fetch: none of these reach the network

    assert names(result) == ["here", "good"]
    expected = message.replace("{long location}", cut(LONG[2:]))
    assert result.errors == [ReadError(here, f"spec.targets[0]: {expected}", 0, 1, "location:default/here")]
    storable(result)


def test_a_url_that_cannot_be_a_url_is_a_fetch_error(policy: ReadingPolicy) -> None:
    for url in ("https://exa mple.com/\x00", "https://[::1/x", "http://" + "a" * 300 + ".com/", "https://\u2028/"):
        with pytest.raises(FetchError, match="^not a valid URL: "):
            default_fetch(url, 1, policy=policy)


def test_a_target_that_is_a_pipe_or_a_device_is_not_read(tmp_path: Path, policy: ReadingPolicy) -> None:
    os.mkfifo(tmp_path / "pipe.yaml")  # reading it would wait forever
    (tmp_path / "catalog-info.yaml").write_text(location_doc("./pipe.yaml").replace("./good.yaml", "/dev/zero"))
    here = f"file:{tmp_path}/catalog-info.yaml"

    result = read_source(str(tmp_path / "catalog-info.yaml"), policy=policy)

    not_regular = "not a regular file (a device, a pipe or a socket)"
    assert result.errors == [
        ReadError(
            here,
            f"spec.targets[0]: ./pipe.yaml: could not read pipe.yaml: {not_regular}",
            0,
            1,
            "location:default/here",
        ),
        ReadError(
            here,
            "spec.targets[1]: /dev/zero: not read: /dev/zero is under /dev, which is never read",
            0,
            1,
            "location:default/here",
        ),
    ]


# --- Placeholders ------------------------------------------------------------------------------------------


def with_placeholder(placeholder: str, target: str) -> str:
    return (
        "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: api\nspec:\n  type: openapi\n"
        f"  definition:\n    {placeholder}: {target}\n"
    )


PLACEHOLDERS = {
    "$text with NUL in the path": ("$text", '"./a\\0b"', None, "./a\\x00b: a path or URL cannot hold a NUL character"),
    "$text of a path too long": (
        "$text",
        LONG,
        None,
        f"{LONG[:200]}... (5007 characters): could not read {{long location}}: File name too long",
    ),
    "$text of a binary file": (
        "$text",
        "./spec.bin",
        PNG,
        "./spec.bin: could not read spec.bin: binary file (not valid UTF-8 at byte 0, and NUL bytes)",
    ),
    "$text of text with NUL": (
        "$text",
        "./spec.bin",
        b"openapi: 3\x00",
        "./spec.bin: could not read spec.bin: binary file (NUL bytes)",
    ),
    "$text of invalid UTF-8": (
        "$text",
        "./spec.txt",
        b"caf\xe9",
        "./spec.txt: could not read spec.txt: not valid UTF-8 at byte 3",
    ),
    "$yaml with a control character": (
        "$yaml",
        "./spec.yaml",
        b"openapi: 3\x07\n",
        "./spec.yaml: not valid YAML: document 0: control character 0x07 at line 1, column 11 is not allowed in YAML",
    ),
    "$yaml with a huge integer": (
        "$yaml",
        "./spec.yaml",
        b"size: " + b"1" * 5000,
        "./spec.yaml: not valid YAML: document 0: integer with 5000 digits is too large (the limit is 4300 digits)",
    ),
    "$yaml too deep": (
        "$yaml",
        "./spec.yaml",
        b"[" * 5000 + b"]" * 5000,
        "./spec.yaml: not valid YAML: document 0: nesting is deeper than 64 levels",
    ),
    "$yaml too deep where it is": (
        "$yaml",
        "./spec.yaml",
        b"[" * 63 + b"]" * 63,
        "./spec.yaml: with the content in its place the document would nest deeper than 64 levels",
    ),
    "$json too deep": (
        "$json",
        "./spec.json",
        b"[" * 100_000 + b"]" * 100_000,
        "./spec.json: not valid JSON: nested deeper than 64 levels",
    ),
    "$json too deep where it is": (
        "$json",
        "./spec.json",
        b"[" * 63 + b"]" * 63,
        "./spec.json: with the content in its place the document would nest deeper than 64 levels",
    ),
    "$json with an escaped surrogate": (
        "$json",
        "./spec.json",
        b'{"a": "\\ud800"}',
        "./spec.json: the content holds a lone surrogate (an escape such as \\ud800), which is not a character",
    ),
    "$json with a surrogate key": (
        "$json",
        "./spec.json",
        b'{"\\udfff": 1}',
        "./spec.json: the content holds a lone surrogate (an escape such as \\ud800), which is not a character",
    ),
    "$json with a huge integer": (
        "$json",
        "./spec.json",
        b"[" + b"1" * 5000 + b"]",
        "./spec.json: not valid JSON: "
        "Exceeds the limit (4300 digits) for integer string conversion: value has 5000 "
        "digits",
    ),
    "$json of a binary file": (
        "$json",
        "./spec.json",
        PNG,
        "./spec.json: could not read spec.json: binary file (not valid UTF-8 at byte 0, and NUL bytes)",
    ),
}


@pytest.mark.parametrize("case", list(PLACEHOLDERS))
def test_a_hostile_placeholder_target_or_content_keeps_the_placeholder_and_says_why(
    tmp_path: Path, case: str, policy: ReadingPolicy
) -> None:
    placeholder, target, content, message = PLACEHOLDERS[case]
    write(tmp_path, {"other.yaml": entity("Component", "other")})
    text_ = (
        with_placeholder(placeholder, target) + "---\n" + entity("Location", "more") + "spec:\n  target: ./other.yaml\n"
    )
    (tmp_path / "catalog-info.yaml").write_text(text_)
    if content is not None:
        (tmp_path / target.removeprefix("./")).write_bytes(content)
    here = f"file:{tmp_path}/catalog-info.yaml"

    result = read_source(str(tmp_path / "catalog-info.yaml"), policy=policy)

    assert names(result) == ["api", "more", "other"]
    written = parse_yaml_documents(f"target: {target}").documents[0].data["target"]
    assert result.documents[0].data["spec"]["definition"] == {placeholder: written}
    expected = message.replace("{long location}", cut(LONG[2:]))
    assert result.errors == [ReadError(here, f"spec.definition: {placeholder} {expected}", 0, 1, "api:default/api")]
    storable(result)


def test_placeholder_content_with_a_byte_order_mark_is_read_without_it(tmp_path: Path, policy: ReadingPolicy) -> None:
    (tmp_path / "catalog-info.yaml").write_text(with_placeholder("$text", "./spec.txt"))
    (tmp_path / "spec.txt").write_bytes(b"\xef\xbb\xbfopenapi: 3\n")

    result = read_source(str(tmp_path / "catalog-info.yaml"), policy=policy)

    assert result.documents[0].data["spec"]["definition"] == "openapi: 3\n"
    assert result.errors == []


# --- Git: files read from git objects -------------------------------------------------------------------------


def test_hostile_bytes_in_git_objects_lose_only_their_documents_and_files(
    tmp_path: Path, policy: ReadingPolicy
) -> None:
    repo = Git(tmp_path / "repo")
    write(repo.path, {"good/catalog-info.yaml": entity("Component", "good")})
    (repo.path / "mixed").mkdir()
    (repo.path / "mixed/catalog-info.yaml").write_bytes(doc("a") + SEP + doc("b\x00") + SEP + doc("c"))
    (repo.path / "latin1").mkdir()
    (repo.path / "latin1/catalog-info.yaml").write_bytes((doc("café") + SEP + doc("d")).replace("é".encode(), b"\xe9"))
    (repo.path / "image").mkdir()
    (repo.path / "image/catalog-info.yaml").write_bytes(PNG)
    (repo.path / os.fsdecode(b"caf\xe9")).mkdir()
    (repo.path / os.fsdecode(b"caf\xe9/catalog-info.yaml")).write_text(entity("Component", "latin-path"))
    (repo.path / "huge").mkdir()
    (repo.path / "huge/catalog-info.yaml").write_bytes(doc("e", "spec:\n  n: 0x" + "f" * 4000 + "\n") + SEP + doc("f"))
    repo("add", "--all")
    repo("commit", "--quiet", "--message", "hostile bytes")
    git = f"git:{repo.path}:"

    result = read_source(str(repo.path), branch="main", fetch=offline_fetch, policy=policy)

    assert sorted(names(result)) == ["a", "c", "d", "f", "good"]
    assert sorted(result.errors, key=lambda e: e.location) == sorted(
        [
            ReadError(
                f"{git}caf\\xe9/catalog-info.yaml",
                "caf\\xe9/catalog-info.yaml is not read: its path is not valid UTF-8",
            ),
            ReadError(
                f"{git}huge/catalog-info.yaml",
                "document 0: integer with 4000 digits in base 16 is too large (the limit is 4300 decimal digits)",
                0,
                6,
            ),
            ReadError(
                f"{git}image/catalog-info.yaml",
                "could not read image/catalog-info.yaml: binary file (not valid UTF-8 at byte 0, and NUL bytes)",
            ),
            ReadError(
                f"{git}latin1/catalog-info.yaml", "document 0: not valid UTF-8 at byte 71 (line 4, column 12)", 0, 4
            ),
            ReadError(
                f"{git}mixed/catalog-info.yaml",
                "document 1: control character 0x00 at line 9, column 10 is not allowed in YAML",
                1,
                9,
            ),
        ],
        key=lambda e: e.location,
    )
    assert result.incomplete_locations == {
        f"{git}huge/catalog-info.yaml",
        f"{git}image/catalog-info.yaml",
        f"{git}latin1/catalog-info.yaml",
        f"{git}mixed/catalog-info.yaml",
    }
    storable(result)


def test_a_branch_name_with_nul_is_a_branch_the_repository_does_not_have(tmp_path: Path, policy: ReadingPolicy) -> None:
    repo = Git(tmp_path / "repo")
    repo.commit({"catalog-info.yaml": entity("Component", "a")})

    with pytest.raises(SourceUnavailableError, match="has no branch 'ma\\\\x00in'"):
        read_source(str(repo.path), branch="ma\x00in", policy=policy)


def test_a_commit_author_with_line_separators_in_the_name_is_kept_whole(tmp_path: Path) -> None:
    repo = Git(tmp_path / "repo")
    write(repo.path, {"catalog-info.yaml": entity("Component", "a")})
    repo("add", "--all")
    repo("-c", "user.name=Ann\x1cLee\u2028X\x0bY", "commit", "--quiet", "--message", "separators in a name")

    [commit] = list_commits(repo.path / ".git", repo("rev-parse", "HEAD"))

    assert commit.author == "Ann\x1cLee\u2028X\x0bY <catalog-test@example.com>"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("https://[oops.git", "not a valid git repository URL: Invalid IPv6 URL"),
        ("git+https://user:token@[x/repo.git", "not a valid git repository URL: Invalid IPv6 URL"),
        (
            "git+https://exa\x00mple.com/repo.git",
            "could not fetch git repository https://exa\\x00mple.com/repo.git: an argument holds a NUL character",
        ),
    ],
    ids=["ipv6", "ipv6-with-token", "nul"],
)
def test_a_git_url_that_cannot_be_one_is_a_source_that_cannot_be_read(
    tmp_path: Path, source: str, message: str, policy: ReadingPolicy
) -> None:
    with pytest.raises(SourceUnavailableError) as raised:
        read_source(source, cache_dir=tmp_path / "cache", policy=policy)

    assert str(raised.value) == message


def test_hostile_location_targets_in_git_are_errors_of_their_location(tmp_path: Path, policy: ReadingPolicy) -> None:
    repo = Git(tmp_path / "repo")
    catalog = location_doc('"./a\\0b.yaml"').replace("    - ./good.yaml\n", f"    - {LONG}\n    - ./good.yaml\n")
    repo.commit({"catalog-info.yaml": catalog, "good.yaml": entity("Component", "good")})
    here = f"git:{repo.path}:catalog-info.yaml"

    result = read_source(str(repo.path), branch="main", fetch=offline_fetch, policy=policy)

    assert names(result) == ["here", "good"]
    assert result.errors == [
        ReadError(
            here,
            "spec.targets[0]: ./a\\x00b.yaml: a path or URL cannot hold a NUL character",
            0,
            1,
            "location:default/here",
        ),
        ReadError(
            here,
            f"spec.targets[1]: {cut(LONG)}: {cut(LONG[2:])} does not exist",
            0,
            1,
            "location:default/here",
        ),
    ]


def test_a_file_larger_than_a_catalog_file_may_be_is_one_error_and_is_not_read_whole(
    catalog: Path, policy: ReadingPolicy
) -> None:
    """A 1 GiB file (sparse: it costs no disk) matched by a glob: refused after reading just past the limit,
    naming it; the other files are read."""
    from ingestors.local import MAX_FILE_BYTES

    huge = catalog / "bad/catalog-info.yaml"
    with huge.open("wb") as file:
        file.truncate(1 << 30)
    bad = f"file:{huge}"

    result = read_source(str(catalog), fetch=offline_fetch, policy=policy)

    assert names(result) == ["other"]
    expected = (
        f"could not read bad/catalog-info.yaml: larger than {MAX_FILE_BYTES:,} bytes, the most a catalog file may hold"
    )
    assert result.errors == [ReadError(bad, expected)]
