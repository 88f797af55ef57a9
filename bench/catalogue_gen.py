"""Realistic synthetic French catalogues for the search benchmarks.

    python bench/catalogue_gen.py --items 100000 --seed 7 > items.csv

Items look like those of a département's digital library (``items.csv`` format): titles,
creators and genres per media type. Real titles and names are taken from the open data
sets of ``shared/data/sources`` when they are there (``PLUME_SHARED_DIR`` or
``../shared`` beside the repository), then varied (volumes, series, subtitles) and mixed
with titles made from built-in word lists, so that any size can be generated and it works
without the data sets. Same seed, same catalogue.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

MEDIA_SHARES = {"ebook": 0.30, "music": 0.36, "video": 0.24, "press": 0.07, "game": 0.03}
RESOURCE_OF = {
    "ebook": "res-ebooks",
    "music": "res-music",
    "video": "res-vod",
    "press": "res-press",
    "game": "res-games",
}
COLUMNS = ("id", "resource_id", "media_type", "title", "creator", "year", "genres", "language")

NOUNS = (
    "maison jardin nuit mer montagne forêt rivière île ville village château port rêve "
    "secret silence mémoire voyage retour ombre lumière hiver été printemps automne "
    "enfant père mère frère sœur ami amour guerre paix chemin route étoile lune soleil "
    "vent pluie neige feu cendre sang vérité mensonge promesse lettre livre histoire "
    "fille garçon roi reine dragon sorcière loup renard chat oiseau cheval baleine "
    "trésor carte clé porte fenêtre miroir horloge musique danse chanson cœur âme "
    "détective meurtre enquête crime disparition vengeance complot piste témoin"
).split()
ADJECTIVES = (
    "dernier dernière petit petite grand grande noir noire blanc blanche perdu perdue "
    "secret secrète oublié oubliée sauvage éternel éternelle rouge bleu doré dorée "
    "mystérieux mystérieuse invisible ancien ancienne nouveau nouvelle lointain"
).split()
PLACES = (
    "Paris Lille Arras Calais Boulogne Dunkerque Lumbres Saint-Omer Marseille Lyon "
    "Bretagne Provence Normandie Venise Londres Tokyo Montréal Alger Dakar Naples"
).split()
FIRST_NAMES = (
    "Marie Jean Pierre Sophie Camille Lucas Léa Hugo Chloé Louis Emma Jules Manon Paul "
    "Inès Arthur Zoé Nathan Alice Victor Claire Thomas Julie Antoine Sarah Mathieu "
    "Anne Nicolas Élodie Karim Yasmine Mamadou Fatou Kenji Aiko Olga Ivan Elena Marco"
).split()
SURNAMES = (
    "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon "
    "Laurent Lefebvre Michel Garcia David Bertrand Roux Vincent Fournier Morel Girard "
    "André Lefèvre Mercier Dupont Lambert Bonnet François Martinez Legrand Garnier "
    "Faure Rousseau Blanc Guerin Muller Henry Roussel Nicolas Perrin Morin Mathieu "
    "Clement Gauthier Dumont Lopez Fontaine Chevalier Robin Masson Sanchez Gerard"
).split()
SYLLABLES = "ba be bi bo da de di do fa fe la le li lo ma me mi mo na ne ni no ra re ri ro sa se si so ta te ti to va ve vi vo ka ki ko".split()  # noqa: E501
GENRES = {
    "ebook": ("roman", "polar", "bd", "jeunesse", "documentaire", "science-fiction", "manga"),
    "music": ("album",),
    "video": ("film", "film", "film", "documentaire", "animation"),
    "press": ("presse",),
    "game": ("aventure", "réflexion", "sport", "course", "plateforme", "jeu éducatif"),
}
PRESS_WORDS = (
    "Magazine Le Journal Hebdo Revue Actu Mag Info Le Courrier L'Écho La Gazette "
    "Le Petit Cuisine Jardin Maison Sport Auto Santé Sciences Voyage Histoire Nature"
).split()
GAME_WORDS = (
    "Quest Legend Super Mario Tales Dragon Star Racing Galaxy Kingdom Island Puzzle "
    "Adventure Hero Planet Cosmic Ninja Robot Pixel Dungeon Battle Farm Ocean"
).split()


@dataclass
class Pools:
    """Real titles and names by media type, from the open data sets when present."""

    titles: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # (title, creator)
    ebook_genres: dict[str, str] = field(default_factory=dict)


def shared_dir() -> Path:
    env = os.environ.get("PLUME_SHARED_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent.parent / "shared"


def _rows(path: Path, delimiter: str = ",") -> Iterator[dict[str, str]]:
    if path.exists():
        with path.open(encoding="utf-8-sig", newline="") as handle:
            yield from csv.DictReader(handle, delimiter=delimiter)


def load_pools(sources: Path | None) -> Pools:
    pools = Pools()
    if sources is None or not sources.is_dir():
        return pools

    def add(media: str, title: str, creator: str = "") -> None:
        title = " ".join(title.split())
        if title:
            pools.titles.setdefault(media, []).append((title, " ".join(creator.split())))

    kinds = {
        "BD": "bd",
        "ROM": "roman",
        "POL": "polar",
        "ALB": "jeunesse",
        "LIVDOC": "documentaire",
    }
    for row in _rows(sources / "toulouse_top500_imprimes_clean.csv"):
        media = "press" if row.get("type_document") == "PERIO" else "ebook"
        add(media, row.get("titre", ""), row.get("auteur", ""))
        if row.get("type_document") in kinds:
            pools.ebook_genres[row["titre"].split(" / ")[0]] = kinds[row["type_document"]]
    for row in _rows(sources / "paris_bibliotheques_titres_plus_pretes.csv", ";"):
        kind = row.get("Type de document", "")
        media = "video" if "DVD" in kind else "music" if "musical" in kind else "ebook"
        add(media, row.get("Titre", ""), row.get("Auteur", ""))
    for row in _rows(sources / "toulouse_top500_films_clean.csv"):
        add("video", row.get("titre", ""), row.get("auteur", ""))
    for row in _rows(sources / "paris_tournages_productions_uniques.csv"):
        add("video", row.get("titre", "").title(), row.get("realisateur", "").title())
    for row in _rows(sources / "toulouse_top500_cds_clean.csv"):
        add("music", row.get("titre", ""), row.get("auteur", ""))
    for row in _rows(sources / "wikidata_jeux_videos_2015plus.csv"):
        add("game", row.get("titre", ""))
    for row in _rows(sources / "vgsales_vgchartz.csv"):
        add("game", row.get("Name", ""), row.get("Publisher", ""))
    for row in _rows(sources / "mdiplo_medias_francais.tsv", "\t"):
        if row.get("Type", "").startswith("Presse"):
            add("press", row.get("Nom", ""))
    films = sources / "freebase_films_solr.json"
    if films.exists():
        for film in json.loads(films.read_text(encoding="utf-8")):
            add("video", film.get("name", ""), ", ".join(film.get("directed_by", [])[:1]))
    for media in pools.titles:
        pools.titles[media] = sorted(set(pools.titles[media]))
    return pools


class CatalogueGenerator:
    def __init__(self, seed: int = 7, pools: Pools | None = None) -> None:
        self._rng = random.Random(seed)
        self._pools = pools or Pools()
        rng = self._rng
        invented = {
            "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize()
            for _ in range(20_000)
        }
        self._surnames = SURNAMES + sorted(invented)

    def _person(self) -> str:
        rng = self._rng
        return f"{rng.choice(self._surnames)}, {rng.choice(FIRST_NAMES)}"

    def _made_up_title(self, media: str) -> str:
        rng = self._rng
        noun, other = rng.choice(NOUNS), rng.choice(NOUNS)
        if media == "press":
            return " ".join(rng.sample(PRESS_WORDS, rng.randint(1, 3)))
        if media == "game":
            return " ".join(rng.sample(GAME_WORDS, rng.randint(2, 3)))
        patterns = (
            f"La {noun} de {rng.choice(PLACES)}",
            f"Le {noun} {rng.choice(ADJECTIVES)}",
            f"Les {noun}s de {other}",
            f"{rng.choice(FIRST_NAMES)} et le {noun} {rng.choice(ADJECTIVES)}",
            f"Un {noun} à {rng.choice(PLACES)}",
            f"L'{noun} et la {other}",
            f"{noun.capitalize()} : {rng.choice(ADJECTIVES)} {other}",
        )
        return rng.choice(patterns)

    def _title(self, media: str) -> tuple[str, str]:
        rng = self._rng
        real = self._pools.titles.get(media)
        if real and rng.random() < 0.6:
            title, creator = rng.choice(real)
            if rng.random() < 0.3:
                title = f"{title}. {rng.randint(2, 30)}"
        else:
            title = self._made_up_title(media)
            creator = "" if media in ("press", "game") else self._person()
        if media == "ebook" and creator and " / " not in title and rng.random() < 0.4:
            surname, _, first = creator.partition(", ")
            title = f"{title} / {first} {surname}".strip()
        return title, creator

    def items(self, count: int) -> Iterator[dict[str, str]]:
        rng = self._rng
        media_types = list(MEDIA_SHARES)
        weights = list(MEDIA_SHARES.values())
        for number in range(count):
            media = rng.choices(media_types, weights)[0]
            title, creator = self._title(media)
            genre = self._pools.ebook_genres.get(title.split(" / ")[0]) or rng.choice(
                GENRES[media]
            )
            year = str(rng.randint(1990, 2025)) if media == "game" else ""
            yield {
                "id": f"{media}-{number:07d}",
                "resource_id": RESOURCE_OF[media],
                "media_type": media,
                "title": title,
                "creator": creator,
                "year": year,
                "genres": genre,
                "language": "fr",
            }


def generate_items(
    count: int, seed: int = 7, sources: Path | None = None
) -> Iterator[dict[str, str]]:
    """``count`` item rows (``items.csv`` columns), the same for the same seed and sources."""
    return CatalogueGenerator(seed, load_pools(sources)).items(count)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-sources", action="store_true", help="built-in word lists only")
    args = parser.parse_args()
    sources = None if args.no_sources else shared_dir() / "data" / "sources"
    writer = csv.DictWriter(sys.stdout, COLUMNS)
    writer.writeheader()
    writer.writerows(generate_items(args.items, args.seed, sources))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
