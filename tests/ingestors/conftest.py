"""The reading policy the reader tests read under: their own directory, and the test HTTP servers.

Each test gets the policy a service configured with `reading.local_roots: [<the test's tmp_path>]` and
`reading.url_hosts: ["*", "127.0.0.1"]` would have, so messages name files relative to the test's directory
and `http_server` (on 127.0.0.1, which `*` alone never allows) can be read. The rules themselves are
specified in `test_reading_policy.py`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from graphsvc.config import ReadingSettings
from ingestors.reading_policy import ReadingPolicy

TEST_SERVER_HOSTS = ["*", "127.0.0.1"]


@pytest.fixture
def policy(tmp_path: Path) -> ReadingPolicy:
    return ReadingPolicy.from_settings(ReadingSettings(local_roots=[tmp_path], url_hosts=TEST_SERVER_HOSTS))
