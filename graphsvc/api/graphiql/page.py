"""The GraphiQL page: `page.html` with the paths of its files (`graphsvc.api.graphiql.assets`) and a first
tab of example queries against the catalog (`examples.graphql`).

The page loads nothing but the service's own files, and its Content-Security-Policy says so to the browser:
scripts, styles and requests from this origin only (GraphiQL's CSS inlines its fonts as `data:` URLs, and its
components add style elements, which styles may do but scripts may not). There is no inline script
(`mount.js` mounts GraphiQL), and the examples are in an HTML attribute, which no browser executes. The page
is never cached (`no-cache`), so a browser always learns the current assets' version.
"""

from __future__ import annotations

import html
from pathlib import Path
from string import Template

from starlette.responses import HTMLResponse

HERE = Path(__file__).parent
EXAMPLES = HERE / "examples.graphql"
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",  # GraphiQL's components add <style> elements of their own
        "font-src 'self' data:",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)


class GraphiQLPage:
    """The page for assets under `assets_url`, rendered once."""

    def __init__(self, assets_url: str) -> None:
        self.html = render(assets_url, EXAMPLES.read_text(encoding="utf-8"))

    def response(self) -> HTMLResponse:
        headers = {"content-security-policy": CONTENT_SECURITY_POLICY, "cache-control": "no-cache"}
        return HTMLResponse(self.html, headers=headers)


def render(assets_url: str, default_query: str) -> str:
    """`page.html` filled in: both values escaped for HTML, the query for an attribute's value."""
    template = Template((HERE / "page.html").read_text(encoding="utf-8"))
    return template.substitute(assets=html.escape(assets_url), default_query=html.escape(default_query))
