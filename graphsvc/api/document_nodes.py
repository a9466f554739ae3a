"""Every node of a parsed GraphQL document below some roots, without recursion: a document may nest as deep as
the token limit allows, and the walks over it (the cost's variables, a plan's fixed selections) must not
overflow the stack on one."""

from __future__ import annotations

from collections.abc import Iterator

from graphql import Node


def nodes_below(*roots: Node) -> Iterator[Node]:
    """The roots and every node below them, each once per place it occurs (in no particular order)."""
    pending = list(roots)
    while pending:
        node = pending.pop()
        yield node
        for key in node.keys:
            value = getattr(node, key, None)
            if isinstance(value, Node):
                pending.append(value)
            elif isinstance(value, tuple | list):
                pending.extend(child for child in value if isinstance(child, Node))
