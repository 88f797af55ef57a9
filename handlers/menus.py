"""Command menus (setMyCommands): one per language, and richer ones per privileged chat."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from telegram import Bot, BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from telegram.error import TelegramError

from bot.config import SUPPORTED_LOCALES
from bot.i18n import N_, translator
from bot.users import ROLE_RANK, Person

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MenuCommand:
    command: str
    description: str  # marked with N_, translated per language
    role: str = "patron"


COMMANDS: list[MenuCommand] = [
    MenuCommand("start", N_("Start or restart the conversation")),
    MenuCommand("help", N_("What Plume can do")),
    MenuCommand("settings", N_("Language and home library")),
    MenuCommand("media", N_("Browse the digital library")),
    MenuCommand("whoami", N_("Your account and role")),
    MenuCommand("ateliers", N_("Workshops in the libraries: sign up")),
    MenuCommand("questions", N_("Patrons' questions waiting for an answer"), "staff"),
    MenuCommand("annonce", N_("Send an announcement to patrons"), "staff"),
    MenuCommand("annonces", N_("Scheduled and running announcements"), "staff"),
    MenuCommand("nouvel_atelier", N_("Create a workshop"), "staff"),
    MenuCommand("ateliers_gestion", N_("Manage workshops: registrants, attendance"), "staff"),
    MenuCommand("avis", N_("Give us your opinion")),
    MenuCommand("mes_donnees", N_("A copy of your data")),
    MenuCommand("oublier", N_("Erase all your data")),
    MenuCommand("confidentialite", N_("How Plume treats your data")),
    MenuCommand("stats", N_("Usage statistics"), "coordinator"),
    MenuCommand("avis_recus", N_("Latest comments from patrons"), "coordinator"),
    MenuCommand("sans_reponse", N_("Questions Plume could not answer"), "coordinator"),
    MenuCommand("export", N_("CSV files of feedback, usage and workshops"), "coordinator"),
    MenuCommand("rapport", N_("Evaluation report (HTML)"), "coordinator"),
    MenuCommand("roles", N_("Staff and their roles"), "admin"),
    MenuCommand("role", N_("Grant or revoke a role"), "admin"),
    MenuCommand("effacer", N_("Erase a person on request (pseudonym)"), "admin"),
]


def commands_for(role: str, language: str) -> list[BotCommand]:
    t = translator(language)
    rank = ROLE_RANK[role]
    return [BotCommand(c.command, t(c.description)) for c in COMMANDS if ROLE_RANK[c.role] <= rank]


async def publish_default_menus(bot: Bot, default_language: str) -> None:
    """The patron menu for every language, plus the fallback for other languages."""
    for language in SUPPORTED_LOCALES:
        await bot.set_my_commands(
            commands_for("patron", language),
            scope=BotCommandScopeDefault(),
            language_code=language,
        )
    await bot.set_my_commands(
        commands_for("patron", default_language), scope=BotCommandScopeDefault()
    )


async def publish_menu_for(bot: Bot, person: Person) -> None:
    """A privileged person's own menu in their chat; a patron's chat falls back to default."""
    scope = BotCommandScopeChat(person.telegram_id)
    try:
        if person.privileged:
            await bot.set_my_commands(commands_for(person.role, person.language), scope=scope)
        else:
            await bot.delete_my_commands(scope=scope)
    except TelegramError as error:  # a chat we cannot reach must not stop the others
        log.warning("command menu for %s not set: %s", person.telegram_id, error)
