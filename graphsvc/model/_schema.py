"""A tiny, fast checker for the subset of JSON Schema that Backstage's kind schemas use.

Backstage validates each kind's `spec` with a JSON Schema (via ajv). Those schemas only use `type`,
`required`, `properties`, `items`, `minLength`, `minItems`, `enum`, `const`, `oneOf` between an object and
an array, and typed `additionalProperties`. Rather than pull in a JSON Schema engine and translate its
errors, the kind rules in `kinds.py` are written with these combinators: each returns a `Check`, a
closure `check(value, path)` that raises `EntityValidationError` naming the field and what was expected.
Closures built once at import keep validation well under a few microseconds per field.

As in JSON Schema, properties that a schema does not mention are allowed and not checked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from graphsvc.model._paths import child, describe, item, suffix
from graphsvc.model.errors import EntityValidationError

Check = Callable[[object, str], None]


def string(*, min_length: int = 0, enum: Sequence[str] = (), expected: str | None = None) -> Check:
    """A string; `min_length=1` is the schemas' `minLength: 1`, `enum` their `enum`/`const`.

    `expected` replaces the generic "a non-empty string" in messages when the field has a meaning
    worth naming (an entity ref, an API definition).
    """
    allowed = frozenset(enum)
    if expected is None and allowed:
        expected = "one of " + ", ".join(repr(value) for value in enum)
    elif expected is None:
        expected = "a non-empty string" if min_length else "a string"

    def check(value: object, path: str) -> None:
        if not isinstance(value, str) or len(value) < min_length or (allowed and value not in allowed):
            raise EntityValidationError(path, f"expected {expected}, got {describe(value)}")

    return check


def string_or_boolean() -> Check:
    """`type: [string, boolean]`, used by templated conditions such as a step's `if`."""

    def check(value: object, path: str) -> None:
        if not isinstance(value, str | bool):
            raise EntityValidationError(path, f"expected a string or a boolean, got {describe(value)}")

    return check


def array(items: Check | None = None, *, min_items: int = 0, expected: str = "a list") -> Check:
    """A list whose elements all pass `items`; `expected` describes the whole list in messages."""

    def check(value: object, path: str) -> None:
        if not isinstance(value, list):
            raise EntityValidationError(path, f"expected {expected}, got {describe(value)}")
        if len(value) < min_items:
            raise EntityValidationError(path, f"expected {expected} with at least {min_items} element(s)")
        if items is not None:
            for index, element in enumerate(value):
                items(element, item(path, index))

    return check


def mapping(
    properties: Mapping[str, Check] | None = None,
    *,
    required: Sequence[str] = (),
    other_values: Check | None = None,
    owner: str | None = None,
) -> Check:
    """A mapping whose known `properties` pass their checks and whose `required` keys are present.

    `other_values` checks the values of keys not listed in `properties` (`additionalProperties`).
    `owner` names what needs the required fields in the "missing" message ("Component needs spec.type,
    ..."); without it the mapping's own path is used.
    """
    known = {key: (field_check, suffix(key)) for key, field_check in (properties or {}).items()}

    def check(value: object, path: str) -> None:
        if not isinstance(value, Mapping):
            raise EntityValidationError(path, f"expected a mapping, got {describe(value)}")
        for key in required:
            if key not in value:
                needed = ", ".join(child(path, name) if owner else name for name in required)
                raise EntityValidationError(
                    child(path, key), f"required field is missing ({owner or path} needs {needed})"
                )
        for key, field_value in value.items():
            known_field = known.get(key)
            if known_field is not None:  # spec rules start at "spec", so `path` is never empty here
                known_field[0](field_value, path + known_field[1])
            elif other_values is not None:
                other_values(field_value, child(path, key))

    return check


def mapping_or_array_of_mappings(element: Check) -> Check:
    """`oneOf: [object, array of objects]`, e.g. a Template's single form or list of forms."""

    def check(value: object, path: str) -> None:
        if isinstance(value, list):
            for index, element_value in enumerate(value):
                element(element_value, item(path, index))
        elif isinstance(value, Mapping):
            element(value, path)
        else:
            raise EntityValidationError(path, f"expected a mapping or a list of mappings, got {describe(value)}")

    return check
