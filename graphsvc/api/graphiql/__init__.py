"""GraphiQL at /graphql that works offline: the page (`page`) and its files (`assets`), served from the
installed package (`vendor/` holds GraphiQL, React and the explorer plugin; `scripts/update-graphiql` updates
them)."""

from graphsvc.api.graphiql.assets import ASSETS_PATH, GraphiQLAssets
from graphsvc.api.graphiql.page import GraphiQLPage

__all__ = ["ASSETS_PATH", "GraphiQLAssets", "GraphiQLPage"]
