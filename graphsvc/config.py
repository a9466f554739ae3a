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


SCOPES = ("read", "write", "scaffold", "admin")
Scope = Literal["read", "write", "scaffold", "admin"]
"""What a principal may do: `read` (queries), `write` (register, unregister, refresh, run providers), `scaffold`
(run templates), `admin` (tokens, configuration, destructive operations). See `graphsvc.auth.scopes`."""


class ReadingSettings(BaseModel):
    """What the service may read (Backstage's `reading.allow`): everything else is refused, naming the rule."""

    local_roots: list[Path] = Field(default_factory=lambda: [Path(".")])
    """Directories under which local locations (and their placeholders and Location targets) may point; a
    relative one is taken from the directory the service starts in. Default: that directory only."""
    url_hosts: list[str] = Field(default_factory=lambda: ["*"])
    """Hosts (`host`, `host:port`, `*.example.com`, `*`) whose URLs may be fetched. A wildcard never covers a
    loopback, link-local or private address: those must be listed by name or address (with their port)."""
    git_hosts: list[str] = Field(default_factory=lambda: ["*"])
    """Hosts git repositories may be cloned from, matched like `url_hosts`."""
    max_file_bytes: int = Field(32 * 1024 * 1024, gt=0)
    """The largest catalog or placeholder file read, local or fetched."""


class OidcSettings(BaseModel):
    """OIDC/JWT bearer tokens: verified against the issuer's keys (JWKS), issuer and audience checked."""

    issuer: str
    audience: str
    jwks_url: str | None = None
    jwks_file: Path | None = None
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"])
    """Accepted signature algorithms; only asymmetric ones (RS*, PS*, ES*, EdDSA), never `none` or HS*."""
    user_claim: str = "sub"
    """The claim naming the user: its value becomes `user:default/<value>` (an email's local part)."""
    scopes_claim: str = "scope"
    """The claim holding the token's scopes (a space-separated string or a list); unknown scopes ignored."""
    default_scopes: list[Scope] = Field(default_factory=lambda: ["read"])
    """Scopes of a token whose scopes claim names none of ours."""
    leeway_s: float = Field(30.0, ge=0)
    """Clock skew tolerated on exp/nbf/iat."""
    jwks_refresh_cooldown_s: float = Field(30.0, ge=0)
    """A token naming a key not in the JWKS makes the service fetch `jwks_url` again (the issuer rotated its
    keys), at most once in this long: tokens with made-up key ids cannot make it hammer the issuer."""


class AuthSettings(BaseModel):
    anonymous: list[Scope] = Field(default_factory=list)
    """Scopes granted to a request without credentials; none by default (`anonymous: [read]` opens reading)."""
    oidc: OidcSettings | None = None
    token_cache_s: float = Field(2.0, ge=0)
    """How long a service trusts its cached list of API tokens: a revocation made by another instance is in
    force after at most this long (one made through this instance at once)."""


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
    cors_origins: list[str] = Field(default_factory=list)
    """Origins whose web pages may call the API from a browser (CORS); none by default."""
    rate_limit_per_s: float = Field(50.0, gt=0)
    """Requests per second one principal (a token, a user, or an anonymous client address) may make, on average."""
    rate_limit_burst: int = Field(200, gt=0)
    """Requests one principal may make at once above that rate before it is answered 429."""
    query_max_cost: int = Field(20_000, gt=0)
    """The largest estimated cost of one GraphQL operation (see `graphsvc.api.cost`); costlier ones are refused
    before they execute."""
    query_timeout_s: float = Field(10.0, gt=0)
    """How long one GraphQL operation may execute before it is stopped."""
    query_max_response_bytes: int = Field(16 * 1024 * 1024, gt=0)
    """The largest GraphQL response; an operation that would answer more is stopped and refused."""
    response_cache_mib: int = Field(256, ge=0)
    """Room for the Backstage REST API's encoded answers, kept per store commit (`graphsvc.api.response_cache`):
    a question asked again before the next write is answered from memory. 0 keeps none."""
    log_format: Literal["json", "text"] = "json"
    """`catalog serve`'s log lines: one JSON object per line (request id, principal, operation, duration), or text."""
    auth: AuthSettings = Field(default_factory=AuthSettings)
    reading: ReadingSettings = Field(default_factory=ReadingSettings)


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
    "CATALOG_CORS_ORIGINS": "cors_origins",
    "CATALOG_RATE_LIMIT": "rate_limit_per_s",
    "CATALOG_RATE_BURST": "rate_limit_burst",
    "CATALOG_QUERY_MAX_COST": "query_max_cost",
    "CATALOG_QUERY_TIMEOUT": "query_timeout_s",
    "CATALOG_LOG_FORMAT": "log_format",
    "CATALOG_RESPONSE_CACHE_MIB": "response_cache_mib",
    "CATALOG_ANONYMOUS": "auth.anonymous",
    "CATALOG_LOCAL_ROOTS": "reading.local_roots",
    "CATALOG_URL_HOSTS": "reading.url_hosts",
    "CATALOG_GIT_HOSTS": "reading.git_hosts",
}


def _list_settings(model: type[BaseModel], prefix: str = "") -> set[str]:
    """The (dotted) settings whose environment variable is a comma-separated list."""
    names = set()
    for name, field in model.model_fields.items():
        if get_origin(field.annotation) is list:
            names.add(prefix + name)
        elif isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            names |= _list_settings(field.annotation, f"{prefix}{name}.")
    return names


_LIST_SETTINGS = _list_settings(Settings)


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {}
    config_file = config_file or os.environ.get("CATALOG_CONFIG")
    if config_file:
        values.update(_read_file(Path(config_file)))
    for variable, key in _ENV.items():
        if os.environ.get(variable):
            raw = os.environ[variable]
            value = [k.strip() for k in raw.split(",") if k.strip()] if key in _LIST_SETTINGS else raw
            _set_dotted(values, key, value)
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**values)
    except ValidationError as error:
        raise ConfigError(f"invalid configuration: {error}") from error


def _set_dotted(values: dict[str, Any], key: str, value: Any) -> None:
    """`auth.anonymous` -> values["auth"]["anonymous"], keeping the section's other keys from the file."""
    *sections, name = key.split(".")
    for section in sections:
        current = values.get(section)
        values[section] = current = dict(current) if isinstance(current, dict) else {}
        values = current
    values[name] = value


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
