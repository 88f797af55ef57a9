"""The stand-in driven by the real python-telegram-bot: commands, buttons, edits, files, scopes."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web
from standin_helpers import TOKEN, build_echo_app, tiny_png
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import BadRequest, Conflict, EndPointNotFound, InvalidToken
from telegram.ext import Application

from bot.standin import BotAPIStandin, StandinTimeout


async def test_bootstrap_calls_are_answered(standin: BotAPIStandin, echo_bot: Application) -> None:
    me = await echo_bot.bot.get_me()
    assert me.username == "standin_test_bot"
    assert me.is_bot and me.id == 123456
    methods = standin.calls.methods()
    assert methods[:2] == ["getMe", "deleteWebhook"]
    assert all(call.ok for call in standin.calls)


async def test_command_gets_reply_with_keyboard(
    standin: BotAPIStandin, echo_bot: Application
) -> None:
    alice = standin.user(1001, "Alice", language_code="fr")
    sent = await alice.send("/start")
    assert sent["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]

    reply = await alice.next_message(timeout=5)

    assert reply.from_bot and reply["chat"] == {
        "id": 1001,
        "type": "private",
        "first_name": "Alice",
    }
    assert reply.text == "Bienvenue ! Choisissez une médiathèque :"
    assert reply["entities"] == [{"type": "bold", "offset": 0, "length": 9}]
    assert reply.button_texts == ["Lumbres", "Arques", "Site"]
    assert reply.message_id == sent.message_id + 1
    assert isinstance(reply["date"], int)
    call = standin.calls_for("sendMessage")[0]
    assert call.chat_id == 1001
    assert call.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "lib:lumbres"


async def test_pressing_a_button_edits_the_message(
    standin: BotAPIStandin, echo_bot: Application
) -> None:
    alice = standin.user(1001, "Alice")
    await alice.send("/start")
    menu = await alice.next_message()

    query_id = await alice.press(menu, "Lumb")

    edited = await alice.next_message()
    assert edited.event == "edited" and edited.edited
    assert edited.message_id == menu.message_id
    assert edited.text == "Médiathèque choisie : Lumbres"
    assert edited.buttons == []  # editMessageText without reply_markup drops the keyboard
    assert (await alice.wait_callback_answer(query_id))["text"] == "Lumbres ✓"
    assert [m.text for m in alice.messages] == ["/start", "Médiathèque choisie : Lumbres"]


async def test_press_reports_missing_buttons(
    standin: BotAPIStandin, echo_bot: Application
) -> None:
    alice = standin.user(1001, "Alice")
    await alice.send("/start")
    menu = await alice.next_message()
    with pytest.raises(AssertionError, match="no button matching 'Calais'"):
        await alice.press(menu, "Calais")
    with pytest.raises(AssertionError, match="not a callback button"):
        await alice.press(menu, "Site")


async def test_files_both_ways(standin: BotAPIStandin, echo_bot: Application) -> None:
    alice = standin.user(1001, "Alice")
    await alice.send("/file")
    document = await alice.next_message()
    photo = await alice.next_message()
    assert document.file_name == "catalogue.csv"
    assert document.document == b"titre;auteur\nLes Mis\xc3\xa9rables;Hugo\n"
    assert document["document"]["mime_type"] == "text/csv"
    assert document.text == "Catalogue"
    assert photo.photo == tiny_png()
    assert photo["photo"][-1]["width"] == 4 and photo["photo"][-1]["height"] == 3

    await alice.send_document(b"a;b\n", "liste.csv")
    back = await alice.next_message()
    assert back.file_name == "upper-liste.csv" and back.document == b"A;B\n"
    assert [call.method for call in standin.calls_for("getFile")] == ["getFile"]


async def test_language_code_follows_the_user(
    standin: BotAPIStandin, echo_bot: Application
) -> None:
    alice = standin.user(1001, "Alice", language_code="fr")
    await alice.send("bonjour <3")
    assert (await alice.next_message()).text == "[fr] bonjour <3"
    alice.set_language("en")
    await alice.send("hello")
    assert (await alice.next_message()).text == "[en] hello"


async def test_timeout_message_describes_the_chat(
    standin: BotAPIStandin, echo_bot: Application
) -> None:
    alice = standin.user(1001, "Alice")
    await alice.send("/start")
    await alice.next_message()
    with pytest.raises(StandinTimeout) as failure:
        await alice.next_message(timeout=0.2)
    assert "Bienvenue" in str(failure.value) and "buttons=" in str(failure.value)
    await alice.assert_no_message(within=0.1)


async def test_set_my_commands_scopes(standin: BotAPIStandin, bot: Bot) -> None:
    alice = standin.user(1001, "Alice", language_code="fr")
    standin.user(1002, "Bruno", language_code="en")
    standin.user(1003, "Chloé", language_code="de")
    await bot.set_my_commands([BotCommand("start", "Start"), BotCommand("help", "Help")])
    await bot.set_my_commands([BotCommand("start", "Démarrer")], language_code="fr")
    await bot.set_my_commands(
        [BotCommand("stats", "Statistics")],
        scope=BotCommandScopeAllPrivateChats(),
        language_code="en",
    )
    await bot.set_my_commands(
        [BotCommand("admin", "Administration")], scope=BotCommandScopeChat(alice.chat_id)
    )

    def names(user_id: int) -> list[str]:
        return [command["command"] for command in standin.commands_for(user_id)]

    assert names(1001) == ["admin"]  # chat scope wins over everything
    assert names(1002) == ["stats"]  # all_private_chats + en
    assert names(1003) == ["start", "help"]  # default, no list in "de"
    stored = await bot.get_my_commands(language_code="fr")
    assert stored == (BotCommand("start", "Démarrer"),)

    await bot.delete_my_commands(scope=BotCommandScopeChat(alice.chat_id))
    assert [c["command"] for c in standin.commands_for(1001)] == ["start"]  # default + fr
    with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Not-Valid", "x")])


async def test_unknown_method_is_404_never_silent(standin: BotAPIStandin, bot: Bot) -> None:
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("sendQuantumMessage", api_kwargs={"chat_id": 1})
    call = standin.calls_for("sendQuantumMessage")[0]
    assert call.status == 404
    assert call.description == (
        "Not Found: method sendQuantumMessage is not supported by the stand-in"
    )


async def test_wrong_token_is_401(standin: BotAPIStandin) -> None:
    intruder = Bot("999:WRONG", base_url=standin.api_url, base_file_url=standin.file_url)
    try:
        with pytest.raises(InvalidToken):
            await intruder.initialize()
    finally:
        await intruder.shutdown()
    assert standin.calls[-1].status == 401


async def test_bad_requests(standin: BotAPIStandin, bot: Bot) -> None:
    alice = standin.user(1001, "Alice")
    with pytest.raises(BadRequest, match=r"(?i)can.t parse entities: can.t find end tag"):
        await bot.send_message(alice.chat_id, "<b>Horaires", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)character .!. is reserved"):
        await bot.send_message(alice.chat_id, "*Bonjour*!", parse_mode="MarkdownV2")
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(alice.chat_id, "x" * 4097)
    too_long = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="d" * 65)]])
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await bot.send_message(alice.chat_id, "menu", reply_markup=too_long)
    assert alice.messages == []  # nothing was delivered

    sent = await bot.send_message(alice.chat_id, "<b>ok</b> &amp; sûr", parse_mode="HTML")
    assert sent.text == "ok & sûr"
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text(
            "<b>ok</b> &amp; sûr", alice.chat_id, sent.message_id, parse_mode="HTML"
        )
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", alice.chat_id, 999)
    assert await bot.delete_message(alice.chat_id, sent.message_id)
    assert (await alice.next_event()).event == "sent"
    assert (await alice.next_event()).event == "deleted"


async def test_webhook_mode_delivers_updates_by_post(standin: BotAPIStandin) -> None:
    app = build_echo_app(standin)
    app_builder_updater = app.updater
    assert app_builder_updater is not None
    received: list[str] = []

    async def receive(request: web.Request) -> web.Response:
        received.append(request.headers.get("X-Telegram-Bot-Api-Secret-Token", ""))
        await app.update_queue.put(Update.de_json(await request.json(), app.bot))
        return web.Response()

    web_app = web.Application()
    web_app.router.add_post("/telegram", receive)
    runner = web.AppRunner(web_app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    await app.initialize()
    await app.start()
    try:
        await app.bot.set_webhook(f"http://{host}:{port}/telegram", secret_token="s3cret")
        info = await app.bot.get_webhook_info()
        assert info.url.endswith("/telegram")
        with pytest.raises(Conflict, match="webhook is active"):
            await app.bot.get_updates()

        alice = standin.user(1001, "Alice", language_code="fr")
        await alice.send("par webhook")
        assert (await alice.next_message()).text == "[fr] par webhook"
        assert received == ["s3cret"]
        assert (await app.bot.get_webhook_info()).pending_update_count == 0
    finally:
        await app.bot.delete_webhook()
        await app.stop()
        await app.shutdown()
        await runner.cleanup()


async def test_updates_wait_for_the_bot_and_long_polling_wakes_at_once(
    standin: BotAPIStandin, bot: Bot
) -> None:
    alice = standin.user(1001, "Alice")
    await alice.send("avant")
    assert standin.pending_updates == 1
    first = await bot.get_updates(timeout=0)
    assert [u.message.text for u in first if u.message] == ["avant"]

    loop = asyncio.get_running_loop()
    waiting = asyncio.create_task(bot.get_updates(offset=first[-1].update_id + 1, timeout=10))
    deadline = loop.time() + 5  # the request reaches the stand-in; a loaded machine is slow
    while standin.pending_updates and loop.time() < deadline:  # noqa: ASYNC110 (no event for it)
        await asyncio.sleep(0.01)
    assert standin.pending_updates == 0  # the offset confirmed the first update
    started = loop.time()
    await alice.send("pendant")
    second = await waiting
    assert loop.time() - started < 0.5
    assert [u.message.text for u in second if u.message] == ["pendant"]


async def test_group_chat_minimal(standin: BotAPIStandin, echo_bot: Application) -> None:
    alice = standin.user(1001, "Alice")
    group = standin.group(-100123, "Club lecture")
    member = group.member(alice)
    await member.send("/start@standin_test_bot")
    reply = await member.next_message()
    assert reply["chat"]["type"] == "supergroup" and reply["chat"]["title"] == "Club lecture"
    assert reply.button_texts[:2] == ["Lumbres", "Arques"]
    assert alice.messages == []  # the private chat is separate


async def test_wait_idle(standin: BotAPIStandin, echo_bot: Application) -> None:
    alice = standin.user(1001, "Alice")
    await alice.send("un")
    await alice.send("deux")
    await standin.wait_idle(quiet=0.2)
    assert [m.text for m in alice.bot_messages] == ["[None] un", "[None] deux"]


def test_token_fixture_matches() -> None:
    assert TOKEN.startswith("123456:")


async def test_raw_json_and_get_requests(standin: BotAPIStandin) -> None:
    """Other clients send JSON bodies or query strings; answers keep Telegram's shapes."""
    alice = standin.user(1001, "Alice")
    url = f"{standin.api_url}{TOKEN}"
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/sendMessage", json={"chat_id": alice.chat_id}) as answer:
            assert answer.status == 400
            assert await answer.json() == {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: message text is empty",
            }
        markup = {"inline_keyboard": [[{"text": "Oui", "callback_data": "yes"}]]}
        body = {"chat_id": alice.chat_id, "text": "Sûr ?", "reply_markup": markup}
        async with session.post(f"{url}/sendMessage", json=body) as answer:
            sent = await answer.json()
        assert sent["ok"] and sent["result"]["reply_markup"] == markup
        async with session.get(f"{url}/getMe") as answer:
            assert (await answer.json())["result"]["username"] == "standin_test_bot"
        async with session.get(f"{url}/sendmessage?chat_id=1001&text=min") as answer:
            assert (await answer.json())["result"]["text"] == "min"  # names ignore case
    assert [m.text for m in alice.messages] == ["Sûr ?", "min"]
