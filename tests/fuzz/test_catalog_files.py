"""Fuzzing catalog files end to end: files on disk -> `CatalogService.register` / `refresh` -> the store.

A store serves up to `STORE_ROTATION` examples; every example is a directory of its own, registered as its
own location (glob `**/*.yaml`), synced, checked and unregistered again, so that later examples meet a
store that has seen many sources come and go (closed entities, dangling targets, re-claimed refs).

Generators:

- **structured catalogs**: entities with random field values (names, namespaces, built-in, custom and
  unknown kinds, specs of random types and nesting, relation refs, tags, labels, annotations with unicode
  and control characters), non-entity documents, duplicates, empty documents and `...` markers, in block
  and flow style. Strings are always written double-quoted with escapes, so the data a YAML 1.2 reader
  must produce is known exactly, and `validate_entity` (the model, no I/O) says which documents are
  entities: that is the oracle.
- **Location entities with hostile targets**, in the same catalogs: missing files, `..` chains, absolute
  paths, directories, very long paths, NUL bytes, globs matching nothing or files beside the root,
  cycles, a binary file, an unreachable URL, devices. Each target's outcome is known when it is generated.
- **histories**: a structured catalog, then up to three next versions (documents edited, broken, made
  nameless, removed, moved to another file, added; files dropped and added), each synced over the last.
- **mutations** of valid catalogs: inserted control characters, invalid UTF-8, huge integers, deep nesting,
  aliases and alias bombs, undefined aliases, duplicate keys, inserted `---`, truncation, byte flips,
  binary garbage files; and garbage registered as a root file of its own.

Properties (each sync): nothing but `SourceUnavailableError` escapes the service, and that only for a root
file that cannot be read as text at all; every document that is not a valid entity yields exactly one
error record naming its file and document index; every other document of the file and of the other files
is applied: the stored entities are exactly the valid ones (plus the last good versions the README
promises to keep), with their documents, locations and relation rows, counts and versions as the data
call for; `GraphStore.check()` is empty; a refresh of unchanged files changes nothing; a refresh after a
mutation never removes or rewrites an entity of a document it could not read.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, example, given, note
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from graphsvc.config import Settings
from graphsvc.model import ModelError, derive_relations, parse_entity_ref, validate_entity
from graphsvc.service import CatalogService
from graphsvc.store import open_store
from ingestors.read import SourceUnavailableError, read_source
from tests.conftest import ENGINES, wipe_neo4j
from tests.fuzz import Cases, examples_on, fuzz_settings
from tests.suite_settings import SUITE_ROOTS, suite_settings

CUSTOM_KINDS = ("Gadget",)
GLOB = "**/*.yaml"
EMPTY = object()
"""An empty document (`---` followed by nothing): it counts for the numbering but holds no entity."""

# --- Writing YAML whose meaning is known exactly -----------------------------------------------------------

_RAW_OK = re.compile("[\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")
"""Characters written as themselves inside double quotes; everything else is escaped (control characters,
NEL and the Unicode line separators, which a YAML 1.1 scanner would fold, the BOM, non-characters)."""


def _escape(character: str) -> str:
    if character == '"':
        return '\\"'
    if character == "\\":
        return "\\\\"
    if _RAW_OK.match(character):
        return character
    code = ord(character)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def quoted(text: str) -> str:
    return '"' + "".join(map(_escape, text)) + '"'


def scalar(value: object) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value == float("inf"):
            return ".inf"
        if value == float("-inf"):
            return "-.inf"
        return repr(value)
    if isinstance(value, str):
        return quoted(value)
    raise TypeError(f"not a YAML scalar: {value!r}")


def _key(key: str) -> str:
    written = quoted(key)
    return f"? {written}\n" if len(written) > 1000 else written  # implicit keys stop at 1024 characters


def flow(value: object) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_flow_key(k)}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    return scalar(value)


def _flow_key(key: str) -> str:
    written = quoted(key)
    return f"? {written} " if len(written) > 1000 else written


def block(value: object, indent: int = 0) -> str:
    """Block style for a non-empty collection, one line per scalar; empty collections and scalars inline."""
    pad = " " * indent
    lines: list[str] = []
    items = value.items() if isinstance(value, dict) else ((None, v) for v in value)  # type: ignore[union-attr]
    for key, item in items:
        if key is None:
            head = f"{pad}-"
        else:
            written = quoted(key)
            head = f"{pad}? {written}\n{pad}:" if len(written) > 1000 else f"{pad}{written}:"
        if isinstance(item, dict | list) and item:
            lines.append(head + "\n" + block(item, indent + 2))
        else:
            lines.append(f"{head} {flow(item)}\n")
    return "".join(lines)


def document_text(data: object, style: str) -> str:
    if style == "block" and isinstance(data, dict | list) and data:
        return block(data)
    return flow(data) + "\n"


# --- The catalogs ------------------------------------------------------------------------------------------


@dataclass
class CatalogFile:
    path: str
    """Relative to the example's root directory."""
    items: list[Any]
    """Each document's data, or EMPTY."""
    styles: list[str]
    header: str = ""
    """Comments (and possibly a %YAML directive) before the first document."""
    explicit_first: bool = False
    end_markers: bool = False
    """Whether each document ends with `...`."""

    def render(self) -> tuple[str, list[tuple[int, int]]]:
        """The text, and each document's (start of its content, end) offsets."""
        pieces: list[str] = [self.header]
        spans: list[tuple[int, int]] = []
        position = len(self.header)
        for index, (data, style) in enumerate(zip(self.items, self.styles, strict=True)):
            explicit = index or self.explicit_first or self.header.startswith("%") or data is EMPTY
            marker = "---\n" if explicit else ""
            body = "" if data is EMPTY else document_text(data, style)
            end = "...\n" if self.end_markers else ""
            pieces += [marker, body, end]
            start = position + len(marker)
            spans.append((start, start + len(body)))
            position = start + len(body) + len(end)
        return "".join(pieces), spans


@dataclass
class Catalog:
    files: list[CatalogFile]
    targets: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    """Location target as written -> what reading it must do (see `_target_outcome`)."""


OUTSIDE = "outside"
"""A directory beside the registered root, which `..` targets reach: a few fixed files."""


def _group(name: str, namespace: str = "fz-out") -> dict[str, Any]:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Group",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"type": "team", "children": []},
    }


def _component(name: str, owner: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": name},
        "spec": {"type": "service", "lifecycle": "production", "owner": owner, **spec},
    }


OUTSIDE_FILES: dict[str, list[Any]] = {
    "ok-0.yml": [_group("fz-outside-0")],
    "ok-1.yml": [_group("fz-outside-1"), _component("fz-outside-c", "group:fz-out/fz-outside-1")],
    "bad.yml": [{**_component("fz-outside-bad", "x"), "spec": {"type": "service"}}],
    "sub/deep.yml": [_group("fz-outside-deep")],
}
BLOB = "blob.yml"
BLOB_BYTES = b"\x00\xff\xfe\x89PNG\r\n\x1a\n binary \x00\x00"


def _outside_matches(pattern: str) -> list[str]:
    """What the fixed globs over the outside directory match (written out, not computed by the reader)."""
    return {
        "*.yml": ["bad.yml", "blob.yml", "ok-0.yml", "ok-1.yml"],
        "**/*.yml": ["bad.yml", "blob.yml", "ok-0.yml", "ok-1.yml", "sub/deep.yml"],
        "ok-*.yml": ["ok-0.yml", "ok-1.yml"],
        "[o]k-?.yml": ["ok-0.yml", "ok-1.yml"],
        "sub/*.yml": ["sub/deep.yml"],
        "*.nothing": [],
    }[pattern]


# Target outcomes: ("missing", key) / ("unreadable", key) are decided when the target is read, once per
# location; ("nomatch",), ("cycle",) and ("nul",) when it is expanded, every time; ("files", [outside
# files]) are read. "nul" and "toolong" may be silenced by `presence: optional` or not: either is fine.


def _target_strategy(own_file: str) -> st.SearchStrategy[tuple[str, tuple[Any, ...]]]:
    depth = own_file.count("/")  # the Location's directory below the root
    up = "../" * (depth + 1)  # from the Location's directory to the example directory
    n = st.integers(0, 3)
    return st.one_of(
        n.map(lambda i: (f"./missing-{i}.yml", ("missing", f"missing-{i}"))),
        n.map(lambda i: (f"file:./missing-{i}.yml", ("missing", f"missing-{i}"))),
        st.integers(1, 60).map(lambda k: ("../" * k + "nonexistent-fz.yml", ("missing", f"up{k}"))),
        n.map(lambda i: (f"/nonexistent-fz-dir/{i}.yml", ("missing", f"abs{i}"))),
        st.sampled_from(["./\x01-ctl.yml", "./ünï cödé.yml", "./~/x.yml", "./{a,b}.yml", "./a\\b.yml"]).map(
            lambda t: (t, ("missing", t))
        ),
        st.sampled_from(["/", ".", up + OUTSIDE, up + OUTSIDE + "/"]).map(lambda t: (t, ("unreadable", t))),
        st.integers(256, 9000).map(lambda k: ("x" * k + ".yml", ("toolong", k))),
        st.integers(1100, 3000).map(lambda k: ("a/" * k + "x.yml", ("toolong", f"deep{k}"))),
        st.sampled_from(["./a\x00b.yml", "\x00", "../\x00/*.yml", "*\x00*", "/tmp/\x00"]).map(lambda t: (t, ("nul",))),
        st.sampled_from(["ok-0.yml", "ok-1.yml", "bad.yml", "sub/deep.yml", BLOB]).map(
            lambda f: (up + OUTSIDE + "/" + f, ("files", [f]))
        ),
        st.sampled_from(["*.yml", "**/*.yml", "ok-*.yml", "[o]k-?.yml", "sub/*.yml"]).map(
            lambda p: (up + OUTSIDE + "/" + p, ("files", _outside_matches(p)))
        ),
        st.sampled_from(
            [
                "./nomatch/*.yml",
                "/nonexistent-fz/*.yml",
                up + OUTSIDE + "/*.nothing",
                "[",
                "./[a-",
                "./***/x.yml",
                "./[z-a]*.yml",
                up + OUTSIDE + "/[]]*.yml",
            ]
        ).map(lambda t: (t, ("nomatch",))),
        st.sampled_from(["./", "file:./", ""]).map(lambda p: (p + os.path.basename(own_file), ("cycle",))),
        st.just(("http://127.0.0.1:1/fz-catalog.yaml", ("unreadable", "url"))),
        st.just(("/dev/null", ("unreadable", "/dev/null"))),  # a device: refused, not read
    )


# Field values -----------------------------------------------------------------------------------------------

SPECIAL = (
    "\x00\x01\x07\x08\x0b\x1b\x7f\x85\x9b\t\n\r\u2028\u2029\ufeff\ufffe\uffff\u200bé日\U0001f600 :/#&*!|>'\"%@`{}[],?-~"
)
chars = st.one_of(st.characters(codec="utf-8"), st.sampled_from(SPECIAL))
text = st.text(chars, max_size=20)
big_text = st.sampled_from(["x" * 10_000, "é" * 3_000, "\x00" * 500, "a\n" * 2_000])
keys = text.filter(lambda k: not k.startswith("$"))  # `$text`-style keys are placeholders, tested elsewhere
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-(10**40), 10**40),
    st.sampled_from([10**4299, -(10**4299), 2**63, -(2**63) - 1, 2**64]),
    st.floats(allow_nan=False),
    text,
)
json_values = st.recursive(
    leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4), max_leaves=12
)

finite_json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), text),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=8,
)
"""What a valid entity may hold anywhere (JSON has no infinities: the model refuses them)."""

NAME_POOL = ["team-a", "checkout", "Checkout", "ledger", "orders-db", "payments", "fz-outside-0"]
_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
valid_names = st.one_of(
    st.sampled_from(NAME_POOL),
    st.builds(
        lambda a, middle, b: a + middle + b,
        st.sampled_from(_ALNUM),
        st.text("abcdefghijklmnopqrstuvwxyz0123456789-_.", max_size=20),
        st.sampled_from(_ALNUM),
    ),
    st.sampled_from(_ALNUM),
)
hostile_names = st.one_of(
    st.sampled_from(
        ["", "-a", "a-", "a" * 63, "a" * 64, "a b", "a:b", "a/b", "ä", "a\x00", "a\u200b", ".", "..", " a", "a\n"]
    ),
    text,
    big_text,
)
names = st.one_of(valid_names, valid_names, hostile_names)
namespaces = st.one_of(
    st.sampled_from(["default", "fz-ns", "Default", "a_b", "", "x" * 64, "ns/x", "\x00", "ünï"]),
    st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12),
)
KINDS = ["Component", "API", "Resource", "System", "Domain", "Group", "User", "Location", "Template"]
API_VERSIONS = {"Template": "scaffolder.backstage.io/v1beta3"}
kinds = st.one_of(
    st.sampled_from(KINDS),
    st.sampled_from(KINDS).map(str.lower),
    st.sampled_from(KINDS).map(str.upper),
    st.sampled_from(["Gadget", "gadget", "AiResource", "Widget", "", "Compo nent", "Componént", "a:b"]),
)
ref_kinds = st.sampled_from(["", "component:", "group:", "user:", "system:", "domain:", "api:", "resource:"])
refs = st.one_of(
    st.builds(
        lambda kind, namespace, name: kind + namespace + name,
        ref_kinds,
        st.sampled_from(["", "default/", "fz-ns/", "fz-out/"]),
        st.sampled_from(NAME_POOL),
    ),
    st.sampled_from(
        ["a:b:c", "", ":", "/", "component:", "component:/x", "group:default/", "component:a\x00", "ÄÖ", "x" * 10_000]
    ),
    text,
)
tags = st.one_of(
    st.text("abcdefghijklmnopqrstuvwxyz0123456789:+#-", min_size=1, max_size=20),
    st.sampled_from(["A", "a b", "", "a" * 64, "-a", "a--b", "ünï"]),
    text,
)
label_keys = st.one_of(
    st.sampled_from(["team", "backstage.io/source", "example.com/tier", "a" * 64, "", "a b", "x/" * 3, "é"]),
    keys,
)
label_values = st.one_of(st.sampled_from(["v", "a-b.c_d", "", "a" * 64, "a b", "\x00"]), text)
annotation_keys = st.one_of(
    st.sampled_from(["backstage.io/techdocs-ref", "github.com/project-slug", "backstage.io/view-url", "bad key"]),
    keys,
)
annotation_values = st.one_of(text, big_text, st.sampled_from(["https://example.com/x", "dir:.", "\x00\x07\x1b"]))


clean_refs = st.builds(
    lambda kind, namespace, name: kind + namespace + name,
    ref_kinds,
    st.sampled_from(["", "default/", "fz-ns/", "fz-out/"]),
    st.sampled_from(NAME_POOL),
)
_TAG_RUN = st.text("abcdefghijklmnopqrstuvwxyz0123456789:+#", min_size=1, max_size=6)
clean_tags = st.lists(_TAG_RUN, min_size=1, max_size=3).map("-".join)
clean_label_keys = st.sampled_from(["team", "tier", "backstage.io/source", "example.com/a.b_c-d", "A1"])
clean_label_values = st.one_of(st.just(""), valid_names)
clean_namespaces = st.one_of(
    st.sampled_from(["default", "fz-ns"]),
    st.lists(st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=5), min_size=1, max_size=3).map(
        "-".join
    ),
)


@st.composite
def metadata(draw: st.DrawFn, clean: bool) -> dict[str, Any]:
    """Metadata; `clean` draws only values the model accepts (names, namespaces, tags, labels), except that
    titles, descriptions and annotation values are any text, control characters and all."""
    data: dict[str, Any] = {"name": draw(valid_names if clean else names)}
    if draw(st.booleans()):
        data["namespace"] = draw(clean_namespaces if clean else namespaces)
    for field_name, values in (("title", text), ("description", st.one_of(text, big_text))):
        if draw(st.integers(0, 3)) == 0:
            data[field_name] = draw(values)
    if draw(st.booleans()):
        data["tags"] = draw(st.lists(clean_tags if clean else tags, max_size=4))
    if draw(st.integers(0, 2)) == 0:
        data["labels"] = draw(
            st.dictionaries(clean_label_keys, clean_label_values, max_size=3)
            if clean
            else st.dictionaries(label_keys, label_values, max_size=3)
        )
    if draw(st.booleans()):
        data["annotations"] = draw(
            st.dictionaries(clean_label_keys if clean else annotation_keys, annotation_values, max_size=3)
        )
    if draw(st.integers(0, 4)) == 0:
        link = st.fixed_dictionaries({"url": st.sampled_from(["https://example.com", "nope", ""])})
        if clean:
            link = st.fixed_dictionaries({"url": st.just("https://example.com/ü?q=1")}, optional={"title": text})
        data["links"] = draw(st.lists(link if clean else st.one_of(link, json_values), max_size=2))
    if not clean and draw(st.integers(0, 5)) == 0:
        data[draw(keys)] = draw(json_values)
    return data


def _spec_for(
    draw: st.DrawFn, kind: str, own_file: str, targets: dict[str, tuple[Any, ...]], clean: bool
) -> dict[str, Any]:
    refs_ = clean_refs if clean else refs
    some_refs = st.lists(refs_, max_size=3)
    kind = kind.lower()
    if kind == "component":
        spec = {"type": draw(st.sampled_from(["service", "website", ""])), "lifecycle": "production"}
        spec["owner"] = draw(refs_)
        for name in ("system", "subcomponentOf"):
            if draw(st.integers(0, 3)) == 0:
                spec[name] = draw(refs_)
        for name in ("dependsOn", "providesApis", "consumesApis", "dependencyOf"):
            if draw(st.booleans()):
                spec[name] = draw(some_refs)
    elif kind == "api":
        spec = {"type": "openapi", "lifecycle": "production", "owner": draw(refs_), "definition": draw(text)}
    elif kind == "resource":
        spec = {"type": "database", "owner": draw(refs_), "dependsOn": draw(some_refs)}
    elif kind == "system":
        spec = {"owner": draw(refs_), "domain": draw(refs_)}
    elif kind == "domain":
        spec = {"owner": draw(refs_)}
    elif kind == "group":
        spec = {"type": "team", "children": draw(some_refs)}
        if draw(st.booleans()):
            spec["parent"] = draw(refs_)
        if draw(st.booleans()):
            spec["members"] = draw(some_refs)
    elif kind == "user":
        spec = {"memberOf": draw(some_refs)}
    elif kind == "location":
        spec = {}
        entries = draw(st.lists(_target_strategy(own_file), max_size=3))
        for written, outcome in entries:
            targets[written] = outcome
        if entries and draw(st.booleans()):
            spec["target"] = entries[0][0]
            entries = entries[1:]
        if entries or draw(st.booleans()):
            spec["targets"] = [written for written, _ in entries]
        if draw(st.booleans()):
            spec["type"] = draw(st.sampled_from(["url", "file", "github", "", 5]))
        if draw(st.booleans()):
            spec["presence"] = draw(st.sampled_from(["optional", "required", "maybe"]))
    elif kind == "template":
        spec = {"type": "service", "steps": [{"action": "fetch:plain", "input": {"url": "./skeleton"}}]}
    else:
        spec = {}
    for _ in range(draw(st.integers(0, 2))):
        spec[draw(keys)] = draw(json_values)
    return spec


@st.composite
def documents(draw: st.DrawFn, own_file: str, targets: dict[str, tuple[Any, ...]]) -> Any:
    """One document: mostly an entity (often valid), sometimes damaged, sometimes not an entity at all."""
    if draw(st.integers(0, 12)) == 0:
        return draw(st.one_of(text.filter(bool), st.integers(), st.lists(json_values, min_size=1, max_size=3)))
    clean = draw(st.booleans())
    kind = draw(st.sampled_from([*KINDS, "Gadget"]) if clean else kinds)
    base_kind = kind if kind in KINDS else next((k for k in KINDS if k.lower() == kind.lower()), kind)
    data: dict[str, Any] = {
        "apiVersion": API_VERSIONS.get(base_kind, "backstage.io/v1alpha1"),
        "kind": kind,
        "metadata": draw(metadata(clean)),
        "spec": _spec_for(draw, kind, own_file, targets, clean),
    }
    damage = 99 if clean else draw(st.integers(0, 9))
    if damage == 0:  # a wrong type or a missing field
        path = draw(st.sampled_from(["apiVersion", "kind", "metadata", "spec", "metadata.name", "spec.owner"]))
        value = draw(st.one_of(st.just(_DELETE), json_values))
        _set(data, path, value)
    elif damage == 1:
        data[draw(st.sampled_from(["status", "relations", "extra", "Kind"]))] = draw(json_values)
    elif damage == 2:
        data["apiVersion"] = draw(st.sampled_from(["backstage.io/v1beta1", "v1", "", "backstage.io/v9", "a/b/c"]))
    return data


_DELETE = object()


def _set(data: dict[str, Any], path: str, value: object) -> None:
    *parents, last = path.split(".")
    target: Any = data
    for part in parents:
        target = target.get(part) if isinstance(target, dict) else None
    if not isinstance(target, dict):
        return
    if value is _DELETE:
        target.pop(last, None)
    else:
        target[last] = value


FILE_NAMES = ["catalog-info.yaml", "a.yaml", "b.yaml", "sub/c.yaml", "sub/dir/d.yaml", "ünï cödé.yaml", "z.yaml"]


@st.composite
def catalogs(draw: st.DrawFn, max_files: int = 3, max_documents: int = 4) -> Catalog:
    paths = draw(st.lists(st.sampled_from(FILE_NAMES), min_size=1, max_size=max_files, unique=True))
    targets: dict[str, tuple[Any, ...]] = {}
    files = []
    for path in paths:
        items = draw(st.lists(st.one_of(documents(path, targets), st.just(EMPTY)), min_size=1, max_size=max_documents))
        files.append(
            CatalogFile(
                path=path,
                items=items,
                styles=draw(st.lists(st.sampled_from(["block", "flow"]), min_size=len(items), max_size=len(items))),
                header=draw(st.sampled_from(["", "", "# a catalog\n", "%YAML 1.2\n", "# one\n\n# two\n"])),
                explicit_first=draw(st.booleans()),
                end_markers=draw(st.integers(0, 3)) == 0,
            )
        )
    # The same entity again, in another file or later in the same one: a duplicate.
    entities = [
        (f, i)
        for f in files
        for i, d in enumerate(f.items)
        if isinstance(d, dict) and not (isinstance(d.get("kind"), str) and d["kind"].lower() == "location")
    ]  # (a Location's relative targets would mean something else in another file)
    if entities and draw(st.integers(0, 3)) == 0:
        source_file, index = draw(st.sampled_from(entities))
        copy = json.loads(json.dumps(source_file.items[index]))
        if isinstance(copy.get("metadata"), dict) and isinstance(copy["metadata"].get("name"), str):
            if draw(st.booleans()):
                copy["metadata"]["name"] = copy["metadata"]["name"].upper()
            copy["metadata"]["description"] = "the second definition"
        into = draw(st.sampled_from(files))
        into.items.append(copy)
        into.styles.append("flow")
    return Catalog(files, targets)


# --- What reading a catalog must produce (the oracle) ------------------------------------------------------


def names_entity(data: object) -> str | None:
    """The ref a document names (kind, metadata.name, metadata.namespace), valid or not; None if it names none."""
    if not isinstance(data, dict):
        return None
    kind, meta = data.get("kind"), data.get("metadata")
    if not isinstance(kind, str) or not isinstance(meta, dict):
        return None
    name, namespace = meta.get("name"), meta.get("namespace", "default")
    if not (isinstance(name, str) and name and isinstance(namespace, str) and namespace):
        return None
    try:
        return str(parse_entity_ref(f"{kind}:{namespace}/{name}"))
    except ModelError:
        return None


def valid_entity(data: object) -> Any:
    try:
        entity = validate_entity(data, custom_kinds=CUSTOM_KINDS)
        derive_relations(entity)
    except ModelError:
        return None
    return entity


@dataclass
class Expected:
    documents: list[tuple[str, int, Any]] = field(default_factory=list)
    """(location, document index, data) in the order the read must return them."""
    read_errors: dict[tuple[str, int], list[int]] = field(default_factory=dict)
    """(location, document index) of a Location document -> [fewest, most] read errors its targets cause."""
    blob_reads: int = 0
    stored: dict[str, tuple[str, Any]] = field(default_factory=dict)
    """ref -> (location, Entity) of what must be stored."""
    document_errors: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    """(category, location, document index) of validation and duplicate errors."""


def _location(path: Path) -> str:
    return "file:" + os.path.normpath(str(path))


def resolve_target(location: str, written: str) -> str:
    """The location a (non-glob) target names: plain path arithmetic relative to the Location's file."""
    for prefix in ("url:", "file:"):
        if written.startswith(prefix):
            written = written[len(prefix) :]
            break
    if written.startswith(("http://", "https://")):
        return "url:" + written
    return _location(Path(os.path.join(os.path.dirname(location.removeprefix("file:")), written)))


def _outside_the_roots(location: str, written: str) -> bool:
    """Whether a local target (or a glob's directory) lies outside the suite's allowed local roots."""
    target = resolve_target(location, written)
    if target.startswith("url:") or "\x00" in target:
        return False
    path = os.path.normpath(target.removeprefix("file:"))
    return not any(Path(path).is_relative_to(root) for root in SUITE_ROOTS)


def expected_read(catalog: Catalog, root: Path) -> Expected:
    """What the read and the sync must produce, worked out from the generated data alone."""
    expected = Expected()
    contents: dict[str, list[tuple[int, Any]]] = {}
    for file in catalog.files:
        contents[_location(root / file.path)] = [(i, d) for i, d in enumerate(file.items) if d is not EMPTY]
    outside = root.parent / OUTSIDE
    for name, docs in OUTSIDE_FILES.items():
        contents[_location(outside / name)] = list(enumerate(docs))
    visited: set[str] = set()
    read_once: set[str] = set()

    def add(key: tuple[str, int], fewest: int, most: int) -> None:
        span = expected.read_errors.setdefault(key, [0, 0])
        span[0] += fewest
        span[1] += most

    def visit(location: str) -> None:
        visited.add(location)
        pending: list[str] = []
        for index, data in contents[location]:
            expected.documents.append((location, index, data))
            if not (
                isinstance(data, dict) and isinstance(data.get("kind"), str) and data["kind"].lower() == "location"
            ):
                continue
            spec = data.get("spec")
            if not isinstance(spec, dict):
                continue
            entries = [spec["target"]] if isinstance(spec.get("target"), str) and spec["target"] else []
            if isinstance(spec.get("targets"), list):
                entries += [t for t in spec["targets"] if isinstance(t, str) and t]
            optional = spec.get("presence") == "optional"
            key = (location, index)
            expected.read_errors.setdefault(key, [0, 0])
            for written in entries:
                if spec.get("type") not in (None, "url", "file"):
                    add(key, 1, 1)
                    continue
                outcome = catalog.targets[written]
                what = "refused" if _outside_the_roots(location, written) else outcome[0]
                if what == "refused":  # the reading allowlist: an error even when optional, told once
                    once = resolve_target(location, written)
                    if once not in read_once:
                        read_once.add(once)
                        add(key, 1, 1)
                elif what in ("nomatch",):
                    add(key, 0 if optional else 1, 0 if optional else 1)
                elif what == "cycle":
                    add(key, 1, 1)
                elif what == "nul":
                    add(key, 0 if optional else 1, 1)
                elif what in ("missing", "unreadable", "toolong"):
                    once = resolve_target(location, written)
                    if once in read_once:
                        continue
                    read_once.add(once)
                    if what == "missing":
                        add(key, 0 if optional else 1, 0 if optional else 1)
                    elif what == "unreadable":
                        add(key, 1, 1)
                    else:
                        add(key, 0 if optional else 1, 1)
                else:  # files
                    pending += [_location(outside / name) for name in outcome[1]]
        for location_next in pending:
            if location_next in visited:
                continue
            if location_next.endswith("/" + BLOB):
                visited.add(location_next)
                expected.blob_reads += 1
                continue
            visit(location_next)

    for file in sorted(catalog.files, key=lambda f: str(root / f.path)):
        location = _location(root / file.path)
        if location not in visited:
            visit(location)

    seen: set[str] = set()
    for location, index, data in expected.documents:
        ref = names_entity(data)
        if ref is None:
            expected.document_errors["validation", location, index] += 1
        elif ref in seen:
            expected.document_errors["duplicate", location, index] += 1
        else:
            seen.add(ref)
            entity = valid_entity(data)
            if entity is None or entity.ref != ref:
                expected.document_errors["validation", location, index] += 1
            else:
                expected.stored[ref] = (location, entity)
    return expected


def _note(message: str) -> None:
    """`hypothesis.note` inside a generated example; nothing in the plain regression tests."""
    try:
        note(message)
    except InvalidArgument:
        pass


# --- Running one example -----------------------------------------------------------------------------------


STORE_ROTATION = 100
"""Examples per store: enough for many sources to come and go, few enough that whole-store checks stay fast."""


class Harness:
    def __init__(self, base: Path, neo4j: Settings | None = None) -> None:
        self.base = base
        self.neo4j = neo4j
        self.counter = itertools.count()
        self.stores = itertools.count()
        self.examples_in_store = 0
        self.service = self._open()

    def examples(self, count: int) -> int:
        """How many of a test's `count` examples run on this harness's engine."""
        return examples_on("sqlite" if self.neo4j is None else "neo4j", count)

    def _open(self) -> CatalogService:
        options = {"custom_kinds": list(CUSTOM_KINDS), "fetch_timeout_s": 2.0}
        if self.neo4j is None:
            settings = suite_settings(store_dir=self.base / f"store{next(self.stores)}", **options)
        else:
            wipe_neo4j(self.neo4j)  # a new store: the emptied database
            settings = self.neo4j.model_copy(update={"store_dir": self.base / "work", **options})
        return CatalogService(open_store(settings), settings)

    def close(self) -> None:
        self.service.close()

    def new_directory(self) -> Path:
        if self.examples_in_store >= STORE_ROTATION:
            self.service.close()
            self.service = self._open()
            self.examples_in_store = 0
        self.examples_in_store += 1
        directory = self.base / f"ex{next(self.counter)}"
        (directory / "root").mkdir(parents=True)
        outside = directory / OUTSIDE
        for name, docs in OUTSIDE_FILES.items():
            (outside / name).parent.mkdir(parents=True, exist_ok=True)
            (outside / name).write_text("".join("---\n" + document_text(d, "block") for d in docs))
        (outside / BLOB).write_bytes(BLOB_BYTES)
        return directory

    def stored(self, source: str) -> dict[str, dict[str, Any]]:
        """ref -> {location, document} of the source's present entities."""
        store = self.service.store
        present = [ref for ref, (_, state, _) in store.source_state(source).items() if state == "present"]
        return {
            ref: {"location": record.location, "document": record.document_json, "state": record.state}
            for ref, record in store.entities(present).items()
        }

    def versions(self, refs: set[str]) -> dict[str, list[int]]:
        """ref -> the instants its versions began: unchanged when nothing was written for it."""
        starts = self.service.store.version_starts(sorted(refs))
        return {ref: starts.get(ref, []) for ref in refs}

    def assert_consistent(self, when: str) -> None:
        violations = self.service.store.check()
        assert violations == [], f"store invariants broken {when}: {violations}"

    def cleanup(self, target: str, directory: Path) -> None:
        if any(location.target == target for location in self.service.store.registered_locations()):
            self.service.unregister(target)
            self.assert_consistent("after unregister")
            assert not self.stored(target), "unregister left present entities"
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module", params=ENGINES)
def harness(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    neo4j = request.getfixturevalue("neo4j_settings") if request.param == "neo4j" else None
    fuzz = Harness(tmp_path_factory.mktemp("fuzz-catalog").resolve(), neo4j)
    yield fuzz
    fuzz.close()


def write_catalog(catalog: Catalog, root: Path) -> dict[str, tuple[str, list[tuple[int, int]]]]:
    rendered = {}
    for file in catalog.files:
        text_, spans = file.render()
        path = root / file.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text_.encode("utf-8"))
        rendered[file.path] = (text_, spans)
    return rendered


def _error_keys(errors: list[dict[str, Any]], categories: tuple[str, ...]) -> Counter[tuple[str, str, int]]:
    return Counter((e["category"], e["location"], e["document_index"]) for e in errors if e["category"] in categories)


def _describe(errors: list[dict[str, Any]]) -> list[str]:
    return [f"{e['category']} {e['location']}#{e['document_index']}: {e['message'][:160]}" for e in errors]


def raw_digest(data: object) -> str:
    """Equal for documents the sync must see as unchanged: the same data, written the same way as JSON."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


@dataclass(frozen=True)
class Stored:
    location: str
    entity: Any
    digest: str


def next_state(previous: dict[str, Stored], expected: Expected) -> tuple[dict[str, Stored], set[str]]:
    """What the store must hold after syncing a new version over `previous` (README, "Bad input never loses
    data"): every valid first definition; the last good version of an entity whose document is now invalid;
    every entity of a file that holds a document naming no entity (we cannot tell which one it was). Also
    returns the refs written anew (added or updated)."""
    first: dict[str, Any] = {}
    nameless: set[str] = set()
    for location, _, data in expected.documents:
        ref = names_entity(data)
        if ref is None:
            nameless.add(location)
        elif ref not in first:
            first[ref] = data
    state: dict[str, Stored] = {}
    written: set[str] = set()
    for ref, (location, entity) in expected.stored.items():
        state[ref] = Stored(location, entity, raw_digest(first[ref]))
        old = previous.get(ref)
        if old is None or old.digest != state[ref].digest:
            written.add(ref)
        elif old.location != location:
            state[ref] = Stored(location, old.entity, old.digest)  # moved, unchanged: relocated
    for ref, old in previous.items():
        if ref in state:
            continue
        if ref in first or old.location in nameless:
            state[ref] = old
    return state, written


def check_versions(harness: Harness, versions: list[Catalog], cases: Cases | None = None) -> None:
    """Register the first version, then write each next version over the files and refresh: after each
    sync the error records, the stored entities, their documents, locations and relation rows, the counts
    and the versions must be exactly what the versions' data call for (as if every file were read, whatever
    the digest cache skips)."""
    directory = harness.new_directory()
    root = directory / "root"
    target = str(root)
    state: dict[str, Stored] = {}
    try:
        for step, catalog in enumerate(versions):
            for old_file in versions[step - 1].files if step else []:
                if old_file.path not in {f.path for f in catalog.files}:
                    (root / old_file.path).unlink()
            write_catalog(catalog, root)
            expected = expected_read(catalog, root)
            new_state, written = next_state(state, expected)
            _note(f"step {step}: expected stored {sorted(new_state)}, written {sorted(written)}")
            starts = harness.versions(set(state))
            if step == 0:
                summary = harness.service.register(target, glob=GLOB)
            else:
                summary = harness.service.refresh(target)
            _note(f"step {step} errors: " + "\n".join(_describe(summary.errors)))
            harness.assert_consistent(f"after sync {step}")
            _check_errors(summary.errors, expected)
            # Exactly the entities the data call for, each with its document and location.
            stored = harness.stored(target)
            assert set(stored) == set(new_state), (
                sorted(set(stored) - set(new_state)),
                sorted(set(new_state) - set(stored)),
            )
            for ref, item in new_state.items():
                assert stored[ref]["location"] == item.location, ref
                assert json.loads(stored[ref]["document"]) == json.loads(item.entity.to_json()), ref
            # Relation rows: exactly Backstage's rows of each entity, derived from every stored entity.
            rows: dict[str, set[tuple[str, str]]] = {ref: set() for ref in new_state}
            for item in new_state.values():
                for relation in derive_relations(item.entity):
                    if relation.source in rows:
                        rows[relation.source].add((relation.type, relation.target))
            got = harness.service.store.relations(sorted(new_state))
            for ref in new_state:
                assert {(r.type, r.target) for r in got[ref]} == rows[ref], ref
            # Counts and versions: a new version exactly for each entity written anew.
            added = set(new_state) - set(state)
            assert (summary.added, summary.updated, summary.removed) == (
                len(added),
                len(written - added),
                len(set(state) - set(new_state)),
            ), summary.counts
            after = harness.versions(set(state) & set(new_state))
            for ref, before in starts.items():
                if ref in after:
                    grew = 1 if ref in written else 0
                    assert len(after[ref]) == len(before) + grew and after[ref][: len(before)] == before, ref
            state = new_state
            if cases is not None:
                has_read_errors = any(e["category"] == "read" for e in summary.errors)
                cases.tag(
                    *(["has-valid"] if expected.stored and not step else []),
                    *(["has-invalid"] if expected.document_errors and not step else []),
                    *(["has-location-errors"] if has_read_errors and not step else []),
                    *(
                        ["has-duplicate"]
                        if not step and any(k[0] == "duplicate" for k in expected.document_errors)
                        else []
                    ),
                    *([f"step{step}-kept-last-good"] if set(new_state) - set(expected.stored) else []),
                    *([f"step{step}-removed"] if summary.removed else []),
                    *([f"step{step}-updated"] if summary.updated else []),
                )
                cases.counts["documents"] += len(expected.documents)
                cases.counts["error-records"] += len(summary.errors)
        if cases is not None:
            cases.add()
    finally:
        harness.cleanup(target, directory)


def _check_errors(errors: list[dict[str, Any]], expected: Expected) -> None:
    for error in errors:
        assert error["location"], f"an error record names no file: {error}"
    # One validation or duplicate error per bad document, at its file and index; none for good ones. A
    # duplicate in a file skipped as unchanged is named without its index: that file was not parsed.
    found = _error_keys(errors, ("validation", "duplicate"))
    for category, location, index in [key for key in found if key[2] is None]:
        matches = [key for key in expected.document_errors if key[:2] == (category, location)]
        assert category == "duplicate" and matches, (location, expected.document_errors)
        found[(category, location, index)] -= 1
        found[matches[0]] += 1
    assert +found == expected.document_errors
    assert not [e for e in errors if e["category"] not in ("read", "validation", "duplicate")]
    # Read errors only where a Location's target calls for one.
    read = [e for e in errors if e["category"] == "read"]
    blob = [
        e
        for e in read
        if e["location"].endswith("/" + BLOB)
        or (("/" + BLOB) in e["message"] and "is not read by this catalog" not in e["message"])  # a Location type
    ]
    assert len(blob) == expected.blob_reads, _describe(blob)
    counts = Counter((e["location"], e["document_index"]) for e in read if e not in blob)
    for key in set(counts) | set(expected.read_errors):
        fewest, most = expected.read_errors.get(key, (0, 0))
        assert fewest <= counts[key] <= most, (key, counts[key], (fewest, most), _describe(read))


def check_structured(harness: Harness, catalog: Catalog, cases: Cases | None = None) -> None:
    """Register a catalog, then refresh it unchanged (which must change nothing)."""
    check_versions(harness, [catalog, catalog], cases)


@st.composite
def next_versions(draw: st.DrawFn, previous: Catalog) -> Catalog:
    """The catalog changed the ways catalogs change between syncs: documents edited (owners, dependencies,
    descriptions), broken (still naming their entity, or naming none), removed, moved to another file, added;
    files dropped and added."""
    targets = dict(previous.targets)
    files: list[CatalogFile] = []
    movable: list[Any] = []
    for file in previous.files:
        fate = draw(st.sampled_from(["same", "edit", "edit", "edit", "drop"]))
        if fate == "drop":
            continue
        items = json.loads(json.dumps([None if d is EMPTY else d for d in file.items]))
        items = [EMPTY if d is None else d for d in items]
        if fate == "edit":
            edited = []
            for data in items:
                op = draw(st.sampled_from(["keep", "tweak", "tweak", "tweak", "break", "remove", "nameless", "move"]))
                is_entity = isinstance(data, dict) and isinstance(data.get("metadata"), dict)
                is_location = is_entity and isinstance(data.get("kind"), str) and data["kind"].lower() == "location"
                if op == "remove":
                    continue
                if op == "nameless":
                    edited.append({"apiVersion": "backstage.io/v1alpha1", "kind": "Component", "spec": {}})
                    continue
                if is_entity and op == "tweak":
                    spec = data.get("spec") if isinstance(data.get("spec"), dict) else data.setdefault("spec", {})
                    if isinstance(spec, dict):  # changes that keep a valid entity valid
                        field_name = draw(st.sampled_from(["owner", "dependsOn", "extra", None]))
                        if field_name is not None:
                            spec[field_name] = draw(
                                {
                                    "owner": clean_refs,
                                    "dependsOn": st.lists(clean_refs, max_size=3),
                                    "extra": finite_json_values,
                                }[field_name]
                            )
                    data["metadata"]["description"] = draw(text)
                elif is_entity and op == "break":
                    data["metadata"]["tags"] = [draw(st.sampled_from([5, "Not A Tag", None]))]
                elif is_entity and op == "move" and not is_location:
                    movable.append(data)
                    continue
                edited.append(data)
            items = edited + draw(st.lists(documents(file.path, targets), max_size=2))
        if items:
            files.append(_with_items(file, items, draw))
    unused = [name for name in FILE_NAMES if name not in {f.path for f in files}]
    if unused and (movable or not files or draw(st.integers(0, 3)) == 0):
        path = draw(st.sampled_from(unused))
        items = movable + draw(st.lists(documents(path, targets), min_size=0 if movable else 1, max_size=2))
        files.append(_with_items(CatalogFile(path, [], []), items, draw))
    # (with no file left to move them to, moved documents are simply gone)
    return Catalog(files, targets)


def _with_items(file: CatalogFile, items: list[Any], draw: st.DrawFn) -> CatalogFile:
    styles = draw(st.lists(st.sampled_from(["block", "flow"]), min_size=len(items), max_size=len(items)))
    return CatalogFile(file.path, items, styles, file.header, file.explicit_first, file.end_markers)


@st.composite
def catalog_histories(draw: st.DrawFn) -> list[Catalog]:
    versions = [draw(catalogs())]
    for _ in range(draw(st.integers(1, 3))):
        versions.append(draw(next_versions(versions[-1])))
    return versions


# --- Mutations of valid catalogs ---------------------------------------------------------------------------

CONTROL = ["\x00", "\x07", "\x01", "\x7f", "\x1b", "\x0b", "\x0c", "\x08", "\x9b", "\ufffe", "\uffff"]
BAD_UTF8 = [b"\xff", b"\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80", b"\xe2\x82", b"\xc0\xaf"]


@st.composite
def valid_documents(draw: st.DrawFn, prefix: str) -> dict[str, Any]:
    """A valid entity with a name of its own (so that mutations, not collisions, decide what is stored)."""
    kind = draw(st.sampled_from(["Component", "Group", "User", "System", "Resource"]))
    name = f"{prefix}-{draw(st.text('abcdefghijklmnopqrstuvwxyz0123456789', min_size=1, max_size=8))}"
    meta: dict[str, Any] = {"name": name, "description": draw(text), "tags": ["fz"], "labels": {"fz": "yes"}}
    spec: dict[str, Any] = {
        "Component": {"type": "service", "lifecycle": "experimental", "owner": "team-a", "dependsOn": ["resource:db"]},
        "Group": {"type": "team", "children": [], "members": ["alice"]},
        "User": {"memberOf": ["team-a"]},
        "System": {"owner": "team-a"},
        "Resource": {"type": "database", "owner": "team-a"},
    }[kind]
    spec = {**spec, "extra": draw(finite_json_values)}
    return {"apiVersion": "backstage.io/v1alpha1", "kind": kind, "metadata": meta, "spec": spec}


@st.composite
def valid_catalogs(draw: st.DrawFn) -> Catalog:
    count = draw(st.integers(1, 3))
    paths = draw(st.lists(st.sampled_from(FILE_NAMES[:5]), min_size=count, max_size=count, unique=True))
    files = []
    for number, path in enumerate(paths):
        items = draw(st.lists(valid_documents(f"m{number}"), min_size=1, max_size=4))
        names_ = [d["metadata"]["name"] for d in items]
        assume(len(set(names_)) == len(names_))
        files.append(
            CatalogFile(
                path,
                items,
                styles=draw(st.lists(st.sampled_from(["block", "flow"]), min_size=len(items), max_size=len(items))),
                explicit_first=draw(st.booleans()),
            )
        )
    beside = CatalogFile("beside/catalog-info.yaml", [_component("beside-garbage", "team-a")], ["block"])
    return Catalog([*files, beside])


@dataclass(frozen=True)
class Mutation:
    kind: str
    file: int
    """Index into the catalog's files (never the `beside` file, which stays clean)."""
    document: int
    position: float
    """0..1: where in the document (or the file) the mutation applies."""
    payload: Any = None


def _deep(levels: int, style: str) -> str:
    if style == "flow-seq":
        return "[" * levels + "]" * levels
    if style == "flow-map":
        return "{a: " * levels + "1" + "}" * levels
    return "".join("\n" + "  " * (i + 2) + f"k{i}:" for i in range(levels)) + " 1"


MUTATION_KINDS = [
    "control",
    "bad-utf8",
    "huge-int",
    "deep",
    "alias",
    "alias-bomb",
    "undefined-alias",
    "duplicate-key",
    "split",
    "truncate",
    "flip",
    "garbage-file",
]


@st.composite
def mutations(draw: st.DrawFn, catalog: Catalog, kind: str) -> Mutation:
    file = draw(st.integers(0, len(catalog.files) - 2))
    document = draw(st.integers(0, len(catalog.files[file].items) - 1))
    position = draw(st.floats(0, 1))
    payload: Any = None
    if kind == "control":
        payload = draw(st.sampled_from(CONTROL))
    elif kind == "bad-utf8":
        payload = draw(st.sampled_from(BAD_UTF8))
    elif kind == "huge-int":
        payload = draw(
            st.sampled_from(
                ["9" * 5000, "-" + "1" * 4301, "1" + "0" * 5000, "0x" + "f" * 4000, "0o" + "7" * 5000, "1" * 100_000]
            )
        )
    elif kind == "deep":
        levels = draw(st.sampled_from([1, 30, 62, 63, 64, 100, 999, 1000, 1001, 5000, 20_000]))
        style = draw(st.sampled_from(["flow-seq", "flow-map", "block"]))
        payload = (min(levels, 1001) if style == "block" else levels, style)  # (block: quadratic in size)
    elif kind == "flip":
        payload = draw(st.integers(1, 255))
    elif kind == "garbage-file":
        payload = draw(st.binary(min_size=1, max_size=300))
    return Mutation(kind, file, document, position, payload)


def apply_mutation(text_: str, spans: list[tuple[int, int]], mutation: Mutation) -> tuple[bytes, str]:
    """The mutated file's bytes, and what must become of the mutated document:

    - `rejected`: exactly one error record for it, its last good version kept, every other document intact;
    - `kept` / `alias`: it is still a valid entity (nesting within the limit; an anchor and its alias);
    - `stops`: a syntax error there, so the documents before it are read and the file's entities kept;
    - `split`, `truncated`, `unknown`: anything may become of it and of what follows (a split may leave a
      syntax error, a truncated or flipped document may still parse), but the documents before it are read.
    """
    start, end = spans[mutation.document]
    body = text_[start:end]
    lines = body.splitlines(keepends=True)
    line = min(int(mutation.position * len(lines)), len(lines) - 1)
    kind = mutation.kind
    if kind == "control":
        # Inside a line's content (never in a `---` marker or a document's first column).
        at = start + sum(map(len, lines[:line])) + 1
        return (text_[:at] + mutation.payload + text_[at:]).encode("utf-8"), "rejected"
    if kind == "bad-utf8":
        at = start + sum(map(len, lines[:line])) + 1
        return text_[:at].encode("utf-8") + mutation.payload + text_[at:].encode("utf-8"), "rejected"
    if kind in ("huge-int", "deep", "alias", "alias-bomb", "undefined-alias", "duplicate-key"):
        value = {
            "huge-int": lambda: mutation.payload,
            "deep": lambda: _deep(*mutation.payload),
            "alias": lambda: "&anchor {a: [1, 2], b: x}",
            "alias-bomb": lambda: "&a [x,x,x,x,x,x,x,x,x,x]",
            "undefined-alias": lambda: "*nowhere",
            "duplicate-key": lambda: "1",
        }[kind]()
        # A new key at the end of the document's spec (the last key of every document mutated here).
        extra = {
            "alias": ', "fuzz2": *anchor',
            "alias-bomb": "".join(
                f', "f{c}": &{c} [' + ",".join([f"*{p}"] * 10) + "]" for p, c in zip("abcdef", "bcdefg", strict=True)
            ),
            "duplicate-key": ', "fuzz": 2',
        }.get(kind, "")
        if body.startswith("{"):  # a flow document: `{..., "spec": {...}}`
            assert body.endswith("}}\n"), body[-20:]
            if kind == "deep" and mutation.payload[1] == "block":
                value = _deep(mutation.payload[0], "flow-map")  # block nesting cannot go inside flow
            addition = f', "fuzz": {value}{extra}'
            mutated = text_[: end - 3] + addition + text_[end - 3 :]
        else:  # a block document whose spec is a block mapping at indent 2
            addition = f'  "fuzz": {value}\n' + "".join(f"  {item.strip()}\n" for item in extra.split(", ")[1:])
            if kind == "alias-bomb":
                addition = f'  "fuzz": {value}\n' + "".join(
                    f'  "f{c}": &{c} [' + ",".join([f"*{p}"] * 10) + "]\n"
                    for p, c in zip("abcdef", "bcdefg", strict=True)
                )
            mutated = text_[:end] + addition + text_[end:]
        if kind == "alias":
            return mutated.encode("utf-8"), "alias"
        if kind == "undefined-alias":
            return mutated.encode("utf-8"), "stops"
        if kind == "deep":
            levels = mutation.payload[0]
            return mutated.encode("utf-8"), "rejected" if levels > 62 else "kept"
        return mutated.encode("utf-8"), "rejected"
    if kind == "split":
        at = start + sum(map(len, lines[:line]))
        return (text_[:at] + "---\n" + text_[at:]).encode("utf-8"), "split"
    data = text_.encode("utf-8")
    if kind == "truncate":
        cut = start + int(mutation.position * (end - start))
        cut_bytes = len(text_[:cut].encode("utf-8")) + (1 if mutation.position > 0.5 else 0)
        return data[: min(cut_bytes, len(data))], "truncated"
    if kind == "flip":
        at = len(text_[: start + int(mutation.position * max(end - start - 1, 0))].encode("utf-8"))
        flipped = bytearray(data)
        flipped[at] ^= mutation.payload
        return bytes(flipped), "unknown"
    raise AssertionError(kind)


def check_mutation(harness: Harness, catalog: Catalog, mutation: Mutation, cases: Cases | None = None) -> None:
    directory = harness.new_directory()
    root = directory / "root"
    target = str(root)
    try:
        rendered = write_catalog(catalog, root)
        first = harness.service.register(target, glob=GLOB)
        assert not first.errors, _describe(first.errors)
        harness.assert_consistent("after the clean register")
        good = harness.stored(target)
        good_versions = harness.versions(set(good))
        mutated_file = catalog.files[mutation.file]
        mutated_path = root / mutated_file.path
        if mutation.kind == "garbage-file":
            mutated_path = mutated_path.with_name("garbage.yaml")
            mutated_path.write_bytes(mutation.payload)
            fate = "garbage"
        else:
            text_, spans = rendered[mutated_file.path]
            data, fate = apply_mutation(text_, spans, mutation)
            mutated_path.write_bytes(data)
        _note(f"mutation {mutation.kind} -> {fate}; file now: {mutated_path.read_bytes()[:3000]!r}")
        mutated_location = _location(mutated_path)

        # The reader's view of the mutated directory, read here exactly as the refresh will read it (files
        # whose content did not change are skipped): what the sync must agree with.
        digests = harness.service.store.file_digests(target)
        result = read_source(target, glob=GLOB, timeout=2.0, known_digests=digests)
        summary = harness.service.refresh(target)
        _note("errors: " + "\n".join(_describe(summary.errors)))
        harness.assert_consistent("after the refresh of the mutated files")
        for error in summary.errors:
            assert error["location"], f"an error record names no file: {error}"

        # 1. The sync applies the read faithfully: one error per read problem and per document that is not
        #    a valid entity; every other document's entity is stored as read.
        assert Counter(e["category"] for e in summary.errors if e["category"] == "read") == Counter(
            {"read": len(result.errors)} if result.errors else {}
        )
        seen = {ref for ref, row in good.items() if row["location"] in result.unchanged_locations}
        expected_errors: Counter[tuple[str, str, int]] = Counter()
        present_docs: dict[str, Any] = {}
        for document in result.documents:
            ref = names_entity(document.data)
            if ref is None:
                expected_errors["validation", document.location, document.document_index] += 1
            elif ref in seen:
                expected_errors["duplicate", document.location, document.document_index] += 1
            else:
                seen.add(ref)
                entity = valid_entity(document.data)
                if entity is None:
                    expected_errors["validation", document.location, document.document_index] += 1
                else:
                    present_docs[ref] = entity
        assert _error_keys(summary.errors, ("validation", "duplicate")) == expected_errors
        stored = harness.stored(target)
        for ref, entity in present_docs.items():
            assert ref in stored, f"{ref} was read as a valid entity but is not stored"
            assert json.loads(stored[ref]["document"]) == json.loads(entity.to_json()), ref

        # 2. Bad input never loses data: nothing of a file with read problems or nameless documents is
        #    removed; what is gone is gone because the read says so.
        troubled = {e["location"] for e in summary.errors if e["category"] == "read" or e["entity_ref"] is None}
        troubled |= set(result.incomplete_locations)
        for ref, row in good.items():
            if ref in stored:
                continue
            assert row["location"] not in troubled, f"{ref} of {row['location']} removed although it had errors"
            assert ref not in seen, f"{ref} is still in the files but was removed"

        # 3. The reader's part: the file's other documents and the other files are intact.
        others = {ref for ref, row in good.items() if row["location"] != mutated_location}
        for ref in others:
            assert ref in stored, f"{ref} of an untouched file is gone"
        assert harness.versions(others) == {ref: good_versions[ref] for ref in others}
        assert "component:default/beside-garbage" in stored
        if fate != "garbage":
            docs = [d for d in mutated_file.items]
            refs_in_file = [names_entity(d) for d in docs]
            mutated_ref = refs_in_file[mutation.document]
            before = [r for r in refs_in_file[: mutation.document]]
            after = [r for r in refs_in_file[mutation.document + 1 :]]
            for ref in before if fate in ("unknown", "truncated", "stops", "split") else []:
                assert ref in stored and ref in seen, f"{ref}, before the {mutation.kind} mutation, was not read"
            if fate in ("rejected", "kept", "alias"):
                for ref in before + after:
                    assert ref in stored and ref in seen, f"{ref}, beside the {mutation.kind} mutation, was not read"
                    assert harness.versions({ref})[ref] == good_versions[ref], ref
            if fate == "rejected":
                problems = [
                    e
                    for e in summary.errors
                    if e["location"] == mutated_location and e["document_index"] == mutation.document
                ]
                assert len(problems) == 1, _describe(summary.errors)
                assert mutated_ref in stored and mutated_ref not in seen
                assert harness.versions({mutated_ref})[mutated_ref] == good_versions[mutated_ref]
            if fate in ("kept", "alias"):
                assert mutated_ref in seen and mutated_ref in stored, _describe(summary.errors)
                document = json.loads(stored[mutated_ref]["document"])
                if fate == "alias":
                    assert document["spec"]["fuzz"] == document["spec"]["fuzz2"] == {"a": [1, 2], "b": "x"}
                assert not summary.errors, _describe(summary.errors)
        if cases is not None:
            cases.add(mutation.kind, f"fate:{fate}")
    finally:
        harness.cleanup(target, directory)


@st.composite
def location_catalogs(draw: st.DrawFn) -> Catalog:
    """Catalogs of Location entities only, each with several hostile targets."""
    path = draw(st.sampled_from(["catalog-info.yaml", "sub/dir/locations.yaml"]))
    targets: dict[str, tuple[Any, ...]] = {}
    items = []
    for number in range(draw(st.integers(1, 3))):
        entries = draw(st.lists(_target_strategy(path), min_size=1, max_size=4))
        targets.update(entries)
        spec: dict[str, Any] = {"targets": [w for w, _ in entries]}
        if draw(st.booleans()):
            spec["presence"] = "optional"
        if draw(st.integers(0, 4)) == 0:
            spec["type"] = draw(st.sampled_from(["url", "file", "github"]))
        items.append(
            {
                "apiVersion": "backstage.io/v1alpha1",
                "kind": draw(st.sampled_from(["Location", "location"])),
                "metadata": {"name": f"loc-{number}"},
                "spec": spec,
            }
        )
    return Catalog([CatalogFile(path, items, ["block"] * len(items))], targets)


# --- The tests ---------------------------------------------------------------------------------------------


def test_structured_catalogs_store_exactly_their_valid_entities(harness: Harness, record_property: Any) -> None:
    cases = Cases("structured catalogs")

    @fuzz_settings(harness.examples(150))
    @given(catalog=catalogs())
    def run(catalog: Catalog) -> None:
        check_structured(harness, catalog, cases)

    try:
        run()
    finally:
        cases.report(record_property)


_ZEROS = CatalogFile("catalog-info.yaml", ["0", "0", "0"], ["block"] * 3, "", False, True)
_ZERO = CatalogFile("a.yaml", ["0"], ["block"], "", False, True)
_GITHUB_LOCATION = {
    "kind": "Location",
    "metadata": {"name": "team-a", "title": "", "labels": {}, "links": [], "": None},
    "spec": {"targets": ["../outside/blob.yml"], "type": "github"},
}
LOCATION_OF_AN_UNREAD_TYPE = [
    Catalog([_ZEROS, _ZERO], {}),
    Catalog(
        [_ZEROS, _ZERO, CatalogFile("b.yaml", [_GITHUB_LOCATION], ["block"], "", False, False)],
        {"../outside/blob.yml": ("files", ["blob.yml"])},
    ),
]
"""Found at FUZZ_SCALE=6: a Location of a type this catalog does not read names the blob in its error,
which the check once took for a read of the blob."""


def test_catalog_histories_keep_the_last_good_versions(harness: Harness, record_property: Any) -> None:
    """Several versions of one catalog, each synced over the last: edits, breakage, removals, moves."""
    cases = Cases("catalog histories")

    @fuzz_settings(harness.examples(100))
    @given(versions=catalog_histories())
    @example(versions=LOCATION_OF_AN_UNREAD_TYPE)
    def run(versions: list[Catalog]) -> None:
        check_versions(harness, versions, cases)

    try:
        run()
    finally:
        cases.report(record_property)


def test_location_heavy_catalogs(harness: Harness, record_property: Any) -> None:
    """Catalogs of Location entities only, each with several hostile targets."""
    cases = Cases("location targets")

    @fuzz_settings(harness.examples(60))
    @given(catalog=location_catalogs())
    def run(catalog: Catalog) -> None:
        check_structured(harness, catalog, cases)

    try:
        run()
    finally:
        cases.report(record_property)


@pytest.mark.parametrize("kind", MUTATION_KINDS)
def test_mutated_catalogs_lose_nothing_but_the_damaged_document(
    harness: Harness, record_property: Any, kind: str
) -> None:
    cases = Cases(f"mutated catalogs: {kind}")

    @fuzz_settings(harness.examples(20))
    @given(case=valid_catalogs().flatmap(lambda catalog: mutations(catalog, kind).map(lambda m: (catalog, m))))
    def run(case: tuple[Catalog, Mutation]) -> None:
        check_mutation(harness, *case, cases=cases)

    try:
        run()
    finally:
        cases.report(record_property)


@st.composite
def _garbage_files(draw: st.DrawFn) -> bytes:
    base = draw(valid_catalogs()).files[0]
    text_, spans = base.render()
    return draw(
        st.one_of(
            st.binary(max_size=200),
            st.just(text_.encode()).flatmap(
                lambda data: st.integers(0, len(data) - 1).map(lambda i: data[:i] + b"\xff" + data[i:])
            ),
            st.just(text_.encode()).flatmap(lambda data: st.integers(0, len(data)).map(lambda i: data[:i])),
            st.sampled_from([b"\x00" * 10, b"\xef\xbb\xbf", b"\xef\xbb\xbf\xef\xbb\xbf", b"\xfe\xff\x00a", b""]),
        )
    )


def test_a_garbage_root_file_is_an_error_record_or_unavailable(harness: Harness, record_property: Any) -> None:
    """A single file registered as the root: a `SourceUnavailableError` is fine only if the file cannot be
    read as text at all (not UTF-8); anything else must sync, with error records naming the file."""
    cases = Cases("garbage root file")

    @fuzz_settings(harness.examples(100))
    @given(data=_garbage_files())
    def run(data: bytes) -> None:
        directory = harness.new_directory()
        path = directory / "root" / "catalog-info.yaml"
        path.write_bytes(data)
        target = str(path)
        try:
            try:
                summary = harness.service.register(target)
            except SourceUnavailableError as error:
                try:
                    data.decode("utf-8")
                except UnicodeDecodeError:
                    cases.add("unavailable")
                    assert not any(loc.target == target for loc in harness.service.store.registered_locations())
                    return
                raise AssertionError(f"a readable file was refused as unavailable: {error}") from None
            harness.assert_consistent("after register")
            for error in summary.errors:
                assert error["location"] == _location(path), error
            cases.add("synced", "with-errors" if summary.errors else "clean")
        finally:
            harness.cleanup(target, directory)

    try:
        run()
    finally:
        cases.report(record_property)


# --- Minimal examples found by the fuzzers, kept as explicit cases -----------------------------------------


def _single(document: Any, path: str = "catalog-info.yaml", **targets: tuple[Any, ...]) -> Catalog:
    return Catalog([CatalogFile(path, [document], ["block"])], dict(targets))


def _location_doc(*written: str, presence: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"targets": list(written)}
    if presence:
        spec["presence"] = presence
    return {"apiVersion": "backstage.io/v1alpha1", "kind": "Location", "metadata": {"name": "loc"}, "spec": spec}


STRUCTURED_REGRESSIONS: dict[str, Catalog] = {
    "NUL in a Location target": Catalog(
        [CatalogFile("catalog-info.yaml", [_location_doc("./a\x00b.yml")], ["block"])], {"./a\x00b.yml": ("nul",)}
    ),
    "a Location target that is a directory beside the root": Catalog(
        [CatalogFile("catalog-info.yaml", [_location_doc("../outside")], ["block"])],
        {"../outside": ("unreadable", "../outside")},
    ),
    "a Location target too long for the OS": Catalog(
        [CatalogFile("catalog-info.yaml", [_location_doc("x" * 300 + ".yml")], ["block"])],
        {"x" * 300 + ".yml": ("toolong", 300)},
    ),
    "a Location glob matching a binary file": Catalog(
        [CatalogFile("catalog-info.yaml", [_location_doc("../outside/*.yml")], ["block"])],
        {"../outside/*.yml": ("files", _outside_matches("*.yml"))},
    ),
    "an integer of 4299 digits is data": _single(_component("big", "team-a", size=10**4299)),
    "control characters escaped in annotations are data": _single(
        {**_component("ctl", "team-a"), "metadata": {"name": "ctl", "annotations": {"a": "\x00\x07\x1b\x7f"}}}
    ),
    "non-finite floats in a spec": _single(_component("inf", "team-a", weight=float("inf"), low=float("-inf"))),
    "a name that is an int-looking string": _single(_component("123", "team-a")),
    "the same entity in two spellings": Catalog(
        [
            CatalogFile(
                "catalog-info.yaml",
                [_component("Checkout", "team-a"), _component("checkout", "team-b")],
                ["block", "flow"],
            )
        ]
    ),
    "an empty document between two entities": Catalog(
        [
            CatalogFile(
                "a.yaml", [_group("g1", "default"), EMPTY, _group("g2", "default")], ["flow"] * 3, end_markers=True
            )
        ]
    ),
}


@pytest.mark.parametrize("case", sorted(STRUCTURED_REGRESSIONS))
def test_structured_regressions(harness: Harness, case: str) -> None:
    check_structured(harness, STRUCTURED_REGRESSIONS[case])


def test_a_skipped_file_does_not_change_which_definition_wins(harness: Harness) -> None:
    """Minimal example found by `test_catalog_histories_keep_the_last_good_versions`: a.yaml (read first)
    gains a definition of the entity b.yaml (unchanged, skipped) already defines."""
    team = _group("g", "default")
    checkout = _component("checkout", "team-a")
    again = {**checkout, "metadata": {"name": "checkout", "description": "now also in a.yaml"}}
    first = Catalog([CatalogFile("a.yaml", [team], ["block"]), CatalogFile("b.yaml", [checkout], ["block"])])
    second = Catalog(
        [CatalogFile("a.yaml", [team, again], ["block"] * 2), CatalogFile("b.yaml", [checkout], ["block"])]
    )
    check_versions(harness, [first, second])


def _mutation_base(*documents: dict[str, Any]) -> Catalog:
    return Catalog(
        [
            CatalogFile("catalog-info.yaml", list(documents), ["block"] * len(documents)),
            CatalogFile("beside/catalog-info.yaml", [_component("beside-garbage", "team-a")], ["block"]),
        ]
    )


_THREE = _mutation_base(_group("m-a", "default"), _component("m-b", "team-a"), _group("m-c", "default"))
MUTATION_REGRESSIONS: dict[str, tuple[Catalog, Mutation]] = {
    "NUL in the middle document": (_THREE, Mutation("control", 0, 1, 0.5, "\x00")),
    "BEL in the first document": (_THREE, Mutation("control", 0, 0, 0.0, "\x07")),
    "DEL in the last document": (_THREE, Mutation("control", 0, 2, 0.9, "\x7f")),
    "U+FFFE in the middle document": (_THREE, Mutation("control", 0, 1, 0.3, "\ufffe")),
    "a byte 0xff in the middle document": (_THREE, Mutation("bad-utf8", 0, 1, 0.5, b"\xff")),
    "a UTF-8-encoded surrogate": (_THREE, Mutation("bad-utf8", 0, 1, 0.5, b"\xed\xa0\x80")),
    "10**5000 as digits": (_THREE, Mutation("huge-int", 0, 1, 0.0, "1" + "0" * 5000)),
    "a 4000-digit hex integer": (_THREE, Mutation("huge-int", 0, 1, 0.0, "0x" + "f" * 4000)),
    "nesting at the limit (64 levels)": (_THREE, Mutation("deep", 0, 1, 0.0, (62, "flow-seq"))),
    "nesting one past the limit": (_THREE, Mutation("deep", 0, 1, 0.0, (63, "flow-seq"))),
    "block nesting at the limit": (_THREE, Mutation("deep", 0, 1, 0.0, (62, "block"))),
    "20000 brackets": (_THREE, Mutation("deep", 0, 1, 0.0, (20_000, "flow-seq"))),
    "1001 levels, past libyaml's own limit": (_THREE, Mutation("deep", 0, 1, 0.0, (1001, "flow-map"))),
    "deep block nesting": (_THREE, Mutation("deep", 0, 1, 0.0, (100, "block"))),
    "an alias bomb": (_THREE, Mutation("alias-bomb", 0, 1, 0.0)),
    "an anchor and its alias": (_THREE, Mutation("alias", 0, 1, 0.0)),
    "a duplicate key": (_THREE, Mutation("duplicate-key", 0, 1, 0.0)),
    "an undefined alias": (_THREE, Mutation("undefined-alias", 0, 1, 0.0)),
    "a file of NUL bytes": (_THREE, Mutation("garbage-file", 0, 0, 0.0, b"\x00" * 16)),
    "a file truncated inside a multi-byte character": (
        _mutation_base(
            _group("m-a", "default"), {**_group("m-e", "default"), "spec": {"type": "é" * 40, "children": []}}
        ),
        Mutation("truncate", 0, 1, 0.7),
    ),
}


@pytest.mark.parametrize("case", sorted(MUTATION_REGRESSIONS))
def test_mutation_regressions(harness: Harness, case: str) -> None:
    check_mutation(harness, *MUTATION_REGRESSIONS[case])


# --- Hostile targets that must not be read without bounds ---------------------------------------------------

_ENDLESS_TARGET_SCRIPT = textwrap.dedent(
    """
    import os, resource, sys, tempfile
    from pathlib import Path
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))  # 1 GiB: /dev/zero must not eat the machine
    from ingestors.read import read_source
    root = Path(tempfile.mkdtemp())
    target = sys.argv[1]
    if target == "fifo":  # a named pipe nobody writes to; named *.yaml, so discovery meets it too
        os.mkfifo(root / "pipe.yaml")
        target = "./pipe.yaml"
    (root / "catalog-info.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\\nkind: Location\\nmetadata: {name: endless}\\n"
        "spec: {target: %s}\\n" % target
    )
    result = read_source(str(root), glob="**/*.yaml")
    print(len(result.errors), result.errors[0].message if result.errors else "")
    """
)


@pytest.mark.parametrize("target", ["/dev/zero", "/dev/urandom", "fifo"])
def test_a_location_target_that_never_ends_is_an_error_record(target: str) -> None:
    """A Location may point anywhere on disk; an endless device or a pipe nobody writes to must give an error
    record, not exhaust memory or block forever (run in a child process with a 1 GiB address-space limit and
    a timeout, so that a regression cannot take the machine down)."""
    if target.startswith("/dev/") and not os.path.exists(target):
        pytest.skip(f"no {target} here")
    repo = Path(__file__).resolve().parents[2]
    try:
        done = subprocess.run(
            [sys.executable, "-c", _ENDLESS_TARGET_SCRIPT, target],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "PYTHONPATH": str(repo)},
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"reading a Location target {target} did not finish in 30 s")
    assert done.returncode == 0, done.stderr[-2000:]
    count, _, message = done.stdout.strip().partition(" ")
    assert count == "1" and (target if target != "fifo" else "pipe.yaml") in message, done.stdout


def test_the_emitter_writes_what_the_reader_reads() -> None:
    """The oracle's own footing: data written by `block`/`flow` reads back as the same data."""
    from ingestors.yaml_documents import parse_yaml_documents

    samples = [
        {"a": "\x00\x01\x7f\x85\u2028\ufeff\ufffe", "b": [1, -2.5, 1e300, float("inf"), None, True], "c": {}},
        {"k" * 1500: {"nested": [[], {}, [{"x": "y"}]]}, "1": "yes", "no": "2024-01-01", "~": "null"},
        ["- a", "? b", ": c", "# d", "&e", "*f", "!g", "|h", ">i", "%j", "@k", "`l"],
    ]
    for data in samples:
        for style in ("block", "flow"):
            parsed = parse_yaml_documents(document_text(data, style))
            assert not parsed.problems, (style, parsed.problems)
            assert [d.data for d in parsed.documents] == [data], style
