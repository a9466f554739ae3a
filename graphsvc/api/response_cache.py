"""Encoded answers kept for the store commit they were read at, so asking again is a dictionary lookup.

An answer is cached under (commit number, request key): the commit number is read inside the snapshot that
built the answer (`GraphStore.commit_number`), so an entry answers only requests that read the very same
committed state, and any write that changes something gives new numbers. The cache holds the answers of one
commit: the first request that reads a newer one empties it. Entries are dropped least recently used first once
their sizes (`entry_size`: answer, key texts and the entry itself) pass the limit (`response_cache_mib`; 0 keeps
nothing); an entry larger than a quarter of the limit is not kept. Only answers that depend on nothing but the
stored state and the request are put here: the Backstage REST API's reads (the same for every principal allowed
to read), as encoded `Answer`s, and GraphQL queries' results, as the JSON of their data
(`graphsvc.api.kept_answers`: keyed by principal too, never a mutation, an error or a clock-dependent answer).
One room holds both.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response


@dataclass(frozen=True)
class Answer:
    """An answer as sent: JSON body bytes, status, and the headers it adds (a next-page link)."""

    body: bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)

    def response(self) -> Response:
        return Response(self.body, status_code=self.status, headers=self.headers, media_type="application/json")


ENTRY_BYTES = 256
"""What an entry holds besides its key's and answer's bytes (the dictionary slot, the tuples, the objects'
headers), counted so that a flood of tiny answers cannot hold more than the room."""


def entry_size(answer: bytes, *key_parts: str | bytes | None) -> int:
    """The room an entry takes: its answer, the texts of its key, and ENTRY_BYTES. A request's own text is
    part of its key (a GraphQL document, a REST path and body), so a client sending long unique requests for
    tiny answers fills the room as fast as one asking for large answers."""
    return len(answer) + sum(len(part) for part in key_parts if part) + ENTRY_BYTES


class ResponseCache:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self._commit: int | None = None
        self._answers: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, commit: int | None, key: Hashable) -> Any:
        """The answer kept for `key` at exactly `commit`, if any (None commits are never cached)."""
        with self._lock:
            kept = self._answers.get(key) if commit is not None and commit == self._commit else None
            if kept is None:
                self.misses += 1
                return None
            self._answers.move_to_end(key)
            self.hits += 1
            return kept[0]

    def put(self, commit: int | None, key: Hashable, answer: Any, size: int) -> None:
        """Keep `answer`, read at `commit`, taking `size` bytes of the room (`entry_size`), unless an answer
        of a newer commit has been kept meanwhile (this one's snapshot began before that commit) or it is too
        large to be worth the room."""
        if commit is None or not self.max_bytes or size > self.max_bytes // 4:
            return
        with self._lock:
            if self._commit is not None and commit < self._commit:
                return
            if commit != self._commit:
                self._answers.clear()
                self._bytes = 0
                self._commit = commit
            previous = self._answers.pop(key, None)
            if previous is not None:
                self._bytes -= previous[1]
            self._answers[key] = (answer, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, dropped) = self._answers.popitem(last=False)
                self._bytes -= dropped

    def __len__(self) -> int:
        return len(self._answers)
