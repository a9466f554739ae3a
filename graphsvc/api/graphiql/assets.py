"""The GraphiQL page's files (GraphiQL, React, the explorer plugin, their CSS, our mount script), served by
the service itself from the installed package, so that GraphiQL works with no network at all.

The vendored files are in `vendor/`, at the versions `vendor/package.json` pins (`scripts/update-graphiql`
re-fetches them). They are read once, when the app is built, and answered from memory under
`/graphql/assets/<version>/<name>`, where the version is a digest of every file: a path names one content
forever, so a browser may cache it for a year (`immutable`), and a new release's page names new paths. Only
the names in `FILES` exist; a request names a key of that table, never a path on disk, so no `..` reaches a
file. Like the page, the files need no credentials (`graphsvc.api.authentication`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ASSETS_PATH = "/graphql/assets/"
HERE = Path(__file__).parent
JAVASCRIPT = "text/javascript; charset=utf-8"
CSS = "text/css; charset=utf-8"
FILES: dict[str, tuple[str, str]] = {
    "react.production.min.js": ("vendor/react.production.min.js", JAVASCRIPT),
    "react-dom.production.min.js": ("vendor/react-dom.production.min.js", JAVASCRIPT),
    "graphiql.min.js": ("vendor/graphiql.min.js", JAVASCRIPT),
    "graphiql.min.css": ("vendor/graphiql.min.css", CSS),
    "plugin-explorer.umd.js": ("vendor/plugin-explorer.umd.js", JAVASCRIPT),
    "plugin-explorer.css": ("vendor/plugin-explorer.css", CSS),
    "mount.js": ("mount.js", JAVASCRIPT),
    "page.css": ("page.css", CSS),
}
"""Each name served, with its file (relative to this package) and content type."""
CACHE_FOREVER = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str


class GraphiQLAssets:
    """The files of `FILES`, read from `directory` once, and the route that answers them."""

    def __init__(self, directory: Path = HERE) -> None:
        self.files = {
            name: Asset((directory / path).read_bytes(), content_type) for name, (path, content_type) in FILES.items()
        }
        self.version = version_of(self.files)
        self.url = f"{ASSETS_PATH}{self.version}"
        """Where the files are, for the page: `<url>/<name>`."""

    def route(self) -> Route:
        return Route(ASSETS_PATH + "{version}/{name}", self.endpoint, methods=["GET"])

    async def endpoint(self, request: Request) -> Response:
        version, name = request.path_params["version"], request.path_params["name"]
        asset = self.files.get(name)
        if asset is None or version != self.version:
            return _not_found(version, name, self.version)
        return Response(asset.body, media_type=asset.content_type, headers={"cache-control": CACHE_FOREVER})


def version_of(files: dict[str, Asset]) -> str:
    """A digest of every file's name and content: it changes whenever any file does."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(f"{name}\0{len(files[name].body)}\0".encode())
        digest.update(files[name].body)
    return digest.hexdigest()[:16]


def _not_found(version: str, name: str, current: str) -> JSONResponse:
    """A 404 that says what exists (the name and version asked for cut short: they echo the client)."""
    if version != current:
        message = f"no GraphiQL assets of version {version[:40]!r}: this service's are under {ASSETS_PATH}{current}/"
    else:
        message = f"no GraphiQL asset named {name[:100]!r}; there are: {', '.join(sorted(FILES))}"
    return JSONResponse({"errors": [{"message": message}]}, status_code=404)
