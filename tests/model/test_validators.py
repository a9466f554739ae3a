"""Field format rules, with the tables of Backstage's own `KubernetesValidatorFunctions.test.ts` and
`CommonValidatorFunctions.test.ts` (catalog-model as of Dec 2024), plus a few cases of our own."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from graphsvc.model import validators as v

A63 = "a" * 63
LONGEST_SUBDOMAIN = f"{A63}.{A63}.{A63}.{'a' * 61}"  # 253 characters
TOO_LONG_SUBDOMAIN = f"{A63}.{A63}.{A63}.{'a' * 62}"  # 254 characters


def table(rule: Callable[[object], bool], cases: list[tuple[object, bool]]) -> list:
    return [pytest.param(rule, value, valid, id=f"{rule.__name__}-{str(value)[:30]}") for value, valid in cases]


CASES = [
    *table(
        v.is_valid_api_version,
        [
            (7, False), (None, False), ("", False), ("a", True), ("AZ09", True), (A63, True),
            ("a" * 64, False), ("a-b", False), ("a_b", False), ("a.b", False), ("a/a", True),
            ("a/aAb5C", True), ("a-b.c/v1", True), ("a--b.c/v1", True), (f"{LONGEST_SUBDOMAIN}/v1", True),
            (f"{TOO_LONG_SUBDOMAIN}/v1", False), (f"a/{A63}", True), (f"a/{'a' * 64}", False),
            # ours
            ("backstage.io/v1alpha1", True), ("scaffolder.backstage.io/v1beta3", True), ("a#b", False),
            ("a/b/c", False), ("Backstage.io/v1", False), ("backstage.io/v1\n", False),
        ],
    ),
    *table(
        v.is_valid_kind,
        [
            (7, False), (None, False), ("", False), ("a", True), ("AZ09", True), ("9AZ", False),
            (A63, True), ("a" * 64, False), ("a-b", False),
            # ours
            ("Component", True), ("component", True), ("AiResource", True), ("a#b", False), ("API\n", False),
        ],
    ),
    *table(
        v.is_valid_object_name,
        [
            (7, False), (None, False), ("", False), ("a", True), ("AZ09", True), (A63, True),
            ("a" * 64, False), ("a/b", False), ("a-b", True), ("-a-b", False), ("a-b-", False),
            ("a--b", True), ("a_b", True), ("a.b", True), ("a..b", True),
            # ours
            ("CircleciBuildsDumpV2_avro_gcs", True), ("my name", False), ("a:b", False), ("a\n", False),
            ("${{values.name | dump}}", False), ("bücher", False),
        ],
    ),
    *table(
        v.is_valid_namespace,
        [
            (7, False), (None, False), ("", False), ("a", True), ("AZ09", False), (A63, True),
            ("a" * 64, False), ("a/b", False), ("a-b", True), ("-a-b", False), ("a-b-", False),
            ("a--b", True), ("a_b", False), ("a.b", False),
            # ours
            ("default", True), ("xn--c6h", True), ("Default", False),
        ],
    ),
    *table(
        v.is_valid_label_key,
        [
            (7, False), (None, False), ("", False), ("a", True), ("AZ09", True), (A63, True),
            ("a" * 64, False), ("a/b", True), ("a-b", True), ("-a-b", False), ("a-b-", False),
            ("a--b", True), ("a_b", True), ("a.b", True), ("a..b", True), ("a/a", True), ("a-b.c/a", True),
            ("a--b.c/a", True), (f"{LONGEST_SUBDOMAIN}/a", True), (f"{TOO_LONG_SUBDOMAIN}/a", False),
            (f"a/{A63}", True), (f"a/{'a' * 64}", False),
            # ours
            ("backstage.io/custom", True), ("a#b", False), ("a/b/c", False), ("/a", False), ("a/", False),
            ("Example.com/a", False), ("a_b/c", False), ("example.com/-a", False),
        ],
    ),
    *table(
        v.is_valid_label_value,
        [
            (7, False), (None, False), ("", True), ("a", True), ("AZ09", True), (A63, True),
            ("a" * 64, False), ("a/b", False), ("a-b", True), ("-a-b", False), ("a-b-", False),
            ("a--b", True), ("a_b", True), ("a.b", True), ("a..b", True),
            # ours
            ("go1.15.3", True), ("ValueStuff", True), ("a#b", False), (True, False),
        ],
    ),
    *table(
        v.is_valid_annotation_key,
        [
            (7, False), (None, False), ("", False), ("a", True), ("AZ09", True), (A63, True),
            ("a" * 64, False), ("a/b", True), ("a-b", True), ("-a-b", False), ("a-b-", False),
            ("a--b", True), ("a_b", True), ("a.b", True), ("a..b", True), ("a/a", True), ("a-b.c/a", True),
            ("a--b.c/a", True), (f"{LONGEST_SUBDOMAIN}/a", True), (f"{TOO_LONG_SUBDOMAIN}/a", False),
            (f"a/{A63}", True), (f"a/{'a' * 64}", False),
            # ours
            ("backstage.io/techdocs-ref", True), ("a#b", False),
        ],
    ),
    *table(
        v.is_valid_annotation_value,
        [(7, False), (None, False), ("", True), ("a", True), ("/" * 6000, True), (["a"], False)],
    ),
    *table(
        v.is_valid_dns_subdomain,
        [
            (None, False), (7, False), ("", False), ("a", True), ("a-b", True), ("-a-b", False),
            ("a-b-", False), ("a--b", True), ("a_b", False), ("adam.bertil.caesar", True),
            ("adam.ber-til.caesar", True), ("adam.-bertil.caesar", False), ("adam.bertil-.caesar", False),
            ("adam/bertil.caesar", False), (f"a.{'b' * 63}.c", True), (f"a.{'b' * 64}.c", False),
            (LONGEST_SUBDOMAIN, True), (TOO_LONG_SUBDOMAIN, False),
        ],
    ),
    *table(
        v.is_valid_dns_label,
        [
            (None, False), (7, False), ("", False), ("a", True), ("a-b", True), ("-a-b", False),
            ("a-b-", False), ("a--b", True), ("xn--c6h", True), ("a_b", False), (A63, True), ("a" * 64, False),
        ],
    ),
    *table(
        v.is_valid_tag,
        [
            # Backstage's isValidTag table
            (None, False), (7, False), ("", False), ("a", True), ("a-b", True), ("-a-b", False),
            ("a-b-", False), ("a--b", False), ("a_b", False), (A63, True), ("a" * 64, False), ("a+b", True),
            ("+a+b", True), ("a+b+", True), ("a++b", True), ("c++", True), ("c#", True), ("#c++", True),
            # the default validators also allow ':' (makeValidator's inline isValidTag)
            ("a:b", True), ("tier:1", True),
            # ours
            ("java", True), ("data-service", True), ("Hello World", False), ("Java", False), ("a.b", False),
        ],
    ),
    *table(
        v.is_valid_url,
        [
            (None, False), (7, False), ("", False), ("abc", False), ("   abc", False), ({}, False),
            ("http://foo", True), ("https://www.foo.com/", True), ("https://foo.com:8080", True),
            ("https://foo:8080/page", True), ("https://foo:8080/sub/page", True),
            ("https://foo:8080/sub/page?query", True), ("https://foo:8080/sub/page/?query=value", True),
            ("https://foo:8080/sub/page/?query=value&", True),
            ("https://foo:8080/sub/page/?query=value&another=val", True), ("https://foo.com/page#fragment", True),
            ("ftp://ftp.some.domain.com/path", True), ("xyz://custom-protocol:4444/path", True),
            # ours: what JavaScript's new URL() accepts or rejects
            ("http://", False), ("https://foo bar", False), ("https://foo:99999", False),
            ("https://foo:" + "9" * 5000, False), ("https://user:pw@foo.com/x", True), ("http://[::1]:7007/", True),
            ("mailto:team@example.com", True), ("  https://foo.com  ", True), ("https://foo.com/a b", True),
            ("./relative/path", False), ("https://bücher.de/", True),
        ],
    ),
    *table(
        v.is_non_empty_string,
        [
            (None, False), (True, False), (7, False), ({}, False), ("", False), (" ", False), ("    ", False),
            ("abc", True), (" abc ", True), ("abc xyz", True), ("abc xyz abc.", True),
        ],
    ),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "value", "valid"), CASES)
def test_format_rule(rule: Callable[[object], bool], value: object, valid: bool) -> None:
    assert rule(value) is valid
