"""The search index as it lives beside the catalogue: updated in place, saved, reloaded.

A ``LiveIndex`` is the sorted postings of a ``SearchIndex`` plus what it takes to change
them without starting over:

* ``updated(documents)`` analyses only the given documents (new ones, and new versions of
  indexed ones), drops the postings of the versions they replace, and merges the new
  postings into the sorted arrays (``np.insert``: one pass over memory, no re-sort). An
  import that changes 1% of the rows costs the analysis of those rows plus a few
  vectorised passes, not a rebuild. Weights (idf, title weights, the vocabulary) are
  derived by the same ``assemble_index`` as a build from scratch, from live rows only,
  so the updated index scores exactly as a fresh one (tests/search/test_live.py).
* Replaced versions leave rows without postings behind; ``dead_share`` says how much, and
  the service rebuilds from the database when it grows (memory stays flat).
* ``save(directory)`` writes the arrays as ``.npy`` files; ``load`` maps them back
  (``mmap``), so a bot starts answering at once at a million items and catches up with
  the rows changed since (``bot.search.service``). After each update (and build) the
  service saves the index and swaps it for ``mapped``, the same index reading the files
  just written, and ``release_freed_memory`` hands the update's freed arrays back to the
  system: a running bot's memory stays at its level after a start, update after update.

A ``LiveIndex`` never changes once made: ``updated`` returns a new one that shares what
did not change, so searches running in threads keep a consistent index.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import json
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from bot.search.documents import Document
from bot.search.index import (
    DOC_TYPES,
    IndexBuilder,
    SearchIndex,
    Segment,
    assemble_index,
)
from bot.search.lexicon import Lexicon, default_lexicon
from bot.search.packed import PackedStrings

SNAPSHOT_FORMAT = 1
CURRENT_FILE = "current"
_PACKAGE_DIR = Path(__file__).resolve().parent


def code_fingerprint() -> str:
    """A hash of the search package's code and word lists: a snapshot made by other code or
    other word lists is not loaded (its postings would not be what this code makes)."""
    digest = hashlib.blake2b(str(SNAPSHOT_FORMAT).encode(), digest_size=12)
    for path in sorted(_PACKAGE_DIR.glob("*")):
        if path.suffix in (".py", ".txt") and path.name not in ("service.py", "loader.py"):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _key_hash(doc_type: int, doc_id: str) -> int:
    data = f"{doc_type}\x1f{doc_id}".encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little", signed=True)


def _hashes(types: np.ndarray, ids: PackedStrings, start: int = 0) -> np.ndarray:
    return np.fromiter(
        (_key_hash(int(types[i]), ids[i]) for i in range(start, len(ids))),
        dtype=np.int64,
        count=len(ids) - start,
    )


@dataclass(frozen=True, slots=True)
class LiveIndex:
    lexicon: Lexicon
    term_ids: dict[str, int]
    offsets: np.ndarray  # int64, by term id: where its postings start in post_rows
    post_rows: np.ndarray  # int32
    post_fields: np.ndarray  # uint8
    row_parent: np.ndarray  # int32
    row_boost: np.ndarray  # float32
    parent_type: np.ndarray  # uint8
    parent_media: np.ndarray  # uint8
    parent_live: np.ndarray  # bool: False for a replaced or removed document
    media_names: tuple[str, ...]
    ids: PackedStrings
    titles: PackedStrings
    resource_ids: PackedStrings
    key_hash: np.ndarray  # int64, sorted: the live documents' (type, id) hashes...
    key_parent: np.ndarray  # int32: ...and their document numbers
    written: dict[str, int]
    soft_terms: frozenset[int]
    live_rows: int
    index: SearchIndex

    # -- making --------------------------------------------------------------------------

    @classmethod
    def build(cls, documents: Iterable[Document], lexicon: Lexicon | None = None) -> LiveIndex:
        builder = IndexBuilder(lexicon or default_lexicon())
        builder.add_all(documents)
        return cls.from_segment(builder.lexicon, builder.segment())

    @classmethod
    def from_segment(cls, lexicon: Lexicon, segment: Segment) -> LiveIndex:
        """The index of a builder's documents (postings sorted by term, stably)."""
        order = np.argsort(segment.post_term, kind="stable")
        post_rows = segment.post_row[order]
        post_fields = segment.post_field[order]
        df = np.bincount(segment.post_term, minlength=len(segment.term_ids))
        del order
        offsets = np.zeros(len(segment.term_ids) + 1, dtype=np.int64)
        np.cumsum(df, out=offsets[1:])
        hashes = _hashes(segment.parent_type, segment.ids)
        key_order = np.argsort(hashes, kind="stable")
        return cls.assemble(
            lexicon=lexicon,
            term_ids=segment.term_ids,
            offsets=offsets,
            post_rows=post_rows,
            post_fields=post_fields,
            row_parent=segment.row_parent,
            row_boost=segment.row_boost,
            parent_type=segment.parent_type,
            parent_media=segment.parent_media,
            parent_live=np.ones(len(segment.parent_type), dtype=bool),
            media_names=segment.media_names,
            ids=segment.ids,
            titles=segment.titles,
            resource_ids=segment.resource_ids,
            key_hash=hashes[key_order],
            key_parent=key_order.astype(np.int32),
            written=segment.written,
            soft_terms=frozenset(segment.soft_terms),
            live_rows=len(segment.row_parent),
        )

    @classmethod
    def assemble(cls, **parts: Any) -> LiveIndex:
        """The arrays of a built or saved index, by name (assemble_index's keywords)."""
        p = parts
        index = assemble_index(
            lexicon=p["lexicon"],
            term_ids=p["term_ids"],
            offsets=p["offsets"],
            post_rows=p["post_rows"],
            post_fields=p["post_fields"],
            live_rows=p["live_rows"],
            soft_terms=p["soft_terms"],
            row_parent=p["row_parent"],
            row_boost=p["row_boost"],
            parent_type=p["parent_type"],
            parent_media=p["parent_media"],
            media_names=p["media_names"],
            ids=p["ids"],
            titles=p["titles"],
            resource_ids=p["resource_ids"],
            written=p["written"],
        )
        return cls(index=index, **parts)

    # -- reading -------------------------------------------------------------------------

    @property
    def document_count(self) -> int:
        """Live documents."""
        return len(self.key_hash)

    @property
    def dead_share(self) -> float:
        """The share of rows that belong to replaced or removed documents."""
        rows = len(self.row_parent)
        return 1.0 - self.live_rows / rows if rows else 0.0

    def parent_of(self, doc_type: str, doc_id: str) -> int | None:
        """The document number of the live document ``(doc_type, doc_id)``, if indexed."""
        code = DOC_TYPES.index(doc_type)
        hashes = np.array([_key_hash(code, doc_id)], dtype=np.int64)
        found = self._parents_of(hashes, np.array([code], dtype=np.uint8), _pack([doc_id]))
        return next(iter(found), None)

    def _parents_of(self, hashes: np.ndarray, types: np.ndarray, ids: PackedStrings) -> set[int]:
        """The document numbers of the live documents of these (type, id) keys, given with
        their hashes (one search of the sorted key table for all of them, the ids compared
        only where a hash matches)."""
        found: set[int] = set()
        if not len(hashes) or not len(self.key_hash):
            return found
        position = np.searchsorted(self.key_hash, hashes)
        size = len(self.key_hash)
        while True:
            inside = position < size
            match = np.zeros(len(hashes), dtype=bool)
            match[inside] = self.key_hash[position[inside]] == hashes[inside]
            if not match.any():
                return found
            for key in np.flatnonzero(match).tolist():
                parent = int(self.key_parent[position[key]])
                if self.parent_type[parent] == types[key] and self.ids[parent] == ids[key]:
                    found.add(parent)
            position = position + 1  # hashes equal by chance: the next entries of the table

    # -- changing ------------------------------------------------------------------------

    def updated(
        self, documents: Sequence[Document], removed: Iterable[tuple[str, str]] = ()
    ) -> LiveIndex:
        """A new index where ``documents`` replace (or join) the documents of the same type
        and id, and the ``removed`` (type, id) pairs are gone."""
        latest = {(d.type, d.id): d for d in documents}  # a later version wins
        builder = IndexBuilder(self.lexicon, term_ids=self.term_ids)
        builder.add_all(latest.values())
        segment = builder.segment()
        parents, rows = len(self.parent_type), len(self.row_parent)
        new_hashes = _hashes(segment.parent_type, segment.ids)
        gone = self._parents_of(new_hashes, segment.parent_type, segment.ids)
        gone.update(p for key in removed if (p := self.parent_of(*key)) is not None)

        parent_live = np.concatenate(
            [self.parent_live, np.ones(len(segment.parent_type), dtype=bool)]
        )
        dead = np.fromiter(gone, dtype=np.int64, count=len(gone))
        parent_live[dead] = False
        row_parent = np.concatenate([self.row_parent, segment.row_parent + parents])
        row_live = parent_live[row_parent]

        # Postings: those of the replaced rows out, the new ones merged in by term.
        df = np.diff(self.offsets)
        if len(dead):
            keep = row_live[self.post_rows]
            kept_terms = np.repeat(np.arange(len(df), dtype=np.int32), df)[keep]
            kept_rows, kept_fields = self.post_rows[keep], self.post_fields[keep]
        else:
            kept_terms = np.repeat(np.arange(len(df), dtype=np.int32), df)
            kept_rows, kept_fields = self.post_rows, self.post_fields
        order = np.argsort(segment.post_term, kind="stable")
        new_terms = segment.post_term[order]
        at = np.searchsorted(kept_terms, new_terms, side="right")
        post_rows = np.insert(kept_rows, at, segment.post_row[order] + rows)
        post_fields = np.insert(kept_fields, at, segment.post_field[order])
        term_count = len(segment.term_ids)
        counts = np.bincount(kept_terms, minlength=term_count) + np.bincount(
            new_terms, minlength=term_count
        )
        del kept_terms
        offsets = np.zeros(term_count + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])

        media_names = list(self.media_names)
        for name in segment.media_names:
            if name not in media_names:
                media_names.append(name)
        media_code = np.array([media_names.index(n) for n in segment.media_names], np.uint8)

        # The key table: replaced documents out, new ones in, still sorted.
        key_hash, key_parent = self.key_hash, self.key_parent
        if len(dead):
            alive = ~np.isin(key_parent, dead)
            key_hash, key_parent = key_hash[alive], key_parent[alive]
        new_order = np.argsort(new_hashes, kind="stable")
        at = np.searchsorted(key_hash, new_hashes[new_order], side="right")
        key_hash = np.insert(key_hash, at, new_hashes[new_order])
        key_parent = np.insert(key_parent, at, (new_order + parents).astype(np.int32))

        written = dict(self.written)
        written.update(segment.written)
        return LiveIndex.assemble(
            lexicon=self.lexicon,
            term_ids=segment.term_ids,
            offsets=offsets,
            post_rows=post_rows,
            post_fields=post_fields,
            row_parent=row_parent,
            row_boost=np.concatenate([self.row_boost, segment.row_boost]),
            parent_type=np.concatenate([self.parent_type, segment.parent_type]),
            parent_media=np.concatenate([self.parent_media, media_code[segment.parent_media]]),
            parent_live=parent_live,
            media_names=tuple(media_names),
            ids=self.ids.concat(segment.ids),
            titles=self.titles.concat(segment.titles),
            resource_ids=self.resource_ids.concat(segment.resource_ids),
            key_hash=key_hash,
            key_parent=key_parent,
            written=written,
            soft_terms=self.soft_terms | segment.soft_terms,
            live_rows=int(np.count_nonzero(row_live)),
        )

    # -- saving --------------------------------------------------------------------------

    _ARRAYS = (
        "offsets", "post_rows", "post_fields", "row_parent", "row_boost", "parent_type",
        "parent_media", "parent_live", "key_hash", "key_parent",
    )  # fmt: skip
    _STRINGS = ("ids", "titles", "resource_ids")
    _INDEX_ARRAYS = (
        "offsets", "post_rows", "post_fields", "row_parent", "row_boost", "parent_type",
        "parent_media",
    )  # fmt: skip

    def save(self, directory: Path, meta: dict[str, object]) -> Path:
        """Writes a snapshot under ``directory`` and makes it the current one; older
        snapshots there are removed. ``meta`` (catalogue id and version) is kept with it."""
        directory.mkdir(parents=True, exist_ok=True)
        name = f"snapshot-{int(time.time())}-{uuid.uuid4().hex[:8]}"
        work = directory / f".{name}.tmp"
        work.mkdir()
        for attribute in self._ARRAYS:
            np.save(work / f"{attribute}.npy", getattr(self, attribute))
        terms = [""] * len(self.term_ids)
        for term, term_id in self.term_ids.items():
            terms[term_id] = term
        strings = {
            **{attribute: getattr(self, attribute) for attribute in self._STRINGS},
            "terms": _pack(terms),
            "written_words": _pack(list(self.written)),
        }
        for attribute, packed in strings.items():
            np.save(work / f"{attribute}.buffer.npy", np.frombuffer(packed.buffer, np.uint8))
            np.save(work / f"{attribute}.ends.npy", packed.ends)
        np.save(work / "written_terms.npy", np.fromiter(self.written.values(), np.int32))
        np.save(work / "soft_terms.npy", np.fromiter(self.soft_terms, np.int32))
        manifest = {
            **meta,
            "fingerprint": code_fingerprint(),
            "media_names": list(self.media_names),
            "live_rows": self.live_rows,
            "documents": self.document_count,
        }
        (work / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        work.replace(directory / name)
        pointer = directory / f".{CURRENT_FILE}.{uuid.uuid4().hex[:8]}"
        pointer.write_text(name, encoding="utf-8")
        pointer.replace(directory / CURRENT_FILE)
        for old in directory.glob("snapshot-*"):
            if old.name != name:
                shutil.rmtree(old, ignore_errors=True)
        return directory / name

    def mapped(self, folder: Path) -> LiveIndex:
        """This index reading its arrays from the snapshot ``save`` just wrote in ``folder``
        (memory-mapped) instead of the private memory an update or a build made them in.

        The values are the same; what changes is where they live: pages of a file, shared,
        read in when a search touches them and dropped by the kernel under pressure, rather
        than a private copy made by each update (about 120 MB at a million items). With
        ``release_freed_memory`` once this index's own copies are dropped, a running bot's
        memory stays at its level after a start, update after update.
        """
        arrays = {attribute: _mapped(folder, attribute) for attribute in self._ARRAYS}
        strings = {attribute: _mapped_strings(folder, attribute) for attribute in self._STRINGS}
        # this index's arrays, and the ends of its strings, with the same shapes and types
        pairs = [(name, getattr(self, name), array) for name, array in arrays.items()]
        pairs += [(name, getattr(self, name).ends, s.ends) for name, s in strings.items()]
        for attribute, mine, array in pairs:
            if array.shape != mine.shape or array.dtype != mine.dtype:
                raise ValueError(f"{folder} is not a snapshot of this index ({attribute})")
        ids, titles, resource_ids = (strings[attribute] for attribute in self._STRINGS)
        index = self.index.reading(
            **{name: arrays[name] for name in self._INDEX_ARRAYS},
            ids=ids,
            titles=titles,
            resource_ids=resource_ids,
        )
        parts: dict[str, Any] = {**arrays, **strings, "index": index}
        mapped: LiveIndex = replace(self, **parts)
        return mapped

    @classmethod
    def load(
        cls, directory: Path, lexicon: Lexicon | None = None
    ) -> tuple[LiveIndex, dict[str, object]] | None:
        """The current snapshot of ``directory`` and its meta, or None when there is none
        that this code can use. Arrays are memory-mapped, not read."""
        try:
            name = (directory / CURRENT_FILE).read_text(encoding="utf-8").strip()
            folder = directory / name
            manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if manifest.get("fingerprint") != code_fingerprint():
            return None

        try:
            arrays = {attribute: _mapped(folder, attribute) for attribute in cls._ARRAYS}
            packed = {attribute: _mapped_strings(folder, attribute) for attribute in cls._STRINGS}
            terms = _mapped_strings(folder, "terms").tolist()
            written_words = _mapped_strings(folder, "written_words").tolist()
            written_terms = _mapped(folder, "written_terms").tolist()
            soft = frozenset(_mapped(folder, "soft_terms").tolist())
        except (OSError, ValueError):
            return None
        live = cls.assemble(
            lexicon=lexicon or default_lexicon(),
            term_ids={term: term_id for term_id, term in enumerate(terms)},
            media_names=tuple(manifest["media_names"]),
            written=dict(zip(written_words, written_terms, strict=True)),
            soft_terms=soft,
            live_rows=int(manifest["live_rows"]),
            **arrays,
            **packed,
        )
        return live, manifest


def release_freed_memory() -> None:
    """Gives the memory freed by an update or a build back to the system (glibc only).

    The C allocator keeps freed blocks for later use: an update's temporary arrays (masks,
    merged copies, an index's per-row arrays of a few megabytes, below the size the
    allocator maps on its own) stay in the process after they are freed, one update's worth
    after another. ``malloc_trim`` returns the free pages (on other C libraries: nothing).
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    if sys.platform != "linux":
        return None
    try:
        libc = ctypes.CDLL(None)
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (musl...)
        return None
    return trim


def _mapped(folder: Path, attribute: str) -> np.ndarray:
    loaded: np.ndarray = np.load(folder / f"{attribute}.npy", mmap_mode="r")
    # a plain array over the mapped pages: a memmap's slices each run Python code
    # (``memmap.__array_finalize__``), and a search slices the postings of every term
    return loaded.view(np.ndarray)


def _mapped_strings(folder: Path, attribute: str) -> PackedStrings:
    buffer = _mapped(folder, f"{attribute}.buffer")
    ends = _mapped(folder, f"{attribute}.ends")
    return PackedStrings(buffer.data if len(buffer) else b"", ends)


def _pack(texts: list[str]) -> PackedStrings:
    from bot.search.packed import PackedStringsBuilder

    builder = PackedStringsBuilder()
    for text in texts:
        builder.append(text)
    return builder.finish()
