"""What the search indexes: one ``Document`` per FAQ entry, resource or catalogue item.

The ``*_document`` functions are the one place where database rows and CSV rows become
documents; the database loader and the benchmarks both go through them.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any, Literal, NamedTuple, TypeAlias

DocType = Literal["faq", "resource", "item"]

_BRACKETS_RE = re.compile(r"\[[^\]]*\]|\([^)]*\)")


class Field(IntEnum):
    """Where a word was found; the lower the value, the more a match there counts."""

    TITLE = 0
    CREATOR = 1
    KEYWORDS = 2
    DESCRIPTION = 3
    GENRES = 4
    YEAR = 5
    BODY = 6


FIELD_WEIGHTS: dict[Field, float] = {
    Field.TITLE: 1.0,
    Field.CREATOR: 0.9,
    Field.KEYWORDS: 0.85,
    Field.DESCRIPTION: 0.55,
    Field.GENRES: 0.5,
    Field.YEAR: 0.5,
    Field.BODY: 0.3,
}


@dataclass(frozen=True, slots=True)
class Document:
    """One searchable thing. Text fields are plain strings; lists are tuples of strings."""

    type: DocType
    id: str
    title: str  # item title, FAQ question, resource name
    media_type: str | None = None
    resource_id: str | None = None
    alternatives: tuple[str, ...] = ()  # other phrasings of a FAQ question
    keywords: tuple[str, ...] = ()  # resource keywords
    creator: str = ""
    genres: tuple[str, ...] = ()
    year: int | None = None
    description: str = ""  # resource description
    body: str = ""  # FAQ answer, resource access conditions: weighs little


#: a catalogue row by column name (SQLAlchemy's RowMapping, whose keys may also be columns)
RowData: TypeAlias = Mapping[Any, Any]


def _text(row: RowData, key: str) -> str:
    value = row.get(key)
    return "" if value is None else str(value).strip()


def _split(value: str, separator: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(separator) if part.strip())


def _year(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(str(value).strip()[:4])
    except ValueError:
        return None


def resource_document(row: RowData) -> Document:
    """A document from a resource row (``id, media_type, name, description, access, keywords``)."""
    return Document(
        type="resource",
        id=_text(row, "id"),
        title=_text(row, "name"),
        media_type=_text(row, "media_type") or None,
        resource_id=_text(row, "id"),
        keywords=_split(_text(row, "keywords"), ";"),
        description=_text(row, "description"),
        body=_text(row, "access"),
    )


def faq_document(row: RowData, media_of_resource: Mapping[str, str]) -> Document:
    """A document from a FAQ row (``id, question, answer, alternatives, resource_id``).

    Its media type is the one of its resource, when it has one.
    """
    resource_id = _text(row, "resource_id") or None
    return Document(
        type="faq",
        id=_text(row, "id"),
        title=_text(row, "question"),
        media_type=media_of_resource.get(resource_id) if resource_id else None,
        resource_id=resource_id,
        alternatives=_split(_text(row, "alternatives"), "|"),
        body=_text(row, "answer"),
    )


def item_document(row: RowData) -> Document:
    """A document from an item row (``id, resource_id, media_type, title, creator, year...``)."""
    return Document(
        type="item",
        id=_text(row, "id"),
        title=_text(row, "title"),
        media_type=_text(row, "media_type") or None,
        resource_id=_text(row, "resource_id") or None,
        creator=_text(row, "creator"),
        genres=_split(_text(row, "genres"), ";"),
        year=_year(row.get("year")),
    )


class Row(NamedTuple):
    texts: list[tuple[str, Field]]
    boost: float = 1.0  # how much a full match of this row is worth, at most 1


ALTERNATIVE_BOOST = 0.97
KEYWORD_BOOST = 0.94


def document_rows(document: Document) -> list[Row]:
    """The texts of a document, by field, grouped in the rows the index scores apart.

    A FAQ entry gives one row for its question (with its answer and alternatives) and one
    per alternative phrasing; a resource one for its name and texts and one per keyword;
    an item one row.
    A match is judged against the row's own title, so a short alternative that a question
    matches fully counts as a full match.

    A catalogue title often carries its statement of responsibility after `` / ``
    ("Le dimanche des mères / Graham Swift ; traduit de l'anglais..."): that part is
    searched like the creator, so that it neither dilutes nor pads the title.
    """
    if document.type == "item":
        main, _, responsibility = document.title.partition(" / ")
        texts = [(_BRACKETS_RE.sub(" ", main), Field.TITLE)]
        creator = _BRACKETS_RE.sub(" ", document.creator)
        if creator.strip():
            texts.append((creator, Field.CREATOR))
        if responsibility:
            texts.append((responsibility, Field.CREATOR))
        texts.extend((genre, Field.GENRES) for genre in document.genres)
        if document.year:
            texts.append((str(document.year), Field.YEAR))
        return [Row(texts)]
    if document.type == "faq":
        question = Row([(document.title, Field.TITLE), (document.body, Field.BODY)])
        # The question row also knows every phrasing, so that a patron's words spread
        # over several alternatives still meet in one row.
        question.texts.extend((alt, Field.KEYWORDS) for alt in document.alternatives)
        alternatives = [
            Row([(alt, Field.TITLE)], ALTERNATIVE_BOOST) for alt in document.alternatives
        ]
        return [question, *alternatives]
    texts = [
        (document.title, Field.TITLE),
        (document.description, Field.DESCRIPTION),
        (document.body, Field.BODY),
    ]
    texts.extend((keyword, Field.KEYWORDS) for keyword in document.keywords)
    keywords = [Row([(keyword, Field.TITLE)], KEYWORD_BOOST) for keyword in document.keywords]
    return [Row(texts), *keywords]


def documents_from_rows(
    resources: Iterable[RowData] = (),
    faq: Iterable[RowData] = (),
    items: Iterable[RowData] = (),
) -> Iterator[Document]:
    """Documents from plain rows (dicts, CSV rows, SQL row mappings): resources first."""
    media_of_resource: dict[str, str] = {}
    for row in resources:
        document = resource_document(row)
        if document.media_type:
            media_of_resource[document.id] = document.media_type
        yield document
    for row in faq:
        yield faq_document(row, media_of_resource)
    for row in items:
        yield item_document(row)


def _csv_rows(path: Path) -> Iterator[dict[str, str]]:
    if not path.exists():
        return
    with path.open(encoding="utf-8-sig", newline="") as handle:
        yield from csv.DictReader(handle)


def documents_from_csv_dir(directory: Path) -> Iterator[Document]:
    """Documents of ``resources.csv``, ``faq.csv`` and ``items.csv`` in Plume's import format."""
    return documents_from_rows(
        _csv_rows(directory / "resources.csv"),
        _csv_rows(directory / "faq.csv"),
        _csv_rows(directory / "items.csv"),
    )
