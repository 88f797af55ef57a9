"""Short friendly replies to greetings, thanks, "ok", emoji, farewells; "aide" → /help."""

from __future__ import annotations

from bot.answering.chat import ChatKind
from bot.i18n import Translator


def chat_reply(t: Translator, kind: ChatKind, role: str, name: str | None) -> str:
    if kind is ChatKind.HELP:
        from handlers.start import help_text  # the /help text itself

        return help_text(t, role)
    if kind is ChatKind.GREETING:
        return t(
            "Hello! Ask me anything about the digital library: e-books, films, music, "
            "press, courses, video games, or your library's opening hours. For example: "
            "“forgot my password”, “do you have comics?”."
        )
    if kind is ChatKind.THANKS:
        return t("You're welcome! Ask me another question whenever you like.")
    if kind is ChatKind.FAREWELL:
        return t("Goodbye, see you soon!")
    if kind is ChatKind.ACK:
        return t("👍 I'm here if you have another question.")
    return t("🙂 Write me your question, e.g. “film Intouchables” or “opening hours”.")
