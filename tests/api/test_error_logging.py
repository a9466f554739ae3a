"""What the schema logs about errors: a client's bad input is one INFO line without a traceback (tested against
a real service in test_request_log.py); an unexpected error, one caused by an exception of ours, keeps its
traceback, so that a bug is not lost in one line."""

from __future__ import annotations

import asyncio
import logging

import pytest

from graphsvc.api.schema import schema


class BrokenContext:
    """A context whose store is gone: any resolver that reads raises an exception nobody expected."""

    def __getattr__(self, name: str) -> object:
        raise AttributeError(f"the context has no {name} (a bug)")


def test_an_unexpected_error_is_logged_with_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        result = asyncio.run(schema.execute('{ entity(ref: "component:x") { ref } }', context_value=BrokenContext()))
    assert result.errors and "a bug" in result.errors[0].message
    [record] = [
        r for r in caplog.records if "a bug" in r.getMessage() or (r.exc_info and "a bug" in str(r.exc_info[1]))
    ]
    assert record.levelno == logging.ERROR and record.exc_info is not None
