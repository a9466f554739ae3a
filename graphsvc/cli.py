"""`catalog`: run the service, ingest sources, query the graph, export and import the store, export the schema.

The embedded store belongs to one process. While `catalog serve` holds it, other commands either go through
the service (`--url`) or stop with a message that names the service — never a second writer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from graphsvc.config import ConfigError, Settings, load_settings
from graphsvc.progress_display import ProgressDisplay
from graphsvc.store import StoreError

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.handler(args)
    except (ConfigError, StoreError) as error:
        print(f"catalog: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="catalog", description="A graph-backed software catalog.")
    parser.add_argument("--version", action="version", version=f"catalog {_version()}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(name: str, help_text: str, handler: Any, store: bool = True) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        if store:
            sub.add_argument("--store", help="embedded store directory (default $CATALOG_STORE or var/catalog-store)")
            sub.add_argument("--config", help="YAML configuration file (default $CATALOG_CONFIG)")
            sub.add_argument("-v", "--verbose", action="store_true")
        return sub

    serve = command("serve", "Run the GraphQL service (GraphiQL at /graphql).", _serve)
    serve.add_argument("--demo", action="store_true", help="load the bundled demo catalog first")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)

    ingest = command("ingest", "Register a file, directory, URL or git repository and sync it.", _ingest)
    ingest.add_argument("target", metavar="PATH_OR_URL")
    ingest.add_argument("--branch", help="git branch to read (git sources)")
    ingest.add_argument("--glob", help="discovery glob in directories and repositories (default **/catalog-info.yaml)")
    ingest.add_argument("--url", help="send it to a running service instead of opening the store")
    ingest.add_argument(
        "--history",
        action="store_true",
        help="a git repository: replay every commit of the branch, oldest first, each at its commit date "
        "(a later run replays only the new commits), then keep it registered",
    )
    ingest.add_argument("--strict", action="store_true", help="exit 1 when the sync recorded any error")

    refresh = command("refresh", "Re-read a registered location and sync what changed.", _refresh)
    refresh.add_argument("target", metavar="LOCATION")
    unregister = command("unregister", "Unregister a location; its entities are closed (kept in history).", _unregister)
    unregister.add_argument("target", metavar="LOCATION")
    for sub in (refresh, unregister):
        sub.add_argument("--url", help="ask a running service instead of opening the store ($CATALOG_TOKEN: write)")
        sub.add_argument("--strict", action="store_true", help="exit 1 when the sync recorded any error")
    errors = command("errors", "Print what is wrong now: the errors of each location's latest sync.", _errors)
    errors.add_argument("--location", help="only the errors of this file")
    errors.add_argument("--sync-run", help="the errors of this sync run instead (an id from syncRuns)")
    errors.add_argument("--entity", help="only the errors about this entity ref")
    locations = command("locations", "List the registered locations.", _locations)
    for sub in (errors, locations):
        sub.add_argument("--url", help="ask a running service instead of opening the store")
    for sub in (ingest, refresh, unregister, errors, locations):
        sub.add_argument("--json", action="store_true", help="print the answer as JSON (the service's fields)")

    query = command("query", "Run a GraphQL query and print the JSON result.", _query)
    query.add_argument("document", metavar="GRAPHQL")
    query.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a variable; VALUE is parsed as JSON when it can be, else taken as a string",
    )
    query.add_argument("--url", help="query a running service instead of opening the store")

    command("check", "Verify the store's invariants; print what is wrong and exit 1 if anything is.", _check)
    command("export-schema", "Print the GraphQL schema (SDL).", _export_schema, store=False)

    export = command("export", "Write the whole temporal graph of the store to FILE (gzip JSON Lines).", _export)
    export.add_argument("file", metavar="FILE")
    load = command("import", "Load FILE, written by `catalog export`, into an empty store (either engine).", _import)
    load.add_argument("file", metavar="FILE")

    token = commands.add_parser("token", help="Create, list and revoke API tokens.", description=TOKEN_HELP)
    actions = token.add_subparsers(required=True, metavar="ACTION")
    for name, help_text, handler in (
        ("create", "Create a token and print it (once: only its hash is stored).", _token_create),
        ("list", "List the tokens, revoked ones included.", _token_list),
        ("revoke", "Revoke a token by name (or id).", _token_revoke),
    ):
        action = actions.add_parser(name, help=help_text, description=help_text)
        action.set_defaults(handler=handler)
        action.add_argument("--store", help="embedded store directory (default $CATALOG_STORE or var/catalog-store)")
        action.add_argument("--config", help="YAML configuration file (default $CATALOG_CONFIG)")
        action.add_argument("--url", help="ask a running service (with an admin token in $CATALOG_TOKEN)")
        if name in ("create", "revoke"):
            action.add_argument("name", metavar="NAME")
        if name == "create":
            action.add_argument(
                "--scope",
                action="append",
                required=True,
                help="read, write, scaffold or admin; repeat it, or separate scopes with commas",
            )
    return parser


TOKEN_HELP = (
    "API tokens for `Authorization: Bearer <token>`. Without --url these commands open the store (stop an embedded "
    "store's service first); with --url they ask a running service, as the admin whose token is in $CATALOG_TOKEN."
)


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(args.config, store_dir=args.store)


def _open_service(settings: Settings):  # noqa: ANN202 - CatalogService, imported lazily for a fast --help
    from graphsvc.service import CatalogService
    from graphsvc.store import open_store

    return CatalogService(open_store(settings), settings)


# --- serve -------------------------------------------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    import logging.config

    import uvicorn

    from graphsvc.api.app import create_app
    from graphsvc.api.heap import freeze_startup_objects
    from graphsvc.log_format import serve_logging

    settings = _demo_access(_settings(args), args)
    sys.setswitchinterval(float(os.environ.get("CATALOG_SWITCH_INTERVAL", "0.005")))
    logging.config.dictConfig(serve_logging(settings.log_format, args.verbose))
    service = _open_service(settings)
    service.read_in_worker_process()
    backend = service.store.backend
    url = f"http://{args.host}:{args.port}"
    if hasattr(backend, "claim_ownership"):
        backend.claim_ownership(url)
    try:
        if args.demo:
            _load_demo(service)
        scheduler = _start_scheduler(service, settings)
        print(f"catalog: serving {url}/graphql (store: {_describe(settings)})", file=sys.stderr)
        # uvicorn re-raises SIGTERM after its shutdown, so the `finally` below may not run: release on shutdown
        release = [backend.release_ownership] if hasattr(backend, "release_ownership") else []
        app = create_app(service, on_shutdown=release, allowed_hosts=_allowed_hosts(settings, args.host))
        freeze_startup_objects()
        level = "info" if args.verbose else "warning"  # uvicorn's loggers go to ours (log_config None)
        uvicorn.run(app, host=args.host, port=args.port, log_config=None, log_level=level, access_log=False)
        if scheduler:
            scheduler.shutdown(wait=False)
    finally:
        if hasattr(backend, "release_ownership"):
            backend.release_ownership()
        service.close()
    return EXIT_OK


LOOPBACK_NAMES = ["localhost", "127.0.0.1", "[::1]"]


def _allowed_hosts(settings: Settings, bound: str) -> list[str]:
    """The configured names; none configured: on a loopback address its loopback names only (no DNS
    rebinding reaches a developer's instance), elsewhere any name."""
    if settings.allowed_hosts:
        return settings.allowed_hosts
    return LOOPBACK_NAMES if _is_loopback(bound) else ["*"]


def _is_loopback(bound: str) -> bool:
    return bound in ("127.0.0.1", "localhost", "::1")


def _demo_access(settings: Settings, args: argparse.Namespace) -> Settings:
    """`serve --demo` on loopback, with no anonymous access configured, lets anonymous requests read (the
    README's first command opens GraphiQL with nothing to set up), and says so; anywhere else the
    configuration stands."""
    if not (args.demo and _is_loopback(args.host) and not settings.auth.anonymous):
        return settings
    print(
        "catalog: --demo on loopback: anonymous requests may read the catalog (as with auth.anonymous: [read]); "
        "changes need a token (catalog token create NAME --scope write)",
        file=sys.stderr,
    )
    return settings.model_copy(update={"auth": settings.auth.model_copy(update={"anonymous": ["read"]})})


def _load_demo(service: Any) -> None:
    """Build the demo repository (the demo catalog with its git history) in the store directory and replay
    it; a restart replays nothing new. A store that holds the demo from before it had a history keeps it."""
    from graphsvc.demo import DEMO_CATALOG, build_demo_repository
    from graphsvc.demo.history import DemoRepositoryError

    service.reading_policy = service.reading_policy.with_root(DEMO_CATALOG)  # the service's own files
    if any(location.target == str(DEMO_CATALOG) for location in service.store.registered_locations()):
        summary = service.write_now(lambda: service.refresh(str(DEMO_CATALOG)))
        print(
            f"catalog: demo catalog refreshed ({_counts(summary.counts)}); this store holds it without its history, "
            "start with a new --store to see the history",
            file=sys.stderr,
        )
        return
    try:
        repository = build_demo_repository(Path(service.settings.store_dir) / "demo-repo")
        service.reading_policy = service.reading_policy.with_root(repository)
    except DemoRepositoryError as error:
        summary = service.write_now(lambda: service.register(str(DEMO_CATALOG)))
        print(f"catalog: {error}; demo catalog loaded without its history ({_counts(summary.counts)})", file=sys.stderr)
        return
    summaries = service.write_now(lambda: service.backfill_history(str(repository)))
    print(f"catalog: demo catalog loaded from {repository} ({len(summaries)} commits replayed)", file=sys.stderr)


def _start_scheduler(service: Any, settings: Settings) -> Any:
    """Re-sync every registered location on an interval, through the single writer."""
    if not settings.refresh_interval_s:
        return None
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler()
    scheduler.add_job(
        lambda: service.write_now(service.refresh_all),
        "interval",
        seconds=settings.refresh_interval_s,
        max_instances=1,
        coalesce=True,
    )
    scheduler.start()
    return scheduler


def _describe(settings: Settings) -> str:
    return f"neo4j {settings.neo4j_uri}" if settings.backend == "neo4j" else str(settings.store_dir)


# --- ingest ------------------------------------------------------------------------------------------------


def _ingest(args: argparse.Namespace) -> int:
    if args.history:
        return _ingest_history(args)
    if args.url:
        document = (
            "mutation($target: String!, $branch: String, $glob: String) { registerLocation(target: $target, "
            f"branch: $branch, glob: $glob) {{ {SYNC_FIELDS} }} }}"
        )
        variables = {"target": _target_for_service(args.target), "branch": args.branch, "glob": args.glob}
        return _print_sync(args, "registerLocation", _post(args.url, document, variables))
    from ingestors.read import SourceUnavailableError

    service = _open_service(_settings(args))
    service.read_in_worker_process()  # on two cores, reading and preparing run beside the writing
    try:
        with ProgressDisplay() as display:
            summary = service.write_now(
                lambda: service.register(
                    args.target,
                    branch=args.branch,
                    glob=args.glob,
                    progress=display.syncing,
                    read_progress=display.reading,
                )
            )
    except SourceUnavailableError as error:
        print(f"catalog: {error}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        service.close()
    return _print_sync(args, "registerLocation", {"data": {"registerLocation": _sync_answer(summary)}})


def _sync_answer(summary: Any) -> dict[str, Any]:
    """A local sync's `SyncSummary` as the service answers it (`SYNC_FIELDS`): one printing for both."""
    counts = summary.counts
    run = {"id": summary.run_id, "status": "completed_with_errors" if summary.errors else "completed"}
    run |= {name: counts[name] for name in ("added", "updated", "removed", "unchanged")}
    run["errorCount"] = counts["errors"]
    errors = [{key: error[stored] for key, stored in ERROR_KEYS.items()} for error in summary.errors]
    return {"syncRun": run, "errors": errors}


ERROR_KEYS = {
    "category": "category",
    "location": "location",
    "line": "line",
    "entityRef": "entity_ref",
    "message": "message",
}
"""The fields of an error in SYNC_FIELDS, and the keys of a sync's error record they are."""


def _ingest_history(args: argparse.Namespace) -> int:
    """`ingest --history`: one line per replayed commit as it is synced, its errors and notes below it."""
    if args.url:
        print(
            "catalog: --history opens the store itself; run it without --url, with the service stopped", file=sys.stderr
        )
        return EXIT_USAGE
    from ingestors.read import SourceUnavailableError

    service = _open_service(_settings(args))
    try:
        summaries = service.write_now(
            lambda: service.backfill_history(args.target, branch=args.branch, glob=args.glob, progress=_print_commit)
        )
    except SourceUnavailableError as error:
        print(f"catalog: {error}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        service.close()
    if not summaries:
        print(f"{args.target}: no new commits to replay")
    else:
        errors = sum(len(summary.errors) for summary in summaries)
        print(f"replayed {len(summaries)} commits of {args.target} ({errors} errors); registered for refresh")
    return EXIT_OK


def _print_commit(summary: Any) -> None:
    """One replayed commit (a `CommitSummary`): short SHA, commit date (UTC), counts; then notes and errors."""
    from graphsvc.timestamps import to_datetime

    date = to_datetime(summary.committed_at)
    print(f"{summary.commit_sha[:10]} {date:%Y-%m-%d %H:%M}Z {_counts(summary.counts)}", flush=True)
    for note in summary.notes:
        print(f"  note: {note}", file=sys.stderr)
    for error in summary.errors:
        where = ":".join(str(p) for p in (error["location"], error["line"]) if p is not None)
        print(f"  error [{error['category']}] {where}: {error['message']}", file=sys.stderr)


def _target_for_service(target: str) -> str:
    """Local paths are made absolute here, because the service resolves them from its own directory."""
    return target if "://" in target or target.startswith("git") else str(Path(target).resolve())


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{value} {name}" for name, value in counts.items())


# --- query -------------------------------------------------------------------------------------------------


def _query(args: argparse.Namespace) -> int:
    variables = dict(_parse_var(v) for v in args.var)
    if args.url:
        result = _post(args.url, args.document, variables)
    else:
        result = _query_locally(_settings(args), args.document, variables)
    _print_json(result)
    return EXIT_ERRORS if result.get("errors") else EXIT_OK


def _parse_var(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise SystemExit(f"catalog: --var takes NAME=VALUE, got {text!r}")
    try:
        return name, json.loads(value)
    except ValueError:
        return name, value


def _query_locally(settings: Settings, document: str, variables: dict[str, Any]) -> dict[str, Any]:
    from graphsvc.api.context import Context, execute_in_one_state
    from graphsvc.api.schema import schema

    def run(context: Context) -> Awaitable[Any]:
        return schema.execute(document, variable_values=variables, context_value=context)

    service = _open_service(settings)
    try:
        result = asyncio.run(execute_in_one_state(service, run))
    finally:
        service.close()
    out: dict[str, Any] = {"data": result.data}
    if result.errors:
        out["errors"] = [error.formatted for error in result.errors]
    return out


def _post(url: str, document: str, variables: dict[str, Any]) -> dict[str, Any]:
    import httpx

    endpoint = url.rstrip("/") + ("" if url.rstrip("/").endswith("/graphql") else "/graphql")
    try:
        token = os.environ.get("CATALOG_TOKEN")
        headers = {"authorization": f"Bearer {token}"} if token else {}
        response = httpx.post(endpoint, json={"query": document, "variables": variables}, headers=headers, timeout=600)
    except httpx.HTTPError as error:
        raise SystemExit(f"catalog: cannot reach the service at {endpoint}: {error}") from None
    try:
        return response.json()
    except ValueError:
        raise SystemExit(f"catalog: {endpoint} answered {response.status_code} without JSON") from None


def _print_json(result: dict[str, Any]) -> None:
    print(json.dumps(result, indent=2, default=str))


# --- refresh, unregister, errors, locations: one GraphQL document, locally or through a service -----------

SYNC_FIELDS = (
    "syncRun { id status added updated removed unchanged errorCount } "
    "errors { category location line entityRef message }"
)


def _refresh(args: argparse.Namespace) -> int:
    document = f"mutation($t: String!) {{ refresh(source: $t) {{ {SYNC_FIELDS} }} }}"
    return _print_sync(args, "refresh", _graphql(args, document, {"t": _target_for_service(args.target)}))


def _unregister(args: argparse.Namespace) -> int:
    document = f"mutation($t: String!) {{ unregisterLocation(target: $t) {{ {SYNC_FIELDS} }} }}"
    return _print_sync(args, "unregisterLocation", _graphql(args, document, {"t": _target_for_service(args.target)}))


def _errors(args: argparse.Namespace) -> int:
    document = (
        "query($run: String, $location: String, $entity: String) { errors(syncRun: $run, location: $location, "
        "entityRef: $entity, first: 1000) { category location line entityRef message } }"
    )
    variables = {"run": args.sync_run, "location": args.location, "entity": args.entity}
    result = _graphql(args, document, variables)
    if result.get("errors"):
        return _refused(result)
    if args.json:
        _print_json(result["data"]["errors"])
        return EXIT_OK
    for error in result["data"]["errors"]:
        print(_error_line(error))
    return EXIT_OK


def _locations(args: argparse.Namespace) -> int:
    result = _graphql(args, "{ locations { target branch glob addedAt } }", {})
    if result.get("errors"):
        return _refused(result)
    if args.json:
        _print_json(result["data"]["locations"])
        return EXIT_OK
    for location in result["data"]["locations"]:
        extra = "".join(f" {k}={location[k]}" for k in ("branch", "glob") if location[k])
        print(f"{location['target']}{extra} (added {location['addedAt']})")
    return EXIT_OK


def _graphql(args: argparse.Namespace, document: str, variables: dict[str, Any]) -> dict[str, Any]:
    """The same document and the same printing whether through a service (`--url`) or on the store."""
    return _post(args.url, document, variables) if args.url else _query_locally(_settings(args), document, variables)


def _print_sync(args: argparse.Namespace, field: str, result: dict[str, Any]) -> int:
    """A sync's answer: errors on stderr and one line of counts, or (`--json`) the answer as JSON. A
    directory no file of the glob matches is warned about: an empty answer from it is almost always a
    wrong glob, not an empty catalog."""
    if result.get("errors"):
        return _refused(result)
    answer = result["data"][field]
    run = answer["syncRun"]
    counts = {k: run[k] for k in ("added", "updated", "removed", "unchanged")} | {"errors": run["errorCount"]}
    if args.json:
        _print_json(answer)
    else:
        for error in answer["errors"]:
            print(_error_line(error), file=sys.stderr)
    if field == "registerLocation" and Path(args.target).is_dir() and not any(counts.values()):
        from ingestors.filesystems import DEFAULT_DISCOVERY_GLOB

        print(
            f"catalog: warning: no file under {args.target} matches {args.glob or DEFAULT_DISCOVERY_GLOB}: nothing "
            "was ingested (--glob PATTERN reads other files)",
            file=sys.stderr,
        )
    if not args.json:
        print(f"synced {args.target}: {_counts(counts)}")
    return EXIT_ERRORS if args.strict and run["errorCount"] else EXIT_OK


def _error_line(error: dict[str, Any]) -> str:
    where = ":".join(str(p) for p in (error["location"], error["line"]) if p is not None)
    return f"error [{error['category']}] {where}: {error['message']}"


def _refused(result: dict[str, Any]) -> int:
    """A GraphQL error answer, printed as the CLI's own: input it cannot use exits 2, anything else 1."""
    error = result["errors"][0]
    print(f"catalog: {error.get('message')}", file=sys.stderr)
    return EXIT_USAGE if error.get("extensions", {}).get("code") == "BAD_USER_INPUT" else EXIT_ERRORS


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("catalog-graph")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


# --- token -------------------------------------------------------------------------------------------------

TOKEN_FIELDS = "id name scopes createdAt createdBy revokedAt revokedBy"


def _token_create(args: argparse.Namespace) -> int:
    scopes = [scope for given in args.scope for scope in given.split(",")]
    if args.url:
        document = (
            "mutation($n: String!, $s: [String!]!) { createApiToken(name: $n, scopes: $s) "
            f"{{ token apiToken {{ {TOKEN_FIELDS} }} }} }}"
        )
        return _token_answer(_post(args.url, document, {"n": args.name, "s": scopes}), "createApiToken")
    created = _with_tokens(args, lambda service, actor: service.tokens.create(args.name, scopes, actor))
    if created is None:
        return EXIT_USAGE
    print(
        f"created token {created.record.name!r} ({', '.join(created.record.scopes)}); it is shown only now:",
        file=sys.stderr,
    )
    print(created.token)
    return EXIT_OK


def _token_list(args: argparse.Namespace) -> int:
    if args.url:
        return _token_answer(_post(args.url, f"{{ apiTokens {{ {TOKEN_FIELDS} }} }}", {}), "apiTokens")
    tokens = _with_tokens(args, lambda service, _: service.tokens.list())
    if tokens is None:
        return EXIT_USAGE
    from graphsvc.timestamps import to_iso

    for t in tokens:
        state = f"revoked {to_iso(t.revoked_at)} by {t.revoked_by}" if t.revoked_at else "active"
        print(f"{t.name}\t{t.id}\t{','.join(t.scopes)}\tcreated {to_iso(t.created_at)} by {t.created_by}\t{state}")
    return EXIT_OK


def _token_revoke(args: argparse.Namespace) -> int:
    if args.url:
        document = f"mutation($n: String!) {{ revokeApiToken(name: $n) {{ {TOKEN_FIELDS} }} }}"
        return _token_answer(_post(args.url, document, {"n": args.name}), "revokeApiToken")
    revoked = _with_tokens(args, lambda service, actor: service.tokens.revoke(args.name, actor))
    if revoked is None:
        return EXIT_USAGE
    print(f"revoked token {revoked.name!r} ({revoked.id})")
    return EXIT_OK


def _with_tokens(args: argparse.Namespace, work: Any) -> Any:
    """`work(service, operator name)` on the store's writer, as the operator; None after printing why not."""
    from graphsvc.auth.principal import operator
    from graphsvc.auth.tokens import TokenError

    service = _open_service(_settings(args))
    try:
        return service.write_now(lambda: work(service, operator().name))
    except TokenError as error:
        print(f"catalog: {error}", file=sys.stderr)
        return None
    finally:
        service.close()


def _token_answer(result: dict[str, Any], field: str) -> int:
    if result.get("errors"):
        print(f"catalog: {result['errors'][0].get('message')}", file=sys.stderr)
        return EXIT_USAGE
    _print_json(result["data"][field])
    return EXIT_OK


# --- check -------------------------------------------------------------------------------------------------


def _check(args: argparse.Namespace) -> int:
    from graphsvc.store import open_store

    settings = _settings(args)
    store = open_store(settings)
    try:
        violations = store.check()
        census = store.version_census()
        rules = len(store.statements.invariants)
    finally:
        store.close()
    for violation in violations:
        print(f"FAILED {violation.rule}: {violation.count} rows", file=sys.stderr)
        for sample in violation.samples:
            print(f"  {' | '.join(str(v) for v in sample)}", file=sys.stderr)
    where = _describe(settings)
    if violations:
        print(f"catalog: {where}: {len(violations)} of {rules} invariants do not hold", file=sys.stderr)
        return EXIT_ERRORS
    print(f"{where}: all {rules} invariants hold ({census[0]} entities with versions, {census[5] or 0} versions)")
    return EXIT_OK


# --- export / import ---------------------------------------------------------------------------------------


def _export(args: argparse.Namespace) -> int:
    from graphsvc.portable import export_file
    from graphsvc.store import open_store

    settings = _settings(args)
    store = open_store(settings)
    try:
        with ProgressDisplay() as display:
            summary = export_file(store, Path(args.file), display.rows)
    except OSError as error:
        print(f"catalog: cannot write {args.file}: {error}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        store.close()
    size = Path(args.file).stat().st_size
    print(f"exported {_describe(settings)} to {args.file} ({size:,} bytes): {summary.describe()}")
    return EXIT_OK


def _import(args: argparse.Namespace) -> int:
    from graphsvc.portable import ImportRefusedError, import_file
    from graphsvc.store import open_store

    path = Path(args.file)
    if not path.is_file():
        print(f"catalog: cannot import {args.file}: no such file", file=sys.stderr)
        return EXIT_USAGE
    settings = _settings(args)
    store = open_store(settings, partial_import=True)
    where = f"the store {_describe(settings)}"
    try:
        with ProgressDisplay() as display:
            summary = import_file(store, path, display.rows, store_name=where)
    except ImportRefusedError as error:
        print(f"catalog: {error}", file=sys.stderr)
        return EXIT_ERRORS
    except OSError as error:
        print(f"catalog: cannot read {args.file}: {error}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        store.close()
    print(f"imported {args.file} into {_describe(settings)}: {summary.describe()}; `catalog check` verifies it")
    return EXIT_OK


# --- export-schema -----------------------------------------------------------------------------------------


def _export_schema(_: argparse.Namespace) -> int:
    from graphsvc.api.schema import schema

    print(schema.as_str())
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
