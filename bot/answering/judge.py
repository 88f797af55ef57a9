"""The answer decision: from the ranked hits of a question, an answer, suggestions, or none."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from bot.search import Hit
from bot.search.index import SearchIndex

ANSWER_CONFIDENCE = 0.45
"""From this confidence the best candidate is shown as the answer."""
SUGGEST_CONFIDENCE = 0.3
"""From this confidence up to ``ANSWER_CONFIDENCE`` candidates are offered as leads."""


@dataclass(frozen=True, slots=True)
class Pick:
    """A card Plume shows: a FAQ entry, resource, catalogue item or library."""

    type: str  # faq / resource / item / library
    id: str
    title: str
    score: float
    media_type: str | None = None

    @classmethod
    def of(cls, hit: Hit, score: float | None = None) -> Pick:
        return cls(
            hit.type, hit.id, hit.title, hit.score if score is None else score, hit.media_type
        )


@dataclass(frozen=True, slots=True)
class Verdict:
    kind: Literal["answer", "suggest", "none"]
    searched: str
    confidence: float
    answer: Pick | None = None
    others: list[Pick] = field(default_factory=list)
    results: list[Pick] = field(default_factory=list)


def judge(
    question: str, hits: list[Hit], index: SearchIndex | None, *, see_also: int = 3
) -> Verdict:
    """Answer, suggest or say "I don't know" for ``question`` given its ranked ``hits``."""
    results = [Pick.of(hit) for hit in hits]
    if not results:
        return Verdict("none", question, 0.0)
    confidence = results[0].score
    if confidence >= ANSWER_CONFIDENCE:
        others = [p for p in results[1 : 1 + see_also] if p.score >= SUGGEST_CONFIDENCE]
        return Verdict("answer", question, confidence, results[0], others, results)
    leads = [p for p in results[:see_also] if p.score >= SUGGEST_CONFIDENCE]
    if leads:
        return Verdict("suggest", question, confidence, None, leads, results)
    return Verdict("none", question, confidence, None, [], results)
