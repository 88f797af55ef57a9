"""The typed context every handler receives: services, the person and their translator."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeAlias

from telegram import Bot, Update
from telegram.constants import ChatType
from telegram.ext import (
    Application,
    BaseHandler,
    CallbackContext,
    ConversationHandler,
    ExtBot,
    JobQueue,
)

from bot.i18n import Translator, pick_locale, translator
from bot.users import Person

if TYPE_CHECKING:
    from bot.announcements.desk import BroadcastDesk
    from bot.outbox import OutboxEngine
    from bot.services import Services
    from bot.workshops.sender import ReminderSender


#: PTB's generics, spelled once. An Application of any kind (PTB's six parameters: bot,
#: context, user_data, chat_data, bot_data, job queue), where Plume's is not needed.
AnyApplication: TypeAlias = Application[Any, Any, Any, Any, Any, Any]
#: Plume's data kinds: user_data, chat_data, bot_data are plain dicts (user_data persisted)
Data: TypeAlias = dict[Any, Any]


class PlumeContext(CallbackContext[ExtBot[None], Data, Data, Data]):
    """Built once per update; ``person`` and ``t`` are ready before any handler runs."""

    def __init__(
        self,
        application: AnyApplication,
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application, chat_id, user_id)
        if not isinstance(application, PlumeApplication):
            raise TypeError("PlumeContext needs the PlumeApplication of bot.app")
        #: the application, typed: its services and engines
        self.plume: PlumeApplication = application
        settings = self.services.settings
        self.person: Person | None = None
        self.t: Translator = translator(settings.default_locale, settings.timezone)
        self._update: object = None

    @classmethod
    def from_update(cls, update: object, application: AnyApplication) -> PlumeContext:
        context = super().from_update(update, application)
        context._update = update
        return context

    @property
    def services(self) -> Services:
        return self.plume.services

    async def refresh_data(self) -> None:
        await super().refresh_data()
        update = self._update
        tg_user = update.effective_user if isinstance(update, Update) else None
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is not None and chat.type != ChatType.PRIVATE:
            return  # Plume talks in private chats only: nobody is created from a group
        if tg_user and not tg_user.is_bot:
            settings = self.services.settings
            language = pick_locale(tg_user.language_code, settings.default_locale)
            self.person, promoted = await self.services.users.touch(
                tg_user.id, tg_user.first_name or "", language
            )
            self.t = translator(self.person.language, settings.timezone)
            if promoted:
                await self.plume.on_role_change(self.bot, self.person)

    @property
    def broadcasts(self) -> BroadcastDesk:
        """The desk watching the broadcasts being sent (built by bot.app)."""
        return self.plume.broadcasts

    def use_language(self, language: str) -> None:
        """After a change in /settings, answer in the new language at once."""
        self.t = translator(language, self.services.settings.timezone)


#: A handler of Plume's updates, as every feature's ``handlers()`` lists them (PTB's
#: BaseHandler[update, context, return]; the update type varies: Update, object for TypeHandler)
PlumeHandler: TypeAlias = BaseHandler[Any, PlumeContext, Any]
#: one of Plume's conversations (a form, a flow: handlers.shared.common.conversation)
PlumeConversation: TypeAlias = ConversationHandler[PlumeContext]


class PlumeApplication(
    Application[ExtBot[None], PlumeContext, Data, Data, Data, JobQueue[PlumeContext]]
):
    """PTB's Application, carrying Plume's services."""

    def __init__(
        self,
        *,
        services: Services,
        on_role_change: Callable[[Bot, Person], Awaitable[None]],
        broadcasts: BroadcastDesk,
        reminder_sender: ReminderSender,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.services = services
        #: the features' engines (built by bot.app, started and stopped there)
        self.broadcasts = broadcasts
        self.reminder_sender = reminder_sender
        #: refreshes a person's command menu (wired by bot.app)
        self.on_role_change = on_role_change
        #: the engine draining the outbox (set by bot.app once the bot runs)
        self.outbox: OutboxEngine | None = None
