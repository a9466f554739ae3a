"""The response cache keeps answers for exactly the commit they were read at (graphsvc.api.response_cache)."""

from __future__ import annotations

import pytest

from graphsvc.api.response_cache import ENTRY_BYTES, Answer, ResponseCache, entry_size

KIB = 1024
ONE_KIB = Answer(b"x" * KIB)


@pytest.mark.parametrize(
    ("puts", "get", "found"),
    [
        ([(5, "a")], (5, "a"), True),  # the same request at the same commit
        ([(5, "a")], (5, "b"), False),  # another request
        ([(5, "a")], (6, "a"), False),  # a newer commit: the answer may have changed
        ([(5, "a")], (4, "a"), False),  # an older snapshot: the state it reads is not the one kept
        ([(5, "a"), (6, "b")], (5, "a"), False),  # a newer commit's answer empties the cache
        ([(6, "b"), (5, "a")], (5, "a"), False),  # an answer of an older commit, put late, is not kept
        ([(6, "b"), (5, "a")], (6, "b"), True),  # ... and does not displace the newer ones
        ([(None, "a")], (None, "a"), False),  # a store that cannot name its commit: nothing is kept
    ],
)
def test_an_answer_is_found_only_at_the_commit_it_was_read_at(
    puts: list[tuple[int | None, str]], get: tuple[int | None, str], found: bool
) -> None:
    cache = ResponseCache(64 * 1024)
    for commit, key in puts:
        cache.put(commit, key, ONE_KIB, KIB)
    assert (cache.get(*get) is ONE_KIB) is found


def test_the_least_recently_used_answers_go_first_once_the_room_is_full() -> None:
    cache = ResponseCache(4 * 1024)  # four answers of 1 KiB
    for key in "abcd":
        cache.put(1, key, ONE_KIB, KIB)
    assert cache.get(1, "a") is ONE_KIB  # a is used again: b is now the least recently used
    cache.put(1, "e", ONE_KIB, KIB)
    assert [key for key in "abcde" if cache.get(1, key) is not None] == ["a", "c", "d", "e"]


def test_an_answer_larger_than_a_quarter_of_the_room_is_not_kept_and_none_is_with_no_room() -> None:
    cache = ResponseCache(4 * 1024 - 1)
    cache.put(1, "a", ONE_KIB, KIB)
    assert cache.get(1, "a") is None
    disabled = ResponseCache(0)
    disabled.put(1, "a", Answer(b""), 1)
    assert disabled.get(1, "a") is None and len(disabled) == 0


def test_hits_and_misses_are_counted() -> None:
    cache = ResponseCache(64 * 1024)
    cache.get(1, "a")
    cache.put(1, "a", ONE_KIB, KIB)
    cache.get(1, "a")
    cache.get(1, "a")
    assert (cache.hits, cache.misses) == (2, 1)


def test_an_entry_takes_room_for_its_answer_its_key_texts_and_its_own_objects() -> None:
    assert (
        entry_size(b"12345", "/api/catalog/entities", "filter=kind=component", b"", None) == 5 + 21 + 21 + ENTRY_BYTES
    )
