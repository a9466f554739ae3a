"""Authentication and scopes, end to end against a real `catalog serve` configured closed.

The service runs with no anonymous access, API tokens created with `catalog token create`, and OIDC bearer
tokens checked against a JWKS file of a key made here. Every route and every mutation is asked by every kind
of principal; the answers are the documented statuses and codes. Forged JWTs (wrong issuer, audience, expiry,
signature, `alg: none`, HS256 signed with the public key) are each refused with 401.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.torture.processes import Server, catalog, serve

ISSUER = "https://idp.example.test"
AUDIENCE = "catalog"
POINT_QUERY = '{ entity(ref: "component:default/checkout") { ref } }'
SCOPE_SETS = {"reader": "read", "writer": "write", "scaffolder": "scaffold", "admin": "admin"}


@dataclass
class Deployment:
    server: Server
    tokens: dict[str, str]
    catalog_file: Path
    key: rsa.RSAPrivateKey
    store: Path

    def post(self, query: str, token: str | None = None, **variables: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.post(
            f"{self.server.url}/graphql", json={"query": query, "variables": variables}, headers=headers, timeout=30
        )

    def jwt(self, **claims: Any) -> str:
        return sign(self.key, claims_of(**claims))


def claims_of(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": ISSUER, "aud": AUDIENCE, "sub": "jane.doe@example.test", "iat": now, "exp": now + 300} | overrides


def sign(key: rsa.RSAPrivateKey, claims: dict[str, Any], kid: str = "k1", algorithm: str = "RS256") -> str:
    return jwt.encode(
        {k: v for k, v in claims.items() if v is not None}, key, algorithm=algorithm, headers={"kid": kid}
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], claims: dict[str, Any], secret: bytes | None) -> str:
    """A JWT assembled by hand: `alg: none` (no signature) or HS256 with `secret` (a forger's tools)."""
    head = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    if secret is None:
        return head + "."
    return head + "." + b64(hmac.new(secret, head.encode(), hashlib.sha256).digest())


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    base = tmp_path_factory.mktemp("auth")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())) | {"kid": "k1", "use": "sig"}
    (base / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
    (base / "public.pem").write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    catalog_file = base / "catalog" / "catalog-info.yaml"
    catalog_file.parent.mkdir()
    catalog_file.write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: checkout}\n"
        "spec: {type: service, lifecycle: production, owner: team-a}\n"
    )
    config = {
        "auth": {
            "anonymous": [],
            "oidc": {"issuer": ISSUER, "audience": AUDIENCE, "jwks_file": str(base / "jwks.json")},
        },
        "reading": {"local_roots": [str(base / "catalog")]},
    }
    (base / "config.yaml").write_text(yaml.safe_dump(config))
    store = base / "store"
    options = ["--config", str(base / "config.yaml")]
    tokens = {}
    for name, scope in SCOPE_SETS.items():
        created = catalog("token", "create", name, "--scope", scope, "--store", str(store), *options)
        assert created.returncode == 0, created.stderr
        tokens[name] = created.stdout.strip()
    revoked = catalog("token", "create", "gone", "--scope", "admin", "--store", str(store))
    tokens["revoked"] = revoked.stdout.strip()
    assert catalog("token", "revoke", "gone", "--store", str(store)).returncode == 0
    with serve(store, base / "serve.log", options=options, suite_defaults=False) as server:
        deployment = Deployment(server, tokens, catalog_file, key, store)
        registered = deployment.post(
            "mutation($t: String!) { registerLocation(target: $t) { syncRun { added } } }",
            tokens["writer"],
            t=str(catalog_file),
        )
        assert registered.json()["data"]["registerLocation"]["syncRun"]["added"] == 1, registered.text
        yield deployment


def code_of(response: httpx.Response) -> str | None:
    errors = response.json().get("errors") or [{}]
    return errors[0].get("extensions", {}).get("code")


# --- who gets in ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("credential", "status", "code"),
    [
        (None, 401, "UNAUTHENTICATED"),
        ("not-a-token", 401, "UNAUTHENTICATED"),
        ("cgt_000000000000_" + "A" * 43, 401, "UNAUTHENTICATED"),
        ("revoked", 401, "UNAUTHENTICATED"),
        ("reader", 200, None),
        ("writer", 200, None),
        ("scaffolder", 200, None),
        ("admin", 200, None),
        ("jwt", 200, None),
    ],
)
def test_a_query_needs_credentials_that_verify(
    deployment: Deployment, credential: str | None, status: int, code: str | None
) -> None:
    token = deployment.tokens.get(credential or "", credential)
    if credential == "jwt":
        token = deployment.jwt()
    response = deployment.post(POINT_QUERY, token)
    assert (response.status_code, code_of(response)) == (status, code), response.text
    if status == 200:
        assert response.json() == {"data": {"entity": {"ref": "component:default/checkout"}}}
    else:
        assert "data" not in response.json() and "checkout" not in response.text
        assert response.headers["www-authenticate"].startswith('Bearer realm="catalog"')


def test_a_basic_authorization_header_is_refused_not_ignored(deployment: Deployment) -> None:
    response = httpx.post(
        f"{deployment.server.url}/graphql", json={"query": POINT_QUERY}, headers={"authorization": "Basic YTpi"}
    )
    assert (response.status_code, code_of(response)) == (401, "UNAUTHENTICATED")


@pytest.mark.parametrize(
    ("path", "status"),
    [("/health", 200), ("/ready", 200), ("/", 307)],
)
def test_health_readiness_and_the_root_redirect_are_open(deployment: Deployment, path: str, status: int) -> None:
    response = httpx.get(f"{deployment.server.url}{path}", follow_redirects=False)
    assert response.status_code == status


def test_the_graphiql_page_is_open_but_a_query_by_get_is_not(deployment: Deployment) -> None:
    page = httpx.get(f"{deployment.server.url}/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    sneaked = httpx.get(
        f"{deployment.server.url}/graphql", params={"query": POINT_QUERY}, headers={"accept": "text/html"}
    )
    assert (sneaked.status_code, code_of(sneaked)) == (401, "UNAUTHENTICATED")


# --- what each scope may do ----------------------------------------------------------------------------------

MUTATIONS = {
    "refresh": ("write", "mutation($t: String!) { refresh(source: $t) { syncRun { status principal } } }"),
    "registerLocation": ("write", "mutation($t: String!) { registerLocation(target: $t) { syncRun { status } } }"),
    "unregisterLocation": ("write", 'mutation { unregisterLocation(target: "/nowhere") { syncRun { status } } }'),
    "apiTokens": ("admin", "{ apiTokens { name } }"),
    "createApiToken": ("admin", 'mutation { createApiToken(name: "probe", scopes: ["read"]) { token } }'),
    "revokeApiToken": ("admin", 'mutation { revokeApiToken(name: "no-such-token") { id } }'),
}
ALLOWED = {
    "reader": {"read"},
    "writer": {"read", "write"},
    "scaffolder": {"read", "scaffold"},
    "admin": {"read", "write", "scaffold", "admin"},
}


@pytest.mark.parametrize("operation", MUTATIONS)
@pytest.mark.parametrize("principal", ALLOWED)
def test_every_mutation_and_admin_query_checks_its_scope(
    deployment: Deployment, principal: str, operation: str
) -> None:
    needed, document = MUTATIONS[operation]
    variables = {"t": str(deployment.catalog_file)} if "$t" in document else {}
    response = deployment.post(document, deployment.tokens[principal], **variables)
    if needed in ALLOWED[principal]:
        assert code_of(response) != "FORBIDDEN", response.text
        if operation == "createApiToken":  # leave the module's tokens as they were
            deployment.post('mutation { revokeApiToken(name: "probe") { id } }', deployment.tokens["admin"])
    else:
        assert response.status_code == 403
        assert response.json() == {
            "data": None,
            "errors": [
                {
                    "message": f"this operation needs the {needed} scope, which your credentials do not hold",
                    "locations": response.json()["errors"][0]["locations"],
                    "path": [operation],
                    "extensions": {"code": "FORBIDDEN"},
                }
            ],
        }


def test_a_refused_mutation_changes_nothing(deployment: Deployment) -> None:
    before = deployment.post("{ syncRuns(first: 1000) { id } }", deployment.tokens["reader"]).json()
    refused = deployment.post(MUTATIONS["refresh"][1], deployment.tokens["reader"], t=str(deployment.catalog_file))
    assert refused.status_code == 403
    after = deployment.post("{ syncRuns(first: 1000) { id } }", deployment.tokens["reader"]).json()
    assert after == before


# --- who did what ----------------------------------------------------------------------------------------------


def test_each_sync_run_records_its_principal(deployment: Deployment) -> None:
    by_token = deployment.post(MUTATIONS["refresh"][1], deployment.tokens["writer"], t=str(deployment.catalog_file))
    assert by_token.json()["data"]["refresh"]["syncRun"]["principal"] == "token:writer"
    by_user = deployment.post(
        MUTATIONS["refresh"][1], deployment.jwt(scope="openid write"), t=str(deployment.catalog_file)
    )
    assert by_user.json()["data"]["refresh"]["syncRun"]["principal"] == "user:default/jane.doe"
    runs = deployment.post("{ syncRuns(first: 3) { principal } }", deployment.tokens["reader"]).json()
    assert runs["data"]["syncRuns"][:2] == [{"principal": "user:default/jane.doe"}, {"principal": "token:writer"}]


# --- tokens ----------------------------------------------------------------------------------------------------


def test_a_token_is_created_once_stored_hashed_and_revoked_at_once(deployment: Deployment) -> None:
    admin = deployment.tokens["admin"]
    created = deployment.post(
        'mutation { createApiToken(name: "ci-bot", scopes: ["write"]) '
        "{ token apiToken { name scopes createdBy revokedAt } } }",
        admin,
    ).json()["data"]["createApiToken"]
    token = created["token"]
    assert created["apiToken"] == {"name": "ci-bot", "scopes": ["write"], "createdBy": "token:admin", "revokedAt": None}
    assert deployment.post(POINT_QUERY, token).status_code == 200
    stored = b"".join(path.read_bytes() for path in deployment.store.rglob("*") if path.is_file())
    assert (
        token.encode() not in stored and token.split("_", 2)[2].encode() not in stored
    )  # cgt_<id>_<secret>: the secret may hold "_"
    assert hashlib.sha256(token.encode()).hexdigest().encode() in stored
    listed = deployment.post("{ apiTokens { name } }", admin).json()["data"]["apiTokens"]
    assert {"name": "ci-bot"} in listed and all("token" not in t for t in listed)
    revoked = deployment.post('mutation { revokeApiToken(name: "ci-bot") { revokedBy } }', admin).json()
    assert revoked["data"]["revokeApiToken"] == {"revokedBy": "token:admin"}
    after = deployment.post(POINT_QUERY, token)
    assert (after.status_code, code_of(after)) == (401, "UNAUTHENTICATED")


@pytest.mark.parametrize(
    ("name", "scopes", "message"),
    [
        ("", ["read"], "invalid token name ''"),
        ("a b", ["read"], "invalid token name 'a b'"),
        ("ok", [], "a token needs at least one scope"),
        ("ok", ["root"], "unknown scope 'root': scopes are read, write, scaffold, admin"),
        ("admin", ["read"], "a token named 'admin' exists already"),
    ],
)
def test_a_token_that_cannot_be_made_is_refused_saying_why(
    deployment: Deployment, name: str, scopes: list[str], message: str
) -> None:
    response = deployment.post(
        "mutation($n: String!, $s: [String!]!) { createApiToken(name: $n, scopes: $s) { token } }",
        deployment.tokens["admin"],
        n=name,
        s=scopes,
    ).json()
    assert response["errors"][0]["message"].startswith(message)
    assert response["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


# --- forged and broken JWTs ------------------------------------------------------------------------------------


def forged(deployment: Deployment, case: str) -> str:
    key, claims = deployment.key, claims_of()
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = (Path(deployment.store).parent / "public.pem").read_bytes()
    return {
        "wrong issuer": lambda: sign(key, claims_of(iss="https://evil.example.test")),
        "wrong audience": lambda: sign(key, claims_of(aud="another-service")),
        "expired": lambda: sign(key, claims_of(exp=int(time.time()) - 120)),
        "not yet valid": lambda: sign(key, claims_of(nbf=int(time.time()) + 600)),
        "no expiry": lambda: sign(key, claims_of(exp=None)),
        "signed by another key": lambda: sign(other, claims),
        "unknown key id": lambda: sign(key, claims, kid="k2"),
        "alg none": lambda: unsigned({"alg": "none", "kid": "k1"}, claims, None),
        "HS256 with the public key": lambda: unsigned({"alg": "HS256", "kid": "k1", "typ": "JWT"}, claims, public_pem),
        "tampered claims": lambda: tamper(sign(key, claims)),
        "no user": lambda: sign(key, claims_of(sub="")),
        "garbage": lambda: "eyJhbGciOi.not.a.jwt",
    }[case]()


def tamper(token: str) -> str:
    head, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    return f"{head}.{b64(json.dumps(claims | {'scope': 'admin'}).encode())}.{signature}"


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("wrong issuer", "the bearer token is from an issuer this service does not trust (iss)"),
        ("wrong audience", "the bearer token is not meant for this service (aud)"),
        ("expired", "the bearer token has expired"),
        ("not yet valid", "the bearer token is not valid yet (nbf/iat)"),
        ("no expiry", "the bearer token has no exp claim"),
        ("signed by another key", "the bearer token's signature does not verify"),
        ("unknown key id", "the bearer token is signed with a key the issuer does not publish"),
        ("alg none", "the bearer token's algorithm 'none' is not accepted (RS256, ES256)"),
        ("HS256 with the public key", "the bearer token's algorithm 'HS256' is not accepted (RS256, ES256)"),
        ("tampered claims", "the bearer token's signature does not verify"),
        ("no user", "the bearer token's sub claim names no valid user"),
        ("garbage", "the bearer token is neither an API token nor a JWT"),
    ],
)
def test_a_jwt_that_does_not_verify_is_refused_with_the_check_that_failed(
    deployment: Deployment, case: str, message: str
) -> None:
    response = deployment.post(POINT_QUERY, forged(deployment, case))
    assert response.status_code == 401
    assert response.json() == {"errors": [{"message": message, "extensions": {"code": "UNAUTHENTICATED"}}]}
    assert response.headers["www-authenticate"] == 'Bearer realm="catalog", error="invalid_token"'


@pytest.mark.parametrize(
    ("scope_claim", "may_write"),
    [(None, False), ("openid profile", False), ("read", False), ("openid write", True), (["admin"], True)],
)
def test_a_jwt_holds_the_scopes_its_claim_names_else_the_default(
    deployment: Deployment, scope_claim: Any, may_write: bool
) -> None:
    token = deployment.jwt(scope=scope_claim)
    assert deployment.post(POINT_QUERY, token).status_code == 200
    response = deployment.post(MUTATIONS["unregisterLocation"][1], token)
    assert (code_of(response) != "FORBIDDEN") is may_write, response.text


# --- the issuer's keys from a URL; the demo's access ---------------------------------------------------------


def test_keys_are_fetched_from_the_jwks_url_and_again_for_a_new_key_id(tmp_path: Path) -> None:
    """`jwks_url`: the verifier asks the issuer's JWKS endpoint (a real HTTP server here), and asks again
    when a token names a key it has not seen (the issuer rotated its keys)."""
    import http.server
    import threading

    from graphsvc.auth.oidc import InvalidBearerToken, OidcVerifier
    from graphsvc.config import OidcSettings

    keys = {"k1": rsa.generate_private_key(public_exponent=65537, key_size=2048)}
    asked: list[str] = []

    class Jwks(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            published = [
                json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())) | {"kid": kid}
                for kid, key in keys.items()
            ]
            body = json.dumps({"keys": published}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
        settings = OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url=url, jwks_refresh_cooldown_s=0)
        verifier = OidcVerifier(settings)
        assert verifier.authenticate(sign(keys["k1"], claims_of())).name == "user:default/jane.doe"
        keys["k2"] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        assert verifier.authenticate(sign(keys["k2"], claims_of(sub="joe"), kid="k2")).name == "user:default/joe"
        with pytest.raises(InvalidBearerToken, match="signed with a key the issuer does not publish"):
            verifier.authenticate(sign(keys["k1"], claims_of(), kid="k3"))
        assert asked == ["/jwks.json"] * 3  # once at first, once per unknown key id (no cooldown here)
    finally:
        server.shutdown()


@pytest.mark.parametrize(
    ("algorithms", "message"),
    [
        (["HS256"], "auth.oidc.algorithms: HS256 is not accepted"),
        (["none"], "auth.oidc.algorithms: none is not accepted"),
        (["RS256", "HS512"], "auth.oidc.algorithms: HS512 is not accepted"),
    ],
)
def test_a_symmetric_or_no_algorithm_is_refused_in_the_configuration(algorithms: list[str], message: str) -> None:
    from graphsvc.auth.oidc import OidcVerifier
    from graphsvc.config import ConfigError, OidcSettings

    with pytest.raises(ConfigError, match=message):
        OidcVerifier(OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks_file="/x", algorithms=algorithms))


def test_the_demo_on_loopback_reads_anonymously_and_says_so_but_changes_need_a_token(tmp_path: Path) -> None:
    with serve(tmp_path / "store", tmp_path / "serve.log", options=["--demo"], suite_defaults=False) as server:
        read = httpx.post(
            f"{server.url}/graphql", json={"query": '{ entity(ref: "component:checkout-service") { ref } }'}
        )
        assert read.json() == {"data": {"entity": {"ref": "component:default/checkout-service"}}}
        change = httpx.post(
            f"{server.url}/graphql", json={"query": 'mutation { refresh(source: "x") { syncRun { id } } }'}
        )
        assert change.status_code == 403 and change.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "--demo on loopback: anonymous requests may read the catalog" in (tmp_path / "serve.log").read_text()
