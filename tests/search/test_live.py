"""The index updated in place scores exactly as one built afresh; saved, it comes back."""

from __future__ import annotations

import csv
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bot.importer.service import Importer
from bot.search import Document, Hit, SearchIndex, SearchService, documents_from_rows
from bot.search.live import LiveIndex
from storage.db import create_engine, migrate, session_factory
from tests.search.catalogue import FAQ, ITEMS, RESOURCES

WORDS = (
    "nuit mer jardin dragon enquête voyage lumière étoile renard château musique "
    "mystère hiver zzqx kurosawa totoro polar bd manga"
).split()


def ranking(index: SearchIndex, query: str, limit: int = 12) -> list[tuple[float, set[str]]]:
    """Scores in order, each with the ids at that score: ties may come in another order."""
    hits: list[Hit] = index.search(query, limit=limit)
    if len(hits) == limit:  # the last tie may be cut in another place
        hits = [h for h in hits if h.score > hits[-1].score]
    groups: dict[float, set[str]] = {}
    for hit in hits:
        groups.setdefault(hit.score, set()).add(f"{hit.type}:{hit.id}")
    return sorted(groups.items(), reverse=True)


def queries(documents: list[Document], rng: random.Random, count: int = 150) -> list[str]:
    found = []
    for _ in range(count):
        title = rng.choice(documents).title.split(" / ")[0].lower()
        found.append(title[: rng.randint(3, max(3, len(title)))])
    found += [*WORDS, "jai oublie mon mdp", "des films de kurosawa", "vous avez des bd ?"]
    return found


def edit(documents: dict[tuple[str, str], Document], rng: random.Random) -> list[Document]:
    """Random edits: retitled items, new items, FAQ phrasings, a renamed resource."""
    keys = list(documents)
    changed: list[Document] = []
    for key in rng.sample(keys, max(3, len(keys) // 10)):
        old = documents[key]
        words = " ".join(rng.sample(WORDS, 2))
        if old.type == "item":
            new = replace(old, title=f"{words} {old.title}", creator=rng.choice(WORDS))
        elif old.type == "faq":
            new = replace(old, alternatives=(*old.alternatives, words))
        else:
            new = replace(old, title=f"{old.title} {words}", keywords=(*old.keywords, words))
        documents[key] = new
        changed.append(new)
    for number in range(rng.randint(1, 5)):
        new = Document(
            type="item",
            id=f"new-{rng.random():.8f}-{number}",
            title=" ".join(rng.sample(WORDS, 3)).capitalize(),
            media_type=rng.choice(["ebook", "video", "music"]),
            resource_id="res-ebooks",
            creator=rng.choice(WORDS),
        )
        documents[(new.type, new.id)] = new
        changed.append(new)
    return changed


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_updates_score_like_a_fresh_build(seed: int, tmp_path: Path) -> None:
    rng = random.Random(seed)
    documents = {(d.type, d.id): d for d in documents_from_rows(RESOURCES, FAQ, ITEMS)}
    live = LiveIndex.build(documents.values())
    for _ in range(4):
        changed = edit(documents, rng)
        live = live.updated(changed)
        fresh = SearchIndex.build(documents.values())
        assert live.document_count == len(documents) == len(fresh)
        for query in queries(list(documents.values()), rng):
            assert ranking(live.index, query) == ranking(fresh, query), query
    assert live.dead_share > 0  # the replaced rows are still there, without postings
    # saved and loaded back (memory-mapped), it is the same index, and it can go on
    live.save(tmp_path, {"catalogue_id": "x", "version": 9})
    loaded = LiveIndex.load(tmp_path)
    assert loaded is not None
    again, meta = loaded
    assert meta["version"] == 9 and again.document_count == live.document_count
    for query in queries(list(documents.values()), rng, 40):
        assert ranking(again.index, query) == ranking(live.index, query), query
    changed = edit(documents, rng)
    fresh = SearchIndex.build(documents.values())
    for query in queries(list(documents.values()), rng, 40):
        assert ranking(again.updated(changed).index, query) == ranking(fresh, query), query


def test_a_saved_index_reads_its_snapshot_and_scores_the_same(tmp_path: Path) -> None:
    rng = random.Random(4)
    documents = {(d.type, d.id): d for d in documents_from_rows(RESOURCES, FAQ, ITEMS)}
    built = LiveIndex.build(documents.values())
    live = built.updated(edit(documents, rng))
    folder = live.save(tmp_path, {"catalogue_id": "x", "version": 2})
    mapped = live.mapped(folder)
    assert isinstance(mapped.post_rows.base, np.memmap)  # views of the snapshot's files
    assert isinstance(mapped.key_parent.base, np.memmap)
    assert not isinstance(live.post_rows.base, np.memmap)
    for query in queries(list(documents.values()), rng, 60):
        assert ranking(mapped.index, query) == ranking(live.index, query), query
    again = mapped.updated(edit(documents, rng))  # and it goes on
    fresh = SearchIndex.build(documents.values())
    for query in queries(list(documents.values()), rng, 40):
        assert ranking(again.index, query) == ranking(fresh, query), query
    with pytest.raises(ValueError):  # the snapshot of another index
        built.mapped(folder)


def test_removed_documents_are_gone() -> None:
    live = LiveIndex.build(documents_from_rows(RESOURCES, FAQ, ITEMS))
    assert live.index.search("jai oublie mon mdp")[0].id == "faq-mdp"
    after = live.updated([], removed=[("faq", "faq-mdp")])
    assert "faq-mdp" not in {h.id for h in after.index.search("jai oublie mon mdp")}
    assert live.index.search("jai oublie mon mdp")[0].id == "faq-mdp"  # unchanged


def test_a_snapshot_of_other_code_is_not_loaded(tmp_path: Path) -> None:
    live = LiveIndex.build(documents_from_rows(RESOURCES, FAQ, ITEMS))
    folder = live.save(tmp_path, {"catalogue_id": "x", "version": 1})
    manifest = folder / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"fingerprint": "', '"fingerprint": "0'))
    assert LiveIndex.load(tmp_path) is None
    assert LiveIndex.load(tmp_path / "nowhere") is None


# Through the database: the importer, the service, a restart -----------------------------


def write_export(folder: Path, items: list[dict[str, str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    tables = {"resources.csv": RESOURCES, "faq.csv": FAQ, "items.csv": items}
    for name, rows in tables.items():
        with (folder / name).open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return folder


def many_items(count: int, rng: random.Random) -> list[dict[str, str]]:
    rows = [dict(row) for row in ITEMS]
    rows += [
        {
            **ITEMS[number % len(ITEMS)],
            "id": f"gen-{number:05d}",
            "title": " ".join(rng.sample(WORDS, 3)).capitalize(),
            "creator": rng.choice(WORDS),
        }
        for number in range(count)
    ]
    return rows


def assert_mapped(service: SearchService) -> None:
    """The service's index reads its big arrays from its snapshot's files, not from copies
    of its own."""
    live = service.live_index
    assert live is not None
    for array in (
        live.post_rows, live.post_fields, live.row_parent, live.row_boost, live.parent_live,
        live.key_hash, live.ids.ends, live.titles.ends,
    ):  # fmt: skip
        assert isinstance(array.base, np.memmap)  # a plain view of the mapped file
    assert isinstance(live.titles.buffer, memoryview)
    assert isinstance(live.titles.buffer.obj.base, np.memmap)


async def test_service_follows_imports_in_place_and_restarts_from_its_snapshot(
    database_url: str, tmp_path: Path
) -> None:
    rng = random.Random(5)
    engine = create_engine(database_url)
    await migrate(engine)
    sessions = session_factory(engine)
    importer = Importer(engine)
    snapshots = tmp_path / "index"
    try:
        items = many_items(600, rng)
        await importer.run(write_export(tmp_path / "v1", items), progress=False)
        service = SearchService(sessions, index_dir=snapshots, batch_size=97)
        await service.ensure_loaded()
        assert service.last_event is not None and service.last_event.kind == "built"
        assert service.catalogue_version == "1"
        assert_mapped(service)  # the build's own arrays, too

        # an import that changes a few rows: only those are read again
        for row in rng.sample(items, 12):
            row["title"] = f"{row['title']} totoro"
        items.append({**ITEMS[0], "id": "gen-new", "title": "Le renard de kurosawa"})
        report = await importer.run(write_export(tmp_path / "v2", items), progress=False)
        assert (report.imported, report.updated) == (1, 12)
        assert await service.refresh_if_changed() is True
        event = service.last_event
        assert event is not None and (event.kind, event.documents) == ("updated", 13)
        assert await service.refresh_if_changed() is False
        # the update's arrays were swapped for their saved copies (memory flat across updates)
        assert_mapped(service)

        fresh = SearchService(sessions, index_dir=None)
        await fresh.reload()
        probes = ["totoro", "renard kurosawa", "jai oublie mon mdp", *WORDS]
        for query in probes:
            assert ranking(service.index, query) == ranking(fresh.index, query), query  # type: ignore[arg-type]

        # a restart maps the saved index back, then catches up with a later import
        items[0]["title"] = "Totoro et le dragon"
        await importer.run(write_export(tmp_path / "v3", items), progress=False)
        restarted = SearchService(sessions, index_dir=snapshots)
        await restarted.ensure_loaded()
        event = restarted.last_event
        assert event is not None and (event.kind, event.documents) == ("updated", 1)
        assert restarted.catalogue_version == "3"
        assert_mapped(restarted)
        await fresh.reload()
        for query in [*probes, "totoro dragon"]:
            assert ranking(restarted.index, query) == ranking(fresh.index, query), query  # type: ignore[arg-type]
    finally:
        await engine.dispose()


async def test_a_snapshot_of_another_database_is_not_used(database_url: str, tmp_path: Path):
    engine = create_engine(database_url)
    await migrate(engine)
    sessions = session_factory(engine)
    try:
        other = LiveIndex.build(documents_from_rows(RESOURCES, FAQ, []))
        other.save(tmp_path, {"catalogue_id": "another-catalogue", "version": 1})
        await Importer(engine).run(write_export(tmp_path / "v1", ITEMS), progress=False)
        service = SearchService(sessions, index_dir=tmp_path)
        await service.ensure_loaded()
        assert service.last_event is not None and service.last_event.kind == "built"
        assert (await service.search("okapi"))[0].id == "press-okapi"
    finally:
        await engine.dispose()


def test_the_documents_an_update_replaces_are_found_as_one_by_one() -> None:
    """``_parents_of`` (all the keys of an update at once) and ``parent_of`` (one) find the
    live documents of those keys, and a hash that matches by chance is no match."""
    documents = list(documents_from_rows(FAQ, RESOURCES, ITEMS))
    live = LiveIndex.build(documents)
    asked = [*documents[::3], Document(type="item", id="not-indexed", title="Nouveau")]
    from bot.search.index import DOC_TYPES, IndexBuilder
    from bot.search.live import _hashes
    from bot.search.packed import PackedStringsBuilder

    builder = IndexBuilder(live.lexicon)
    builder.add_all(asked)
    segment = builder.segment()
    hashes = _hashes(segment.parent_type, segment.ids)
    keys = {(d.type, d.id) for d in asked}
    expected = {
        parent
        for parent in range(len(live.parent_type))
        if live.parent_live[parent]
        and (DOC_TYPES[live.parent_type[parent]], live.ids[parent]) in keys
    }
    assert len(expected) == len(asked) - 1
    assert live._parents_of(hashes, segment.parent_type, segment.ids) == expected
    assert {live.parent_of(*key) for key in keys} == {*expected, None}
    # the hash of the first document given with the key of the last one (not indexed)
    chance = np.array([hashes[0]], dtype=np.int64)
    types = np.array([DOC_TYPES.index("item")], dtype=np.uint8)
    other = PackedStringsBuilder()
    other.append("not-indexed")
    assert live._parents_of(chance, types, other.finish()) == set()
