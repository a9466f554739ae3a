"""API tokens and sync-run principals in the store, on both engines; and the migration of a version-4 store
(before either existed) to version 5 in place, with nothing else touched."""

from __future__ import annotations

import hashlib

import pytest

from graphsvc.auth.principal import Principal
from graphsvc.auth.tokens import TOKEN_PATTERN, ApiTokens, TokenError
from graphsvc.config import Settings
from graphsvc.store import GraphStore, open_store
from graphsvc.store.schema import SCHEMA_VERSION


def test_a_created_token_authenticates_as_its_principal_until_revoked(store: GraphStore) -> None:
    tokens = ApiTokens(lambda: store, cache_seconds=0)
    created = tokens.create("ci-bot", ["write"], "cli:ops")
    assert TOKEN_PATTERN.match(created.token)
    assert created.record.secret_hash == hashlib.sha256(created.token.encode()).hexdigest()
    assert tokens.authenticate(created.token) == Principal(
        "token:ci-bot", frozenset({"read", "write"}), f"token:{created.record.id}"
    )
    assert tokens.authenticate(created.token[:-1] + ("A" if created.token[-1] != "A" else "B")) is None
    revoked = tokens.revoke("ci-bot", "cli:ops")
    assert (revoked.revoked_by, revoked.revoked_at is not None) == ("cli:ops", True)
    assert tokens.authenticate(created.token) is None
    assert [(t.name, t.scopes, t.created_by) for t in tokens.list()] == [("ci-bot", ("write",), "cli:ops")]


def test_a_revoked_name_can_be_given_again_an_active_one_cannot(store: GraphStore) -> None:
    tokens = ApiTokens(lambda: store)
    tokens.create("deploy", ["read"], "cli:ops")
    with pytest.raises(TokenError, match="a token named 'deploy' exists already"):
        tokens.create("deploy", ["read"], "cli:ops")
    tokens.revoke("deploy", "cli:ops")
    tokens.create("deploy", ["admin"], "cli:ops")
    assert [t.scopes for t in tokens.list()] == [("read",), ("admin",)]
    with pytest.raises(TokenError, match="no active token named 'nobody'"):
        tokens.revoke("nobody", "cli:ops")


def test_a_sync_run_keeps_its_principal(store: GraphStore) -> None:
    store.start_sync_run("run-1", "file:/catalog", 10, None, "token:ci-bot")
    store.start_sync_run("run-2", "file:/catalog", 20, None)
    assert [(r.id, r.principal) for r in store.sync_runs()] == [("run-2", None), ("run-1", "token:ci-bot")]


@pytest.mark.parametrize(
    ("scopes", "granted"),
    [
        (["read"], {"read"}),
        (["write"], {"read", "write"}),
        (["scaffold"], {"read", "scaffold"}),
        (["admin"], {"read", "write", "scaffold", "admin"}),
        (["write", "scaffold"], {"read", "write", "scaffold"}),
        ([], set()),
        (["root"], set()),
    ],
)
def test_what_each_scope_grants(scopes: list[str], granted: set[str]) -> None:
    assert Principal.of("token:x", scopes).scopes == granted


def _make_version_4(store: GraphStore, settings: Settings) -> None:
    """What a store written by the previous version looks like: no principal column or property, no tokens."""
    if settings.backend == "sqlite":
        store.backend.write_schema(
            [
                "ALTER TABLE sync_run DROP COLUMN principal",
                "DROP TABLE api_token",
                "UPDATE store_meta SET schema_version = 4 WHERE id = 'store'",
            ]
        )
    else:
        store.backend.write_schema(
            [
                "MATCH (s:SyncRun) REMOVE s.principal",
                "MATCH (m:StoreMeta {id: 'store'}) SET m.schema_version = 4",
            ]
        )


def test_a_version_4_store_is_migrated_in_place(store_settings: Settings) -> None:
    store = open_store(store_settings)
    store.start_sync_run("old-run", "file:/catalog", 10, None, "ignored")
    _make_version_4(store, store_settings)
    assert store.schema_version() == 4
    store.close()
    migrated = open_store(store_settings)
    try:
        assert migrated.schema_version() == SCHEMA_VERSION == 6  # 4 -> 5 -> 6
        assert [(r.id, r.principal) for r in migrated.sync_runs()] == [("old-run", None)]
        ApiTokens(lambda: migrated).create("after-migration", ["read"], "cli:ops")
        assert [t.name for t in migrated.api_tokens()] == ["after-migration"]
    finally:
        migrated.close()
