"""bot.telegram_http.AiohttpRequest: PTB's Bot over aiohttp, real HTTP against the stand-in."""

from __future__ import annotations

import asyncio
import datetime as dt
import warnings
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.standin import BotAPIStandin
from bot.telegram_http import POOL_TIMEOUT_MESSAGE, AiohttpRequest
from tests.kit import TOKEN

ALICE = 1001


def make_bot(standin: BotAPIStandin, **request_options: object) -> Bot:
    return Bot(
        TOKEN,
        base_url=standin.api_url,
        base_file_url=standin.file_url,
        request=AiohttpRequest(**request_options),  # type: ignore[arg-type]
    )


@pytest.fixture
async def bot(standin: BotAPIStandin) -> AsyncIterator[Bot]:
    standin.user(ALICE, "Alice", language_code="fr")
    async with make_bot(standin, read_timeout=2.0) as ptb_bot:
        yield ptb_bot


async def test_a_message_with_its_keyboard(standin: BotAPIStandin, bot: Bot) -> None:
    alice = standin.user(ALICE)
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Lumbres ✓", callback_data="L:1")]])

    sent = await bot.send_message(
        ALICE, "<b>Médiathèque</b> & co", parse_mode="HTML", reply_markup=markup
    )

    received = await alice.next_message(timeout=2)
    assert received.message_id == sent.message_id
    assert received.text == "Médiathèque & co"
    assert received.button_texts == ["Lumbres ✓"]
    call = standin.calls_for("sendMessage")[0]
    assert call.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "L:1"
    assert sent.chat.id == ALICE and sent.text == "Médiathèque & co"


async def test_a_file_upload_and_its_download(standin: BotAPIStandin, bot: Bot) -> None:
    alice = standin.user(ALICE)
    content = bytes(range(256)) * 40

    sent = await bot.send_document(
        ALICE,
        content,
        filename="programme été.pdf",
        caption="<i>Le programme</i>",
        parse_mode="HTML",
    )

    received = await alice.next_message(timeout=2)
    assert received.document == content
    assert received.file_name == "programme été.pdf"
    assert received["caption"] == "Le programme"
    assert standin.calls_for("sendDocument")[0].files == {"document": "programme été.pdf"}
    assert sent.document is not None
    downloaded = await (await bot.get_file(sent.document.file_id)).download_as_bytearray()
    assert bytes(downloaded) == content


async def test_429_is_retry_after(standin: BotAPIStandin, bot: Bot) -> None:
    standin.faults.rate_limits = True
    await bot.send_message(ALICE, "one")

    with pytest.raises(RetryAfter) as refused:
        await bot.send_message(ALICE, "two")  # one message a second in a private chat

    with warnings.catch_warnings():  # PTB 22 warns that the type will change
        warnings.simplefilter("ignore")
        retry_after = refused.value.retry_after
    seconds = retry_after.total_seconds() if isinstance(retry_after, dt.timedelta) else retry_after
    assert seconds == 1
    assert [c.status for c in standin.calls_for("sendMessage")] == [200, 429]


async def test_403_is_forbidden(standin: BotAPIStandin, bot: Bot) -> None:
    standin.user(ALICE).block_bot()

    with pytest.raises(Forbidden, match="blocked by the user"):
        await bot.send_message(ALICE, "hello")


async def test_400_is_bad_request(standin: BotAPIStandin, bot: Bot) -> None:
    with pytest.raises(BadRequest):
        await bot.send_message(ALICE, "")


async def test_502_is_a_network_error(standin: BotAPIStandin, bot: Bot) -> None:
    standin.faults.server_error_rate = 1.0

    with pytest.raises(NetworkError, match="Bad Gateway") as failed:
        await bot.send_message(ALICE, "hello")

    assert not isinstance(failed.value, TimedOut)


async def test_a_dropped_connection_is_a_network_error_never_a_second_send(
    standin: BotAPIStandin, bot: Bot
) -> None:
    await bot.send_message(ALICE, "warm the pool up")  # a kept-alive connection is reused
    standin.faults.drop_rate = 1.0

    with pytest.raises(NetworkError, match="aiohttp") as failed:
        await bot.send_message(ALICE, "hello")

    assert not isinstance(failed.value, TimedOut)
    assert [c.status for c in standin.calls_for("sendMessage")] == [200, 0]  # not retried
    standin.faults.drop_rate = 0.0
    await bot.send_message(ALICE, "back")  # the pool recovers


async def test_a_slow_answer_times_out(standin: BotAPIStandin) -> None:
    standin.faults.latency = 1.0
    async with make_bot(standin, read_timeout=0.2, write_timeout=0.1) as slow:
        with pytest.raises(TimedOut):
            await slow.send_message(ALICE, "hello")
        # a timeout given to the call wins over the default
        sent = await slow.send_message(ALICE, "patience", read_timeout=3.0)
    assert sent.text == "patience"


async def test_a_connection_refused_is_a_network_error() -> None:
    runner = web.AppRunner(web.Application())
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    await runner.cleanup()  # nobody listens on that port any more
    bot = Bot(TOKEN, base_url=f"http://127.0.0.1:{port}/bot", request=AiohttpRequest())

    with pytest.raises(NetworkError, match=r"aiohttp\.ClientConnectorError") as failed:
        await bot.initialize()  # getMe

    assert not isinstance(failed.value, TimedOut)
    await bot.shutdown()


async def test_a_full_pool_times_out_without_sending(standin: BotAPIStandin) -> None:
    standin.faults.latency = 0.5
    request = AiohttpRequest(connection_pool_size=1, pool_timeout=0.1, read_timeout=2.0)
    async with Bot(TOKEN, base_url=standin.api_url, request=request) as bot:
        first = asyncio.create_task(bot.send_message(ALICE, "one"))
        await asyncio.sleep(0.1)
        with pytest.raises(TimedOut, match="Pool timeout"):
            await bot.send_message(ALICE, "two")
        await first
    assert POOL_TIMEOUT_MESSAGE.startswith("Pool timeout")
    assert [c.params["text"] for c in standin.calls_for("sendMessage")] == ["one"]


async def test_lifecycle(standin: BotAPIStandin) -> None:
    request = AiohttpRequest()
    assert request.read_timeout == 5.0
    with pytest.raises(NetworkError, match="not initialized"):
        await request.post(f"{standin.api_url}{TOKEN}/getMe")
    async with request:
        await request.initialize()  # twice: harmless
        me = await request.post(f"{standin.api_url}{TOKEN}/getMe")
        assert me["username"] == "plume_test_bot"  # type: ignore[index,call-overload]
    await request.shutdown()  # twice: harmless
    async with request:  # opened again after a shutdown
        assert await request.post(f"{standin.api_url}{TOKEN}/getMe")
