"""The answer decision: coverage, common words, question shape, fusion with the meaning."""

from __future__ import annotations

from bot.answering.judge import (
    Similar,
    distinct_title,
    judge,
    message_results,
    question_shaped,
    verdict_of,
)
from bot.search import Hit


def item(score: float, coverage: float = 1.0, common_only: bool = False, id: str = "it") -> Hit:
    return Hit("item", id, "Un titre", score, "video", coverage=coverage, common_only=common_only)


def faq(score: float, coverage: float = 1.0, id: str = "faq-x") -> Hit:
    return Hit("faq", id, "Une question ?", score, coverage=coverage)


def test_a_full_match_is_an_answer() -> None:
    verdict = judge("intouchables", [item(0.93)])
    assert verdict.kind == "answer" and verdict.answer and verdict.answer.id == "it"


def test_one_common_word_never_makes_an_item_answer() -> None:
    verdict = judge("on est quel jour", [item(0.76, common_only=True)])
    assert verdict.kind != "answer"


def test_an_item_covering_half_the_question_is_not_an_answer() -> None:
    verdict = judge("horaires de la piscine", [item(0.47, coverage=0.5)])
    assert verdict.kind == "suggest" and verdict.answer is None


def test_a_question_shaped_as_one_leans_to_the_faq() -> None:
    hits = [item(0.6, id="it-service"), faq(0.5, id="faq-qui")]
    similar = [Similar("faq", "faq-qui", "Qui peut utiliser ?", None, 0.7)]
    verdict = judge("qui a le droit d'utiliser le service", hits, similar)
    assert verdict.answer is not None and verdict.answer.id == "faq-qui"
    assert question_shaped("est-ce que je peux emprunter")
    assert not question_shaped("film intouchables")


def test_two_weak_signals_that_agree_make_an_answer() -> None:
    hits = [faq(0.35, coverage=0.7, id="faq-carte-perdue")]
    alone = judge("mon chien a mangé ma carte", hits)
    assert alone.kind == "suggest"
    similar = [Similar("faq", "faq-carte-perdue", "J'ai perdu ma carte", None, 0.65)]
    both = judge("mon chien a mangé ma carte", hits, similar)
    assert both.kind == "answer" and both.answer and both.answer.id == "faq-carte-perdue"


def test_both_signals_ranking_one_entry_first_make_an_answer() -> None:
    question = "mon mari m'a offert une kindle pour noel, je pourrai lire vos livres dessus"
    hits = [faq(0.12, coverage=0.5, id="faq-kindle"), item(0.2, coverage=0.3, id="it-noel")]
    nearest = Similar("faq", "faq-kindle", "Ma liseuse Kindle est-elle compatible ?", None, 0.6)
    other = Similar("faq", "faq-liseuse", "Sur quelles liseuses ?", None, 0.5)
    verdict = judge(question, hits, [nearest, other])
    assert verdict.kind == "answer" and verdict.answer and verdict.answer.id == "faq-kindle"
    # the same scores without the agreement (the nearest in meaning is another entry): a lead
    swapped = [Similar("faq", "faq-kindle", "Ma liseuse Kindle ?", None, 0.6),
               Similar("faq", "faq-liseuse", "Sur quelles liseuses ?", None, 0.62)]  # fmt: skip
    assert judge(question, hits, swapped).kind == "suggest"


def test_a_title_ahead_in_words_does_not_hide_the_agreement_on_an_entry() -> None:
    # the meaning ranks only FAQ entries and resources: the agreement is judged among them
    question = "je pars en cure, j'aurai le temps de finir mon ebook"
    entry = faq(0.12, coverage=0.5, id="faq-pret-duree")
    nearest = Similar("faq", "faq-pret-duree", "Combien de temps dure un prêt ?", None, 0.6)
    other = Similar("faq", "faq-reserver", "Réserver un livre déjà emprunté ?", None, 0.5)
    verdict = judge(question, [item(0.3, id="it-cure"), entry], [nearest, other])
    assert verdict.kind == "answer" and verdict.answer and verdict.answer.id == "faq-pret-duree"
    # the title alone ahead, with no entry both signals rank first: no answer
    apart = [Similar("faq", "faq-reserver", "Réserver ?", None, 0.62), nearest]
    assert judge(question, [item(0.3, id="it-cure"), entry], apart).kind == "suggest"


def test_the_meaning_alone_answers_a_paraphrase_without_common_words() -> None:
    similar = [Similar("faq", "faq-pret-duree", "Combien de temps dure un prêt ?", None, 0.9)]
    verdict = judge("how long may I hold on to an e-book", [], similar)
    assert verdict.kind == "answer" and verdict.answer and verdict.answer.id == "faq-pret-duree"


def test_a_weak_meaning_alone_is_a_lead_at_most() -> None:
    similar = [Similar("faq", "faq-gratuit", "Est-ce payant ?", None, 0.55)]
    assert judge("prix du gasoil", [], similar).kind != "answer"


def test_a_sentence_of_a_long_message_is_judged_as_a_question() -> None:
    # "C'est vrai ?" ending a story about the code de la route asks about the service
    hits = [item(0.7, id="music-cest-vrai")]
    assert judge("c'est vrai ?", hits).kind == "answer"
    assert judge("c'est vrai ?", hits, shaped=True).kind != "answer"


def test_a_long_message_answers_what_its_readings_point_at_together() -> None:
    """A story about the driving test ending in "C'est vrai ?": the last sentence alone
    matches a song by its title, the others all point at the entry on the code de la route."""
    story = [
        judge("mon fils passe son examen du code", [faq(0.45, id="faq-code")], shaped=True),
        judge("c'est payant partout sur internet", [faq(0.3, id="faq-code")], shaped=True),
        judge("on m'a dit que la bibliothèque proposait quelque chose",
              [faq(0.25, id="faq-code"), faq(0.2, id="faq-autre")], shaped=True),
        judge("c'est vrai ?", [item(0.75, id="music-cest-vrai")], shaped=True),
    ]  # fmt: skip
    best_alone = max(story, key=lambda reading: reading.confidence)
    assert best_alone.results[0].id == "music-cest-vrai"  # the rule before: a song
    results = message_results(story)
    assert [p.id for p in results] == ["faq-code", "music-cest-vrai", "faq-autre"]
    assert results[0].score == 0.7 * sum(r.results[0].score for r in story[:3])
    verdict = verdict_of("story", results)
    assert verdict.kind == "answer" and verdict.answer and verdict.answer.id == "faq-code"
    # one reading alone is worth less than it was: a lead, not an answer
    lone = message_results([story[3], judge("au revoir", [])])
    assert verdict_of("story", lone).kind == "suggest"


def test_nothing_found_is_none() -> None:
    assert judge("asdfgh", []).kind == "none"


def test_two_close_candidates_are_leads_not_an_answer() -> None:
    # 0.55 would be an answer alone; a second at 0.5 makes it a coin toss: both are shown
    close = judge("un titre", [item(0.55, id="a"), item(0.5, id="b")])
    assert close.kind == "suggest" and [p.id for p in close.others] == ["a", "b"]
    ahead = judge("un titre", [item(0.55, id="a"), item(0.35, id="b")])
    assert ahead.kind == "answer" and ahead.answer and ahead.answer.id == "a"
    # a sure one is the answer whatever the second scores
    sure = judge("un titre", [item(0.65, id="a"), item(0.62, id="b")])
    assert sure.kind == "answer" and sure.answer and sure.answer.id == "a"


def test_weak_candidates_are_leads_and_only_fair_ones_see_also() -> None:
    weak = judge("une question", [faq(0.15, id="faq-a"), faq(0.05, id="faq-b")])
    assert weak.kind == "suggest" and [p.id for p in weak.others] == ["faq-a"]
    answered = judge("une question", [faq(0.9, id="faq-a"), faq(0.25, id="faq-b"),
                                      faq(0.15, id="faq-c")])  # fmt: skip
    assert answered.kind == "answer" and [p.id for p in answered.others] == ["faq-b"]


def test_an_entry_far_nearer_in_meaning_than_any_other_is_an_answer() -> None:
    nearest = Similar("faq", "faq-qui", "Qui peut utiliser le service ?", None, 0.64)
    far = Similar("faq", "faq-acces", "Comment accéder ?", None, 0.38)
    clear = judge("can my 8 year old have his own account", [], [nearest, far])
    assert clear.kind == "answer" and clear.answer and clear.answer.id == "faq-qui"
    # as near, but another entry close behind: leads
    close = Similar("faq", "faq-acces", "Comment accéder ?", None, 0.58)
    assert judge("can my 8 year old have his own account", [], [nearest, close]).kind == (
        "suggest"
    )


def titled(title: str, score: float, coverage: float, id: str) -> Hit:
    return Hit("item", id, title, score, "press", coverage=coverage, title_coverage=1.0)


def test_a_distinctive_title_named_whole_is_the_answer_whatever_else_is_said() -> None:
    # "Mon fils de 10 ans adore Okapi, vous l'avez dans le kiosque ?": the magazine's title
    # is rare in everyday speech, "Le fils" is not
    hits = [titled("Okapi", 0.39, 0.46, "okapi"), titled("Le fils / Jo Nesbo", 0.31, 0.37, "fils")]
    verdict = judge("Mon fils de 10 ans adore Okapi, vous l'avez dans le kiosque ?", hits)
    assert verdict.kind == "answer" and verdict.answer and verdict.answer.id == "okapi"
    common = judge("Mon fils de 10 ans, vous avez quoi pour lui ?", hits[1:])
    assert common.kind != "answer"


def test_two_distinctive_titles_as_good_make_no_answer() -> None:
    hits = [titled("Okapi", 0.39, 0.46, "a"), titled("Okapi", 0.39, 0.46, "b")]
    assert judge("okapi, vous avez ?", hits).kind != "answer"


def test_distinctive_titles() -> None:
    assert distinct_title("Okapi") and distinct_title("Le grinch")
    assert distinct_title("Les cahiers d'Esther")
    assert not distinct_title("Le fils / Jo Nesbo")
    assert not distinct_title("Jour") and not distinct_title("Mangas")
    assert not distinct_title("Harry Potter et les reliques de la mort")
