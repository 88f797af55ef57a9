"""French and English that read right: typography, dates, durations, role names, sentences
around a library's name, and every command under a French and an English name — in the
catalogues and through the real bot."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from bot.i18n import read_catalog, translator
from bot.shared.when import duration_text
from handlers.shared.menus import COMMANDS, NAMES, commands_for
from tests.kit import ADMIN_ID

NNBSP = "\u202f"
ENTITY = re.compile(r"&#?\w+;")
COMMAND = re.compile(r"(?<![\w/.])/([a-z_]+)\b")


def _strings(locale: str):
    for message in read_catalog(locale):
        if not message.id:
            continue
        strings = (message.string,) if isinstance(message.string, str) else message.string
        for text in strings:
            yield message.id, text


def typography_faults(text: str) -> list[str]:
    plain = ENTITY.sub("", text)
    faults = []
    if re.search(r"[ \u00a0][;:!?]", plain):
        faults.append("a plain space before ; : ! ? (narrow no-break space wanted)")
    if re.search(r"(?<=[^\W\d_]|\})[;!?](?=\s|$)", plain) or re.search(
        r"(?<=[^\W\d_]|\})[:](?=\s|$)", plain
    ):
        faults.append("no space before ; : ! ?")
    if re.search(r"«(?!\u202f)", plain) or re.search(r"(?<!\u202f)»", plain):
        faults.append("« » without narrow no-break spaces inside")
    return faults


def test_french_typography():
    faults = [
        f"{text!r}: {fault}" for _id, text in _strings("fr") for fault in typography_faults(text)
    ]
    assert faults == []


@pytest.mark.parametrize(
    "text",
    ["Rôle : usager", "Vous êtes inscrit!", "« Atelier »", "Annuler {title} ?", "Durée: 2 h"],
)
def test_the_typography_check_sees_faults(text):
    assert typography_faults(text)


def test_french_sentences_need_no_article_before_a_library():
    """The name is "Médiathèque de…", "Bibliothèque du…": "de {library}", "la {library}"
    would read "de Médiathèque de…"."""
    wrong = [
        text
        for _id, text in _strings("fr")
        if re.search(r"\b(?:de|du|des|à|au|aux|la|le|les|l')\s*\{library\}", text)
    ]
    assert wrong == []


def test_dates_durations_and_roles():
    fr, en = translator("fr"), translator("en")
    first = dt.date(2026, 12, 1)
    assert fr.short_date(first) == "1er déc. 2026"
    assert fr.date(first) == "mardi 1er décembre 2026"
    assert fr.short_date(dt.date(2026, 12, 11)) == "11 déc. 2026"  # only the first day
    assert en.short_date(first) == "1 Dec 2026"
    assert en.date(first) == "Tuesday 1 December 2026"
    assert duration_text(en, 90) == "1h 30m" and duration_text(fr, 90) == "1 h 30"
    assert fr("administrator") != "administration"


def test_every_command_has_a_french_and_an_english_name():
    for french, english in NAMES.values():
        assert re.fullmatch(r"[a-z_]{1,32}", french) and re.fullmatch(r"[a-z_]{1,32}", english)
    for role in ("patron", "staff", "coordinator", "admin"):
        fr = [c.command for c in commands_for(role, "fr")]
        en = [c.command for c in commands_for(role, "en")]
        assert len(fr) == len(en) == len([c for c in COMMANDS if _allowed(c.role, role)])
    assert "aide" in [c.command for c in commands_for("patron", "fr")]
    assert "help" in [c.command for c in commands_for("patron", "en")]


def _allowed(minimum: str, role: str) -> bool:
    order = ("patron", "staff", "coordinator", "admin")
    return order.index(role) >= order.index(minimum)


@pytest.mark.parametrize(("locale", "side"), [("fr", 0), ("en", 1)])
def test_messages_name_commands_in_their_own_language(locale, side):
    own = {names[side] for names in NAMES.values()}
    other = {names[1 - side] for names in NAMES.values()} - own
    wrong = [
        (text, command)
        for _id, text in _strings(locale)
        for command in COMMAND.findall(text)
        if command in other
    ]
    assert wrong == []


async def test_commands_and_menus_in_both_languages(standin, plume):
    fr = standin.user(2990, first_name="Fanny", language_code="fr")
    en = standin.user(2991, first_name="Ed", language_code="en")
    await fr.send("/aide")
    assert "/ateliers" in (await fr.next_message()).text
    await fr.send("/help")  # the other language's name works too
    assert "/parametres" in (await fr.next_message()).text
    await en.send("/workshops")
    assert "coming up" in (await en.next_message()).text
    await en.send("/parametres")
    assert "settings" in (await en.next_message()).text.lower()
    await fr.send("aide")  # typed: the help, not the search
    helped = await fr.next_message()
    assert "Ce que je sais faire" in helped.text and "/avis" in helped.text
    menu = standin.backend.commands.visible_to(2990, 2990, "fr")
    assert [c["command"] for c in menu][:3] == ["start", "aide", "parametres"]
    menu = standin.backend.commands.visible_to(2991, 2991, "en")
    assert [c["command"] for c in menu][:3] == ["start", "help", "settings"]
    # a role given: the staff menu, in the person's language; it follows /settings
    admin = standin.user(ADMIN_ID, first_name="Ada", language_code="fr")
    await admin.send("/role 2991 staff")
    await admin.wait_for("bibliothécaire")
    menu = [c["command"] for c in standin.backend.commands.visible_to(2991, 2991, "en")]
    assert "new_workshop" in menu and "nouvel_atelier" not in menu
    await en.send("/whoami")
    assert "Role: library staff" in (await en.wait_for("Role")).text
    await fr.send("/moi")
    assert f"Rôle{NNBSP}: usager" in (await fr.next_message()).text
