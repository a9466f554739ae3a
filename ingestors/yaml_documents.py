"""Split a catalog file into YAML documents, fast, with guards against documents that would hurt us.

A catalog file holds one or more YAML documents. Each one is returned with its 0-based index and 1-based
start line so that errors can point at it. One broken document must not hide its neighbours, so size,
nesting and alias-expansion guards reject a single document and parsing goes on; only a syntax error
stops the file (the parser cannot resynchronise), and the documents before it are still returned.

Characters YAML does not allow (control characters such as NUL or BEL, bytes that are not UTF-8, which
the readers pass on as lone surrogates) would stop libyaml for the whole file, wherever they are; so the
documents holding them are found first and rejected one by one, like too deep ones (see
`_blank_unreadable_documents`). Integers too large to be written back as text are rejected with their
document, since every later step (hashing, JSON) would fail on them.

Scalars follow the YAML 1.2 core schema, as Backstage's parser does: `yes`, `on`, `2024-01-01` and `1:20`
stay strings (PyYAML's YAML 1.1 rules would turn them into booleans, dates and sexagesimal numbers), and
tags outside the core schema (`!Ref`, `!!binary`) are ignored rather than fatal. Mapping keys are always
strings, the way the scalar was written. Merge keys (`<<: *defaults`) are honoured. Duplicate keys are an
error, as in Backstage.

Speed: libyaml (`CParser`) builds the node tree and a small builder turns nodes into plain Python
values, about twice as fast as PyYAML's generic constructor. Deep nesting is dangerous for libyaml (see
`_blank_deep_documents`), so files that could nest deeply (a cheap count of indentation and collection
indicators says so) get a depth check before the real parse. Without libyaml, PyYAML's pure-Python
pipeline does the same work, slower.
"""

from __future__ import annotations

import io
import re
import sys
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
from yaml.parser import Parser as _PythonParser
from yaml.reader import Reader as _Reader
from yaml.scanner import Scanner as _Scanner

try:
    from yaml.cyaml import CParser as _CParser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _CParser = None


class _PythonPipeline(_Reader, _Scanner, _PythonParser, Composer):
    """PyYAML's pure-Python reader, scanner, parser and composer (SafeLoader minus the constructor)."""

    def __init__(self, stream: str | io.StringIO) -> None:
        _Reader.__init__(self, stream)
        _Scanner.__init__(self)
        _PythonParser.__init__(self)
        Composer.__init__(self)


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
    """Parse every document of `text`; never raises for bad input, reports it as problems instead.

    A leading byte-order mark is dropped. Lone surrogates in `text` stand for bytes that were not UTF-8
    (what `bytes.decode(..., "surrogateescape")` makes of them); they are reported with their byte offset.
    """
    bom_bytes = 0
    if text.startswith("\ufeff"):
        text, bom_bytes = text[1:], 3
    problems: list[YamlProblem] = []
    if _UNREADABLE.search(text):
        text, problems = _blank_unreadable_documents(text, bom_bytes)
    depth_checked = _PYTHON_COMPOSER or _may_nest_deeply(text)
    if depth_checked:
        text, deep = _blank_deep_documents(text, limits.max_depth)
        problems += deep
    result, at_nesting_limit = _parse(text, limits)
    if at_nesting_limit and not depth_checked:  # libyaml's own limit, which the cheap bound should rule out
        text, deep = _blank_deep_documents(text, limits.max_depth)
        problems += deep
        result, _ = _parse(text, limits)
    result.problems[:0] = problems
    result.problems.sort(key=lambda problem: problem.document_index)
    return result


def _parse(text: str, limits: YamlLimits) -> tuple[ParsedYaml, bool]:
    """The documents of `text`, and whether parsing stopped at libyaml's own nesting limit."""
    result = ParsedYaml()
    builder = _Builder(limits, may_share_nodes="*" in text, check_escapes=_PYTHON_COMPOSER and "\\" in text)
    index = 0
    loader = None
    try:
        loader = _Loader(text)
        while loader.check_node():
            _add_document(result, builder, loader.get_node(), index, text, limits)
            index += 1
    except yaml.MarkedYAMLError as error:
        result.problems.append(_syntax_problem(error, index))
        return result, _is_nesting_limit(error)
    except (yaml.YAMLError, ValueError, RecursionError) as error:
        # Not expected: the checks before parsing keep libyaml and PyYAML from meeting what raises these
        # (control characters, surrogates, nesting). Should one get through, it stops this file only.
        # Named by its type only: the error's text may quote the file (a ValueError of a conversion).
        result.problems.append(YamlProblem(f"YAML error ({type(error).__name__})", index, None, stops_file=True))
    finally:
        if loader is not None:
            loader.dispose()
    return result, False


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
    problem = error.problem or "not valid YAML"  # not str(error): it may quote the file's text
    context = f" ({error.context})" if error.context else ""
    line = mark.line + 1 if mark else None
    return YamlProblem(f"YAML syntax error at {where}: {problem}{context}", index, line, stops_file=True)


def _is_nesting_limit(error: yaml.MarkedYAMLError) -> bool:
    """libyaml 0.2.6 (bundled with PyYAML 6.0.4) stops at 1000 levels of nesting, as a syntax error."""
    return "maximum nesting depth" in str(error.problem)


def format_size(size: int) -> str:
    """Human size in the unit that says most: '10.2 MiB', '3.5 KiB', '12 bytes'."""
    if size >= MIB:
        return f"{size / MIB:.1f} MiB"
    if size >= 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size} bytes"


_DOCUMENT_MARKER = re.compile(r"^(?:---|\.\.\.)(?=[ \t\r\n]|\Z)", re.MULTILINE)
_CONTENT = re.compile(r"[^ \t\r\n]")


def _blank(text: str, regions: list[tuple[int, int, int | None]]) -> str:
    """`text` with each region `(start, end, tilde)` turned into spaces (line breaks kept, so every line
    and offset stays where it was), with a `~` at `tilde` if it falls in the region, where a document must
    still be seen."""
    if not regions:
        return text
    pieces, previous = [], 0
    for start, end, tilde in sorted(regions):
        pieces.append(text[previous:start])
        blanked = re.sub(r"[^\n]", " ", text[start:end])
        if tilde is not None and start <= tilde < end:
            blanked = blanked[: tilde - start] + "~" + blanked[tilde - start + 1 :]
        pieces.append(blanked)
        previous = end
    pieces.append(text[previous:])
    return "".join(pieces)


def _first_content(text: str, start: int, end: int) -> int | None:
    found = _CONTENT.search(text, start, end)
    return found.start() if found else None


# --- Characters YAML does not allow -----------------------------------------------------------------
#
# libyaml (and PyYAML's reader) refuse a control character or a non-character anywhere in the stream
# with an error that names no document and ends the whole parse, and libyaml cannot take a lone
# surrogate at all. So the documents that hold one are found by their markers, reported, and blanked
# out (same lines, same offsets); the parser then reads the others as usual and counts the blanked ones.

_UNREADABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""What YAML 1.2 and libyaml do not accept in a stream (c-printable), lone surrogates included."""
_UNDECODED_BYTE = re.compile("[\udc80-\udcff]")
"""A byte that was not UTF-8, as `surrogateescape` decoding represents it."""
_CONTENT_LINE = re.compile(r"^[ \t]*([^ \t\r\n#%])", re.MULTILINE)
"""A line that holds YAML content: not blank, not a comment, not a directive."""


@dataclass
class _TextDocument:
    """A document as the markers in the text delimit it, before any parsing."""

    index: int
    stretches: list[tuple[int, int]]
    """The text it spans, without its `---`/`...` markers (which blanking must keep), with the comments
    and directives before it."""
    tilde: int | None
    """Where blanking must leave a `~`, so that a document without `---` still counts as one."""


def _text_documents(text: str) -> list[_TextDocument]:
    """The documents of `text`, numbered as the parser numbers them: each `---` starts one; text outside
    any `---` (at the start, after a `...`) is one if it holds content, else it goes with a neighbour."""
    stretches: list[tuple[int, int, bool]] = []
    position, explicit = 0, False
    for marker in _DOCUMENT_MARKER.finditer(text):
        stretches.append((position, marker.start(), explicit))
        position, explicit = marker.end(), marker.group() == "---"
    stretches.append((position, len(text), explicit))
    documents: list[_TextDocument] = []
    loose: list[tuple[int, int]] = []
    for start, end, explicit in stretches:
        content = None if explicit else _CONTENT_LINE.search(text, start, end)
        if explicit or content:
            tilde = content.start(1) if content else None
            documents.append(_TextDocument(len(documents), [*loose, (start, end)], tilde))
            loose = []
        elif end > start:
            loose.append((start, end))
    if loose and documents:
        documents[-1].stretches.extend(loose)
    elif loose:
        documents.append(_TextDocument(0, loose, None))
    return documents


def _blank_unreadable_documents(text: str, bom_bytes: int) -> tuple[str, list[YamlProblem]]:
    """`text` with every document that holds a character YAML does not allow blanked out, and a problem
    for each, naming the first such character."""
    problems: list[YamlProblem] = []
    regions: list[tuple[int, int, int | None]] = []
    cursor = _Cursor(text, bom_bytes)
    for document in _text_documents(text):
        found = None
        for start, end in document.stretches:
            found = found or _UNREADABLE.search(text, start, end)
        if found is None:
            continue
        what = _describe_unreadable(cursor, found.start())
        problems.append(YamlProblem(f"document {document.index}: {what}", document.index, cursor.line))
        regions.extend((start, end, document.tilde) for start, end in document.stretches)
    return _blank(text, regions), problems


class _Cursor:
    """Line and UTF-8 byte offset of positions in a text, visited in increasing order (in linear time)."""

    def __init__(self, text: str, bom_bytes: int) -> None:
        self.text = text
        self.position = 0
        self.line = 1
        self.byte = bom_bytes

    def advance(self, position: int) -> None:
        piece = self.text[self.position : position]
        self.line += piece.count("\n")
        self.byte += len(_UNDECODED_BYTE.sub("?", piece).encode("utf-8", "surrogatepass"))  # one byte each
        self.position = position


def _describe_unreadable(cursor: _Cursor, position: int) -> str:
    cursor.advance(position)
    code = ord(cursor.text[position])
    column = position - cursor.text.rfind("\n", 0, position)
    where = f"line {cursor.line}, column {column}"
    if 0xDC80 <= code <= 0xDCFF:
        return f"not valid UTF-8 at byte {cursor.byte} ({where})"
    if code < 0x20 or code == 0x7F:
        return f"control character 0x{code:02X} at {where} is not allowed in YAML"
    if code <= 0x9F:
        return f"control character U+{code:04X} at {where} is not allowed in YAML"
    if 0xD800 <= code <= 0xDFFF:
        return f"character U+{code:04X} (a lone surrogate) at {where} is not allowed in YAML"
    return f"character U+{code:04X} at {where} is not allowed in YAML"


# --- Keeping deeply nested documents away from libyaml --------------------------------------------
#
# Nesting hurts twice: libyaml's composer recurses in C and crashes the process some ten thousand levels
# down, and its scanner re-checks every open flow level at each token, so `[[[[...` costs quadratic time
# (a 4 MiB document of brackets would take hours). So documents that may nest deeply are found first,
# with an event scan that stops as soon as a document passes the depth limit, and blanked out (same
# lines, same offsets) before the real parse; each one is reported on its own.
#
# libyaml 0.2.6 (in PyYAML 6.0.4) has a limit of its own, 1000 levels, and its scanner runs ahead of the
# parser (up to 1024 characters, looking for the end of a possible key), so `[[[[...` can reach that limit
# before the events reach ours. Its error is then taken for what it is: that document nests too deeply.

_DEEP_INDENT = re.compile(r"^ {128}", re.MULTILINE)
_NESTING_BUDGET = 256
_LIBYAML_MAX_NESTING = 1000


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
    blanks: list[tuple[int, int, int | None]] = []
    stream = io.StringIO(text)
    start, first_line, index = 0, 0, 0
    while start < len(text):
        deep = _first_deep_document(stream, text, start, max_depth)
        if deep is None:
            break
        offset, content_start, line, what = deep
        number = index + offset
        problems.append(YamlProblem(f"document {number}: {what}", number, first_line + line))
        marker = _DOCUMENT_MARKER.search(text, content_start)
        end = marker.start() if marker else len(text)
        blanks.append((content_start, end, _first_content(text, content_start, end)))
        if marker and marker.group() == "...":
            end = text.find("\n", end) + 1 or len(text)
        first_line += text.count("\n", start, end)
        start, index = end, index + offset + 1
    return _blank(text, blanks), problems


def _first_deep_document(
    stream: io.StringIO, text: str, start: int, max_depth: int
) -> tuple[int, int, int, str] | None:
    """(document number from `start`, offset in `text` where its content starts, 1-based line relative to
    `start`, what is wrong) of the first document deeper than `max_depth`, scanning events only up to
    that point."""
    stream.seek(start)
    parser = _Loader(stream)
    index, depth, node_start, document_start = -1, 0, -1, start
    too_deep = f"nesting is deeper than {max_depth} levels"
    try:
        while parser.check_event():
            event = parser.get_event()
            if isinstance(event, DocumentStartEvent):
                index, depth, node_start = index + 1, 0, -1
                document_start = start + event.start_mark.index
            elif isinstance(event, NodeEvent) and node_start < 0:
                node_start = start + event.start_mark.index
            if isinstance(event, CollectionStartEvent):
                depth += 1
                if depth > max_depth:
                    return index, node_start, event.start_mark.line + 1, too_deep
            elif isinstance(event, CollectionEndEvent):
                depth -= 1
    except yaml.MarkedYAMLError as error:
        if not _is_nesting_limit(error):
            return None  # the real parse reports it, at the same place
        if max_depth >= _LIBYAML_MAX_NESTING:
            too_deep = f"nesting is deeper than libyaml's limit ({error.problem})"
        mark = error.problem_mark or error.context_mark
        number, content_start = _document_at(text, start, start + mark.index, index, node_start, document_start)
        return number, content_start, mark.line + 1, too_deep
    except (yaml.YAMLError, ValueError):
        return None
    finally:
        parser.dispose()
    return None


def _document_at(
    text: str, start: int, position: int, index: int, node_start: int, document_start: int
) -> tuple[int, int]:
    """(document number from `start`, where its content starts) of the document holding `position`, which
    the scanner reached while the parser was still in document `index` (-1: none yet) or before the next
    one's start (a document without `---`, first in the stream or after a `...`)."""
    markers = _DOCUMENT_MARKER.finditer(text, document_start + 1 if index >= 0 else start, position + 1)
    last = None
    for marker in markers:
        last = marker
    if index >= 0 and last is None:
        if node_start >= 0:
            return index, node_start
        return index, (document_start + 3 if text.startswith("---", document_start) else document_start)
    if last is None:
        return index + 1, start
    if last.group() == "...":
        return index + 1, text.find("\n", last.end()) + 1 or len(text)
    return index + 1, last.end()


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


class _PythonLoader(_CoreResolver, _PythonPipeline):
    """The same pipeline in Python, where PyYAML has no libyaml (and in tests, to check both agree)."""


if _CParser is not None:

    class _CLoader(_CoreResolver, _CParser):  # type: ignore[misc,valid-type]
        """libyaml all the way: scanning, parsing and composing in C; only resolution calls back."""

    _Loader: type = _CLoader
    _PYTHON_COMPOSER = False
else:  # pragma: no cover - PyYAML built without libyaml
    _Loader = _PythonLoader
    _PYTHON_COMPOSER = True
"""The composer is recursive in Python: a few hundred levels already hit the recursion limit, so every
file gets the depth check first."""


# --- Turning nodes into plain values ---------------------------------------------------------------


class _Rejected(Exception):
    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line

    def at(self, node: Node) -> _Rejected:
        """This rejection, placed at `node` unless a line is known already."""
        if self.line is None:
            self.line = node.start_mark.line + 1
        return self


MAX_INTEGER_DIGITS = 4300
"""Python's default limit for turning integers into text and back: a longer one could not be hashed,
compared or stored (JSON is text), so its document is rejected."""
_SHORT_NUMBER = sys.int_info.str_digits_check_threshold
"""Below this many characters, no integer conversion is limited (640)."""


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
        return int(text) if len(text) < _SHORT_NUMBER else _long_decimal(text)
    if text.startswith("0o") and _is_digits(text[2:], 8):
        return _checked_size(int(text[2:], 8), text)
    if text.startswith("0x") and _is_digits(text[2:], 16):
        return _checked_size(int(text[2:], 16), text)
    if _FLOAT.match(text):
        return float(text)
    return _SPECIAL_FLOATS.get(text, text)


def _integer_digits_limit() -> int:
    """`MAX_INTEGER_DIGITS`, or the interpreter's own limit if it was set lower."""
    limit = sys.get_int_max_str_digits()
    return min(limit, MAX_INTEGER_DIGITS) if limit else MAX_INTEGER_DIGITS


def _long_decimal(text: str) -> int:
    digits = text.lstrip("+-").lstrip("0") or "0"
    limit = _integer_digits_limit()
    if len(digits) > limit:
        raise _Rejected(f"integer with {len(digits)} digits is too large (the limit is {limit} digits)")
    return int(digits) if text[0] != "-" else -int(digits)


def _checked_size(value: int, text: str) -> int:
    """An octal or hexadecimal integer, if it has few enough decimal digits."""
    if len(text) < _SHORT_NUMBER // 2:  # each hexadecimal digit makes at most 1.21 decimal digits
        return value
    limit = _integer_digits_limit()
    if value >= 10**limit:
        raise _Rejected(
            f"integer with {len(text) - 2} digits in base {8 if text[1] == 'o' else 16} is too large "
            f"(the limit is {limit} decimal digits)"
        )
    return value


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
        raise _Rejected(f"{_shortened(node.value)!r} is not a valid {node.tag}", node.start_mark.line + 1)
    return value


def _shortened(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


_SURROGATE = re.compile("[\ud800-\udfff]")


def _check_escapes(node: ScalarNode) -> None:
    """PyYAML's Python scanner turns `"\\ud800"` into a lone surrogate, which no later step could encode
    (libyaml refuses it as a syntax error)."""
    if node.style == '"':
        found = _SURROGATE.search(node.value)
        if found:
            code = ord(found.group())
            raise _Rejected(f"the escape for U+{code:04X} (a lone surrogate) is not a character").at(node)


_INVALID = object()


def _typed(kind: type) -> Callable[[str], object]:
    def convert(text: str) -> object:
        if kind is float and _INT.match(text):
            return float(text)  # however many digits
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

    def __init__(self, limits: YamlLimits, *, may_share_nodes: bool, check_escapes: bool = False) -> None:
        self._max_depth = limits.max_depth
        self._max_nodes = limits.max_nodes
        self._check_escapes = check_escapes
        """Whether double-quoted scalars may hold escaped surrogates (PyYAML's Python scanner only)."""
        self._may_share_nodes = may_share_nodes or check_escapes
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
            try:
                return _plain_value(node.value) if node.tag == _PLAIN else _tagged_value(node)
            except _Rejected as rejected:  # an integer too large
                raise rejected.at(node) from None
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
            if self._check_escapes:
                _check_escapes(node)
            try:
                return (_plain_value(node.value) if node.tag == _PLAIN else _tagged_value(node)), 0
            except _Rejected as rejected:
                raise rejected.at(node) from None
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
            if self._check_escapes:
                _check_escapes(key_node)
            key = key_node.value
            if key == "<<" and key_node.tag == _PLAIN:
                merged.append(build(value_node, depth + 1))
                continue
            if key in result:
                raise _Rejected(f"duplicate key {_shortened(key)!r}", key_node.start_mark.line + 1)
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
