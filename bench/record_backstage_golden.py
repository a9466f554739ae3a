"""Record the real Backstage catalog backend's answers as the golden files of tests/api/test_backstage_rest.py.

    .venv/bin/python bench/record_backstage_golden.py [fixture] [generated-10k]

For each catalog named (default: both), the peer harness in ../shared/tools/backstage-peer/ (`setup.sh`: Backstage's
catalog backend from npm, on PostgreSQL on 127.0.0.1) ingests it into a fresh database; once the entity count has
stopped changing, every request of `tests/api/backstage_golden/<catalog>-requests.json` is sent once and Backstage's
answer saved as `tests/api/backstage_golden/<catalog>/<name>.json` ({request, status, body, link}). The backend is
stopped at the end (`bash setup.sh stop-all` stops its PostgreSQL too).

- `fixture`: Backstage's example catalog (../shared/fixtures/backstage-examples) from its three roots, as Backstage's
  own app-config lists them (`FIXTURE_ROOTS`): three `catalog.locations` of type `file`.
- `generated-10k`: the peer's deterministic 10k catalog (`bench.py --sizes 10000 --generate-only`, into $BS_ROOT/data).

A request's path may name a value of an earlier answer, `{{name:dotted.path}}` (a cursor, a uid, a location id):
`answer_value` resolves it, here from Backstage's answers and in the test from ours. `"auth": false` sends no token.
Needs node, npm and PostgreSQL (setup.sh installs what is missing); talks to 127.0.0.1 only.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "api" / "backstage_golden"
PEER = ROOT.parent / "shared" / "tools" / "backstage-peer"
PORT = int(os.environ.get("BS_PORT", "7007"))
TOKEN = os.environ.get("BS_TOKEN", "bench-static-token-0123456789")
STABLE_S = float(os.environ.get("BS_STABLE_S", "20"))
GENERATED_SIZE = 10_000
FIXTURES = ROOT.parent / "shared" / "fixtures" / "backstage-examples"
FIXTURE_ROOTS = (
    "packages/catalog-model/examples/all.yaml",
    "packages/catalog-model/examples/acme-corp.yaml",
    "plugins/scaffolder-backend/sample-templates/all-templates.yaml",
)
"""The fixture's roots, relative to FIXTURES, in the order Backstage's app-config lists them."""
PLACEHOLDER = re.compile(r"\{\{([\w-]+):([\w.]+)\}\}")


def answer_value(answers: dict[str, Any], name: str, path: str) -> str:
    """The value at `path` (dotted) of the body of the earlier answer `name`."""
    value: Any = answers[name]
    for part in path.split("."):
        value = value[part]
    return str(value)


def resolve_path(path: str, answers: dict[str, Any]) -> str:
    """A request path with its `{{name:dotted.path}}` placeholders replaced by values of earlier answers."""
    return PLACEHOLDER.sub(lambda match: answer_value(answers, match.group(1), match.group(2)), path)


def config_locations(paths: list[str]) -> str:
    """`BS_CATALOG_TARGET` for several file locations: setup.sh writes it as the target of one `catalog.locations`
    entry of its YAML config, so the value goes on with the entries of the others."""
    return "".join([paths[0], *(f"\n    - type: file\n      target: {path}" for path in paths[1:])])


def generated_catalog(bs_root: Path) -> str:
    """Write the peer's deterministic generated catalog under `bs_root` and answer the glob of its files."""
    env = dict(os.environ, BS_ROOT=str(bs_root))
    command = [sys.executable, str(PEER / "bench.py"), "--sizes", str(GENERATED_SIZE), "--generate-only"]
    subprocess.run(command, env=env, check=True)
    return str(bs_root / "data" / f"n{GENERATED_SIZE}" / "*.yaml")


def call(method: str, path: str, body: Any = None, auth: bool = True) -> tuple[int, Any, str | None]:
    connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=300)
    headers = {"Accept": "application/json"}
    if auth:
        headers["Authorization"] = f"Bearer {TOKEN}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    connection.request(method, path, body=data, headers=headers)
    response = connection.getresponse()
    raw = response.read().decode("utf-8", "replace")
    link = response.getheader("link")
    connection.close()
    try:
        return response.status, json.loads(raw), link
    except ValueError:
        return response.status, raw, link


def wait_until_processed() -> int:
    """Backstage processes asynchronously: wait until the entity count stays the same for STABLE_S seconds."""
    last, stable_since = -1, time.monotonic()
    while time.monotonic() - stable_since < STABLE_S:
        _, body, _ = call("GET", "/api/catalog/entities/by-query?limit=0")
        count = body.get("totalItems", -1) if isinstance(body, dict) else -1
        if count != last:
            last, stable_since = count, time.monotonic()
        time.sleep(0.5)
    return last


def record(catalog: str, target: str, catalog_dir: Path) -> None:
    """Record Backstage's answers on the catalog at `target` (a glob, or several: `config_locations`), whose
    files are under `catalog_dir` (kept in `_meta.json`: the test maps that path to its own copy's)."""
    requests = json.loads((GOLDEN / f"{catalog}-requests.json").read_text())
    out = GOLDEN / catalog
    out.mkdir(exist_ok=True)
    (out / "_meta.json").write_text(json.dumps({"catalog_dir": str(catalog_dir)}, indent=1) + "\n")
    env = dict(os.environ, BS_CATALOG_TARGET=target, BS_FRESH_DB="1", BS_PROCESSING_INTERVAL_S="3600")
    subprocess.run(["bash", str(PEER / "setup.sh"), "install"], env=env, check=True)
    subprocess.run(["bash", str(PEER / "setup.sh"), "restart"], env=env, check=True)
    try:
        print(f"{catalog}: {wait_until_processed()} entities processed", file=sys.stderr)
        answers: dict[str, Any] = {}
        for request in requests:
            path = resolve_path(request["path"], answers)
            status, body, link = call(request["method"], path, request.get("body"), request.get("auth", True))
            answers[request["name"]] = body
            golden = {"request": request, "status": status, "body": body, "link": link}
            (out / f"{request['name']}.json").write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n")
            print(f"{catalog} {request['name']}: {status}", file=sys.stderr)
    finally:
        subprocess.run(["bash", str(PEER / "setup.sh"), "stop"], env=env, check=False)


def main(argv: list[str]) -> None:
    catalogs = argv or ["fixture", "generated-10k"]
    bs_root = Path(os.environ.get("BS_ROOT", "/tmp/bs-peer"))
    for catalog in catalogs:
        if catalog == "fixture":
            record(catalog, config_locations([str(FIXTURES / root) for root in FIXTURE_ROOTS]), FIXTURES)
        elif catalog == "generated-10k":
            record(catalog, generated_catalog(bs_root), bs_root / "data" / f"n{GENERATED_SIZE}")
        else:
            raise SystemExit(f"unknown catalog {catalog!r}: expected fixture or generated-10k")


if __name__ == "__main__":
    main(sys.argv[1:])
