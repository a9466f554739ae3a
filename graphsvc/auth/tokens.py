"""Static API tokens: created by an admin, shown once, stored as a SHA-256 of the secret, revocable.

A token reads `cgt_<id>_<secret>`: the id (public, 12 hex digits) finds the stored record without comparing
against every hash, the secret (32 random bytes) is what proves possession. The secret has 256 bits of
entropy, so a plain SHA-256 is the right hash (a slow password hash protects guessable secrets, which these
are not), and it is compared in constant time.

Tokens live in the store, so every service sharing a Neo4j database accepts the same ones. Each service keeps
the list for `auth.token_cache_s` seconds rather than reading the store on every request; a token created or
revoked through a service is in force there at once, elsewhere within that time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from graphsvc.auth.principal import Principal
from graphsvc.config import SCOPES
from graphsvc.store import GraphStore
from graphsvc.store.records import ApiTokenRecord
from graphsvc.timestamps import now_micros

PREFIX = "cgt_"
TOKEN_PATTERN = re.compile(r"^cgt_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


class TokenError(ValueError):
    """A token cannot be created or revoked as asked; the message says why."""


def secret_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_api_token(credential: str) -> bool:
    return credential.startswith(PREFIX)


@dataclass(frozen=True)
class NewToken:
    record: ApiTokenRecord
    token: str
    """The token itself: shown once, at creation, and stored nowhere."""


def checked_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    given = tuple(dict.fromkeys(s.strip().lower() for s in scopes if s.strip()))
    unknown = [s for s in given if s not in SCOPES]
    if unknown:
        raise TokenError(f"unknown scope {unknown[0]!r}: scopes are {', '.join(SCOPES)}")
    if not given:
        raise TokenError(f"a token needs at least one scope ({', '.join(SCOPES)})")
    return given


class ApiTokens:
    """The store's API tokens, for creating, listing, revoking and checking them.

    `create` and `revoke` write: call them on the service's writer thread (`CatalogService.write_now`)."""

    def __init__(self, store: Callable[[], GraphStore], cache_seconds: float = 2.0) -> None:
        self._store = store
        self._cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._cached: dict[str, ApiTokenRecord] = {}
        self._read_at = float("-inf")

    def create(self, name: str, scopes: Iterable[str], created_by: str) -> NewToken:
        if not NAME_PATTERN.match(name):
            raise TokenError(
                f"invalid token name {name[:80]!r}: 1-63 letters, digits, '.', '_' or '-', starting with a letter "
                "or digit"
            )
        granted = checked_scopes(scopes)
        if any(t.name == name and t.revoked_at is None for t in self.list()):
            raise TokenError(f"a token named {name!r} exists already: revoke it first, or choose another name")
        token_id = secrets.token_hex(6)
        token = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
        record = ApiTokenRecord(token_id, name, granted, secret_hash(token), now_micros(), created_by)
        self._store().create_api_token(record)
        self._forget()
        return NewToken(record, token)

    def revoke(self, name_or_id: str, revoked_by: str) -> ApiTokenRecord:
        """Revoke the active token of that name (or id); the revoked record."""
        active = [t for t in self.list() if t.revoked_at is None and name_or_id in (t.name, t.id)]
        if not active:
            raise TokenError(f"no active token named {name_or_id[:80]!r}")
        revoked = replace(active[0], revoked_at=now_micros(), revoked_by=revoked_by)
        self._store().revoke_api_token(revoked.id, revoked.revoked_at, revoked_by)
        self._forget()
        return revoked

    def list(self) -> list[ApiTokenRecord]:
        return self._store().api_tokens()

    def authenticate(self, credential: str) -> Principal | None:
        """The principal of an active token, or None for anything else (malformed, unknown, revoked)."""
        match = TOKEN_PATTERN.match(credential)
        if match is None:
            return None
        record = self._active().get(match.group(1))
        if record is None or not hmac.compare_digest(record.secret_hash, secret_hash(credential)):
            return None
        return Principal.of(f"token:{record.name}", record.scopes, rate_key=f"token:{record.id}")

    def cached(self) -> bool:
        """Whether `authenticate` would answer from the cached list, without reading the store."""
        return time.monotonic() - self._read_at <= self._cache_seconds

    def _active(self) -> dict[str, ApiTokenRecord]:
        with self._lock:
            if not self.cached():
                self._cached = {t.id: t for t in self._store().api_tokens() if t.revoked_at is None}
                self._read_at = time.monotonic()
            return self._cached

    def _forget(self) -> None:
        with self._lock:
            self._read_at = float("-inf")
