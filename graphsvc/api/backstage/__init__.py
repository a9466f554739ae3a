"""A Backstage-compatible REST catalog API under /api/catalog (`routes.backstage_routes`).

Backstage's `CatalogClient`, its front end and anything else written against Backstage's catalog backend can
read this catalog as they read Backstage's: the same endpoints, parameters, response shapes, status codes and
error bodies, checked against answers recorded from the real Backstage (tests/api/test_backstage_rest.py).
"""

from graphsvc.api.backstage.routes import backstage_routes

__all__ = ["backstage_routes"]
