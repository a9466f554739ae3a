"""The default HTTP fetch: raw URLs for GitHub and GitLab pages, status codes, size and encoding."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphsvc.config import ReadingSettings
from ingestors.fetch import FetchError, default_fetch, raw_content_url
from ingestors.reading_policy import ReadingPolicy
from tests.ingestors.catalog_files import http_server, write


@pytest.mark.parametrize(
    ("url", "raw"),
    [
        (
            "https://github.com/backstage/software-templates/blob/main/scaffolder-templates/docs-template/template.yaml",
            "https://raw.githubusercontent.com/backstage/software-templates/main/scaffolder-templates/docs-template/"
            "template.yaml",
        ),
        (
            "https://github.com/org/repo/raw/v1.2/catalog-info.yaml",
            "https://raw.githubusercontent.com/org/repo/v1.2/catalog-info.yaml",
        ),
        (
            "https://gitlab.com/group/sub/repo/-/blob/main/catalog-info.yaml",
            "https://gitlab.com/group/sub/repo/-/raw/main/catalog-info.yaml",
        ),
        ("https://example.com/catalog-info.yaml", "https://example.com/catalog-info.yaml"),
    ],
)
def test_web_page_urls_of_files_are_read_from_their_raw_urls(url: str, raw: str) -> None:
    assert raw_content_url(url) == raw


def test_text_is_fetched_as_utf8(tmp_path: Path, policy: ReadingPolicy) -> None:
    write(tmp_path, {"a.yaml": "name: café\n"})
    with http_server(tmp_path) as base_url:
        assert default_fetch(f"{base_url}a.yaml", 5, policy=policy) == "name: café\n"


def test_not_found_is_told_apart_from_other_failures(tmp_path: Path, policy: ReadingPolicy) -> None:
    (tmp_path / "big.yaml").write_text("x" * 2000)
    (tmp_path / "latin1.yaml").write_bytes(b"name: caf\xe9\n")
    small = ReadingPolicy.from_settings(ReadingSettings(url_hosts=["127.0.0.1"], max_file_bytes=1000))
    with http_server(tmp_path) as base_url:
        with pytest.raises(FetchError) as missing:
            default_fetch(f"{base_url}missing.yaml", 5, policy=policy)
        with pytest.raises(FetchError, match="the response is larger than 1000 bytes") as too_big:
            default_fetch(f"{base_url}big.yaml", 5, policy=small)
        with pytest.raises(FetchError, match=r"not UTF-8 text \(byte 9\)"):
            default_fetch(f"{base_url}latin1.yaml", 5, policy=policy)

    assert (missing.value.reason, missing.value.not_found) == ("HTTP 404 File not found", True)
    assert not too_big.value.not_found


def test_an_unreachable_host_is_not_a_missing_file(policy: ReadingPolicy) -> None:
    with pytest.raises(FetchError) as raised:
        default_fetch("http://127.0.0.1:9/catalog-info.yaml", 5, policy=policy)

    assert (raised.value.reason, raised.value.not_found) == ("[Errno 111] Connection refused", False)
