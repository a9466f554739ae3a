"""Split a catalog file into YAML documents, fast, with guards against documents that would hurt us.

A catalog file holds one or more YAML documents. Each one is returned with its 0-based index and 1-based
start line so that errors can point at it. One broken document must not hide its neighbours, so size,
nesting and alias-expansion guards reject a single document and parsing goes on; only a syntax error
stops the file (the parser cannot resynchronise), and the documents before it are still returned.

Scalars follow the YAML 1.2 core schema, as Backstage's parser does: `yes`, `on`, `2024-01-01` and `1:20`
stay strings (PyYAML's YAML 1.1 rules would turn them into booleans, dates and sexagesimal numbers), and
tags outside the core schema (`!Ref`, `!!binary`) are ignored rather than fatal. Mapping keys are always
strings, the way the scalar was written. Merge keys (`<<: *defaults`) are honoured. Duplicate keys are an
error, as in Backstage.

Speed: libyaml (`CParser`) builds the node tree and a small builder turns nodes into plain Python
values, about twice as fast as PyYAML's generic constructor. Deep nesting is dangerous for libyaml (see
`_blank_deep_documents`), so files that could nest deeply (a cheap count of indentation and collection
indicators says so) get a depth check before the real parse.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import yaml
from yaml.composer import Composer
from yaml.events import (
    CollectionEndEvent,
    CollectionStartEvent,
    DocumentStartEvent,
    NodeEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

try:
    from yaml.cyaml import CParser as _Parser

    _PYTHON_COMPOSER = False
except ImportError:  # pragma: no cover - PyYAML built without libyaml: the same pipeline in Python
    from yaml.parser import Parser as _PythonParser
    from yaml.reader import Reader as _Reader
    from yaml.scanner import Scanner as _Scanner

    class _Parser(_Reader, _Scanner, _PythonParser, Composer):  # type: ignore[no-redef]
        """PyYAML's pure-Python reader, scanner, parser and composer (SafeLoader minus the constructor)."""

        def __init__(self, stream: str | io.StringIO) -> None:
            _Reader.__init__(self, stream)
            _Scanner.__init__(self)
            _PythonParser.__init__(self)
            Composer.__init__(self)

    _PYTHON_COMPOSER = True  # recursive in Python: a few hundred levels already hit the recursion limit

MIB = 1024 * 1024
DEFAULT_MAX_DOCUMENT_BYTES = 4 * MIB
DEFAULT_MAX_DEPTH = 64
DEFAULT_MAX_NODES = 200_000


@dataclass(frozen=True)
class YamlLimits:
    """Per-document guards. A document over any of them is rejected on its own."""

    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES
    """Size of the document's text (UTF-8)."""
    max_depth: int = DEFAULT_MAX_DEPTH
    """Nesting of mappings and sequences; the document's top-level mapping is level 1."""
    max_nodes: int = DEFAULT_MAX_NODES
    """Values in the document once every alias is expanded: stops 'billion laughs' alias bombs, which
    are small on disk but explode in everything that walks the data afterwards."""


DEFAULT_YAML_LIMITS = YamlLimits()


@dataclass(frozen=True)
class YamlDocument:
    """One non-empty document of a file."""

    index: int
    """0-based position in the file, counting empty documents too (so it matches the `---` a user sees)."""
    line: int
    """1-based line where the document's content starts."""
    data: object


@dataclass(frozen=True)
class YamlProblem:
    """A document that could not be returned, or the point where the file stopped parsing."""

    message: str
    document_index: int
    line: int | None
    stops_file: bool = False
    """True for a syntax error: no document after this one was read."""


@dataclass
class ParsedYaml:
    documents: list[YamlDocument] = field(default_factory=list)
    problems: list[YamlProblem] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Whether every document of the file was returned."""
        return not self.problems


def parse_yaml_documents(text: str, limits: YamlLimits = DEFAULT_YAML_LIMITS) -> ParsedYaml:
    """Parse every document of `text`; never raises for bad input, reports it as problems instead."""
    result = ParsedYaml()
    if _PYTHON_COMPOSER or _may_nest_deeply(text):
        text, result.problems = _blank_deep_documents(text, limits.max_depth)
    loader = _Loader(text)
    builder = _Builder(limits, may_share_nodes="*" in text)
    index = 0
    try:
        while loader.check_node():
            _add_document(result, builder, loader.get_node(), index, text, limits)
            index += 1
    except yaml.MarkedYAMLError as error:
        result.problems.append(_syntax_problem(error, index))
    finally:
        loader.dispose()
    result.problems.sort(key=lambda problem: problem.document_index)
    return result


def _add_document(result: ParsedYaml, builder: _Builder, node: Node, index: int, text: str, limits: YamlLimits) -> None:
    line = node.start_mark.line + 1
    size = _document_bytes(text, node, limits.max_document_bytes)
    if size > limits.max_document_bytes:
        limit = format_size(limits.max_document_bytes)
        message = f"document {index} is {format_size(size)}; the limit is {limit}"
        result.problems.append(YamlProblem(message, index, line))
        return
    try:
        data = builder.build_document(node)
    except _Rejected as rejected:
        result.problems.append(YamlProblem(f"document {index}: {rejected}", index, rejected.line or line))
        return
    if data is not None:
        result.documents.append(YamlDocument(index, line, data))


def _document_bytes(text: str, node: Node, limit: int) -> int:
    """UTF-8 size of the document's text; encodes only when the character count cannot decide."""
    start, end = node.start_mark.index, node.end_mark.index
    chars = end - start
    if chars > limit or chars * 4 <= limit:
        return chars
    return len(text[start:end].encode("utf-8", "surrogatepass"))


def _syntax_problem(error: yaml.MarkedYAMLError, index: int) -> YamlProblem:
    mark = error.problem_mark or error.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "an unknown position"
    problem = error.problem or str(error)
    context = f" ({error.context})" if error.context else ""
    line = mark.line + 1 if mark else None
    return YamlProblem(f"YAML syntax error at {where}: {problem}{context}", index, line, stops_file=True)


def format_size(size: int) -> str:
    """Human size in the unit that says most: '10.2 MiB', '3.5 KiB', '12 bytes'."""
    if size >= MIB:
        return f"{size / MIB:.1f} MiB"
    if size >= 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size} bytes"


# --- Keeping deeply nested documents away from libyaml --------------------------------------------
#
# Nesting hurts twice: libyaml's composer recurses in C and crashes the process some ten thousand levels
# down, and its scanner re-checks every open flow level at each token, so `[[[[...` costs quadratic time
# (a 4 MiB document of brackets would take hours). So documents that may nest deeply are found first,
# with an event scan that stops as soon as a document passes the depth limit, and blanked out (same
# lines, same offsets) before the real parse; each one is reported on its own.

_DEEP_INDENT = re.compile(r"^ {128}", re.MULTILINE)
_DOCUMENT_MARKER = re.compile(r"^(?:---|\.\.\.)(?=[ \t\r\n]|\Z)", re.MULTILINE)
_NESTING_BUDGET = 256


def _may_nest_deeply(text: str) -> bool:
    """Cheap upper bound on nesting: could any document go deeper than a few hundred levels?

    Block collections only nest through more indentation (at most two levels per column: a sequence may
    sit at its parent key's column) or compact indicators on one line (`- - x`, `? `); flow collections
    need a `[` or `{` each. If indentation stays under 128 columns and each document has fewer than 256
    indicators and brackets, nesting stays within a few hundred levels, where libyaml is fast and safe.
    """
    if _DEEP_INDENT.search(text):
        return True
    if _nesting_indicators(text) < _NESTING_BUDGET:
        return False
    return any(_nesting_indicators(chunk) >= _NESTING_BUDGET for chunk in _DOCUMENT_MARKER.split(text))


def _nesting_indicators(text: str) -> int:
    return (
        text.count("[") + text.count("{") + text.count("- ") + text.count("-\t") + text.count("? ") + text.count("?\t")
    )


def _blank_deep_documents(text: str, max_depth: int) -> tuple[str, list[YamlProblem]]:
    """`text` with every document nested deeper than `max_depth` replaced by `~` and spaces."""
    problems: list[YamlProblem] = []
    blanks: list[tuple[int, int]] = []
    stream = io.StringIO(text)
    start, first_line, index = 0, 0, 0
    while start < len(text):
        deep = _first_deep_document(stream, start, max_depth)
        if deep is None:
            break
        offset, node_start, line = deep
        number = index + offset
        message = f"document {number}: nesting is deeper than {max_depth} levels"
        problems.append(YamlProblem(message, number, first_line + line))
        marker = _DOCUMENT_MARKER.search(text, start + node_start)
        end = marker.start() if marker else len(text)
        blanks.append((start + node_start, end))
        if marker and marker.group() == "...":
            end = text.find("\n", end) + 1 or len(text)
        first_line += text.count("\n", start, end)
        start, index = end, index + offset + 1
    return _blank(text, blanks), problems


def _first_deep_document(stream: io.StringIO, start: int, max_depth: int) -> tuple[int, int, int] | None:
    """(document number from `start`, offset where its content starts, 1-based line relative to `start`)
    of the first document deeper than `max_depth`, scanning events only up to that point."""
    stream.seek(start)
    parser = _Loader(stream)
    index, depth, node_start = -1, 0, 0
    try:
        while parser.check_event():
            event = parser.get_event()
            if isinstance(event, DocumentStartEvent):
                index, depth, node_start = index + 1, 0, -1
            elif isinstance(event, NodeEvent) and node_start < 0:
                node_start = event.start_mark.index
            if isinstance(event, CollectionStartEvent):
                depth += 1
                if depth > max_depth:
                    return index, node_start, event.start_mark.line + 1
            elif isinstance(event, CollectionEndEvent):
                depth -= 1
    except yaml.MarkedYAMLError:
        return None  # the real parse reports it, at the same place
    finally:
        parser.dispose()
    return None


def _blank(text: str, regions: list[tuple[int, int]]) -> str:
    if not regions:
        return text
    pieces, previous = [], 0
    for start, end in regions:
        pieces.append(text[previous:start])
        pieces.append("~" + re.sub(r"[^\n]", " ", text[start + 1 : end]))
        previous = end
    pieces.append(text[previous:])
    return "".join(pieces)


# --- The loader: libyaml events, YAML 1.2 core resolution ------------------------------------------

_PLAIN = "?plain"
"""Tag given to untagged plain scalars; the builder types them by their text (YAML 1.2 core schema)."""
_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"


class _CoreResolver:
    """Tags nodes without looking at their text; typing plain scalars is left to the builder."""

    def resolve(self, kind: type, value: object, implicit: object) -> str:
        if kind is ScalarNode:
            return _PLAIN if implicit[0] else _STR  # type: ignore[index]
        return _SEQ if kind is SequenceNode else _MAP

    def descend_resolver(self, current_node: object, current_index: object) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass


class _Loader(_CoreResolver, _Parser):  # type: ignore[misc,valid-type]
    """libyaml all the way: scanning, parsing and composing in C; only resolution calls back."""


# --- Turning nodes into plain values ---------------------------------------------------------------


class _Rejected(Exception):
    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


_INT = re.compile(r"[-+]?[0-9]+\Z")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?\Z")
_SPECIAL_FLOATS = {
    **{f"{sign}.{word}": float(f"{sign}inf") for sign in ("", "+", "-") for word in ("inf", "Inf", "INF")},
    **{f".{word}": float("nan") for word in ("nan", "NaN", "NAN")},
}
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_NULLS = frozenset({"~", "null", "Null", "NULL"})
_NUMBER_START = frozenset("0123456789+-.")
_MAYBE_TYPED = _NUMBER_START | frozenset("tTfFnN~")
"""First characters of plain scalars that may be numbers, booleans or nulls; anything else is a string."""


def _plain_value(text: str) -> object:
    """Type an untagged plain scalar by the YAML 1.2 core schema."""
    if not text:
        return None
    first = text[0]
    if first in _NUMBER_START:
        return _number_or_text(text)
    if first in "tTfF":
        return _BOOLS.get(text, text)
    if text in _NULLS:
        return None
    return text


def _number_or_text(text: str) -> object:
    if _INT.match(text):
        return int(text)
    if text.startswith("0o") and _is_digits(text[2:], 8):
        return int(text[2:], 8)
    if text.startswith("0x") and _is_digits(text[2:], 16):
        return int(text[2:], 16)
    if _FLOAT.match(text):
        return float(text)
    return _SPECIAL_FLOATS.get(text, text)


def _is_digits(text: str, base: int) -> bool:
    try:
        int(text, base)
    except ValueError:
        return False
    return "_" not in text and text.strip() == text and text[:1] not in ("+", "-")


def _tagged_value(node: ScalarNode) -> object:
    """An explicitly tagged scalar: core tags convert, any other tag is ignored (the text is kept)."""
    convert = _TAG_CONVERTERS.get(node.tag)
    if convert is None:
        return node.value
    value = convert(node.value)
    if value is _INVALID:
        raise _Rejected(f"{node.value!r} is not a valid {node.tag}", node.start_mark.line + 1)
    return value


_INVALID = object()


def _typed(kind: type) -> Callable[[str], object]:
    def convert(text: str) -> object:
        value = _plain_value(text)
        if kind is float and type(value) is int:
            return float(value)
        return value if type(value) is kind else _INVALID

    return convert


_TAG_CONVERTERS: dict[str, Callable[[str], object]] = {
    _STR: str,
    "tag:yaml.org,2002:int": _typed(int),
    "tag:yaml.org,2002:float": _typed(float),
    "tag:yaml.org,2002:bool": _typed(bool),
    "tag:yaml.org,2002:null": lambda text: None if text in _NULLS or not text else _INVALID,
}


class _Builder:
    """Builds plain values from a document's nodes while enforcing depth and expanded-size limits.

    Aliases make nodes shared. Each shared node is built once and its expanded size remembered, so an
    alias bomb is measured in linear time and rejected as soon as its expanded size passes the limit.
    """

    def __init__(self, limits: YamlLimits, *, may_share_nodes: bool) -> None:
        self._max_depth = limits.max_depth
        self._max_nodes = limits.max_nodes
        self._may_share_nodes = may_share_nodes
        self._count = 0
        self._built: dict[int, tuple[object, int, int]] = {}
        self._building: set[int] = set()

    def build_document(self, node: Node) -> object:
        self._count = 0
        self._built = {}
        self._building = set()
        if self._may_share_nodes:
            return self._build(node, 1)[0]
        return self._build_tree(node, 1)

    # A document without aliases is a tree: no shared nodes to track, and its number of values is bounded
    # by its size. This path is the hot loop of every catalog read, hence the inlined plain strings.
    def _build_tree(self, node: Node, depth: int) -> object:
        kind = type(node)
        if kind is ScalarNode:
            return _plain_value(node.value) if node.tag == _PLAIN else _tagged_value(node)
        if depth > self._max_depth:
            raise _Rejected(f"nesting is deeper than {self._max_depth} levels", node.start_mark.line + 1)
        if kind is SequenceNode:
            return [self._build_tree(item, depth + 1) for item in node.value]
        result: dict[str, object] = {}
        for key_node, value_node in node.value:
            if type(key_node) is not ScalarNode or (key_node.value == "<<" and key_node.tag == _PLAIN):
                return self._mapping(node, depth, self._build_tree)
            text = value_node.value
            if type(value_node) is ScalarNode and value_node.tag == _PLAIN and text and text[0] not in _MAYBE_TYPED:
                value: object = text
            else:
                value = self._build_tree(value_node, depth + 1)
            result[key_node.value] = value
        if len(result) != len(node.value):
            return self._mapping(node, depth, self._build_tree)  # reports the duplicate key
        return result

    def _build(self, node: Node, depth: int) -> tuple[object, int]:
        """Value and height (levels of collections, itself included) of a node that aliases may share."""
        if type(node) is ScalarNode:
            self._count += 1
            self._check_count(node)
            return (_plain_value(node.value) if node.tag == _PLAIN else _tagged_value(node)), 0
        key = id(node)
        built = self._built.get(key)
        if built is None:
            built = self._build_collection(node, depth, key)
        else:
            self._count += built[1]
        value, _, height = built
        if depth + height - 1 > self._max_depth:
            raise _Rejected(f"nesting is deeper than {self._max_depth} levels", node.start_mark.line + 1)
        self._check_count(node)
        return value, height

    def _build_collection(self, node: Node, depth: int, key: int) -> tuple[object, int, int]:
        if key in self._building:
            raise _Rejected("an alias refers to a collection that contains it", node.start_mark.line + 1)
        if depth > self._max_depth:
            raise _Rejected(f"nesting is deeper than {self._max_depth} levels", node.start_mark.line + 1)
        self._building.add(key)
        before = self._count
        self._count += 1
        height = 0

        def child(item: Node, child_depth: int) -> object:
            nonlocal height
            value, child_height = self._build(item, child_depth)
            height = max(height, child_height)
            return value

        if type(node) is SequenceNode:
            value: object = [child(item, depth + 1) for item in node.value]
        else:
            value = self._mapping(node, depth, child)
        self._building.discard(key)
        built = (value, self._count - before, height + 1)
        self._built[key] = built
        return built

    def _check_count(self, node: Node) -> None:
        if self._count > self._max_nodes:
            raise _Rejected(
                f"more than {self._max_nodes} values once aliases are expanded (an alias bomb?)",
                node.start_mark.line + 1,
            )

    def _mapping(self, node: MappingNode, depth: int, build: Callable[[Node, int], object]) -> dict:
        result: dict[str, object] = {}
        merged: list[object] = []
        for key_node, value_node in node.value:
            if type(key_node) is not ScalarNode:
                raise _Rejected(
                    "a mapping key is a mapping or a sequence; keys must be strings", key_node.start_mark.line + 1
                )
            key = key_node.value
            if key == "<<" and key_node.tag == _PLAIN:
                merged.append(build(value_node, depth + 1))
                continue
            if key in result:
                raise _Rejected(f"duplicate key {key!r}", key_node.start_mark.line + 1)
            result[key] = build(value_node, depth + 1)
        return _merge(merged, result, node) if merged else result


def _merge(merged: list[object], explicit: dict[str, object], node: Node) -> dict[str, object]:
    """YAML merge keys: explicit keys win, then earlier merged mappings over later ones."""
    combined: dict[str, object] = {}
    for source in merged:
        for mapping in source if isinstance(source, list) else [source]:
            if not isinstance(mapping, dict):
                raise _Rejected("a merge key (<<) takes a mapping or a list of mappings", node.start_mark.line + 1)
            for key, value in mapping.items():
                combined.setdefault(key, value)
    combined.update(explicit)
    return combined
