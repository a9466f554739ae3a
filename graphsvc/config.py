"""Configuration: where the graph lives and what the catalog accepts.

Values come from, in order of precedence: command-line flags, environment variables (`CATALOG_*`,
`NEO4J_*`), an optional YAML file (`--config` or `CATALOG_CONFIG`), then these defaults. Zero configuration
gives the embedded store in `./var/catalog-store`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, get_origin

import yaml
from pydantic import BaseModel, Field, ValidationError


class ConfigError(ValueError):
    """The configuration file or environment holds a value we cannot use."""


class Settings(BaseModel):
    backend: Literal["sqlite", "neo4j"] = "sqlite"
    store_dir: Path = Path("var/catalog-store")
    neo4j_uri: str = "bolt://localhost:7687"
    neo4j_user: str = "neo4j"
    neo4j_password: str = "neo4j"
    neo4j_database: str = "neo4j"
    custom_kinds: list[str] = Field(default_factory=list)
    """Kinds accepted besides Backstage's built-in ones; only their envelope is validated."""
    fetch_timeout_s: float = Field(10.0, gt=0)
    refresh_interval_s: int = Field(0, ge=0)
    """When > 0, the service re-syncs every registered location this often."""
    http_max_body_bytes: int = Field(1_048_576, gt=0)
    """The largest HTTP request body the service reads (a GraphQL request is a few KiB)."""
    allowed_hosts: list[str] = Field(default_factory=list)
    """Host header values the service answers (a name, or `*` for any). None given: `catalog serve` on a
    loopback address answers its loopback names only (a web page cannot reach it through DNS rebinding), on
    any other address every name (say which behind a proxy)."""
    http_read_timeout_s: float = Field(30.0, gt=0)
    """How long a request body may take to arrive, in all (a client that stalls is answered 408)."""


_ENV = {
    "CATALOG_BACKEND": "backend",
    "CATALOG_STORE": "store_dir",
    "NEO4J_URI": "neo4j_uri",
    "NEO4J_USER": "neo4j_user",
    "NEO4J_PASSWORD": "neo4j_password",
    "NEO4J_DATABASE": "neo4j_database",
    "CATALOG_CUSTOM_KINDS": "custom_kinds",
    "CATALOG_ALLOWED_HOSTS": "allowed_hosts",
    "CATALOG_FETCH_TIMEOUT": "fetch_timeout_s",
    "CATALOG_REFRESH_INTERVAL": "refresh_interval_s",
    "CATALOG_HTTP_MAX_BODY": "http_max_body_bytes",
    "CATALOG_HTTP_READ_TIMEOUT": "http_read_timeout_s",
}


_LIST_SETTINGS = {name for name, field in Settings.model_fields.items() if get_origin(field.annotation) is list}
"""The settings whose environment variable is a comma-separated list."""


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {}
    config_file = config_file or os.environ.get("CATALOG_CONFIG")
    if config_file:
        values.update(_read_file(Path(config_file)))
    for variable, key in _ENV.items():
        if os.environ.get(variable):
            raw = os.environ[variable]
            values[key] = [k.strip() for k in raw.split(",") if k.strip()] if key in _LIST_SETTINGS else raw
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**values)
    except ValidationError as error:
        raise ConfigError(f"invalid configuration: {error}") from error


def _read_file(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"cannot read the configuration file {path}: {error}") from error
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"the configuration file {path} must hold a mapping of settings")
    return data
