"""The principal: who a request acts for, and the scopes it holds.

Every request has one. HTTP requests get theirs from their credentials (`graphsvc.auth.authenticate`); code
that runs in the operator's own shell (`catalog register`, `catalog query`) acts as the operator, who holds
every scope. The principal's name is what the catalog records as the actor of a sync run.
"""

from __future__ import annotations

import functools
import getpass
from dataclasses import dataclass

from graphsvc.config import SCOPES

IMPLIED: dict[str, frozenset[str]] = {
    "read": frozenset({"read"}),
    "write": frozenset({"write", "read"}),
    "scaffold": frozenset({"scaffold", "read"}),
    "admin": frozenset(SCOPES),
}
"""What each scope grants: `write` and `scaffold` include reading (their answers are catalog data), `admin`
includes everything."""


@dataclass(frozen=True)
class Principal:
    name: str
    """As recorded on what it does: `token:<name>`, `user:default/<name>`, `anonymous`, `cli:<os user>`."""
    scopes: frozenset[str]
    """The scopes granted, with what they imply (see `IMPLIED`)."""
    rate_key: str
    """What rate limits count by: the token, the user, or an anonymous client's address."""

    @classmethod
    def of(cls, name: str, scopes: object, rate_key: str | None = None) -> Principal:
        granted = frozenset(s for scope in scopes for s in IMPLIED.get(str(scope), ()))  # type: ignore[attr-defined]
        return cls(name=name, scopes=granted, rate_key=rate_key or name)

    def allows(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def is_anonymous(self) -> bool:
        return self.name == "anonymous"


@functools.cache
def operator() -> Principal:
    """The operator at the shell: every scope (they can read the store's files anyway)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for the uid (a container)
        user = "unknown"
    return Principal.of(f"cli:{user}", SCOPES)


def anonymous(scopes: object, client: str) -> Principal:
    return Principal.of("anonymous", scopes, rate_key=anonymous_rate_key(client))


def anonymous_rate_key(client: str) -> str:
    """What an anonymous client's requests count against: its address."""
    return f"anonymous:{client}"


NOBODY = Principal.of("anonymous", ())
"""A request that holds no scope at all."""
