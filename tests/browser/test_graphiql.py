"""GraphiQL in a real browser with the network closed: headless Chromium loads /graphql from a real
`catalog serve`, every file it needs comes from that server, a query typed into the editor is run with the
run button, and the result pane shows the catalog's answer.

`GRAPHIQL_SCREENSHOT=docs/graphiql.png` saves the page with its result (the README's picture).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from graphsvc.api.graphiql.page import EXAMPLES
from tests.browser.chromium import Browser, Page
from tests.browser.conftest import ClosedServer
from tests.torture.processes import Server

QUERY_EDITOR = ".graphiql-query-editor .CodeMirror"
HEADERS_EDITOR = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"
RESULT = ".graphiql-response .CodeMirror"
RUN_BUTTON = ".graphiql-execute-button"
OWNER_OVER_TIME = """query CheckoutServiceOwners {
  april: entity(
    ref: "component:checkout-service"
    asOf: "2026-04-01T00:00:00Z"
  ) {
    owner { ref }
  }
  now: entity(ref: "component:checkout-service") {
    owner {
      ref
      ... on Group { members { name } }
    }
  }
}"""


def open_graphiql(page: Page, server: Server) -> None:
    """The page as on a first visit (nothing kept from an earlier test), once GraphiQL has mounted."""
    page.forget(server.url)
    page.open(f"{server.url}/graphql")
    page.wait_for(f"!!document.querySelector({json.dumps(QUERY_EDITOR)})", "GraphiQL's query editor")


def editor_text(page: Page, selector: str) -> str:
    return str(page.evaluate(f"document.querySelector({json.dumps(selector)}).CodeMirror.getValue()"))


def set_query(page: Page, query: str, operation: str) -> None:
    """The query editor's text, once GraphiQL has parsed it: the run button runs the operation GraphiQL
    picked last, which for a moment after the text changes is still one of the text before. GraphiQL saves
    its tab, with the operation it picked, in local storage once it has parsed the text: that is waited for."""
    set_editor_text(page, QUERY_EDITOR, query)
    page.wait_for(
        f"""(() => {{ const state = JSON.parse(localStorage.getItem("graphiql:tabState") || "null");
            const tab = state && state.tabs[state.activeTabIndex];
            return !!tab && tab.query === {json.dumps(query)}
                && tab.operationName === {json.dumps(operation)}; }})()""",
        f"GraphiQL to parse the query (operation {operation})",
    )


def set_editor_text(page: Page, selector: str, text: str) -> None:
    page.evaluate(f"document.querySelector({json.dumps(selector)}).CodeMirror.setValue({json.dumps(text)})")


def run(page: Page) -> Any:
    """Press the run button; the result pane's new text, as JSON."""
    before = editor_text(page, RESULT)
    page.click(RUN_BUTTON)
    return shown_result(page, unlike=before)


def shown_result(page: Page, unlike: str = "") -> Any:
    """The result pane's text, as JSON, once it shows one other than `unlike`."""
    shown = page.wait_for(
        f"""(() => {{ const text = document.querySelector({json.dumps(RESULT)}).CodeMirror.getValue();
            return text && text !== {json.dumps(unlike)} ? text : null; }})()""",
        "a result in the result pane",
    )
    return json.loads(shown)


def foreign_requests(page: Page, server: Server) -> list[str]:
    """Requests for anything but the server's own URLs (`data:` URLs, e.g. fonts in the CSS, go nowhere)."""
    return [url[:200] for url in page.requests() if not url.startswith((f"{server.url}/", "data:"))]


def test_graphiql_runs_a_query_with_the_network_closed(browser: Browser, demo_server: Server) -> None:
    with browser.page() as page:
        open_graphiql(page, demo_server)
        set_query(page, OWNER_OVER_TIME, "CheckoutServiceOwners")

        result = run(page)

        assert result == {
            "data": {
                "april": {"owner": {"ref": "group:default/payments-core"}},
                "now": {
                    "owner": {
                        "ref": "group:default/checkout-team",
                        "members": [
                            {"name": "ethan.brooks"},
                            {"name": "isabela.costa"},
                            {"name": "pieter.de.vries"},
                            {"name": "zainab.ali"},
                        ],
                    }
                },
            }
        }
        assert foreign_requests(page, demo_server) == []
        assert page.errors() == []
        if os.environ.get("GRAPHIQL_SCREENSHOT"):
            page.click(".graphiql-sidebar button[aria-label='Show GraphiQL Explorer']")
            page.wait_for("!!document.querySelector('.graphiql-explorer-root')", "the explorer plugin")
            page.screenshot(Path(os.environ["GRAPHIQL_SCREENSHOT"]))


def test_the_first_tab_holds_the_example_queries(browser: Browser, demo_server: Server) -> None:
    with browser.page() as page:
        open_graphiql(page, demo_server)
        assert editor_text(page, QUERY_EDITOR) == EXAMPLES.read_text(encoding="utf-8")


def test_the_explorer_plugin_lists_the_schemas_fields(browser: Browser, demo_server: Server) -> None:
    with browser.page() as page:
        open_graphiql(page, demo_server)
        page.click(".graphiql-sidebar button[aria-label='Show GraphiQL Explorer']")
        fields = page.wait_for(
            """(() => { const names = Array.from(document.querySelectorAll('.graphiql-explorer-field-view'))
                .map(e => e.textContent.trim()); return names.length ? names : null; })()""",
            "the explorer's list of fields",
        )
        assert {"entity", "entities", "changes", "graphDiff"} <= set(fields)
        assert page.errors() == []


def test_a_bearer_token_set_in_the_headers_editor_reaches_a_closed_service(
    browser: Browser, closed_server: ClosedServer
) -> None:
    server = closed_server.server
    with browser.page() as page:
        open_graphiql(page, server)  # the page and its files need no credentials
        refused = shown_result(page)  # GraphiQL asked for the schema, without credentials
        set_query(page, 'query Storefront { entity(ref: "component:storefront") { ref owner { ref } } }', "Storefront")

        page.click(".graphiql-editor-tools button", "Headers")
        set_editor_text(page, HEADERS_EDITOR, json.dumps({"Authorization": f"Bearer {closed_server.token}"}))
        answered = run(page)

        assert [error["extensions"]["code"] for error in refused["errors"]] == ["UNAUTHENTICATED"]
        assert answered == {
            "data": {"entity": {"ref": "component:default/storefront", "owner": {"ref": "group:default/web-team"}}}
        }
        assert foreign_requests(page, server) == []


def test_the_browser_reaches_no_host_but_this_machine(browser: Browser) -> None:
    """The harness itself: a page that loaded its files from a CDN would fail to, here, as with no network."""
    with browser.page() as page:
        for url in ["https://unpkg.com/react@18.2.0/umd/react.production.min.js", "http://93.184.215.14/"]:
            assert page.navigation_error(url).startswith("net::ERR_")
