"""/media: media types → resources → newest items, with buttons."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.answering.service import Card
from bot.context import PlumeContext, PlumeHandler
from bot.shared.callbacks import BROWSE, CARD
from bot.shared.labels import MEDIA_EMOJI, MEDIA_SHELVES
from handlers.shared.cards import link_row, short
from handlers.shared.common import button, escape, keyboard, reply, show
from handlers.shared.menus import names
from handlers.shared.pager import pager_row

# M:  media types (M:* in place) · M:<type>  its resources
# M:<resource id>:<page>  a resource's newest items


async def media(update: Update, context: PlumeContext) -> None:
    await show_shelves(update, context, edit=False)


async def show_shelves(update: Update, context: PlumeContext, *, edit: bool) -> None:
    t = context.t
    shelves = await context.services.answers.shelves()
    if not shelves:
        await reply(update, t("The catalogue is empty for now."))
        return
    rows = [
        [button(f"{MEDIA_EMOJI[m]} {t(MEDIA_SHELVES[m])}", f"{BROWSE}{m}")] for m, _ in shelves
    ]
    text = t("<b>The digital library</b>\nWhat would you like to explore?")
    if edit:
        await show(update, text, keyboard(rows))
    else:
        await reply(update, text, keyboard(rows))


async def browse_button(update: Update, context: PlumeContext) -> None:
    query = update.callback_query
    assert query and query.data is not None
    t = context.t
    parts = query.data.removeprefix(BROWSE).split(":")
    if parts in ([""], ["*"]):  # "*": back from a shelf, in place
        await query.answer()
        await show_shelves(update, context, edit=parts == ["*"])
        return
    if len(parts) == 1:
        shelf = await context.services.answers.shelf(parts[0])
        if shelf is None:
            await query.answer(t("This button is no longer valid."), show_alert=True)
            return
        await query.answer()
        rows = [
            [button(f"{MEDIA_EMOJI[shelf.media_type]} {short(r.name)}", f"{BROWSE}{r.id}:0")]
            for r in shelf.resources
        ]
        rows.append([button(t("◀ All media"), f"{BROWSE}*")])
        await show(update, f"<b>{escape(t(MEDIA_SHELVES[shelf.media_type]))}</b>", keyboard(rows))
        return
    if len(parts) == 2 and parts[1].isdigit():
        resource_id, page = parts[0], int(parts[1])
        newest = await context.services.answers.newest(resource_id, page)
        if newest is None:
            await query.answer(t("This button is no longer valid."), show_alert=True)
            return
        await query.answer()
        resource = newest.resource
        lines = [f"<b>{escape(resource.name)}</b>", escape(resource.description)]
        if newest.items:
            lines.append(
                t(
                    "<i>Newest titles ({page}/{pages}):</i>",
                    page=newest.page + 1,
                    pages=newest.pages,
                )
            )
        rows = [[button(short(item.title), f"{CARD}i:{item.id}")] for item in newest.items]
        nav = pager_row(t, newest.page, newest.pages, lambda p: f"{BROWSE}{resource.id}:{p}")
        rows.append(nav)
        card = Card(
            "resource", resource.id, resource.name, url=resource.url, resource_name=resource.name
        )
        rows.append(link_row(t, card))
        rows.append([button(t("◀ Back"), f"{BROWSE}{resource.media_type}")])
        await show(update, "\n\n".join(lines), keyboard(rows))
        return
    await query.answer(t("This button is no longer valid."), show_alert=True)


def handlers() -> list[PlumeHandler]:
    return [
        CommandHandler(names("media"), media),
        CallbackQueryHandler(browse_button, pattern=f"^{BROWSE}"),
    ]
