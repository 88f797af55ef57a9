"""Sentence embeddings of the FAQ entries and resources, for the semantic search signal."""

from __future__ import annotations

from sqlalchemy import Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base


class Embedding(Base):
    """The vectors of one document's texts (a FAQ question and each alternative phrasing,
    a resource's name and description and each keyword), float16, one row a document.

    ``text_hash`` is the hash of the model name and the texts embedded: an import that
    changes nothing in a document leaves its row alone.
    """

    __tablename__ = "embeddings"

    doc_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    doc_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(80))
    text_hash: Mapped[str] = mapped_column(String(64))
    dims: Mapped[int] = mapped_column(Integer)
    vectors: Mapped[bytes] = mapped_column(LargeBinary)
