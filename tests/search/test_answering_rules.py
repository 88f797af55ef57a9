"""The rules before the search: chat messages, long messages, library questions."""

from __future__ import annotations

import pytest

from bot.answering.chat import ChatKind, classify
from bot.answering.places import LibraryNames, LibraryRef, place_question
from bot.answering.reduce import reduce_message
from bot.answering.responder import Responder
from bot.search import SearchService
from storage.db import SessionFactory

LIBRARIES = LibraryNames(
    [
        LibraryRef("lib-lumbres", "Médiathèque intercommunale de Lumbres", "Lumbres"),
        LibraryRef("lib-esquerdes", "Bibliothèque d'Esquerdes", "Esquerdes"),
        LibraryRef("lib-wavrans", "Bibliothèque de Wavrans-sur-l'Aa", "Wavrans-sur-l'Aa"),
        LibraryRef("lib-roche", "Bibliothèque de Roche-Plumet", "Roche-Plumet"),
    ]
)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("bonjour", ChatKind.GREETING),
        ("Bonjour Plume !", ChatKind.GREETING),
        ("merci beaucoup !", ChatKind.THANKS),
        ("ok merci", ChatKind.THANKS),
        ("d'accord", ChatKind.ACK),
        ("👍", ChatKind.ACK),
        ("😀", ChatKind.EMOJI),
        ("?", ChatKind.EMOJI),  # punctuation alone: "write me your question"
        ("...", ChatKind.EMOJI),
        ("au revoir, bonne journée", ChatKind.FAREWELL),
        ("aide", ChatKind.HELP),
        ("help", ChatKind.HELP),
        ("thanks!", ChatKind.THANKS),
        ("re", ChatKind.GREETING),
        ("merci bcp !", ChatKind.THANKS),
        ("merci pour l'info", ChatKind.THANKS),
        ("ok cool", ChatKind.ACK),
        ("bonne continuation !", ChatKind.FAREWELL),
        ("Bonjour Plume, tu vas bien ?", ChatKind.GREETING),  # no self-training title
        ("Qui es-tu ?", ChatKind.HELP),  # the help text says what Plume is
        ("are you a bot?", ChatKind.HELP),
    ],
)
def test_conversational_messages(text: str, kind: ChatKind) -> None:
    assert classify(text) is kind


@pytest.mark.parametrize(
    "text",
    ["mdp perdu aidez moi", "comment ca marche", "bonjour je cherche un film", "aide aux devoirs",
     "ok pour les bd ?", ""],
)  # fmt: skip
def test_questions_are_not_chat(text: str) -> None:
    assert classify(text) is None


def test_a_long_message_loses_its_politeness() -> None:
    reduced = reduce_message(
        "Bonjour madame, j'espère que vous allez bien. Ma carte de bibliothèque est périmée "
        "et je n'arrive plus à me connecter. Pouvez-vous m'aider ? Merci d'avance. Cordialement"
    )
    assert reduced.text == (
        "Ma carte de bibliothèque est périmée et je n'arrive plus à me connecter"
    )


def test_sentences_of_a_long_message_are_searched_apart() -> None:
    reduced = reduce_message(
        "Salut, on part en vacances en Italie la semaine prochaine avec les enfants. Est-ce "
        "que les films marchent là-bas ? Merci"
    )
    assert reduced.sentences == (
        "on part en vacances en Italie la semaine prochaine avec les enfants",
        "Est-ce que les films marchent là-bas ?",
    )


def test_a_short_question_is_left_alone() -> None:
    assert reduce_message("bonjour je voudrais un film").text == "je voudrais un film"
    assert reduce_message("film intouchables").sentences == ()


@pytest.mark.parametrize(
    ("text", "library_id"),
    [
        ("horaires", None),
        ("c'est ouvert samedi ?", None),
        ("téléphone de la bibliothèque", None),
        ("adresse de la médiathèque de lumbre", "lib-lumbres"),  # a typo
        ("horaires wavrans", "lib-wavrans"),
        ("c'est ouvert quand a esquerdes", "lib-esquerdes"),
        ("opening hours of lumbres library", "lib-lumbres"),
        ("ou est la bibliotheque la plus proche", None),  # the patron's own, not Roche
        ("est ce que vous êtes ouverts le dimanche", None),
        ("what time does the library open on saturday", None),
        ("horaires roch plumet", "lib-roche"),  # a typo of a name that is no word
    ],
)
def test_questions_about_a_library(text: str, library_id: str | None) -> None:
    asked = place_question(text, LIBRARIES)
    assert asked.about_library
    assert asked.library_id == library_id


@pytest.mark.parametrize(
    "text",
    ["horaires de la piscine", "les horaires du bus pour lumbres", "on est quel jour",
     "je trouve plus ma carte", "combien de temps dure un pret"],
)  # fmt: skip
def test_other_questions_are_not_about_a_library(text: str) -> None:
    assert not place_question(text, LIBRARIES).about_library


@pytest.mark.parametrize(
    ("text", "elsewhere"),
    [
        ("horaires de la piscine", True),
        ("adresse de la mairie", True),
        ("opening hours of the swimming pool", True),
        ("les horaires du cinéma", False),  # the online cinema is Plume's
        ("adresse mail pour contacter un bibliothécaire", False),
        ("quelle appli sur mon téléphone", False),  # the patron's device
        ("horaires", False),
        ("adresse de la médiathèque de lumbre", False),
    ],
)
def test_hours_or_address_of_another_place(text: str, elsewhere: bool) -> None:
    assert place_question(text, LIBRARIES).elsewhere is elsewhere


async def test_a_title_that_opens_like_politeness_is_read_as_typed(
    catalogue_db: SessionFactory,
) -> None:
    # "Au revoir" opens the title: stripped as a farewell, the rest ("là-haut") is another
    # film; the message as typed is read too, and explains more of it
    search = SearchService(catalogue_db)
    await search.reload()
    responder = Responder(catalogue_db, search, None)
    decision = await responder.decide("Au revoir là-haut")
    assert decision.answer is not None and decision.answer.id == "video-revoir"
    assert (await responder.decide("au revoir !")).kind == "chat"
    found = await responder.decide("bonjour, vous avez intouchables ?")
    assert found.answer is not None and found.answer.id == "video-intouchables"
