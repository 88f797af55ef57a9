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


#: every command's French and English names (both work; the menu shows the person's own)
NAMES: dict[str, tuple[str, str]] = {
    "start": ("start", "start"),
    "help": ("aide", "help"),
    "settings": ("parametres", "settings"),
    "media": ("medias", "media"),
    "whoami": ("moi", "whoami"),
    "workshops": ("ateliers", "workshops"),
    "feedback": ("avis", "feedback"),
    "cancel": ("annuler", "cancel"),
    "questions": ("questions", "questions"),
    "announce": ("annonce", "announce"),
    "announcements": ("annonces", "announcements"),
    "new_workshop": ("nouvel_atelier", "new_workshop"),
    "manage_workshops": ("ateliers_gestion", "manage_workshops"),
    "stats": ("stats", "stats"),
    "feedback_received": ("avis_recus", "feedback_received"),
    "unanswered": ("sans_reponse", "unanswered"),
    "export": ("export", "export"),
    "report": ("rapport", "report"),
    "roles": ("roles", "roles"),
    "role": ("role", "role"),
    "privacy": ("confidentialite", "privacy"),
    "my_data": ("mes_donnees", "mydata"),
    "forget": ("oublier", "forget"),
    "erase": ("effacer", "erase"),
}


def names(key: str) -> list[str]:
    """What a CommandHandler answers to: the French and the English name."""
    return list(dict.fromkeys(NAMES[key]))


def name_in(key: str, language: str) -> str:
    french, english = NAMES[key]
    return english if language == "en" else french


@dataclass(frozen=True)
class MenuCommand:
    key: str  # in NAMES
    description: str  # marked with N_, translated per language
    role: str = "patron"


COMMANDS: list[MenuCommand] = [
    MenuCommand("start", N_("Start or restart the conversation")),
    MenuCommand("help", N_("What Plume can do")),
    MenuCommand("settings", N_("Language and home library")),
    MenuCommand("media", N_("Browse the digital library")),
    MenuCommand("whoami", N_("Your account and role")),
    MenuCommand("workshops", N_("Workshops in the libraries: sign up")),
    MenuCommand("questions", N_("Patrons' questions waiting for an answer"), "staff"),
    MenuCommand("announce", N_("Send an announcement to patrons"), "staff"),
    MenuCommand("announcements", N_("Scheduled and running announcements"), "staff"),
    MenuCommand("new_workshop", N_("Create a workshop"), "staff"),
    MenuCommand("manage_workshops", N_("Manage workshops: registrants, attendance"), "staff"),
    MenuCommand("feedback", N_("Give us your opinion")),
    MenuCommand("my_data", N_("A copy of your data")),
    MenuCommand("forget", N_("Erase all your data")),
    MenuCommand("privacy", N_("How Plume treats your data")),
    MenuCommand("stats", N_("Usage statistics"), "coordinator"),
    MenuCommand("feedback_received", N_("Latest comments from patrons"), "coordinator"),
    MenuCommand("unanswered", N_("Questions Plume could not answer"), "coordinator"),
    MenuCommand("export", N_("CSV files of feedback, usage and workshops"), "coordinator"),
    MenuCommand("report", N_("Evaluation report (HTML)"), "coordinator"),
    MenuCommand("roles", N_("Staff and their roles"), "admin"),
    MenuCommand("role", N_("Grant or revoke a role"), "admin"),
    MenuCommand("erase", N_("Erase a person on request (pseudonym)"), "admin"),
]


def commands_for(role: str, language: str) -> list[BotCommand]:
    """The menu of a role, in the person's language: names and descriptions."""
    t = translator(language)
    rank = ROLE_RANK[role]
    return [
        BotCommand(name_in(c.key, language), t(c.description))
        for c in COMMANDS
        if ROLE_RANK[c.role] <= rank
    ]


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
    """The person's own menu in their chat: their role's commands, in the language they
    chose (which may not be Telegram's: the default menus follow Telegram's)."""
    scope = BotCommandScopeChat(person.telegram_id)
    try:
        await bot.set_my_commands(commands_for(person.role, person.language), scope=scope)
    except TelegramError as error:  # a chat we cannot reach must not stop the others
        log.warning("command menu for %s not set: %s", person.telegram_id, error)
