"""The page limit of bulk reads itself, 10,000, seen with a cost limit high enough not to stop it first (a
store of its own: the module of `tests.api.test_bulk_pages` holds its store for all its tests)."""

from __future__ import annotations

from pathlib import Path

from graphsvc.api.limits import MAX_BULK_FIRST
from graphsvc.config import Settings
from tests.api.test_bulk_pages import REFS, page, refused, serve
from tests.api.test_graphql import data, gql


def test_with_a_higher_cost_limit_a_page_holds_ten_thousand_and_no_more(
    store_settings: Settings, tmp_path: Path
) -> None:
    generous = store_settings.model_copy(update={"query_max_cost": 100_000})
    with serve(generous, tmp_path) as (http, _):
        answer = data(http, page("ref name", MAX_BULK_FIRST))["entities"]
        assert [edge["node"]["ref"] for edge in answer["edges"]] == REFS
        refusal = gql(http, page("ref", MAX_BULK_FIRST + 1))
        assert [error["message"] for error in refusal["errors"]] == [refused(MAX_BULK_FIRST + 1, MAX_BULK_FIRST)]
