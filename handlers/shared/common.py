"""Small helpers shared by the handlers: role checks, replies, keyboards."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest
from telegram.ext import BaseHandler, ConversationHandler
from telegram.warnings import PTBUserWarning

from bot.context import PlumeContext, PlumeConversation
from bot.persistence import conversation_key
from bot.shared.labels import ROLE_NAMES

Handler = Callable[[Update, PlumeContext], Coroutine[Any, Any, Any]]


__all__ = ["button", "escape", "keyboard", "reply", "requires"]


def requires(minimum: str) -> Callable[[Handler], Handler]:
    """Only people with at least ``minimum`` role get through; others get a polite refusal."""

    def decorator(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(update: Update, context: PlumeContext) -> Any:
            person = context.person
            if person is None or not person.has_role(minimum):
                t = context.t
                text = t(
                    "Sorry, this is reserved to the {role} role. Type /help to see what I "
                    "can do for you.",
                    role=t(ROLE_NAMES[minimum]),
                )
                if update.callback_query:
                    await update.callback_query.answer(text, show_alert=True)
                else:
                    await reply(update, text)
                return None
            return await handler(update, context)

        return guarded

    return decorator


@dataclass(frozen=True)
class Flow:
    """What Plume knows of a conversation to keep it to itself (:func:`conversation`)."""

    name: str
    #: the role every step requires: a form opened before the role was withdrawn stops
    role: str
    #: said (N_-marked, translated) when another flow replaces this one
    left_behind: str
    #: the ``user_data`` keys the flow keeps (dropped with it)
    keys: tuple[str, ...] = ()


#: the flows by conversation name (filled as the handlers are built, the same each time)
FLOWS: dict[str, Flow] = {}


def _active_flows(update: Update, context: PlumeContext, but: str) -> list[PlumeConversation]:
    """The person's other conversations that have a state right now."""
    key = conversation_key(update)
    if key is None:
        return []
    return [
        handler
        for group in context.application.handlers.values()
        for handler in group
        if isinstance(handler, ConversationHandler)
        and handler.name in FLOWS
        and handler.name != but
        # PTB has no public reader of one key's state; the dict is its own
        and handler._conversations.get(key) is not None
    ]


def _end(update: Update, context: PlumeContext, handler: PlumeConversation) -> None:
    """Ends ``handler``'s conversation for this person (its timeout too), and its data."""
    key = conversation_key(update)
    assert key is not None and handler.name is not None
    # deleting the key is what PTB does on END; the TrackingDict makes persistence write it
    handler._conversations.pop(key, None)
    job = handler.timeout_jobs.pop(key, None)
    if job is not None:
        job.schedule_removal()
    if context.user_data is not None:
        for data_key in FLOWS[handler.name].keys:
            context.user_data.pop(data_key, None)


def _entry(flow: Flow, callback: Handler) -> Handler:
    """Entering this flow ends any other the person is in, and says so."""

    @functools.wraps(callback)
    async def entered(update: Update, context: PlumeContext) -> Any:
        others = _active_flows(update, context, flow.name)
        state = await callback(update, context)
        if state is not None and state != ConversationHandler.END:
            for handler in others:
                _end(update, context, handler)
                assert handler.name is not None
                await reply(update, context.t(FLOWS[handler.name].left_behind))
        return state

    return entered


def _step(flow: Flow, callback: Handler) -> Handler:
    """Every step checks the role again: it may have been withdrawn since the flow began."""

    @functools.wraps(callback)
    async def checked(update: Update, context: PlumeContext) -> Any:
        person = context.person
        if person is None or not person.has_role(flow.role):
            if context.user_data is not None:
                for data_key in flow.keys:
                    context.user_data.pop(data_key, None)
            text = context.t(
                "Your role no longer allows this: what you had begun is closed, nothing was "
                "saved or sent."
            )
            if update.callback_query:
                await update.callback_query.answer()
            await reply(update, text)
            return ConversationHandler.END
        return await callback(update, context)

    return checked


AnyHandler = BaseHandler[Update, Any, Any]


def _wrap(handlers: Sequence[AnyHandler], wrap: Callable[[Handler], Handler]) -> list[AnyHandler]:
    for handler in handlers:
        handler.callback = wrap(handler.callback)
    return list(handlers)


def conversation(
    *,
    name: str,
    left_behind: str,
    role: str = "patron",
    keys: tuple[str, ...] = (),
    entry_points: Sequence[AnyHandler],
    states: dict[object, Sequence[AnyHandler]],
    fallbacks: Sequence[AnyHandler],
    **kwargs: Any,
) -> PlumeConversation:
    """A ConversationHandler that keeps to itself: a person is in one flow at a time.

    Entering it ends the person's other flow, if any, and says what became of it
    (``left_behind``); every step (states and fallbacks) checks ``role`` again. Its entry
    may be a button: PTB's per_message warning is moot here (one conversation per person,
    whatever message the button is on).

    Persistent under ``name`` (stable: it is the key in the database): the person's place in
    it survives a restart and continues on another instance (:mod:`bot.persistence`)."""
    flow = FLOWS[name] = Flow(name, role, left_behind, keys)
    kwargs.setdefault("persistent", True)
    steps: dict[object, list[AnyHandler]] = {  # the timeout's handlers get no person
        state: list(handlers)
        if state == ConversationHandler.TIMEOUT
        else _wrap(handlers, lambda c: _step(flow, c))
        for state, handlers in states.items()
    }
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*per_message.*", category=PTBUserWarning)
        return ConversationHandler(
            name=name,
            entry_points=_wrap(entry_points, lambda c: _entry(flow, c)),
            states=steps,
            fallbacks=_wrap(fallbacks, lambda c: _step(flow, c)),
            **kwargs,
        )


def button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=data)


def keyboard(rows: Sequence[Sequence[InlineKeyboardButton]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([list(row) for row in rows if row])


async def reply(
    update: Update, text: str, markup: InlineKeyboardMarkup | None = None
) -> Message | None:
    """Answer in the chat of the update (HTML by default; callers escape what they insert)."""
    chat = update.effective_chat
    if chat is None:
        return None
    return await chat.send_message(text, reply_markup=_buttons(markup))


def _buttons(markup: InlineKeyboardMarkup | None) -> InlineKeyboardMarkup | None:
    """A keyboard left with no button (a cancelled workshop's card) is no keyboard: the Bot
    API refuses an empty one ("can't parse reply keyboard markup JSON object")."""
    if markup is None or not any(markup.inline_keyboard):
        return None
    return markup


async def show(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Edit the message of a pressed button in place, or send a new one.

    A button pressed twice asks for the same content again: Telegram refuses that edit
    ("message is not modified"), and there is nothing to do.
    """
    query = update.callback_query
    if query and query.message:
        try:
            await query.edit_message_text(text, reply_markup=_buttons(markup))
        except BadRequest as error:
            if "not modified" not in error.message:
                raise
    else:
        await reply(update, text, markup)
