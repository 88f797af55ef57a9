"""The search index: an inverted index of French terms over FAQ entries, resources and items.

Scoring, for a question whose meaningful words ("slots") each weigh their inverse document
frequency (BM25's idf), and for one row (see ``documents.document_rows``):

* query coverage: the weighted share of the slots found in the row, each counted by the
  field it was found in (title 1, creator 0.9, keywords 0.85, ... answer 0.3) and by how
  it was found (the word itself 1, a related word 0.6, a typo 0.5-0.8, a completion);
* title coverage: the weighted share of the row's title (or, nearly as good, of its
  creator) that the question found, so that "Enfantillages" beats "10 ans
  d'enfantillages" for "album enfantillages aldebert";
* priors: FAQ answers first, then resources, then items when the question looks like a
  question, and resources well before items when it only names a kind of media ("ya des
  mangas ?"); documents of the media type the question asks for ("des films de...") first.

Question words ("comment", "combien", "how"...), recency words ("le dernier Astérix") and,
in a question, numbers ("mon fils de 10 ans") weigh little; an English word of a question
is read as its French counterpart first (``english.txt``).

score = query coverage × (0.7 + 0.3 × title coverage) × row boost × priors, always in
0..1 and comparable across questions: ``ANSWER_THRESHOLD`` tells a match from noise.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import repeat

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA

from bot.search.analysis import Analyzer, QueryToken
from bot.search.documents import FIELD_WEIGHTS, DocType, Document, Field, document_rows
from bot.search.lexicon import Lexicon, default_lexicon
from bot.search.packed import PackedStrings, PackedStringsBuilder
from bot.search.vocabulary import Vocabulary

#: "online" words, which say nothing of what is asked in a digital offer (their terms are
#: the lexicon's: ``SearchIndex._online_terms``)
ONLINE_WORDS = ("ligne", "online", "numérique", "streaming", "stream", "internet")
ANSWER_THRESHOLD = 0.45
"""From this score the best hit is an answer: the bot gives it."""
SUGGEST_THRESHOLD = 0.3
"""From this score up to ``ANSWER_THRESHOLD`` hits are leads ("did you mean...?"); below
it nothing matches well and the bot says so (or hands over to a librarian)."""

MAX_QUERY_CHARS = 300
MAX_QUERY_TOKENS = 12
MAX_FUZZY_TOKENS = 8
MIN_JOINED_PART = 3  # "spiderman" is read "spider man", "lahaut" stays one word
FUZZY_BELOW_DF = 3  # a word this rare in the index may be a typo of a commoner one

SOFT_WEIGHT = 0.3  # question words ("comment", "combien"...)
MEDIA_WORD_WEIGHT = 0.6  # "film" in "des films de Kurosawa": mostly tells the media type
UNKNOWN_WEIGHT = 0.5  # share of the rarest word's weight for a word found nowhere
TRANSLATED_WORD_QUALITY = 0.9  # "free" for "Free" once read as "gratuit"
TITLE_SHARE = 0.3
COMMON_WORD_SHARE = 0.7  # a word weighing less than this share of the rarest one is common
COMPLETION_OF_KNOWN_WORD = 0.6  # quality factor of completions of a word the index knows
TITLE_TIE_SHARE = 0.2
PHRASE_PART_FIELD = Field.DESCRIPTION  # "livre" inside "livre numérique" (read "ebook")

DOC_TYPES: tuple[DocType, ...] = ("faq", "resource", "item")
TYPE_PRIOR = np.array([1.0, 0.97, 0.93], dtype=np.float32)
QUESTION_TYPE_PRIOR = np.array([1.0, 0.93, 0.85], dtype=np.float32)
CATEGORY_TYPE_PRIOR = np.array([1.0, 1.0, 0.6], dtype=np.float32)
CATEGORY_FLOOR = 0.5  # least score of a resource of the media a question names alone
_RESOURCE_CODE = DOC_TYPES.index("resource")
_ITEM_CODE = DOC_TYPES.index("item")
MEDIA_MATCH, MEDIA_NONE, MEDIA_OTHER = 1.0, 0.9, 0.8
#: question words ("comment", "combien") this long or longer are recognised with a typo
MIN_MISTYPED_QUESTION_WORD = 5
#: an elided article or pronoun glued to the word after it (l', d', j', m', t', s', n', qu')
_ELIDED_RE = re.compile(r"^(qu|[ldjmtsn])([aeiouyh][a-z]{2,})$")
WHOLE_MATCH = 0.999  # a coverage this close to 1 is whole (float32 sums)

_UNIQUE_TEXT_FIELDS = frozenset({Field.TITLE, Field.DESCRIPTION, Field.BODY})
_PHRASE_PART_CODE = int(PHRASE_PART_FIELD)
_FIELD_WEIGHT = np.array([FIELD_WEIGHTS[f] for f in Field], dtype=np.float32)


@dataclass(frozen=True, slots=True)
class Hit:
    type: DocType
    id: str
    title: str
    score: float
    media_type: str | None = None
    resource_id: str | None = None
    # What the answer decision reads beside the score (``bot.answering.judge``):
    coverage: float = 1.0  # weighted share of the question the document matched
    title_coverage: float = 1.0  # weighted share of its title (or creator) the question found
    common_only: bool = False  # the question's one meaningful word is a common one


class IndexBuilder:
    """Collects documents into compact arrays; ``finish()`` makes the ``SearchIndex``.

    Postings are kept in ``array`` buffers (4 or 1 bytes each), never as Python objects,
    so that a million items fit in a few hundred megabytes.
    """

    def __init__(
        self, lexicon: Lexicon | None = None, *, term_ids: dict[str, int] | None = None
    ) -> None:
        """``term_ids``: the terms of an existing index, so that new terms come after them."""
        self._analyzer = Analyzer(lexicon)
        self._term_ids: dict[str, int] = dict(term_ids) if term_ids else {}
        self._post_term = array("i")
        self._post_row = array("i")
        self._post_field = array("B")
        self._row_parent = array("i")
        self._row_boost = array("f")
        self._parent_type = array("B")
        self._parent_media = array("B")
        self._media_names: list[str] = [""]
        self._ids = PackedStringsBuilder()
        self._titles = PackedStringsBuilder()
        self._resource_ids = PackedStringsBuilder()
        self._repeated: dict[
            str, tuple[list[int], list[int]]
        ] = {}  # creators and genres come back often

    @property
    def lexicon(self) -> Lexicon:
        return self._analyzer.lexicon

    def _term_id(self, term: str) -> int:
        term_id = self._term_ids.get(term)
        if term_id is None:
            term_id = self._term_ids[term] = len(self._term_ids)
        return term_id

    def _analyse(self, text: str) -> tuple[list[int], list[int]]:
        terms, parts = self._analyzer.terms_and_parts(text)
        return [self._term_id(t) for t in terms], [self._term_id(t) for t in parts]

    def _term_ids_of(self, text: str, field: Field) -> tuple[list[int], list[int]]:
        """Term ids of a text, and of the words inside its synonym phrases."""
        if field in _UNIQUE_TEXT_FIELDS:
            return self._analyse(text)
        found = self._repeated.get(text)
        if found is None:
            if len(self._repeated) > 500_000:
                self._repeated.clear()
            found = self._repeated[text] = self._analyse(text)
        return found

    def _media_code(self, media_type: str | None) -> int:
        if not media_type:
            return 0
        if media_type not in self._media_names:
            self._media_names.append(media_type)
        return self._media_names.index(media_type)

    def add(self, document: Document) -> None:
        parent = len(self._parent_type)
        self._parent_type.append(DOC_TYPES.index(document.type))
        self._parent_media.append(self._media_code(document.media_type))
        self._ids.append(document.id)
        self._titles.append(document.title)
        self._resource_ids.append(document.resource_id or "")
        for row in document_rows(document):
            row_id = len(self._row_parent)
            self._row_parent.append(parent)
            self._row_boost.append(row.boost)
            best: dict[int, int] = {}
            for text, field in row.texts:
                if not text:
                    continue
                terms, parts = self._term_ids_of(text, field)
                code = int(field)
                for term_id in terms:
                    if best.get(term_id, 99) > code:
                        best[term_id] = code
                code = max(code, _PHRASE_PART_CODE)
                for term_id in parts:
                    if best.get(term_id, 99) > code:
                        best[term_id] = code
            self._post_term.extend(best.keys())
            self._post_field.extend(best.values())
            self._post_row.extend(repeat(row_id, len(best)))

    def add_all(self, documents: Iterable[Document]) -> None:
        for document in documents:
            self.add(document)

    def written_words(self) -> dict[str, int]:
        """The folded written words seen so far that are their own term, with its id:
        the vocabulary of typo tolerance and completion."""
        return {
            word: self._term_ids[info.term]
            for word, info in self._analyzer.known.items()
            if info.term is not None
            and info.term == info.stem
            and len(word) >= 3
            and word.isalpha()
            and info.term in self._term_ids
        }

    def soft_term_ids(self) -> set[int]:
        """Ids of the terms of question words ("comment", "combien"...) seen so far."""
        return {
            self._term_ids[info.term]
            for info in self._analyzer.known.values()
            if info.soft and info.term and info.term in self._term_ids
        }

    def segment(self) -> Segment:
        """What was added so far, as arrays (postings unsorted, in the order added)."""
        return Segment(
            term_ids=self._term_ids,
            post_term=np.frombuffer(self._post_term, dtype=np.int32).copy(),
            post_row=np.frombuffer(self._post_row, dtype=np.int32).copy(),
            post_field=np.frombuffer(self._post_field, dtype=np.uint8).copy(),
            row_parent=np.frombuffer(self._row_parent, dtype=np.int32).copy(),
            row_boost=np.frombuffer(self._row_boost, dtype=np.float32).copy(),
            parent_type=np.frombuffer(self._parent_type, dtype=np.uint8).copy(),
            parent_media=np.frombuffer(self._parent_media, dtype=np.uint8).copy(),
            media_names=tuple(self._media_names),
            ids=self._ids.finish(),
            titles=self._titles.finish(),
            resource_ids=self._resource_ids.finish(),
            written=self.written_words(),
            soft_terms=self.soft_term_ids(),
        )

    def finish(self) -> SearchIndex:
        # Imported here: the live index builds on this module.
        from bot.search.live import LiveIndex

        return LiveIndex.from_segment(self._analyzer.lexicon, self.segment()).index


@dataclass(frozen=True, slots=True)
class Segment:
    """Documents turned into arrays by an ``IndexBuilder``, before sorting."""

    term_ids: dict[str, int]
    post_term: np.ndarray
    post_row: np.ndarray
    post_field: np.ndarray
    row_parent: np.ndarray
    row_boost: np.ndarray
    parent_type: np.ndarray
    parent_media: np.ndarray
    media_names: tuple[str, ...]
    ids: PackedStrings
    titles: PackedStrings
    resource_ids: PackedStrings
    written: dict[str, int]
    soft_terms: set[int]


def assemble_index(
    *,
    lexicon: Lexicon,
    term_ids: dict[str, int],
    offsets: np.ndarray,
    post_rows: np.ndarray,
    post_fields: np.ndarray,
    live_rows: int,
    soft_terms: Iterable[int],
    row_parent: np.ndarray,
    row_boost: np.ndarray,
    parent_type: np.ndarray,
    parent_media: np.ndarray,
    media_names: tuple[str, ...],
    ids: PackedStrings,
    titles: PackedStrings,
    resource_ids: PackedStrings,
    written: dict[str, int],
) -> SearchIndex:
    """The ``SearchIndex`` of sorted postings (``offsets`` by term id): weights derived here.

    Terms without postings (the words of documents since removed) are left out, and rows
    without postings (removed documents) count for nothing: an index updated in place
    scores exactly as one built afresh from the same documents.
    """
    df = np.diff(offsets).astype(np.int32)
    idf = np.log1p((live_rows - df + 0.5) / (df + 0.5)).astype(np.float32)
    term_weight = idf
    soft = np.fromiter(soft_terms, dtype=np.int64)
    if len(soft):
        term_weight[soft] *= SOFT_WEIGHT
    term_weight[df == 0] = 0.0
    row_count = len(row_parent)
    # each row's title and creator weights side by side (column 0 the title's, 1 the
    # creator's), in one pass over the postings in their order: each posting's term weight
    # (the weights repeated along the sorted postings, read in order rather than gathered),
    # nothing for the other fields (a row's sums are the same as over its title and creator
    # postings alone, in the same order)
    posting_weight = np.repeat(term_weight, df)
    posting_weight[post_fields > Field.CREATOR] = 0.0
    weights = np.bincount(
        post_rows.astype(np.int64) * 2 + (post_fields == Field.CREATOR),
        weights=posting_weight,
        minlength=2 * row_count,
    ).reshape(row_count, 2)
    del posting_weight
    title_weight = weights[:, 0].astype(np.float32)
    creator_weight = weights[:, 1].astype(np.float32)
    del weights
    dead = np.flatnonzero(df == 0)
    if len(dead):
        term_ids = dict(term_ids)
        names = {int(t) for t in dead}
        for term in [term for term, term_id in term_ids.items() if term_id in names]:
            del term_ids[term]
        written = {word: term for word, term in written.items() if term not in names}
    return SearchIndex(
        lexicon=lexicon,
        term_ids=term_ids,
        offsets=offsets,
        post_rows=post_rows,
        post_fields=post_fields,
        term_weight=term_weight,
        document_frequency=df,
        row_parent=row_parent,
        row_boost=row_boost,
        row_title_weight=title_weight,
        row_creator_weight=creator_weight,
        row_type=parent_type[row_parent],
        row_media=parent_media[row_parent],
        parent_type=parent_type,
        parent_media=parent_media,
        media_names=media_names,
        ids=ids,
        titles=titles,
        resource_ids=resource_ids,
        vocabulary=Vocabulary(written, df),
    )


@dataclass(frozen=True, slots=True)
class _Slot:
    weight: float  # what the slot is worth in the query
    variants: list[tuple[int, float]]  # (term id, quality)
    media: bool = False  # a media word ("film", "magazine")


@dataclass(frozen=True, slots=True)
class _Query:
    slots: list[_Slot]
    media_type: str | None  # the media type the question asks for
    priors: np.ndarray  # by document type
    category: bool  # the question only names a kind of media
    common_only: bool = False  # one meaningful word, and a common one ("on est quel jour")


class SearchIndex:
    """An immutable index; ``search`` may run in several threads at once."""

    def __init__(
        self,
        *,
        lexicon: Lexicon,
        term_ids: dict[str, int],
        offsets: np.ndarray,
        post_rows: np.ndarray,
        post_fields: np.ndarray,
        term_weight: np.ndarray,
        document_frequency: np.ndarray,
        row_parent: np.ndarray,
        row_boost: np.ndarray,
        row_title_weight: np.ndarray,
        row_creator_weight: np.ndarray,
        row_type: np.ndarray,
        row_media: np.ndarray,
        parent_type: np.ndarray,
        parent_media: np.ndarray,
        media_names: tuple[str, ...],
        ids: PackedStrings,
        titles: PackedStrings,
        resource_ids: PackedStrings,
        vocabulary: Vocabulary,
    ) -> None:
        self._lexicon = lexicon
        self._online_terms = frozenset(t for w in ONLINE_WORDS for t in lexicon.canonical(w))
        self._question_words = tuple(
            sorted(w for w in lexicon.soft if len(w) >= MIN_MISTYPED_QUESTION_WORD and w.isalpha())
        )
        self._analyzer = Analyzer(lexicon, cache_limit=100_000)
        self._term_ids = term_ids
        self._offsets = offsets
        self._post_rows = post_rows
        self._post_fields = post_fields
        self._term_weight = term_weight
        self._df = document_frequency
        self._row_parent = row_parent
        self._row_boost = row_boost
        self._row_title_weight = row_title_weight
        self._row_creator_weight = row_creator_weight
        self._row_type = row_type
        self._row_media = row_media
        self._parent_type = parent_type
        self._parent_media = parent_media
        self._media_names = media_names
        self._ids = ids
        self._titles = titles
        self._resource_ids = resource_ids
        self._vocabulary = vocabulary
        self._max_weight = float(term_weight.max(initial=1.0))
        self._unknown_weight = UNKNOWN_WEIGHT * self._max_weight

    @classmethod
    def build(cls, documents: Iterable[Document], lexicon: Lexicon | None = None) -> SearchIndex:
        builder = IndexBuilder(lexicon or default_lexicon())
        builder.add_all(documents)
        return builder.finish()

    def reading(
        self,
        *,
        offsets: np.ndarray,
        post_rows: np.ndarray,
        post_fields: np.ndarray,
        row_parent: np.ndarray,
        row_boost: np.ndarray,
        parent_type: np.ndarray,
        parent_media: np.ndarray,
        ids: PackedStrings,
        titles: PackedStrings,
        resource_ids: PackedStrings,
    ) -> SearchIndex:
        """This index reading its postings and rows from other arrays holding the same
        values (the memory-mapped copies of a snapshot it was saved in): the weights and the
        vocabulary derived from them are kept, not worked out again. That they are this
        index's is the caller's to check (``LiveIndex.mapped`` does, array by array)."""
        return SearchIndex(
            lexicon=self._lexicon,
            term_ids=self._term_ids,
            offsets=offsets,
            post_rows=post_rows,
            post_fields=post_fields,
            term_weight=self._term_weight,
            document_frequency=self._df,
            row_parent=row_parent,
            row_boost=row_boost,
            row_title_weight=self._row_title_weight,
            row_creator_weight=self._row_creator_weight,
            row_type=self._row_type,
            row_media=self._row_media,
            parent_type=parent_type,
            parent_media=parent_media,
            media_names=self._media_names,
            ids=ids,
            titles=titles,
            resource_ids=resource_ids,
            vocabulary=self._vocabulary,
        )

    def __len__(self) -> int:
        """Number of documents."""
        return len(self._parent_type)

    @property
    def row_count(self) -> int:
        return len(self._row_parent)

    @property
    def term_count(self) -> int:
        return len(self._term_ids)

    @property
    def nbytes(self) -> int:
        """Approximate memory of the arrays (not of the vocabulary dictionaries)."""
        arrays = (
            self._offsets, self._post_rows, self._post_fields, self._term_weight, self._df,
            self._row_parent, self._row_boost, self._row_title_weight, self._row_creator_weight,
            self._row_type,
            self._row_media, self._parent_type, self._parent_media,
        )  # fmt: skip
        strings = self._ids.nbytes + self._titles.nbytes + self._resource_ids.nbytes
        return sum(a.nbytes for a in arrays) + strings

    def _variants(self, token: QueryToken, complete: bool, fuzzy: bool) -> list[tuple[int, float]]:
        best: dict[int, float] = {}
        exact = self._term_ids.get(token.term)
        if exact is not None:
            best[exact] = 1.0
        # An English word of a question means its French counterpart first ("free" is
        # "gratuit"), and itself a little less, for the catalogue's English titles.
        for french in self._lexicon.translations.get(token.term, ()):
            term_id = self._term_ids.get(french)
            if term_id is not None:
                if exact is not None:
                    best[exact] = TRANSLATED_WORD_QUALITY
                best[term_id] = 1.0
        related_terms = () if token.soft else self._lexicon.related.get(token.term, ())
        for related, quality in related_terms:
            term_id = self._term_ids.get(related)
            if term_id is not None and best.get(term_id, 0.0) < quality:
                best[term_id] = quality
        word = token.surface
        if word and word.isalpha():
            found: list[tuple[int, float]] = []
            if fuzzy and (exact is None or self._df[exact] < FUZZY_BELOW_DF):
                found.extend(self._vocabulary.typos(word))
            if complete and len(word) >= 3:
                # a whole word the index knows beats its completions ("jour" is not
                # "journal"), which stay for the abbreviated title ("science et vie jun")
                factor = 1.0 if exact is None else COMPLETION_OF_KNOWN_WORD
                found.extend((t, q * factor) for t, q in self._vocabulary.completions(word))
            for term_id, quality in found:
                if best.get(term_id, 0.0) < quality:
                    best[term_id] = quality
        return list(best.items())

    def _split_joined(self, tokens: tuple[QueryToken, ...]) -> tuple[QueryToken, ...]:
        """Words written as one that the catalogue writes as two ("spiderman" for
        "Spider-Man", "harrypotter"): a word the index does not know, made of two words it
        does (each of ``MIN_JOINED_PART`` letters or more), is read as those two."""
        if all(self._term_ids.get(t.term) is not None or not t.surface for t in tokens):
            return tokens
        out: list[QueryToken] = []
        for token in tokens:
            word = token.surface
            if (
                word is None
                or token.soft
                or len(word) < 2 * MIN_JOINED_PART
                or not word.isalpha()
                or token.term in self._term_ids
                or token.term in self._lexicon.translations
            ):
                out.append(token)
                continue
            elided = self._elided(word)
            if elided is not None:
                out.append(elided)
                continue
            mistyped = self._mistyped_question_word(word)
            if mistyped is not None:
                out.append(mistyped)
                continue
            # a typo of a known word ("asterics") is that word, not two others
            if self._vocabulary.typos(word):
                out.append(token)
                continue
            out.extend(self._joined_parts(word) or (token,))
        return tuple(out)

    def _mistyped_question_word(self, word: str) -> QueryToken | None:
        """A question word typed with one letter wrong, missing, extra or swapped ("combein",
        "pourqoi", "cmment"): the question word, even where the index has a word as close
        ("comment" in a FAQ question is a word of the index, but a question word in a
        question)."""
        if len(word) < MIN_MISTYPED_QUESTION_WORD:
            return None
        found = process.extractOne(
            word,
            [w for w in self._question_words if w[0] == word[0]],
            scorer=OSA.distance,
            score_cutoff=1,
        )
        if found is None:
            return None
        terms = self._analyzer.terms(found[0])
        return QueryToken(terms[0], found[0], True) if len(terms) == 1 else None

    def _elided(self, word: str) -> QueryToken | None:
        """A word typed without the apostrophe of its elided article or pronoun ("latelier",
        "sinscrire", "lappli", "dabonnement"): the word after it, when the index knows it."""
        match = _ELIDED_RE.match(word)
        if match is None:
            return None
        rest = match.group(2)
        terms = self._analyzer.terms(rest)
        if len(terms) != 1:
            return None
        token = QueryToken(terms[0], rest, False)
        # the word after it is one the index has, or a form or a typo of one ("japprends")
        return token if self._variants(token, complete=False, fuzzy=True) else None

    def _joined_parts(self, word: str) -> tuple[QueryToken, ...]:
        best: tuple[QueryToken, ...] = ()
        best_weight = 0.0
        for cut in range(MIN_JOINED_PART, len(word) - MIN_JOINED_PART + 1):
            parts = []
            titles: list[np.ndarray] = []
            for part in (word[:cut], word[cut:]):
                terms = self._analyzer.terms(part)
                term_id = self._term_ids.get(terms[0]) if len(terms) == 1 else None
                if term_id is None:
                    break
                weight = float(self._term_weight[term_id])
                parts.append((QueryToken(terms[0], part, False), weight))
                rows, fields = self._postings(term_id)
                titles.append(rows[fields == Field.TITLE])
            else:
                # the two words must stand together in some title ("Spider-Man"): a French
                # word the catalogue lacks ("entrainer") is not "ent" and "rainer"
                if not len(np.intersect1d(titles[0], titles[1], assume_unique=False)):
                    continue
                # of several cuts, the one whose weaker word is the rarer
                weakest = min(w for _, w in parts)
                if weakest > best_weight:
                    best, best_weight = tuple(t for t, _ in parts), weakest
        return best

    def _slots(self, query: str) -> _Query:
        """The slots of a question, the media type it asks for, and how to weigh types."""
        analysis = self._analyzer.analyze_query(query[:MAX_QUERY_CHARS])
        tokens = self._split_joined(analysis.tokens)[:MAX_QUERY_TOKENS]
        media_terms = self._lexicon.media_terms
        question_like = analysis.question_like
        content = [t for t in tokens if not t.soft and t.term not in media_terms]
        if (
            content
            and all(t.term in self._online_terms for t in content)
            and any(t.term in media_terms for t in tokens)
        ):
            # the whole offer is online: "des cours en ligne ?", "magazines online?" name a
            # kind of media, as "des cours ?" does
            tokens = tuple(
                QueryToken(t.term, t.surface, True) if t in content else t for t in tokens
            )
            content = []
        # In a question, a number is mostly a quantity or an age ("mon fils de 10 ans",
        # "plus de 3 livres"): it weighs like a question word when other words say more.
        soft_numbers = question_like and any(not t.term.isdigit() for t in content)
        has_content = any(not (soft_numbers and t.term.isdigit()) for t in content)
        has_subject = has_content or any(not t.soft for t in tokens)
        slots = []
        last = len(tokens) - 1
        for position, token in enumerate(tokens):
            variants = self._variants(
                token,
                complete=analysis.open_end and position == last,
                fuzzy=position < MAX_FUZZY_TOKENS,
            )
            if variants:
                weight = self._slot_base(variants)
            elif token.term in media_terms:
                weight = 0.0  # "fifa sur ps5": a media word nowhere in the index only hints
            else:
                weight = self._unknown_weight
            soft = token.soft or (soft_numbers and token.term.isdigit())
            if soft and has_subject:
                weight *= SOFT_WEIGHT
            elif token.term in media_terms and has_content:
                weight *= MEDIA_WORD_WEIGHT
            slots.append(_Slot(weight, variants, token.term in media_terms))
        # "ya des mangas ?" names a kind of media, not a title: its resource answers it
        # ("combien de films ?" asks about them: the FAQ does).
        category = has_subject and not has_content and not analysis.interrogative
        if category:
            priors = CATEGORY_TYPE_PRIOR
        elif question_like:
            priors = QUESTION_TYPE_PRIOR
        else:
            priors = TYPE_PRIOR
        meaningful = [
            slot
            for token, slot in zip(tokens, slots, strict=True)
            if not token.soft and token.term not in media_terms and slot.variants
        ]
        common_only = len(meaningful) == 1 and (
            self._slot_base(meaningful[0].variants) < COMMON_WORD_SHARE * self._max_weight
        )
        return _Query(slots, analysis.media_type, priors, category, common_only)

    def _slot_base(self, variants: list[tuple[int, float]]) -> float:
        """A slot weighs what its best-found form weighs (the word itself when it is known)."""
        quality = max(q for _, q in variants)
        return max(float(self._term_weight[t]) for t, q in variants if q == quality)

    def _postings(self, term_id: int) -> tuple[np.ndarray, np.ndarray]:
        start, end = self._offsets[term_id], self._offsets[term_id + 1]
        return self._post_rows[start:end], self._post_fields[start:end]

    def _accumulate(
        self, slots: list[_Slot]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """Per row: the weighted matches of the slots, the title and creator weights found,
        and the part of the matches that media words made (None without media words)."""
        size = self.row_count
        found = np.zeros(size, dtype=np.float32)
        in_title = np.zeros(size, dtype=np.float32)
        in_creator = np.zeros(size, dtype=np.float32)
        by_media: np.ndarray | None = None
        term_weight = self._term_weight
        for slot in slots:
            if not slot.variants:
                continue
            base = self._slot_base(slot.variants)
            scale = slot.weight / base
            single = len(slot.variants) == 1 and not slot.media
            if single:
                best, best_title, best_creator = found, in_title, in_creator
            else:
                best = np.zeros(size, dtype=np.float32)
                best_title = np.zeros(size, dtype=np.float32)
                best_creator = np.zeros(size, dtype=np.float32)
            for term_id, quality in slot.variants:
                rows, fields = self._postings(term_id)
                value = quality * min(float(term_weight[term_id]), base)
                contribution = (value * scale) * _FIELD_WEIGHT[fields]
                title_rows = rows[fields == Field.TITLE]
                creator_rows = rows[fields == Field.CREATOR]
                if single:
                    best[rows] += contribution
                    best_title[title_rows] += value
                    best_creator[creator_rows] += value
                    continue
                better = contribution > best[rows]
                best[rows[better]] = contribution[better]
                best_title[title_rows[best_title[title_rows] < value]] = value
                best_creator[creator_rows[best_creator[creator_rows] < value]] = value
            if not single:
                found += best
                in_title += best_title
                in_creator += best_creator
            if slot.media:
                by_media = best if by_media is None else by_media + best
        return found, in_title, in_creator, by_media

    @staticmethod
    def _cover(found: np.ndarray, weight: np.ndarray) -> np.ndarray:
        cover: np.ndarray = np.divide(
            found, weight, out=np.zeros(len(found), np.float32), where=weight > 0
        )
        np.minimum(cover, 1.0, out=cover)
        return cover

    def search(self, query: str, limit: int = 5, media_type: str | None = None) -> list[Hit]:
        """The best documents for ``query``, best first, with scores in 0..1.

        ``media_type`` keeps only documents of that media type; without it, the media type
        the question asks for only ranks those documents first.
        """
        if limit <= 0 or not query or not query.strip() or not self.row_count:
            return []
        analysed = self._slots(query)
        slots, wanted_media = analysed.slots, analysed.media_type
        total = sum(slot.weight for slot in slots)
        if not slots or total <= 0:
            return []
        found, in_title, in_creator, by_media = self._accumulate(slots)
        rows = np.flatnonzero(found)
        if media_type is not None:
            if media_type not in self._media_names:
                return []
            rows = rows[self._row_media[rows] == self._media_names.index(media_type)]
        if not len(rows):
            return []
        title_cover = self._cover(in_title[rows], self._row_title_weight[rows])
        creator_cover = self._cover(in_creator[rows], self._row_creator_weight[rows])
        named = any(slot.variants and not slot.media for slot in slots)
        hinted = np.zeros(len(rows), dtype=bool)
        hint = media_type is None and wanted_media in self._media_names
        if hint:
            hinted = self._row_media[rows] == self._media_names.index(wanted_media)
        matched = found[rows]
        if by_media is not None and named and hinted.any():
            # "le magazine L'Histoire": a magazine is what "magazine" asks for, whether or not
            # the word is in its record: for a work of the media the question names whose
            # whole title the question names, its media words count as found in full
            # ("ya des mangas ?" names no work; "how long can I keep an ebook" no title)
            media_weight = sum(slot.weight for slot in slots if slot.media)
            credited = hinted & (title_cover >= WHOLE_MATCH) & (self._row_type[rows] == _ITEM_CODE)
            matched = np.where(credited, matched - by_media[rows] + media_weight, matched)
        coverage = np.minimum(matched / total, 1.0)
        # A question that is a whole title and nothing else ("Chanson douce") names that
        # work: its media word is part of the title, not a hint against the novel.
        # (Not when it names only a media: "ya des mangas ?" asks for the e-books, not the album
        # "Manga".)
        whole_title = (title_cover >= WHOLE_MATCH) & (coverage >= WHOLE_MATCH) & named
        # Naming the creator fully is as precise as naming the title ("films de Kurosawa"),
        # but of two works of one creator the title that the question covers best wins.
        title_cover = (1 - TITLE_TIE_SHARE) * np.maximum(title_cover, creator_cover) + (
            TITLE_TIE_SHARE * title_cover
        )
        scores = coverage * ((1 - TITLE_SHARE) + TITLE_SHARE * title_cover)
        scores *= self._row_boost[rows] * analysed.priors[self._row_type[rows]]
        if hint:
            assert wanted_media is not None
            media = self._row_media[rows]
            code = self._media_names.index(wanted_media)
            factor = np.where(hinted, MEDIA_MATCH, np.where(media == 0, MEDIA_NONE, MEDIA_OTHER))
            scores *= np.where(whole_title, MEDIA_MATCH, factor).astype(np.float32)
            if analysed.category:
                # The resources of that media answer it, even through a weak related word
                # ("mangas" finds the e-books only as "bd").
                own = (media == code) & (self._row_type[rows] == _RESOURCE_CODE)
                scores[own] = CATEGORY_FLOOR + (1 - CATEGORY_FLOOR) * scores[own]
        return self._best_hits(
            rows, scores, limit, coverage, title_cover, common_only=analysed.common_only
        )

    def _best_hits(
        self,
        rows: np.ndarray,
        scores: np.ndarray,
        limit: int,
        coverage: np.ndarray,
        title_cover: np.ndarray,
        *,
        common_only: bool,
    ) -> list[Hit]:
        keep = min(len(rows), limit * 8 + 16)
        if keep < len(rows):
            top = np.argpartition(scores, len(rows) - keep)[len(rows) - keep :]
            rows, scores = rows[top], scores[top]
            coverage, title_cover = coverage[top], title_cover[top]
        order = np.lexsort((rows, self._row_title_weight[rows], -scores))
        hits: list[Hit] = []
        seen: set[int] = set()
        for position in order:
            parent = int(self._row_parent[rows[position]])
            if parent in seen:
                continue
            seen.add(parent)
            hits.append(
                self._hit(
                    parent,
                    float(scores[position]),
                    float(coverage[position]),
                    float(title_cover[position]),
                    common_only,
                )
            )
            if len(hits) == limit:
                break
        return hits

    def _hit(
        self,
        parent: int,
        score: float,
        coverage: float = 1.0,
        title_coverage: float = 1.0,
        common_only: bool = False,
    ) -> Hit:
        media = self._media_names[self._parent_media[parent]] or None
        return Hit(
            type=DOC_TYPES[self._parent_type[parent]],
            id=self._ids[parent],
            title=self._titles[parent],
            score=round(min(max(score, 0.0), 1.0), 4),
            media_type=media,
            resource_id=self._resource_ids[parent] or None,
            coverage=round(min(max(coverage, 0.0), 1.0), 4),
            title_coverage=round(min(max(title_coverage, 0.0), 1.0), 4),
            common_only=common_only,
        )

    def known_words(self, text: str) -> list[str]:
        """The words of ``text`` whose terms the index holds, in order (stop words out).

        A patron's story ("ma petite fille m'a offert une liseuse Kindle pour Noël...") is
        searched once more as these words alone ("liseuse kindle livres"): the words the
        catalogue never uses only dilute it.
        """
        words = self._lexicon.words(text[:MAX_QUERY_CHARS])
        known = []
        for word in words:
            terms = self._analyzer.terms(word)
            if terms and all(t in self._term_ids for t in terms):
                known.append(word)
        return known

    def explain_terms(self, query: str) -> list[tuple[str, float, list[str]]]:
        """For debugging: each slot's weight and the terms it looks for."""
        names = {v: k for k, v in self._term_ids.items()}
        slots = self._slots(query).slots
        return [
            (names.get(s.variants[0][0], "?") if s.variants else "?", s.weight,
             [f"{names[t]}:{q:.2f}" for t, q in s.variants])
            for s in slots
        ]  # fmt: skip
