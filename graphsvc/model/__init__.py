"""The catalog's entity model: Backstage entities, references and relations, as pure functions.

Nothing here does I/O. Readers hand raw documents to `validate_entity`, which applies Backstage's rules
and returns a frozen `Entity`; `derive_relations` turns its spec into the relation rows of the graph.

- `refs.py`: `[kind:][namespace/]name` references (`parse_entity_ref`, `EntityRef`)
- `validators.py`: field format rules (names, namespaces, labels, tags, URLs)
- `kinds.py`: the built-in kinds, their apiVersions and spec rules
- `entity.py`: the `Entity` models; `validation.py`: `validate_entity`
- `relations.py`: the relation rules table and `derive_relations`
- `errors.py`: the exceptions, each naming the offending field
"""

from graphsvc.model.entity import Entity, EntityLink, EntityMetadata
from graphsvc.model.errors import EntityValidationError, InvalidEntityRefError, ModelError, UnknownKindError
from graphsvc.model.kinds import BUILTIN_KINDS
from graphsvc.model.refs import EntityRef, format_entity_ref, parse_entity_ref
from graphsvc.model.relations import RELATION_PAIRS, REVERSE_RELATION, Relation, derive_relations
from graphsvc.model.validation import validate_entity

__all__ = [
    "BUILTIN_KINDS",
    "RELATION_PAIRS",
    "REVERSE_RELATION",
    "Entity",
    "EntityLink",
    "EntityMetadata",
    "EntityRef",
    "EntityValidationError",
    "InvalidEntityRefError",
    "ModelError",
    "Relation",
    "UnknownKindError",
    "derive_relations",
    "format_entity_ref",
    "parse_entity_ref",
    "validate_entity",
]
