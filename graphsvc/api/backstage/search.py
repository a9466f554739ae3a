"""Backstage's search rows of an entity: what its filters, orderings, facets and full-text filters read.

Backstage answers `filter`, `order`, `orderField`, `fullTextFilter` and `entity-facets` from one table of
(key, value) rows per entity, built from the final entity when it is stitched (catalog-backend's
`buildEntitySearch`): every scalar leaf under its dotted path, every string item of a list also as
`path.item = true`, `metadata.name/namespace/uid` and `relations.<type> = targetRef`; keys lowercased,
values kept as written (`original`, what facets count) and lowercased (`value`, what filters and orderings
compare), values over 200 characters kept as null. Building the same rows from our entity makes every one of
those answers agree with Backstage's by construction, rather than by a second set of rules.
"""

from __future__ import annotations

from typing import Any, NamedTuple

SPECIAL_KEYS = frozenset(
    {"attachments", "relations", "status", "metadata.name", "metadata.namespace", "metadata.uid", "metadata.etag"}
)
"""Paths the traversal skips: Backstage adds name, namespace, uid and relations itself, the rest never."""
MAX_KEY_LENGTH = 200
MAX_VALUE_LENGTH = 200


class SearchRow(NamedTuple):
    """A tuple, not a dataclass: an entity has dozens, a listing builds them for thousands of entities."""

    key: str
    original: str | None
    value: str | None


def search_rows(entity: dict[str, Any]) -> list[SearchRow]:
    """The entity's search rows, each (key, value) once, in Backstage's order."""
    metadata = entity.get("metadata") or {}
    raw = list(_traverse(entity))
    raw.append(("metadata.name", metadata.get("name")))
    raw.append(("metadata.namespace", metadata.get("namespace")))
    raw.append(("metadata.uid", metadata.get("uid")))
    for relation in entity.get("relations") or []:
        raw.append((f"relations.{relation['type']}", relation["targetRef"]))
    rows: list[SearchRow] = []
    seen: set[tuple[str, str | None]] = set()
    for key, value in raw:
        row = _row(key.lower(), value)
        if row is not None and (row.key, row.value) not in seen:
            seen.add((row.key, row.value))
            rows.append(row)
    return rows


def search_rows_of(entity: dict[str, Any], key: str) -> list[SearchRow]:
    """The entity's search rows of one key: the rows of `search_rows` with that key, without building the
    others (a listing filtered, sorted or counted by one key reads that key of thousands of entities)."""
    key = key.lower()
    metadata = entity.get("metadata") or {}
    if key in ("metadata.name", "metadata.namespace", "metadata.uid"):
        raw = [(key, metadata.get(key.split(".")[1]))]
        if key == "metadata.namespace" and not metadata.get("namespace"):
            raw.append((key, "default"))
    elif key.startswith("relations."):
        relations = entity.get("relations") or []
        raw = [(key, r["targetRef"]) for r in relations if f"relations.{r['type']}".lower() == key]
    else:
        raw = [(path, value) for path, value in _traverse(entity, key) if path.lower() == key]
    rows: list[SearchRow] = []
    seen: set[str | None] = set()
    for path, value in raw:
        row = _row(path.lower(), value)
        if row is not None and row.value not in seen:
            seen.add(row.value)
            rows.append(row)
    return rows


def _traverse(root: dict[str, Any], only: str | None = None) -> list[tuple[str, Any]]:
    """(path, scalar) of every leaf, and (path.item, True) once for every string item of a list, in document
    order (the recursion is as deep as the document, which ingestion limits to 64 levels). With `only` (a
    lowercased key), the paths that cannot lead to it are not visited."""
    out: list[tuple[str, Any]] = []
    seen_items: set[str] = set()

    def visit(path: str, current: Any) -> None:
        if path in SPECIAL_KEYS:
            return
        if only is not None and path:
            low = path.lower()
            if low != only and not only.startswith(low + "."):
                return
        if current is None or isinstance(current, str | int | float | bool):
            out.append((path, current))
        elif isinstance(current, list):
            for item in current:
                visit(path, item)
                if isinstance(item, str) and f"{path}.{item}".lower() not in seen_items:
                    seen_items.add(f"{path}.{item}".lower())
                    out.append((f"{path}.{item}", True))
        elif isinstance(current, dict):
            for key, value in current.items():
                visit(f"{path}.{key}" if path else key, value)

    visit("", root)
    return out


def _row(key: str, value: Any) -> SearchRow | None:
    if len(key) > MAX_KEY_LENGTH:
        return None
    if value is None:
        return SearchRow(key, None, None)
    text = _js_string(value)
    if len(text) > MAX_VALUE_LENGTH:
        return SearchRow(key, None, None)
    return SearchRow(key, text, text.lower())


def _js_string(value: Any) -> str:
    """`String(value)` as JavaScript writes it: true/false, integers without a decimal point."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
