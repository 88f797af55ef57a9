from __future__ import annotations

import pytest

from bot.search import SearchIndex, detect_media_type


@pytest.mark.parametrize(
    ("question", "media"),
    [
        ("des films de Kurosawa", "video"),
        ("vous avez des bd ?", "ebook"),
        ("je veux lire des magazines", "press"),
        ("un journal régional", "press"),
        ("livres audio pour ma grand-mère", "ebook"),
        ("vous avez des jeux video ?", "game"),
        ("musique sans internet", "music"),
        ("cours d'anglais", "training"),
        ("Do you have movies to stream?", "video"),
        ("online courses", "training"),
        ("any newspapers?", "press"),
        ("Are there video games?", "game"),
        ("j'ai oublié mon mot de passe", None),
        ("", None),
    ],
)
def test_detect_media_type(question: str, media: str | None) -> None:
    assert detect_media_type(question) == media


def test_films_of_a_director_are_films(index: SearchIndex) -> None:
    hits = index.search("des films de Kurosawa", limit=3)
    assert [h.id for h in hits[:2]] in (
        ["video-rashomon", "video-samourais"],
        ["video-samourais", "video-rashomon"],
    )
    # the book about Kurosawa comes after his films
    assert all(h.media_type == "video" for h in hits[:2])


def test_asking_for_a_media_finds_its_resource(index: SearchIndex) -> None:
    assert index.search("vous avez des bd ?")[0].id == "res-ebooks"
    assert index.search("des films ?")[0].id == "res-vod"
    assert index.search("je veux lire des magazines")[0].id in ("res-press", "faq-presse-titres")


def test_a_media_online_is_that_media(index: SearchIndex) -> None:
    # the whole offer is online: "en ligne", "numérique" say nothing more than the media
    assert index.search("vous avez des bd en numérique ?")[0].id == "res-ebooks"
    assert index.search("des films en streaming ?")[0].id == "res-vod"


def test_media_type_filter_is_strict(index: SearchIndex) -> None:
    hits = index.search("harry potter chambre des secrets", media_type="ebook")
    assert hits and all(h.media_type == "ebook" for h in hits)
    assert hits[0].id == "ebook-hp2"
    assert index.search("harry potter", media_type="no-such-type") == []


def test_a_magazine_named_by_its_title_is_that_magazine(index: SearchIndex) -> None:
    # "magazine" is what a magazine is, whether or not the word is in its record: the title
    # named whole comes before a longer one that has both words
    hits = index.search("le magazine L'Histoire", limit=3)
    assert hits[0].id == "press-histoire", hits


def test_a_whole_title_is_not_moved_by_the_media_word_inside_it(index: SearchIndex) -> None:
    # "chanson" hints at music, but "Chanson douce" is the novel's whole title
    assert index.search("Chanson douce", limit=3)[0].id == "ebook-chanson"
    # naming only a kind of media still finds its resource, not an album called so
    assert index.search("vous avez des mangas ?")[0].id == "res-ebooks"
