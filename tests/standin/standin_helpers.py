"""Helpers of the stand-in's own tests: a tiny PNG and a throwaway PTB echo bot."""

from __future__ import annotations

import html
import struct
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.standin import BotAPIStandin, Faults

TOKEN = "123456:TEST-standin"


def tiny_png(width: int = 4, height: int = 3) -> bytes:
    """A valid PNG image, built by hand (no image library needed)."""
    rows = b"".join(b"\x00" + b"\x3a\x8f\xd8" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def make_standin(faults: Faults | None = None) -> BotAPIStandin:
    return BotAPIStandin(token=TOKEN, bot_username="standin_test_bot", faults=faults)


# -- a throwaway echo bot ------------------------------------------------------------------------

CATALOGUE_CSV = "titre;auteur\nLes Misérables;Hugo\n".encode()
LIBRARIES = {"lumbres": "Lumbres", "arques": "Arques"}


async def _start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(name, callback_data=f"lib:{key}")]
            for key, name in LIBRARIES.items()
        ]
        + [[InlineKeyboardButton("Site", url="https://example.org/plume")]]
    )
    await update.message.reply_text(
        "<b>Bienvenue</b> ! Choisissez une médiathèque :", parse_mode="HTML", reply_markup=keyboard
    )


async def _choose(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    name = LIBRARIES[query.data.removeprefix("lib:")]
    await query.answer(f"{name} ✓")
    await query.edit_message_text(f"Médiathèque choisie : <b>{name}</b>", parse_mode="HTML")


async def _send_file(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None
    await update.message.reply_document(
        "titre;auteur\nLes Misérables;Hugo\n".encode(),
        filename="catalogue.csv",
        caption="Catalogue",
    )
    await update.message.reply_photo(tiny_png(), caption="Plan")


async def _document_back(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None and update.message.document is not None
    received = await update.message.document.get_file()
    data = await received.download_as_bytearray()
    await update.message.reply_document(
        bytes(data).upper(), filename=f"upper-{update.message.document.file_name}"
    )


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None and update.message.text is not None
    language = update.effective_user.language_code if update.effective_user else None
    await update.message.reply_text(
        f"[{language}] {html.escape(update.message.text)}", parse_mode="HTML"
    )


def build_echo_app(
    api: BotAPIStandin, *, rate_limiter: AIORateLimiter | None = None
) -> Application:
    builder = (
        ApplicationBuilder().token(api.token).base_url(api.api_url).base_file_url(api.file_url)
    )
    if rate_limiter is not None:
        builder = builder.rate_limiter(rate_limiter)
    app = builder.build()
    app.add_handler(CommandHandler("start", _start))
    app.add_handler(CommandHandler("file", _send_file))
    app.add_handler(CallbackQueryHandler(_choose, pattern=r"^lib:"))
    app.add_handler(MessageHandler(filters.Document.ALL, _document_back))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, _echo))
    return app


@asynccontextmanager
async def polling(app: Application) -> AsyncIterator[Application]:
    """Runs ``app`` with long polling, started and stopped by hand like Plume does."""
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
