"""The exceptions of the entity model.

Every error names the field it is about, so that the sync can show a user the exact place in a catalog
file to fix, and the message says what was expected, so the user does not need to read Backstage's source.
All of them are `ValueError`s: bad catalog data is a value problem, not a programming error.
"""

from __future__ import annotations


class ModelError(ValueError):
    """Base class: something in catalog data does not follow Backstage's entity model."""


class InvalidEntityRefError(ModelError):
    """An entity reference string (or mapping) cannot be parsed as `[kind:][namespace/]name`."""


class EntityValidationError(ModelError):
    """An entity document breaks one of Backstage's validation rules.

    `path` is the JSON-ish path of the offending field (`spec.owner`, `metadata.labels['a/b']`,
    `spec.steps[0].action`, or `""` for the document root); `message` is the full human message and
    always starts with the path, so it can be shown as is.
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        self.message = f"{path}: {reason}" if path else reason
        super().__init__(self.message)

    def __reduce__(self) -> tuple[type, tuple[str, ...]]:
        # The default pickling replays `cls(*self.args)` = `cls(message)`, which does not match the
        # constructor; the sync may hand errors between processes, so keep them picklable.
        return (type(self), (self.path, self.reason))


class UnknownKindError(EntityValidationError):
    """The entity's kind is neither a Backstage built-in kind nor one configured as a custom kind.

    Backstage rejects such entities ("No processor recognized the entity") unless a plugin handles the
    kind; our equivalent of installing that plugin is listing the kind in `custom_kinds`.
    """

    def __init__(self, kind: str, api_version: str, builtin_kinds: str) -> None:
        self.kind = kind
        self.api_version = api_version
        self.builtin_kinds = builtin_kinds
        super().__init__(
            "kind",
            f"unknown kind {kind!r} (apiVersion {api_version}); built-in kinds are {builtin_kinds}; "
            "add it to custom_kinds in the configuration to accept it",
        )

    def __reduce__(self) -> tuple[type, tuple[str, ...]]:
        return (type(self), (self.kind, self.api_version, self.builtin_kinds))
