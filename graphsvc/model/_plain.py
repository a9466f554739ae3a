"""Copy parsed YAML into plain JSON data owned by the entity.

Backstage entities are JSON documents. Our readers parse YAML with PyYAML, which differs from Backstage's
YAML 1.2 parser in a few ways that matter here, so the copy normalises them instead of letting them leak
into the graph:

- unquoted dates (`startDate: 2021-11-10`) become `date`/`datetime` objects in PyYAML but stay strings in
  Backstage: they are turned back into ISO strings;
- mapping keys that are numbers, booleans or null (`200:` in a response map) are strings in JSON: they
  are turned into their JSON spelling (`"200"`, `"true"`, `"null"`);
- anything JSON cannot represent (binary, NaN, infinity, complex keys, other objects) is rejected with the
  path of the value, and so is nesting deeper than `MAX_DEPTH`, which also catches YAML anchors that
  make a structure contain itself.

Copying also means later changes to the caller's data cannot reach into a validated entity.

This runs on every entity of every sync, so the copy itself does not track paths: only when it meets
something it cannot copy does it walk the data again, slowly, to say where.
"""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Mapping

from graphsvc.model._paths import child, describe, item
from graphsvc.model.errors import EntityValidationError

MAX_DEPTH = 100
_SCALARS = frozenset({str, int, bool, type(None)})


class _NotPlain(Exception):
    """Raised by the fast copy; `to_plain` then finds and reports the offending value."""


def to_plain(value: object, path: str) -> object:
    """A deep copy of `value` made of dict, list, str, int, float, bool and None only."""
    try:
        return _copy(value, 0)
    except _NotPlain:
        _explain(value, path, 0)
        raise AssertionError("unreachable: _explain always raises") from None


def _copy(value: object, depth: int) -> object:
    if type(value) in _SCALARS:
        return value
    if type(value) is dict:
        if depth >= MAX_DEPTH:
            raise _NotPlain
        return {(key if type(key) is str else _plain_key(key)): _copy(val, depth + 1) for key, val in value.items()}
    if type(value) is list:
        if depth >= MAX_DEPTH:
            raise _NotPlain
        return [_copy(val, depth + 1) for val in value]
    return _copy_other(value, depth)


def _copy_other(value: object, depth: int) -> object:
    """The rare cases, kept out of the fast path: floats, subclasses, tuples, dates, and failures."""
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        raise _NotPlain
    if isinstance(value, str | int):
        return value
    if isinstance(value, Mapping | list | tuple):
        if depth >= MAX_DEPTH:
            raise _NotPlain
        if isinstance(value, Mapping):
            return {_plain_key(key): _copy(val, depth + 1) for key, val in value.items()}
        return [_copy(val, depth + 1) for val in value]
    if isinstance(value, datetime.date):  # also datetime.datetime
        return value.isoformat()
    raise _NotPlain


def _plain_key(key: object) -> str:
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool | int) or (isinstance(key, float) and math.isfinite(key)):
        return json.dumps(key)
    raise _NotPlain


def _explain(value: object, path: str, depth: int) -> None:
    """Walk the data like `_copy` and raise `EntityValidationError` at the first uncopyable value."""
    if not isinstance(value, Mapping | list | tuple):
        try:
            _copy(value, depth)
        except _NotPlain:
            raise EntityValidationError(path, f"{describe(value)} cannot be represented in JSON") from None
        return
    if depth >= MAX_DEPTH:
        raise EntityValidationError(path, f"nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, Mapping):
        for key, val in value.items():
            try:
                _plain_key(key)
            except _NotPlain:
                raise EntityValidationError(
                    path, f"mapping key {describe(key)} cannot be represented in JSON"
                ) from None
            _explain(val, child(path, key), depth + 1)
    else:
        for index, val in enumerate(value):
            _explain(val, item(path, index), depth + 1)
