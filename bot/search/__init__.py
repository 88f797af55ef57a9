"""Plume's search: one search over FAQ entries, resources and catalogue items, in French.

    index = SearchIndex.build(documents)
    hits = index.search("jai oublié mon mdp")   # [Hit(type="faq", id="faq-mdp", ...)]
    if hits and hits[0].score >= ANSWER_THRESHOLD: ...

The bot uses ``SearchService``, which builds the index from the database and follows
``catalogue_version``. Word knowledge (stop words, SMS spellings, synonyms, media words,
the English words of patrons) lives in the ``*.txt`` files of this package.
"""

from bot.search.analysis import detect_media_type, normalize
from bot.search.documents import (
    Document,
    documents_from_csv_dir,
    documents_from_rows,
    faq_document,
    item_document,
    resource_document,
)
from bot.search.index import (
    ANSWER_THRESHOLD,
    SUGGEST_THRESHOLD,
    Hit,
    IndexBuilder,
    SearchIndex,
)
from bot.search.loader import iter_row_batches, load_documents, read_catalogue_version
from bot.search.service import SearchService

__all__ = [
    "ANSWER_THRESHOLD",
    "SUGGEST_THRESHOLD",
    "Document",
    "Hit",
    "IndexBuilder",
    "SearchIndex",
    "SearchService",
    "detect_media_type",
    "documents_from_csv_dir",
    "documents_from_rows",
    "faq_document",
    "item_document",
    "iter_row_batches",
    "load_documents",
    "normalize",
    "read_catalogue_version",
    "resource_document",
]
