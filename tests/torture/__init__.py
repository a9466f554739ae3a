"""The torture suite: `kill -9` during syncs, readers during syncs, in process and over HTTP.

Every test here checks a property the SQLite store promises (graphsvc/store/sqlite_backend.py,
graphsvc/sync.py): a sync is one transaction, so a store killed at any moment holds the state before the
sync or the state after it, and a reader sees one of the two, never a mix. The code that builds catalogs,
reference stores, normalized states and reader probes lives in the helper modules, so that the long mode
(`bench/run_torture.py`) runs exactly the same checks with larger counts.

| module | what it holds |
|---|---|
| `catalogs.py` | catalog version A (generated) and version B (changed, removed, added, one invalid entity) |
| `states.py` | a store's state with instants and run ids normalized, compared row by row; the present state |
| `processes.py` | the real `catalog` command: ingest, check, serve (subprocesses) |
| `references.py` | reference stores after clean ingests of A, of B over A, and of B again |
| `crash.py` | one `kill -9` trial and what it found; a series of them |
| `readers.py` | reader probes with expected answers for A and B, in process and over GraphQL/HTTP |
| `concurrency.py` | readers during repeated syncs: in the service's process, and against `catalog serve` |

The tests:
- `test_crash.py`: after each of 20 kills, the store opens, `catalog check` passes, the state is A's or B's
  row by row, the killed run is not left `running`, and a re-run of the ingest reaches B's state;
- `test_concurrent_readers.py`: 4 reader threads during 6 syncs; every answer A's or B's, `check()` clean,
  the present the last version synced;
- `test_http_readers.py`: 6 GraphQL clients during 6 `refresh` mutations; every response A's or B's, no
  GraphQL errors, `catalog check` clean;
- `test_store_reads.py`: a commit placed between the statements of one plain read: the answer is one state;
- `test_store_upgrade.py`: a store written while tag rows came from a trigger still syncs;
- `test_suite_can_fail.py`: the comparisons catch corrupted stores and syncs that commit in pieces, and
  still match stores whose instants and run ids all differ.

Counts can be raised with `TORTURE_KILLS`, `TORTURE_READERS`, `TORTURE_HTTP_CLIENTS`, `TORTURE_SYNCS` and
`TORTURE_ENTITIES`; every random draw derives from `TORTURE_SEED`.
"""
