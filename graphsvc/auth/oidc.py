"""OIDC bearer tokens: JWTs signed by the organisation's identity provider, verified against its keys.

The checks, in order: the header names an algorithm the configuration accepts (asymmetric only: `none` and
the HS family are refused outright, so a public key can never be used as an HMAC secret); the key is the
issuer's key with the header's `kid` (from a JWKS file, or a JWKS URL, fetched again when an unknown `kid`
appears); the signature; `exp` (required), `nbf` and `iat` within the configured leeway; `iss` and `aud`
exactly the configured ones. The user claim becomes the principal `user:default/<name>`.
"""

from __future__ import annotations

import json
import re
from typing import Any

import jwt

from graphsvc.auth.principal import Principal
from graphsvc.config import SCOPES, ConfigError, OidcSettings

ASYMMETRIC = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"})
USER_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


class InvalidBearerToken(Exception):
    """The bearer token is not one this service accepts; the message says which check failed (it goes to
    the client, and names no key or expected value beyond what the client sent)."""


class OidcVerifier:
    def __init__(self, settings: OidcSettings) -> None:
        refused = [a for a in settings.algorithms if a not in ASYMMETRIC]
        if refused or not settings.algorithms:
            raise ConfigError(
                f"auth.oidc.algorithms: {refused[0] if refused else 'none given'} is not accepted; use asymmetric "
                f"algorithms only ({', '.join(sorted(ASYMMETRIC))})"
            )
        if (settings.jwks_url is None) == (settings.jwks_file is None):
            raise ConfigError("auth.oidc: give exactly one of jwks_url and jwks_file")
        self.settings = settings
        self._client = (
            jwt.PyJWKClient(settings.jwks_url, timeout=10, cooldown_duration=settings.jwks_refresh_cooldown_s)
            if settings.jwks_url
            else None
        )
        self._keys = _read_jwks(settings.jwks_file) if settings.jwks_file else None

    def authenticate(self, token: str) -> Principal:
        header = self._header(token)
        key = self._key(token, header)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[header["alg"]],
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                leeway=self.settings.leeway_s,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidBearerToken("the bearer token has expired") from None
        except jwt.InvalidAudienceError:
            raise InvalidBearerToken("the bearer token is not meant for this service (aud)") from None
        except jwt.InvalidIssuerError:
            raise InvalidBearerToken("the bearer token is from an issuer this service does not trust (iss)") from None
        except jwt.ImmatureSignatureError:
            raise InvalidBearerToken("the bearer token is not valid yet (nbf/iat)") from None
        except jwt.MissingRequiredClaimError as error:
            raise InvalidBearerToken(f"the bearer token has no {error.claim} claim") from None
        except jwt.InvalidSignatureError:
            raise InvalidBearerToken("the bearer token's signature does not verify") from None
        except jwt.PyJWTError as error:
            raise InvalidBearerToken(f"the bearer token is invalid: {type(error).__name__}") from None
        return Principal.of(self._user_ref(claims), self._scopes(claims))

    def _header(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidBearerToken("the bearer token is neither an API token nor a JWT") from None
        algorithm = header.get("alg")
        if algorithm not in self.settings.algorithms:
            raise InvalidBearerToken(
                f"the bearer token's algorithm {str(algorithm)[:20]!r} is not accepted "
                f"({', '.join(self.settings.algorithms)})"
            )
        return header

    def _key(self, token: str, header: dict[str, Any]) -> Any:
        kid = header.get("kid")
        try:
            if self._client is not None:
                return self._client.get_signing_key_from_jwt(token).key
            assert self._keys is not None
            if kid is None and len(self._keys.keys) == 1:
                return self._keys.keys[0].key
            return self._keys[str(kid)].key
        except (KeyError, jwt.PyJWKClientError, jwt.PyJWKSetError):
            raise InvalidBearerToken("the bearer token is signed with a key the issuer does not publish") from None

    def _user_ref(self, claims: dict[str, Any]) -> str:
        value = claims.get(self.settings.user_claim)
        name = str(value).split("@", 1)[0].lower() if isinstance(value, str) else ""
        if not USER_NAME.match(name):
            raise InvalidBearerToken(f"the bearer token's {self.settings.user_claim} claim names no valid user")
        return f"user:default/{name}"

    def _scopes(self, claims: dict[str, Any]) -> list[str]:
        value = claims.get(self.settings.scopes_claim)
        given = value.split() if isinstance(value, str) else value if isinstance(value, list) else []
        ours = [s for s in given if isinstance(s, str) and s in SCOPES]
        return ours or list(self.settings.default_scopes)


def _read_jwks(path: Any) -> jwt.PyJWKSet:
    try:
        return jwt.PyJWKSet.from_dict(json.loads(open(path, encoding="utf-8").read()))
    except (OSError, ValueError, jwt.PyJWTError) as error:
        raise ConfigError(f"auth.oidc.jwks_file: cannot read a JWKS from {path}: {error}") from None
