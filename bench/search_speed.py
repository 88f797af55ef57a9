"""Search latency and index cost on a large synthetic catalogue, against rapidfuzz.

    python bench/search_speed.py [--items 100000] [--queries 600] [--baseline-queries 40]
    python bench/search_speed.py --items 1000000 --baseline-queries 8

Builds the index from ``--items`` generated items (``catalogue_gen.py``) plus the FAQ and
resources of the shared data (a small built-in set without them), then times a mixed set
of patron queries (titles, typos, creators, FAQ-style and SMS questions, media intents).
The baseline, in the same run, is rapidfuzz ``process.extract`` (WRatio) over every
document's text. Targets: p95 ≤ 10 ms at 100k and ≥ 10× faster than the baseline;
p95 ≤ 50 ms, build ≤ 30 s and peak RSS < 1 GB at 1M.
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import psutil
from rapidfuzz import fuzz, process, utils

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from catalogue_gen import generate_items, shared_dir
from search_quality import document_text

from bot.search import Document, IndexBuilder, documents_from_csv_dir, item_document

FALLBACK_RESOURCES = [
    {"id": "res-ebooks", "media_type": "ebook", "name": "Livres numériques",
     "keywords": "livre;ebook;roman;bd;bande dessinée"},
    {"id": "res-press", "media_type": "press", "name": "Kiosque presse en ligne",
     "keywords": "presse;journal;magazine"},
    {"id": "res-vod", "media_type": "video", "name": "Cinéma à la demande",
     "keywords": "film;vidéo;cinéma"},
    {"id": "res-music", "media_type": "music", "name": "Musique en streaming",
     "keywords": "musique;album"},
    {"id": "res-games", "media_type": "game", "name": "Jeux vidéo", "keywords": "jeu;jeux vidéo"},
]  # fmt: skip
FALLBACK_FAQ = [
    {"id": "faq-mdp", "question": "J'ai oublié mon mot de passe",
     "alternatives": "mot de passe perdu|je n'arrive pas à me connecter"},
    {"id": "faq-gratuit", "question": "Est-ce que la bibliothèque numérique est payante ?",
     "alternatives": "c'est gratuit|combien ça coûte"},
    {"id": "faq-vod-quota", "question": "Combien de films peut-on regarder par mois ?",
     "resource_id": "res-vod"},
]  # fmt: skip

FAQ_STYLE = (
    "jai oublie mon mdp",
    "cest gratuit ?",
    "combien de films par mois",
    "comment rendre un livre avant la fin",
    "je narrive pas a me connecter",
    "vous avez des bd ?",
    "je veux lire des magazines",
    "ma kobo est compatible ?",
    "kel appli pour lire sur mon tel",
    "livres audio pour malvoyant",
    "cours d'anglais",
    "code de la route",
    "horaires de la mediatheque le samedi",
    "musique sans internet",
    "jeux video pour enfants",
    "pk mon livre souvre pas",
    "je voudrais parler a un bibliothecaire",
    "comment se desabonner des messages",
    "regarder un film sur la tele",
    "reserver un livre deja emprunte",
    "asdfgh qwerty",
    "quelle est la météo demain",
)
PREFIXES = {"video": "des films de ", "ebook": "livres de ", "music": "album de "}


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def base_documents() -> tuple[list[Document], str]:
    data = shared_dir() / "data"
    if (data / "faq.csv").exists():
        documents = [d for d in documents_from_csv_dir(data) if d.type != "item"]
        return documents, f"FAQ and resources of {data}"
    from bot.search import documents_from_rows

    documents = list(documents_from_rows(FALLBACK_RESOURCES, FALLBACK_FAQ))
    return documents, "built-in FAQ and resources (shared data absent)"


def sources_dir() -> Path | None:
    sources = shared_dir() / "data" / "sources"
    return sources if sources.is_dir() else None


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 5:
        return word
    position = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        return word[:position] + word[position + 1 :]
    if kind == 1:
        return word[:position] + word[position + 1] + word[position] + word[position + 2 :]
    return word[:position] + rng.choice("aeiourstln") + word[position + 1 :]


def make_queries(samples: Sequence[dict[str, str]], count: int, seed: int) -> list[str]:
    """A realistic mix: a third titles, with typos or not, creators, FAQ and SMS questions."""
    rng = random.Random(seed)
    queries: list[str] = []
    while len(queries) < count:
        item = rng.choice(samples)
        words = item["title"].split(" / ")[0].replace(":", " ").split()
        kind = rng.random()
        if kind < 0.25 and words:
            start = rng.randrange(len(words))
            queries.append(" ".join(words[start : start + rng.randint(2, 4)]).lower())
        elif kind < 0.45 and words:
            chosen = words[: rng.randint(2, 4)]
            victim = rng.randrange(len(chosen))
            chosen[victim] = _typo(chosen[victim], rng)
            queries.append(" ".join(chosen).lower())
        elif kind < 0.6 and item["creator"]:
            surname = item["creator"].split(",")[0]
            queries.append(PREFIXES.get(item["media_type"], "") + surname)
        elif kind < 0.7 and words:
            queries.append(words[0].lower()[: rng.randint(3, max(3, len(words[0])))])
        else:
            queries.append(rng.choice(FAQ_STYLE))
    return queries


def sampled_items(count: int, seed: int, keep: list[dict[str, str]]) -> Iterator[Document]:
    """Item documents of the generated catalogue, keeping one row in 50 for the queries."""
    for number, row in enumerate(generate_items(count, seed, sources_dir())):
        if number % 50 == 0 and len(keep) < 5000:
            keep.append(row)
        yield item_document(row)


def percentiles(samples_ms: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)

    def at(fraction: float) -> float:
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    return {
        "p50": at(0.50),
        "p95": at(0.95),
        "p99": at(0.99),
        "mean": statistics.fmean(ordered),
        "max": ordered[-1],
    }


def time_each(function, queries: Sequence[str]) -> list[float]:
    timings = []
    for query in queries:
        started = time.perf_counter()
        function(query)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--queries", type=int, default=600)
    parser.add_argument("--baseline-queries", type=int, default=40)
    parser.add_argument("--limit", type=int, default=5)
    args = parser.parse_args()

    base, origin = base_documents()
    print(f"catalogue: {args.items:,} generated items (seed {args.seed}) + {len(base)} {origin}")
    rss_before = psutil.Process().memory_info().rss / 2**20
    samples: list[dict[str, str]] = []
    started = time.perf_counter()
    builder = IndexBuilder()
    builder.add_all(base)
    builder.add_all(sampled_items(args.items, args.seed, samples))
    index = builder.finish()
    del builder
    gc.collect()
    build_s = time.perf_counter() - started
    rss_after = psutil.Process().memory_info().rss / 2**20
    print(
        f"index: {len(index):,} documents, {index.row_count:,} rows, {index.term_count:,} terms, "
        f"arrays {index.nbytes / 2**20:.0f} MB; built in {build_s:.1f} s "
        f"(generation included)"
    )

    queries = make_queries(samples, args.queries, args.seed)
    for query in queries[:20]:  # warm up caches and code paths
        index.search(query, limit=args.limit)
    plume_ms = time_each(lambda q: index.search(q, limit=args.limit), queries)
    plume = percentiles(plume_ms)
    peak = peak_rss_mb()
    print(f"RSS: {rss_before:.0f} MB before, {rss_after:.0f} MB with the index; "
          f"peak {peak:.0f} MB (before the baseline)")  # fmt: skip

    print(f"\nlatency over {len(queries)} queries, ms:")
    print(f"  {'system':<26}" + "".join(f"{k:>9}" for k in plume))
    print(f"  {'Plume':<26}" + "".join(f"{v:>9.2f}" for v in plume.values()))

    if args.baseline_queries > 0:
        texts = [utils.default_process(document_text(d)) for d in base]
        texts.extend(
            utils.default_process(document_text(item_document(row)))
            for row in generate_items(args.items, args.seed, sources_dir())
        )
        chosen = queries[: args.baseline_queries]

        def baseline(query: str) -> None:
            process.extract(
                utils.default_process(query), texts, scorer=fuzz.WRatio, limit=args.limit,
                processor=None,
            )  # fmt: skip

        fuzzy = percentiles(time_each(baseline, chosen))
        same = percentiles([plume_ms[i] for i in range(len(chosen))])
        print(
            f"  {'rapidfuzz extract WRatio':<26}" + "".join(f"{v:>9.2f}" for v in fuzzy.values())
        )
        print(f"  (baseline on the first {len(chosen)} queries; Plume on those: "
              f"p50 {same['p50']:.2f}, p95 {same['p95']:.2f})")  # fmt: skip
        print(
            f"\nPlume is ×{fuzzy['p50'] / same['p50']:.0f} faster than rapidfuzz at p50, "
            f"×{fuzzy['p95'] / same['p95']:.0f} at p95 (same queries, same run)"
        )
    target = 10 if args.items <= 200_000 else 50
    verdict = "ok" if plume["p95"] <= target else "MISSED"
    print(f"\ntarget p95 ≤ {target} ms: {plume['p95']:.2f} ms, {verdict}")
    if args.items >= 1_000_000:
        print(f"target build ≤ 30 s: {build_s:.1f} s, {'ok' if build_s <= 30 else 'MISSED'}")
        print(f"target peak RSS < 1 GB: {peak:.0f} MB, {'ok' if peak < 1024 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
