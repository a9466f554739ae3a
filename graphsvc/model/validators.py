"""Backstage's field format rules, as pure predicates.

These mirror `KubernetesValidatorFunctions`, `CommonValidatorFunctions` and the default `makeValidator()`
of `@backstage/catalog-model` (the versions shipped around Backstage 1.35, Dec 2024), which is what
`FieldFormatEntityPolicy` applies to every entity. Where Backstage changed a rule over time, the newer
rule wins: DNS labels allow repeated dashes (`xn--c6h`), and tags allow `:`, `+` and `#` (`c++`, `c#`).

Each predicate takes any value and answers with a bool; the `EXPECT_*` texts say what a valid value looks
like, for error messages. Lengths are checked before regular expressions so that hostile, very long
input costs nothing. Regexes use `fullmatch`: in Python `$` also matches before a trailing newline,
which JavaScript's does not.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

_DNS_LABEL = re.compile(r"[a-z0-9]+(?:-+[a-z0-9]+)*")
_OBJECT_NAME = re.compile(r"(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_KIND = re.compile(r"[a-zA-Z][a-z0-9A-Z]*")
_API_VERSION_SUFFIX = re.compile(r"[a-z0-9A-Z]+")
_TAG = re.compile(r"[a-z0-9:+#]+(?:-[a-z0-9:+#]+)*")
# WHATWG URL parsing (JavaScript's `new URL()`), reduced to what decides validity for catalog links:
# a scheme, and for the "special" schemes a non-empty host without forbidden characters.
# The common case, checked first: http(s) with a plain host name, no port, no user info.
_URL_SIMPLE = re.compile(r"https?://[A-Za-z0-9.\-]+(?:[/?#][\x21-\x7e]*)?")
_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_URL_SPECIAL_SCHEMES = frozenset({"http", "https", "ws", "wss", "ftp"})
_URL_FORBIDDEN_HOST = re.compile(r"[\x00-\x20#/:<>?@\[\\\]^|]")
_URL_AUTHORITY_END = re.compile(r"[/\\?#]")
_URL_PORT = re.compile(r"[0-9]+")
_URL_STRIPPED = "".join(chr(c) for c in range(0x21))  # C0 controls and space, trimmed by the parser

EXPECT_OBJECT_NAME = (
    "a string that is sequences of [a-zA-Z0-9] separated by any of [-_.], at most 63 characters in total"
)
EXPECT_NAMESPACE = "a string that is sequences of [a-z0-9] separated by [-], at most 63 characters in total"
EXPECT_KIND = "a string that is a sequence of [a-zA-Z][a-z0-9A-Z], at most 63 characters in total"
EXPECT_API_VERSION = (
    "an optional DNS subdomain and '/' followed by [a-zA-Z0-9] (at most 63 characters), e.g. backstage.io/v1alpha1"
)
EXPECT_KEY = (
    "an optional DNS subdomain prefix and '/' followed by a name that is sequences of [a-zA-Z0-9] "
    "separated by any of [-_.] (at most 63 characters), e.g. example.com/my-key"
)
EXPECT_LABEL_VALUE = "an empty string or " + EXPECT_OBJECT_NAME
EXPECT_TAG = "a string that is sequences of [a-z0-9:+#] separated by [-], at most 63 characters in total"
EXPECT_URL = "a valid URL with a scheme, e.g. https://example.com/page"
EXPECT_NON_EMPTY_STRING = "a non-empty string"


def is_valid_dns_label(value: object) -> bool:
    """RFC 1123 label: `[a-z0-9]` runs joined by dashes, 1 to 63 characters."""
    return isinstance(value, str) and 1 <= len(value) <= 63 and _DNS_LABEL.fullmatch(value) is not None


def is_valid_dns_subdomain(value: object) -> bool:
    """Dot-separated DNS labels, 1 to 253 characters in total."""
    return (
        isinstance(value, str)
        and 1 <= len(value) <= 253
        and all(is_valid_dns_label(label) for label in value.split("."))
    )


def is_valid_object_name(value: object) -> bool:
    """Entity names (and link icons): `[a-zA-Z0-9]` runs joined by any of `-_.`, 1 to 63 characters."""
    return isinstance(value, str) and 1 <= len(value) <= 63 and _OBJECT_NAME.fullmatch(value) is not None


def is_valid_namespace(value: object) -> bool:
    """Namespaces are DNS labels: lowercase only, unlike names."""
    return is_valid_dns_label(value)


def is_valid_kind(value: object) -> bool:
    """A letter followed by letters and digits, 1 to 63 characters."""
    return isinstance(value, str) and 1 <= len(value) <= 63 and _KIND.fullmatch(value) is not None


def is_valid_api_version(value: object) -> bool:
    """`[dns-subdomain/]version`, where the version is 1 to 63 letters and digits."""
    return _is_valid_prefix_and_suffix(value, _is_valid_api_version_suffix)


def is_valid_label_key(value: object) -> bool:
    """`[dns-subdomain/]name`, like Kubernetes label keys."""
    return type(value) is str and _is_valid_key(value)


def is_valid_label_value(value: object) -> bool:
    """Empty, or a valid object name."""
    return value == "" or is_valid_object_name(value)


def is_valid_annotation_key(value: object) -> bool:
    """Same rule as label keys."""
    return type(value) is str and _is_valid_key(value)


def is_valid_annotation_value(value: object) -> bool:
    """Any string, including an empty one."""
    return isinstance(value, str)


def is_valid_tag(value: object) -> bool:
    """Lowercase `[a-z0-9:+#]` runs joined by single dashes, 1 to 63 characters (`java`, `c++`)."""
    return isinstance(value, str) and 1 <= len(value) <= 63 and _TAG.fullmatch(value) is not None


def is_non_empty_string(value: object) -> bool:
    """A string with something other than whitespace in it."""
    return isinstance(value, str) and bool(value.strip())


def is_valid_url(value: object) -> bool:
    """Whether JavaScript's `new URL(value)` would accept the value (an absolute URL)."""
    if not isinstance(value, str):
        return False
    if _URL_SIMPLE.fullmatch(value) is not None:
        return True
    text = value.strip(_URL_STRIPPED).replace("\t", "").replace("\n", "").replace("\r", "")
    scheme = _URL_SCHEME.match(text)
    if scheme is None:
        return False
    if scheme.group()[:-1].lower() not in _URL_SPECIAL_SCHEMES:
        return True
    authority = _URL_AUTHORITY_END.split(text[scheme.end() :].lstrip("/\\"), maxsplit=1)[0]
    host_port = authority.rpartition("@")[2]
    if host_port.startswith("["):  # IPv6 literal
        host, _, rest = host_port.partition("]")
        return len(host) > 1 and (rest == "" or (rest[0] == ":" and _is_valid_port(rest[1:])))
    host, _, port = host_port.partition(":")
    return bool(host) and _URL_FORBIDDEN_HOST.search(host) is None and _is_valid_port(port)


def _is_valid_port(port: str) -> bool:
    return port == "" or (len(port) <= 5 and _URL_PORT.fullmatch(port) is not None and int(port) <= 65535)


@lru_cache(maxsize=4096)
def _is_valid_key(value: str) -> bool:
    """Label and annotation keys, memoised: every entity repeats the same few dozen keys."""
    return _is_valid_prefix_and_suffix(value, is_valid_object_name)


def _is_valid_api_version_suffix(value: str) -> bool:
    return 1 <= len(value) <= 63 and _API_VERSION_SUFFIX.fullmatch(value) is not None


def _is_valid_prefix_and_suffix(value: object, is_valid_suffix: Callable[[str], bool]) -> bool:
    """`suffix` or `prefix/suffix` (exactly one slash), the prefix being a DNS subdomain."""
    if not isinstance(value, str) or len(value) > 253 + 1 + 63:
        return False
    parts = value.split("/")
    if len(parts) == 1:
        return is_valid_suffix(parts[0])
    if len(parts) == 2:
        return is_valid_dns_subdomain(parts[0]) and is_valid_suffix(parts[1])
    return False
