from __future__ import annotations

import time

import pytest

from bot.search import ANSWER_THRESHOLD, SearchIndex

GARBAGE = [
    "",
    " ",
    "asdfgh qwerty",
    "🙂🙂🙂🔥",
    "你好",
    "Привет как дела",
    "مرحبا",
    "!!!???...",
    "\x00\x1b[31m",
    "a" * 4096,
    "harry potter " * 400,
    " ".join(f"mot{i}" for i in range(1000)),
    "é" * 4096,
    "'; DROP TABLE items; --",
    "\ud800 broken surrogate",
]


@pytest.mark.parametrize("query", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_is_safe_quick_and_weak(index: SearchIndex, query: str) -> None:
    started = time.perf_counter()
    hits = index.search(query)
    elapsed = time.perf_counter() - started
    assert elapsed < 0.2
    if "harry" not in query:
        assert not hits or hits[0].score < ANSWER_THRESHOLD


def test_empty_index_answers_nothing() -> None:
    empty = SearchIndex.build([])
    assert empty.search("harry potter") == []
    assert len(empty) == 0
