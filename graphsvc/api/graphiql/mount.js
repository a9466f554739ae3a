// Mounts GraphiQL, with the explorer plugin, on the page graphsvc/api/graphiql/page.html. A file, not an inline
// script, so that the page's Content-Security-Policy allows no script but the service's own files.
"use strict";

(function () {
  const root = document.getElementById("graphiql");
  const url = window.location.origin + window.location.pathname;
  const shared = new URLSearchParams(window.location.search);

  // The query and variables being edited are kept in the page's address (as Strawberry's page did), so a
  // link reopens them: ?q=...&variables=...
  function share(name, value) {
    const parameters = new URLSearchParams(window.location.search);
    if (value) {
      parameters.set(name, value);
    } else {
      parameters.delete(name);
    }
    const search = parameters.toString();
    window.history.replaceState(null, "", search ? "?" + search : window.location.pathname);
  }

  // Requests go to this same /graphql with the Headers editor's headers, e.g. {"Authorization": "Bearer cgt_..."}
  // (kept in the browser's local storage between visits: shouldPersistHeaders).
  const fetcher = GraphiQL.createFetcher({ url: url });

  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      plugins: [GraphiQLPluginExplorer.explorerPlugin()],
      defaultQuery: root.dataset.defaultQuery,
      query: shared.get("q") || undefined,
      variables: shared.get("variables") || undefined,
      onEditQuery: function (query) {
        share("q", query);
      },
      onEditVariables: function (variables) {
        share("variables", variables);
      },
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: true,
      inputValueDeprecation: true,
    }),
  );
})();
