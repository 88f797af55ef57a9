"""A library's card (opening hours, address, phone, e-mail) and the list of the others."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler

from bot.context import PlumeContext, PlumeHandler
from bot.i18n import N_, Translator
from bot.shared.callbacks import LIBRARY_CARD as LIBRARY_CARD
from bot.shared.callbacks import LIBRARY_LIST as LIBRARY_LIST
from handlers.shared.common import button, escape, keyboard, reply, show
from handlers.shared.pickers import library_picker
from storage.models import Library

DAYS = {  # the import's abbreviations (libraries.csv opening_hours: "mar 14h-18h; sam ...")
    "lun": N_("Monday"), "mar": N_("Tuesday"), "mer": N_("Wednesday"), "jeu": N_("Thursday"),
    "ven": N_("Friday"), "sam": N_("Saturday"), "dim": N_("Sunday"),
}  # fmt: skip


def _hours_lines(t: Translator, hours: str) -> list[str]:
    """ "mar 14h-18h; sam 10h-12h" → one line a day, the day in full."""
    lines = []
    for part in hours.split(";"):
        part = part.strip()
        if not part:
            continue
        day, _, times = part.partition(" ")
        full = DAYS.get(day.lower().rstrip(".")[:3])
        lines.append(f"• {t(full)} {times.strip()}" if full else f"• {part}")
    return lines


def library_text(t: Translator, library: Library) -> str:
    lines = [f"🏛 <b>{escape(library.name)}</b>"]
    if library.opening_hours:
        hours = _hours_lines(t, library.opening_hours)
        lines += ["", t("<b>Opening hours</b>"), *(escape(line) for line in hours)]
    contact = []
    if library.address:
        where = library.address + (f", {library.commune}" if library.commune else "")
        contact.append(t("📍 {address}", address=escape(where)))
    if library.phone:
        contact.append(t("📞 {phone}", phone=escape(library.phone)))
    if library.email:
        contact.append(t("✉️ {email}", email=escape(library.email)))
    if contact:
        lines += ["", *contact]
    return "\n".join(lines)


def others_row(t: Translator) -> list[InlineKeyboardButton]:
    return [button(t("🏛 The other libraries"), f"{LIBRARY_LIST}0")]


def library_markup(t: Translator) -> InlineKeyboardMarkup:
    return keyboard([others_row(t)])


async def send_library_card(update: Update, context: PlumeContext, library: Library) -> None:
    await reply(update, library_text(context.t, library), library_markup(context.t))


async def library_list(update: Update, context: PlumeContext) -> None:
    query = update.callback_query
    assert query and query.data
    t = context.t
    raw = query.data.removeprefix(LIBRARY_LIST)
    await query.answer()
    rows = await library_picker(
        context,
        int(raw) if raw.isdigit() else 0,
        lambda id_: f"{LIBRARY_CARD}{id_}",
        lambda p: f"{LIBRARY_LIST}{p}",
    )
    await show(update, t("Which library?"), keyboard(rows))


async def library_card(update: Update, context: PlumeContext) -> None:
    query = update.callback_query
    assert query and query.data
    library = await context.services.libraries.get(query.data.removeprefix(LIBRARY_CARD))
    if library is None:
        await query.answer(context.t("This button is no longer valid."), show_alert=True)
        return
    await query.answer()
    await send_library_card(update, context, library)


def handlers() -> list[PlumeHandler]:
    return [
        CallbackQueryHandler(library_list, pattern=f"^{LIBRARY_LIST}"),
        CallbackQueryHandler(library_card, pattern=f"^{LIBRARY_CARD}"),
    ]
