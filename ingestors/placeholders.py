"""Backstage's `$text`, `$json` and `$yaml` placeholders: content pulled into a document from elsewhere.

A placeholder is a mapping with exactly one key, starting with `$`, anywhere in a document:
`definition: {$text: ./openapi.yaml}`. Its value is a path relative to the document's file, or an
`http(s)://` URL. `$text` inserts the content as a string, `$json` and `$yaml` insert the parsed value.

When a placeholder cannot be resolved the document is still returned with the placeholder mapping left in
place (the model accepts that, for instance, for an API definition) and the problem is reported: a
network outage must not make entities disappear. Unlike Backstage, which silently leaves unknown `$foo`
keys alone, an unknown placeholder is reported, since it is almost always a typo; JSON Schema's own
`$`-keywords (`$ref`, `$schema`, ...), which appear in templates' parameter schemas, are left alone.
Resolved content is not searched for further placeholders, as in Backstage.

Content is text: a file that is not UTF-8 or holds NUL bytes is reported, not inserted. Parsed content is
held to the document's limits where it lands (nesting, and no lone surrogate from JSON's `\\ud800`,
which no later step could encode).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from ingestors.filesystems import (
    CatalogFiles,
    TargetNotFound,
    TargetUnreadable,
    checked_text,
    is_undecodable,
    shown,
)
from ingestors.yaml_documents import DEFAULT_YAML_LIMITS, YamlLimits, parse_yaml_documents

JSON_SCHEMA_KEYWORDS = frozenset(
    {
        "$ref",
        "$schema",
        "$id",
        "$defs",
        "$comment",
        "$anchor",
        "$dynamicRef",
        "$dynamicAnchor",
        "$recursiveRef",
        "$recursiveAnchor",
        "$vocabulary",
    }
)


class _Unparsable(Exception):
    pass


def _parse_json(content: str, limits: YamlLimits) -> object:
    try:
        return json.loads(content)
    except ValueError as error:  # an integer too long for Python's int-to-text limit is one too
        reason = str(error).partition("; use sys.set_int_max_str_digits()")[0]
        raise _Unparsable(f"not valid JSON: {reason}") from None
    except RecursionError:
        raise _Unparsable(f"not valid JSON: nested deeper than {limits.max_depth} levels") from None


def _parse_yaml(content: str, limits: YamlLimits) -> object:
    parsed = parse_yaml_documents(content, limits)
    if parsed.problems:
        raise _Unparsable(f"not valid YAML: {parsed.problems[0].message}")
    if len(parsed.documents) != 1:
        raise _Unparsable(f"expected exactly one YAML document, found {len(parsed.documents)}")
    return parsed.documents[0].data


PARSERS: dict[str, Callable[[str, YamlLimits], object]] = {
    "$text": lambda content, limits: content,
    "$json": _parse_json,
    "$yaml": _parse_yaml,
}


class PlaceholderResolver:
    """Resolves placeholders for one read; each distinct location is read once, failures included."""

    def __init__(self, files: CatalogFiles, limits: YamlLimits = DEFAULT_YAML_LIMITS) -> None:
        self._files = files
        self._limits = limits
        self._contents: dict[str, str | TargetNotFound | TargetUnreadable] = {}

    def resolve(self, data: object, base: str) -> tuple[object, list[str]]:
        """`data` with its placeholders resolved, and one message per placeholder that could not be.

        `base` is the location of the file the document came from. `data` itself is never modified:
        changed mappings and lists are copies (aliases may share them with other parts of the document).
        """
        problems: list[str] = []
        return self._walk(data, base, "", problems, 1), problems

    def _walk(self, value: object, base: str, path: str, problems: list[str], depth: int) -> object:
        """`depth`: the level `value` is at, if it is a mapping or a list (the document's is level 1)."""
        if isinstance(value, dict):
            if len(value) == 1:
                key = next(iter(value))
                if isinstance(key, str) and key.startswith("$"):
                    return self._placeholder(value, key, base, path or "(document)", problems, depth)
            return self._walk_mapping(value, base, path, problems, depth)
        if isinstance(value, list):
            items = [self._walk(item, base, f"{path}[{i}]", problems, depth + 1) for i, item in enumerate(value)]
            return items if any(new is not old for new, old in zip(items, value, strict=True)) else value
        return value

    def _walk_mapping(self, value: dict, base: str, path: str, problems: list[str], depth: int) -> object:
        changed = False
        result = {}
        for key, item in value.items():
            new = self._walk(item, base, f"{path}.{key}" if path else str(key), problems, depth + 1)
            changed = changed or new is not item
            result[key] = new
        return result if changed else value

    def _placeholder(self, value: dict, key: str, base: str, where: str, problems: list[str], depth: int) -> object:
        if key in JSON_SCHEMA_KEYWORDS:
            return value
        where = shown(where)
        parse = PARSERS.get(key)
        if parse is None:
            problems.append(f"{where}: unknown placeholder {shown(key)} (supported: {', '.join(PARSERS)})")
            return value
        target = value[key]
        if not isinstance(target, str) or not target:
            problems.append(f"{where}: {key} takes a relative path or a URL, not {_kind_of(target)}")
            return value
        written = shown(target)
        try:
            location = self._files.join(base, target)
        except TargetUnreadable as error:  # e.g. a path out of a git repository
            problems.append(f"{where}: {key} {written}: {error.reason}")
            return value
        try:
            content = parse(self._read(location), self._limits)
        except (TargetNotFound, TargetUnreadable) as error:
            problems.append(f"{where}: {key} {written}: {self._files.describe_failure(location, error)}")
            return value
        except _Unparsable as error:
            problems.append(f"{where}: {key} {written}: {error}")
            return value
        problem = _check_content(content, depth, self._limits.max_depth)
        if problem:
            problems.append(f"{where}: {key} {written}: {problem}")
            return value
        return content

    def _read(self, location: str) -> str:
        content = self._contents.get(location)
        if content is None:
            try:
                content = checked_text(self._files.read_text(location))
            except (TargetNotFound, TargetUnreadable) as error:
                content = error
            self._contents[location] = content
        if isinstance(content, Exception):
            raise content
        return content


def _check_content(content: object, depth: int, max_depth: int) -> str | None:
    """What is wrong with parsed content that is to take the place of a placeholder at level `depth`:
    nesting past `max_depth` there, or text no later step could encode (JSON's `"\\ud800"`)."""
    levels = max_depth - depth + 1
    pending = [(content, 1)]
    while pending:
        value, level = pending.pop()
        if isinstance(value, str):
            if is_undecodable(value):
                return "the content holds a lone surrogate (an escape such as \\ud800), which is not a character"
            continue
        if not isinstance(value, dict | list):
            continue
        if level > levels:
            return f"with the content in its place the document would nest deeper than {max_depth} levels"
        items = list(value.items()) if isinstance(value, dict) else [(None, item) for item in value]
        for key, item in items:
            if key is not None:
                pending.append((key, level))
            pending.append((item, level + 1))
    return None


def _kind_of(value: object) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "an empty string" if value == "" else f"{type(value).__name__} {value!r}"
