from __future__ import annotations

import pytest

from bot.search import normalize
from bot.search.lexicon import fold, stem


def test_case_and_accents_do_not_matter() -> None:
    assert normalize("ÉCOUTER") == normalize("ecouter") == normalize("écouter")
    assert fold("Œuvre Ça") == "oeuvre ca"


@pytest.mark.parametrize(
    ("written", "same_as"),
    [
        ("l'anglais", "anglais"),
        ("L’anglais", "anglais"),  # typographic apostrophe
        ("d'espagnol", "espagnol"),
        ("qu'est-ce qu'un ebook", "ebook"),
        ("jai oublié", "oublié"),
        ("j'ai oublié", "oublié"),
        ("cest payant", "payant"),
        ("c'est payant ?!", "payant"),
    ],
)
def test_elisions_and_glued_apostrophes(written: str, same_as: str) -> None:
    assert normalize(written) == normalize(same_as)


def test_punctuation_and_stop_words_are_dropped() -> None:
    assert normalize("Le... livre, de la BIBLIOTHÈQUE !!!") == normalize("livre bibliotheque")
    assert normalize("je le la les un une des du") == []


@pytest.mark.parametrize(
    ("sms", "plain"),
    [
        ("mdp", "mot de passe"),
        ("koi", "quoi"),
        ("pk", "pourquoi"),
        ("kel appli", "quelle application"),
        ("magasine", "magazine"),
        ("tel", "téléphone"),
    ],
)
def test_sms_and_common_misspellings(sms: str, plain: str) -> None:
    assert normalize(sms) == normalize(plain)


def test_stop_words_of_sms_disappear() -> None:
    assert normalize("stp svp merci bjr") == []


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("BD", "bande dessinée"),
        ("des bandes dessinées", "bd"),
        ("livre audio", "audiobook"),
        ("jeux vidéos", "jeu video"),
        ("sans internet", "hors connexion"),
        ("mot de passe", "MDP"),
    ],
)
def test_equivalent_synonyms_become_one_term(one: str, other: str) -> None:
    assert normalize(one) == normalize(other)
    assert len(normalize(one)) == 1


@pytest.mark.parametrize(
    ("plural", "singular"),
    [
        ("films", "film"),
        ("magazines", "magazine"),
        ("journaux", "journal"),
        ("jeux", "jeu"),
        ("payante", "payant"),
        ("téléchargé", "télécharger"),
    ],
)
def test_light_stemming(plural: str, singular: str) -> None:
    assert normalize(plural) == normalize(singular)


def test_stemmer_leaves_short_words_and_numbers() -> None:
    assert stem("bus") == "bus"
    assert stem("2017") == "2017"


@pytest.mark.parametrize("text", ["", "   ", "🙂🙂🙂", "!!!???", "\x00\x01"])
def test_nothing_to_search(text: str) -> None:
    assert normalize(text) == []


def test_other_scripts_are_kept_as_words() -> None:
    assert normalize("你好") == ["你好"]


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("jouer", "joue"),  # five-letter verbs meet their short forms
        ("jouez", "joues"),
        ("durée", "dure"),
        ("réservation", "réserver"),  # long -ation nouns meet their verb
        ("installation", "installer"),
        ("prolongation", "prolonger"),
    ],
)
def test_stemming_joins_verb_and_noun_forms(one: str, other: str) -> None:
    assert normalize(one) == normalize(other)


def test_short_ation_nouns_keep_their_meaning() -> None:
    assert normalize("formation") != normalize("forme")
    assert normalize("animation") != normalize("anime")


def test_forms_of_etre_and_avoir_are_stop_words() -> None:
    assert normalize("quand il sera dispo") == normalize("quand dispo")
    assert normalize("ça serait possible, il avait dit") == normalize("possible dit")


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("accès", "accéder"),
        ("en même temps", "simultané"),
        ("à la fois", "simultanément"),
        ("combien de temps", "durée"),
        ("les gamins", "les enfants"),
        ("mes infos perso", "mes données personnelles"),
        ("une vraie personne", "un humain"),
        ("inscrit", "inscrire"),
    ],
)
def test_everyday_phrasings_meet_the_faq_words(one: str, other: str) -> None:
    assert normalize(one) == normalize(other)
