"""The answer decision: from the ranked candidates of a question, an answer, leads, or none.

Two signals meet here. The lexical score of each hit (``bot.search.index``: how much of the
question the document covers, how much of its title the question covers, rare words over
common ones, whole words over completions, creators, media hints and the question's shape,
all in one 0..1 score) and, for FAQ entries and resources, the semantic similarity of the
question to the entry's phrasings (``bot.answering.semantic``). They are fused::

    confidence = LEXICAL_WEIGHT × lexical + SEMANTIC_WEIGHT × semantic     (FAQ, resources)
    confidence = lexical                                                   (items)

where ``semantic`` is the cosine similarity mapped to 0..1 between ``SEMANTIC_FLOOR`` and
``SEMANTIC_CEILING``. The best candidate is the answer from ``SURE_CONFIDENCE``, or from
``ANSWER_CONFIDENCE`` when it is ahead of the second by ``ANSWER_MARGIN`` (two close
candidates are offered side by side rather than one of them, often the wrong one, as the
answer); otherwise the candidates from ``SUGGEST_CONFIDENCE`` are offered as leads; when
there is none, Plume says it does not know. A FAQ entry or resource that only the meaning
finds (no word in common, e.g. an English question) can still be the answer when its
similarity is very high (``SEMANTIC_ALONE``) or far above any other's (``CLEAR_NEAREST``).
A catalogue item whose whole title is in the question, when that title is distinctive (its
words are rare in everyday French and English, by ``wordfreq``: "Okapi", not "Le fils"), is
worth ``DISTINCT_FLOOR`` however much else the question says ("Mon fils adore Okapi, vous
l'avez dans le kiosque ?"). The values were tuned on ``bench/questions-tuning*.jsonl``,
which have unanswerable questions, so that a wrong answer costs more than a withheld one
(README, "How answers are chosen"; ``bench/tune_judge.py``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from bot.search import Hit
from bot.search.index import WHOLE_MATCH
from bot.search.lexicon import WORD_RE, default_lexicon, fold

LEXICAL_WEIGHT = 0.75
SEMANTIC_WEIGHT = 0.25
SEMANTIC_FLOOR = 0.4
"""Cosine similarity that counts as nothing (unrelated sentences score 0.1-0.4)."""
SEMANTIC_CEILING = 0.7
"""Cosine similarity that counts fully (a paraphrase)."""
SEMANTIC_ALONE = 0.6
"""What a perfect semantic match is worth without any word in common."""
ANSWER_CONFIDENCE = 0.5
"""From this confidence the best candidate is shown as the answer when it is ahead of the
second by ``ANSWER_MARGIN``."""
SURE_CONFIDENCE = 0.6
"""From this confidence the best candidate is the answer whatever the second scores."""
ANSWER_MARGIN = 0.15
"""Between ``ANSWER_CONFIDENCE`` and ``SURE_CONFIDENCE``, how far ahead of the second the best
candidate must be to be the answer: closer, both are leads. On the tuning sets (both) this
takes wrong answers from 5.0% to 3.9% of the questions for 0.8% fewer right ones, and
raises honest "I don't know" from 92.6% to 94.1% (``bench/tune_judge.py``)."""
SUGGEST_CONFIDENCE = 0.1
"""From this confidence, when there is no answer, the best three candidates are offered as
leads: a lead costs the patron one look, and the right card is among them far more often
than not (``questions-tuning2``: shown in top 3 from 76% with leads from 0.3 to 86%)."""
SEE_ALSO_CONFIDENCE = 0.2
"""From this confidence, candidates are offered as "see also" beside an answer."""
SEMANTIC_CANDIDATES = 3
QUESTION_ITEM_FACTOR = 0.7
"""A question shaped as one ("comment...", "je peux...", "est-ce que...", "qui a le droit..."),
or a long message, asks about the service more than for a title: items weigh this much."""
FAQ_MIN_COVERAGE = 0.6
"""Like ``ITEM_MIN_COVERAGE``, for FAQ entries and resources (the semantic signal makes up
for situational phrasings)."""
LONG_QUESTION_WORDS = 10
_QUESTION_START_RE = re.compile(
    r"^(comment|pourquoi|quand|combien|qui|quoi|ou|est ce qu|est ce que|je peux|puis je|"
    r"peut on|on peut|peux tu|pouvez vous|j ai|je n|je ne|il faut|faut il|y a t il|"
    r"how|why|when|can i|do i|is it|are there|what)\b"
)
AGREEMENT = 0.5
"""When both signals point at the same FAQ entry or resource, its confidence is also at least
1 − (1 − lexical)(1 − AGREEMENT × semantic): two weak but independent clues make a sure one."""
ITEM_MIN_COVERAGE = 0.75
"""A catalogue item that matches less of the question than this is not an answer by itself:
its lexical confidence is scaled by (coverage / ITEM_MIN_COVERAGE)² ("horaires de la piscine"
matches an album "La piscine" by half)."""
BOTH_FIRST = 0.5
"""A FAQ entry or resource that both signals rank first (the best of the words among the
FAQ entries and resources, the only documents the meaning ranks, and the nearest in
meaning) is worth at least this, with ``BOTH_FIRST_LEXICAL`` and
``BOTH_FIRST_COSINE`` as the least evidence from each: two independent rankings agreeing
on one of some fifty entries is rarely chance, even when each score alone is weak (a
situation told in the patron's words: "mon mari m'a offert une Kindle...")."""
BOTH_FIRST_LEXICAL = 0.05
BOTH_FIRST_COSINE = 0.5
CLEAR_NEAREST = 0.6
"""A FAQ entry or resource far nearer in meaning than any other (a cosine of at least
``CLEAR_NEAREST_COSINE``, ``CLEAR_NEAREST_LEAD`` ahead of the next) is worth at least this, an
answer: "Can my 8 year old have his own account?" is 0.64 from the entry on who may use the
service and 0.38 from the next, with no French word in common."""
CLEAR_NEAREST_COSINE = 0.5
CLEAR_NEAREST_LEAD = 0.2
READINGS_WEIGHT = 0.7
"""A long message is read several ways (whole, sentence by sentence, its known words alone);
a document's confidence for the message is this × the sum of its confidences in the
readings: what several parts of the story point at wins over what one short sentence
matches by a word ("C'est vrai ?" ending a story about the driving test is no song). On the
tuning sets' long messages (48): right answers 22 → 22, shown in top 3 25 → 33, wrong
answers 8 → 4, against the best single reading (the rule before); 0.6 gave 18, 32 and 1,
0.8 23, 33 and 6."""
READING_CANDIDATES = 10
COMMON_WORD_FACTOR = 0.5
"""A question whose one meaningful word is a common one ("on est quel jour") makes no item
answer: its lexical confidence is multiplied by this (a lead at most)."""


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
class Similar:
    """A document the semantic signal found, with its cosine similarity to the question."""

    type: str
    id: str
    title: str
    media_type: str | None
    cosine: float


@dataclass(frozen=True, slots=True)
class Params:
    lexical_weight: float = LEXICAL_WEIGHT
    semantic_weight: float = SEMANTIC_WEIGHT
    semantic_floor: float = SEMANTIC_FLOOR
    semantic_ceiling: float = SEMANTIC_CEILING
    semantic_alone: float = SEMANTIC_ALONE
    answer: float = ANSWER_CONFIDENCE
    sure: float = SURE_CONFIDENCE
    answer_margin: float = ANSWER_MARGIN
    suggest: float = SUGGEST_CONFIDENCE
    see_also: float = SEE_ALSO_CONFIDENCE
    item_min_coverage: float = ITEM_MIN_COVERAGE
    common_word_factor: float = COMMON_WORD_FACTOR
    agreement: float = AGREEMENT
    question_item_factor: float = QUESTION_ITEM_FACTOR
    faq_min_coverage: float = FAQ_MIN_COVERAGE
    both_first: float = BOTH_FIRST
    both_first_lexical: float = BOTH_FIRST_LEXICAL
    both_first_cosine: float = BOTH_FIRST_COSINE
    clear_nearest: float = CLEAR_NEAREST
    clear_nearest_cosine: float = CLEAR_NEAREST_COSINE
    clear_nearest_lead: float = CLEAR_NEAREST_LEAD


DEFAULT = Params()


@dataclass(frozen=True, slots=True)
class Verdict:
    kind: Literal["answer", "suggest", "none"]
    searched: str
    confidence: float
    answer: Pick | None = None
    others: list[Pick] = field(default_factory=list)
    results: list[Pick] = field(default_factory=list)


def _semantic(cosine: float, params: Params) -> float:
    span = params.semantic_ceiling - params.semantic_floor
    return min(1.0, max(0.0, (cosine - params.semantic_floor) / span))


def question_shaped(question: str) -> bool:
    """ "comment...", "je peux...", "est-ce que...", or a long message: asks about the service."""
    words = WORD_RE.findall(fold(question))
    return len(words) >= LONG_QUESTION_WORDS or bool(_QUESTION_START_RE.match(" ".join(words)))


DISTINCT_ZIPF = 4.5
"""A title of several words is distinctive when each of them is rarer than this in everyday
French and English (Zipf frequency, ``wordfreq``: 3 is a word seen once in a million, 6 once
in a thousand): "Les cahiers d'Esther" (4.0, 3.6), not "Western Stars" (5.0, 4.9)."""
DISTINCT_ONE_ZIPF = 3.0
"""The same for a title of one word, stricter: "Okapi" (2.6), "Le Grinch" (2.9), not
"Télérama" (3.0), "Mangas" (3.5), "Offline" (3.7) or "Robot" (4.2), words a question may use
for what they mean."""
DISTINCT_FLOOR = 0.6
"""What a distinctive title found whole in a question is worth (``SURE_CONFIDENCE``): "Mon fils
de 10 ans adore Okapi, vous l'avez dans le kiosque ?" names the magazine, however much else it
says."""
DISTINCT_MIN_COVERAGE = 0.3
"""…as long as the title is a fair share of the question (not one name in a long story)."""


@functools.lru_cache(maxsize=4096)
def distinct_title(title: str) -> bool:
    """Whether a title is made of words rare in everyday French and English ("Okapi",
    "Le Grinch"), so that finding it whole in a question names it, whatever else the
    question says; not "Le fils", "Jour", "Cinéma"."""
    zipf = _zipf()
    if zipf is None:
        return False
    stop = default_lexicon().stop
    words = WORD_RE.findall(title.split(" / ")[0].lower())
    meaningful = [w for w in words if len(w) >= 3 and not w.isdigit() and fold(w) not in stop]
    if not meaningful:
        return False
    limit = DISTINCT_ZIPF if len(meaningful) > 1 else DISTINCT_ONE_ZIPF
    return all(_everyday_frequency(zipf, w) < limit for w in meaningful)


@functools.cache
def _zipf() -> Callable[[str, str], float] | None:
    try:
        from wordfreq import zipf_frequency
    except ImportError:  # a dependency; without it no title counts as distinctive
        return None

    def zipf(word: str, language: str) -> float:
        # the "small" lists (the 30,000-odd commonest words, 21 MB for both) say what is
        # common; a word they lack is rare
        return float(zipf_frequency(word, language, wordlist="small"))

    return zipf


EVERYDAY_ZIPF = 4.0
"""A word at least this frequent in everyday French or English is a word, not a typo of a
name ("proche" is not "Roche", "vert" not "Verte")."""


def _everyday_frequency(zipf: Callable[[str, str], float], word: str) -> float:
    """How common a word is in everyday French or English, whichever is more (Zipf)."""
    return max(zipf(word, "fr"), zipf(word, "en"))


def everyday_word(word: str) -> bool:
    zipf = _zipf()
    return zipf is not None and _everyday_frequency(zipf, word) >= EVERYDAY_ZIPF


def warm_word_frequencies() -> None:
    """Imports ``wordfreq`` and reads its French and English lists (at start, not on the
    first question about a title)."""
    zipf = _zipf()
    if zipf is not None:
        zipf("bonjour", "fr")
        zipf("hello", "en")


def lexical_confidence(hit: Hit, params: Params = DEFAULT, shaped: bool = False) -> float:
    """The lexical score, discounted where the words alone make no answer."""
    score = hit.score
    if hit.type == "item":
        if hit.coverage < params.item_min_coverage:
            score *= (hit.coverage / params.item_min_coverage) ** 2
        if hit.common_only:
            score *= params.common_word_factor
        if shaped:
            score *= params.question_item_factor
    elif hit.coverage < params.faq_min_coverage:
        score *= (hit.coverage / params.faq_min_coverage) ** 2
    return score


def fuse(
    hits: Sequence[Hit],
    similar: Sequence[Similar],
    params: Params = DEFAULT,
    shaped: bool = False,
) -> list[Pick]:
    """The candidates of both signals with their fused confidence, best first."""
    cosine = {(s.type, s.id): s.cosine for s in similar}
    nearest = max(similar, key=lambda s: s.cosine, default=None)
    # with no second to compare with (a catalogue of one entry), nothing is clearly nearest
    runner_up = max((s.cosine for s in similar if s is not nearest), default=None)
    # the one entry far nearer in meaning than any other (``CLEAR_NEAREST``), if there is one
    clear: tuple[str, str] | None = None
    if (
        nearest is not None
        and runner_up is not None
        and nearest.cosine >= params.clear_nearest_cosine
        and nearest.cosine - runner_up >= params.clear_nearest_lead
    ):
        clear = (nearest.type, nearest.id)
    lexical = [lexical_confidence(hit, params, shaped) for hit in hits]
    named = [
        i
        for i, hit in enumerate(hits)
        if hit.type == "item"
        and hit.title_coverage >= WHOLE_MATCH
        and hit.coverage >= DISTINCT_MIN_COVERAGE
        and not hit.common_only
        and distinct_title(hit.title)
    ]
    if named:
        top = max(named, key=lambda i: hits[i].score)
        if all(hits[i].score < hits[top].score for i in named if i != top):
            lexical[top] = max(lexical[top], DISTINCT_FLOOR)
    # the best of the words among the documents the meaning ranks too (FAQ entries and
    # resources): a title ahead in words ("noël" in a question about a Kindle) is no
    # ranking of the entries, so it does not hide their agreement
    first = max(
        (i for i, hit in enumerate(hits) if hit.type != "item"),
        key=lexical.__getitem__,
        default=None,
    )
    picks: dict[tuple[str, str], Pick] = {}
    for position, (hit, score) in enumerate(zip(hits, lexical, strict=True)):
        key: tuple[str, str] = (hit.type, hit.id)
        if key in cosine:
            semantic = _semantic(cosine[key], params)
            both_first = (
                position == first
                and nearest is not None
                and key == (nearest.type, nearest.id)
                and score >= params.both_first_lexical
                and nearest.cosine >= params.both_first_cosine
            )
            score = max(
                params.lexical_weight * score + params.semantic_weight * semantic,
                params.semantic_alone * semantic,
                1 - (1 - score) * (1 - params.agreement * semantic),
                params.both_first if both_first else 0.0,
                params.clear_nearest if key == clear else 0.0,
            )
        picks[key] = Pick.of(hit, score)
    for found in similar[:SEMANTIC_CANDIDATES]:
        key = (found.type, found.id)
        if key not in picks:
            score = params.semantic_alone * _semantic(found.cosine, params)
            if key == clear:
                score = max(score, params.clear_nearest)
            if score > 0:
                picks[key] = Pick(found.type, found.id, found.title, score, found.media_type)
    return sorted(picks.values(), key=lambda p: -p.score)


def answers(results: Sequence[Pick], params: Params = DEFAULT) -> bool:
    """Whether the best of ``results`` (fused, best first) is sure enough to be the answer."""
    if not results:
        return False
    best = results[0].score
    second = results[1].score if len(results) > 1 else 0.0
    return best >= params.sure or (best >= params.answer and best - second >= params.answer_margin)


def judge(
    question: str,
    hits: Sequence[Hit],
    similar: Sequence[Similar] = (),
    *,
    see_also: int = 3,
    params: Params = DEFAULT,
    shaped: bool = False,
) -> Verdict:
    """Answer, suggest or say "I don't know" for ``question`` given its candidates.

    ``shaped``: the message ``question`` comes from is shaped as a question (a sentence of a
    long message is: "C'est vrai ?" at the end of a story asks about the service, not for
    the song of that title).
    """
    results = fuse(hits, similar, params, shaped or question_shaped(question))
    return verdict_of(question, results, see_also=see_also, params=params)


def verdict_of(
    question: str, results: list[Pick], *, see_also: int = 3, params: Params = DEFAULT
) -> Verdict:
    """The decision on candidates already fused and ranked, best first."""
    if not results:
        return Verdict("none", question, 0.0)
    confidence = results[0].score
    if answers(results, params):
        others = [p for p in results[1 : 1 + see_also] if p.score >= params.see_also]
        return Verdict("answer", question, confidence, results[0], others, results)
    leads = [p for p in results[:see_also] if p.score >= params.suggest]
    if leads:
        return Verdict("suggest", question, confidence, None, leads, results)
    return Verdict("none", question, confidence, None, [], results)


def message_results(readings: Sequence[Verdict], weight: float = READINGS_WEIGHT) -> list[Pick]:
    """The candidates of a long message from those of its readings (the whole message, each
    sentence, its known words): a document's confidence is ``weight`` × the sum of its
    confidences in the readings (at most 1), best first."""
    sums: dict[tuple[str, str], float] = {}
    picks: dict[tuple[str, str], Pick] = {}
    for reading in readings:
        for pick in reading.results[:READING_CANDIDATES]:
            key = (pick.type, pick.id)
            sums[key] = sums.get(key, 0.0) + pick.score
            picks.setdefault(key, pick)
    ranked = sorted(sums, key=lambda key: -sums[key])
    return [
        Pick(picks[key].type, picks[key].id, picks[key].title, min(1.0, weight * sums[key]),
             picks[key].media_type)
        for key in ranked
    ]  # fmt: skip
