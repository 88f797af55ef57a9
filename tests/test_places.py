"""Which messages ask about a library itself (hours, address, phone), and which one."""

import pytest

from bot.answering.places import LibraryNames, LibraryRef, place_of_message, place_question
from bot.answering.reduce import reduce_message

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


@pytest.mark.parametrize(
    ("text", "library_id"),
    [
        (
            "Je viens d'emménager à Esquerdes et je voudrais m'inscrire. Je travaille en "
            "semaine. Elle est ouverte le samedi ?",
            "lib-esquerdes",
        ),
        (
            "Je dois rendre des livres à Lumbres vendredi vers 18h, ce sera encore ouvert ?",
            "lib-lumbres",
        ),
        ("Is the Setques library open on weekdays?", "lib-setques"),
    ],
)
def test_a_message_asking_about_a_library_in_one_of_its_parts(text, library_id):
    reduced = reduce_message(text)
    place = place_of_message(reduced.text, reduced.sentences, NAMES)
    assert place.about_library, text
    assert place.library_id == library_id


@pytest.mark.parametrize(
    "text",
    [
        "J'ai emprunté un livre à Lumbres, il ne s'ouvre pas",
        "Je suis inscrite à Esquerdes depuis longtemps. Comment dois-je faire pour commencer ?",
        "Le livre est bien, c'est ouvert ?",
        "ateliers à Lumbres, c'est quand ?",
    ],
)
def test_a_message_about_something_else_with_a_library_in_it(text):
    reduced = reduce_message(text)
    assert not place_of_message(reduced.text, reduced.sentences, NAMES).about_library, text
