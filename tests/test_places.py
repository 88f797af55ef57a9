"""Which messages ask about a library itself (hours, address, phone), and which one."""

import pytest

from bot.answering.places import LibraryNames, LibraryRef, place_question

NAMES = LibraryNames(
    [
        LibraryRef("lib-lumbres", "Médiathèque de Lumbres", "Lumbres"),
        LibraryRef("lib-elnes", "Bibliothèque d'Elnes", "Elnes"),
        LibraryRef("lib-setques", "Bibliothèque", "Setques"),
        LibraryRef("lib-wavrans", "Point lecture", "Wavrans-sur-l'Aa"),
        LibraryRef("lib-esquerdes", "Médiathèque", "Esquerdes"),
    ]
)


@pytest.mark.parametrize(
    ("text", "library_id"),
    [
        ("horaires", None),
        ("c'est ouvert samedi ?", None),
        ("adresse de la médiathèque de Lumbres", "lib-lumbres"),
        ("horraires de la médiatèque de lumbre", "lib-lumbres"),
        ("What time does the Lumbres library open on Saturday?", "lib-lumbres"),
        ("Hi, I just moved to Elnes. When is the library open?", "lib-elnes"),
        ("Setques, c'est où la bibliothèque ?", "lib-setques"),
        ("La bibli de Wavran est ouverte le vendredi ?", "lib-wavrans"),
        ("c koi les horaires d elnes", "lib-elnes"),
        ("wavrans sur l'aa horaires", "lib-wavrans"),
        ("Esquerdes ?", "lib-esquerdes"),
    ],
)
def test_questions_about_a_library(text, library_id):
    place = place_question(text, NAMES)
    assert place.about_library, text
    assert place.library_id == library_id


@pytest.mark.parametrize(
    "text",
    [
        "horaires de la déchetterie",
        "horaires de la piscine de Lumbres",
        "les horaires du bus pour lumbres",
        "À quelle heure est la messe dimanche à Esquerdes ?",
        "ateliers à Lumbres quand ?",
        "un film sur Lumbres",
        "le dernier livre de la bibliothèque de Lumbres",
        "livre ou film",
        "Je suis inscrite à Esquerdes depuis longtemps. Comment dois-je faire pour commencer ?",
    ],
)
def test_questions_about_something_else(text):
    assert not place_question(text, NAMES).about_library, text
