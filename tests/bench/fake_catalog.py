"""A stand-in for the `catalog` CLI, for the benchmark harness self-test only.

    fake_catalog.py ingest ROOT --store STORE   reads the Location, holds ~64 MiB for a moment, writes STORE/
    fake_catalog.py serve --store STORE --host 127.0.0.1 --port P   canned GraphQL answers over HTTP

It takes the same arguments the real CLI must take, so the harness's command lines are checked too. Answers
are canned: a ref or owner containing `broken` gets a GraphQL error, `missing` a null entity, and `leaf` or
`nobody` an empty list.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import uvicorn
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

HOLD_BYTES = 64 << 20


def ingest(root: Path, store: Path) -> int:
    (location,) = list(yaml.safe_load_all(root.read_text()))
    files = [root.parent / t for t in location["spec"]["targets"]]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        print(f"missing targets: {missing}", file=sys.stderr)
        return 1
    ballast = b"x" * HOLD_BYTES  # touched pages, so the peak RSS is visibly above the interpreter's
    store.mkdir(parents=True, exist_ok=True)
    (store / "data.bin").write_bytes(ballast[: 1 << 20])
    print(f"ingested {len(files)} files")
    return 0


def _answer(query: str, variables: dict) -> dict:
    key = str(variables.get("ref") or variables.get("owner") or "")
    if "broken" in key:
        return {"data": None, "errors": [{"message": f"cannot resolve {key}"}]}
    if "missing" in key:
        return {"data": {"entity": None}}
    if "leaf" in key or "nobody" in key:
        return {"data": {"entity": {"dependencies": []}, "entities": {"totalCount": 0, "edges": []}}}
    if "dependencies(" in query:
        return {"data": {"entity": {"dependencies": [{"ref": f"component:default/dep-{i}"} for i in range(7)]}}}
    if "relations" in query:
        return {"data": {"entity": {"relations": [{"type": "ownedBy", "targetRef": "group:default/team"}]}}}
    if "entities(first: 1)" in query:
        return {"data": {"entities": {"totalCount": 1_000_000}}}
    if "entities(" in query:
        edges = [{"node": {"ref": f"component:default/c-{i}", "name": f"c-{i}"}} for i in range(3)]
        return {"data": {"entities": {"totalCount": 3, "edges": edges}}}
    return {"data": {"entity": {"ref": key, "kind": "Component", "name": "x", "title": "X"}}}


async def graphql(request: Request) -> JSONResponse:
    body = await request.json()
    return JSONResponse(_answer(body["query"], body.get("variables") or {}))


async def health(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def serve(host: str, port: int) -> int:
    if host != "127.0.0.1":
        print(f"refusing to listen on {host}", file=sys.stderr)
        return 1
    app = Starlette(routes=[Route("/health", health), Route("/graphql", graphql, methods=["POST"])])
    uvicorn.run(app, host=host, port=port, log_level="warning")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    ingest_cmd = commands.add_parser("ingest")
    ingest_cmd.add_argument("root", type=Path)
    ingest_cmd.add_argument("--store", type=Path, required=True)
    serve_cmd = commands.add_parser("serve")
    serve_cmd.add_argument("--store", type=Path, required=True)
    serve_cmd.add_argument("--host", required=True)
    serve_cmd.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    if args.command == "ingest":
        return ingest(args.root, args.store)
    return serve(args.host, args.port)


if __name__ == "__main__":
    sys.exit(main())
